/**
 * A/B experiments on calls: asks the runner whether this call takes part in an experiment; the arm may
 * send it to another tool, to the same tool on another server, or to some instances only. The outcome
 * (result, error, latency) is recorded for the arm afterwards; an arm that cannot be served counts
 * against it. A call the agent cancelled records nothing.
 */
import type { CatalogTool } from '../../../catalog/snapshot.js';
import { asGatewayError, GatewayError } from '../../../core/errors.js';
import type { ExperimentRunner } from '../../../gateway/experiments.js';
import type { Gateway } from '../../../gateway/gateway.js';
import { errorResult } from '../../tool-errors.js';
import type { Stage } from '../chain.js';
import { resolvedTool, type ToolResult } from '../context.js';

/** Where an arm sends a call. */
export interface ArmRoute {
  readonly server?: string | undefined;
  readonly tool?: string | undefined;
  readonly instances?: readonly string[] | undefined;
}

/** Sets `ctx.target` and `ctx.instances` for calls in an experiment, and records their outcomes. */
export function experimentStage(gateway: Gateway, experiments: ExperimentRunner): Stage<ToolResult> {
  return {
    name: 'experiment',
    async run(ctx, next) {
      const tool = resolvedTool(ctx);
      const assignment = experiments.assignCall(tool.id, ctx.units, ctx.decisionId);
      if (!assignment) return next();
      ctx.arm = { experiment: assignment.experiment, arm: assignment.arm };
      let target: CatalogTool;
      try {
        ({ target, instances: ctx.instances } = routeArm(gateway, tool, assignment.route));
      } catch (error) {
        const route = assignment.route;
        experiments.recordCall(
          assignment,
          route.tool ?? tool.id,
          route.server ?? tool.server,
          undefined,
          error,
          0,
          ctx.decisionId,
        );
        return errorResult(asGatewayError(error));
      }
      ctx.target = target;
      const started = performance.now();
      try {
        const result = await next();
        const ms = performance.now() - started;
        experiments.recordCall(assignment, target.id, target.server, result, undefined, ms, ctx.decisionId);
        return result;
      } catch (error) {
        if (!ctx.signal.aborted) {
          const ms = performance.now() - started;
          experiments.recordCall(assignment, target.id, target.server, undefined, error, ms, ctx.decisionId);
        }
        throw error;
      }
    },
  };
}

/** Where an experiment arm sends a call of `tool`: another tool, the same tool on another server, or some instances. */
export function routeArm(
  gateway: Gateway,
  tool: CatalogTool,
  route: ArmRoute,
): { target: CatalogTool; instances: readonly string[] | undefined } {
  if (route.tool) return { target: gateway.resolveTool(route.tool), instances: route.instances };
  if (route.server && route.server !== tool.server) {
    const other = gateway.catalog.tools.find((t) => t.server === route.server && t.name === tool.name);
    if (!other)
      throw new GatewayError(
        'UPSTREAM_UNAVAILABLE',
        `the experiment arm routes "${tool.id}" to server "${route.server}", which does not offer "${tool.name}" now`,
        { server: route.server, tool: tool.name, sent: false },
      );
    return { target: other, instances: route.instances };
  }
  return { target: tool, instances: route.instances };
}
