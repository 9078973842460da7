/**
 * The meta-tools as chains (errors -> arguments -> terminal). The arguments stage bounds the need and
 * checks the meta-tool's schema before any work.
 *
 * - find_capability: the search reads only what the principal may see, filters by a requested
 *   version, and names the server (or tool) an experiment arm would route the caller's call to.
 * - call_capability: by id, the caller chose; by need, the gateway chooses, so it runs only a read-only
 *   match unless `allowSideEffects` is true, and the result names the tool and why. The chosen call
 *   then runs through the tool chain, in a context derived from this one (same principal and view).
 * - report_outcome: feedback for an experiment's decision.
 */
import { randomUUID } from 'node:crypto';
import type { Tool } from '@modelcontextprotocol/server';
import { asGatewayError, GatewayError } from '../../core/errors.js';
import type { AccessControl, CatalogView } from '../../gateway/access.js';
import type { Capabilities } from '../../gateway/capabilities.js';
import type { ExperimentRunner, UnitIds } from '../../gateway/experiments.js';
import type { Gateway } from '../../gateway/gateway.js';
import { clip, MAX_NAME_LENGTH, MAX_NEED_LENGTH, tooLong } from '../../gateway/suggest.js';
import {
  findResultToToolResult,
  metaToolDefinitions,
  sideEffectRefusal,
  sideEffectRisk,
  withRouting,
  type RoutedCall,
} from '../meta-tools.js';
import { errorResult } from '../tool-errors.js';
import type { ArgumentValidator } from '../validate.js';
import type { Pipeline, Stage, Terminal } from './chain.js';
import type { RequestContext, TaskIntent, ToolResult } from './context.js';
import { routeArm } from './stages/experiment.js';
import { HOPS_META_KEY, nextHops } from './stages/hops.js';
import { noteDecision } from './stages/trace.js';
import { argsHash } from '../../audit/redact.js';
import { ownerKey } from '../../core/tasks.js';
import type { TaskRegistry } from '../../gateway/tasks/registry.js';

/** The error for a need or tool id over its length limit (checked before any search or suggestion). */
export function needTooLong(gateway: Gateway, args: Record<string, unknown>): GatewayError | undefined {
  const { capability, tool } = args;
  if (typeof capability === 'string' && capability.length > MAX_NEED_LENGTH)
    return new GatewayError('INVALID_ARGUMENTS', tooLong('capability', capability, MAX_NEED_LENGTH));
  if (typeof tool === 'string' && tool.length > MAX_NAME_LENGTH && !gateway.catalog.toolById.has(tool))
    return new GatewayError('INVALID_ARGUMENTS', tooLong('tool', tool, MAX_NAME_LENGTH));
  return undefined;
}

/**
 * A meta-tool's arguments: bounded first, then checked against its schema (`definition`). A refusal is
 * a tool error the model can act on.
 */
export function metaArgumentsStage(
  gateway: Gateway,
  validator: ArgumentValidator,
  definition: Tool,
): Stage<ToolResult> {
  return {
    name: 'arguments',
    async run(ctx, next) {
      const args = ctx.args ?? {};
      const tooLongNeed = needTooLong(gateway, args);
      if (tooLongNeed) return errorResult(tooLongNeed);
      const problems = validator.check(definition, args);
      if (problems)
        return errorResult(
          new GatewayError('INVALID_ARGUMENTS', `invalid arguments for ${definition.name}: ${problems}`),
        );
      return next();
    },
  };
}

/** The definitions whose schemas the meta-tools' arguments are checked against. */
export const META_DEFINITIONS = {
  find: metaToolDefinitions[0] as Tool,
  call: metaToolDefinitions[1] as Tool,
  report: metaToolDefinitions[2] as Tool,
  getCall: metaToolDefinitions[3] as Tool,
  cancelCall: metaToolDefinitions[4] as Tool,
} as const;

/** The search itself. */
export function findTerminal(
  gateway: Gateway,
  caps: Capabilities,
  experiments: ExperimentRunner | undefined,
): Terminal<ToolResult> {
  return async (ctx) => {
    const args = ctx.args ?? {};
    const { units, view } = ctx;
    const decisionId = randomUUID();
    const variant = experiments?.assignFind(units, decisionId);
    const k = typeof args.k === 'number' ? args.k : 5;
    const version = typeof args.version === 'string' ? args.version : undefined;
    let result = await caps.find({
      capability: String(args.capability),
      decisionId,
      k: version ? Math.min(50, k * 3) : k,
      ...(Array.isArray(args.servers) ? { servers: args.servers as string[] } : {}),
      ...(variant?.route.denseWeight !== undefined ? { denseWeight: variant.route.denseWeight } : {}),
      ...(view.findsAll ? {} : { visible: view.findable }),
    });
    noteDecision(ctx, result);
    if (version)
      result = {
        ...result,
        matches: result.matches.filter((m) => servesVersion(gateway, m.tool, version)).slice(0, k),
      };
    const armed = (m: (typeof result.matches)[number]) => armedMatch(gateway, experiments, m, units, decisionId, view);
    result = { ...result, matches: result.matches.map(armed) };
    ctx.auditDetail = {
      decisionId,
      offered: result.matches.map((m) => m.tool),
      // Whether it found a confident match: the alerts' no-match rate reads it (alerts/window.ts).
      confident: result.confident,
      // Tools of the catalog this caller's view withholds (they took no part in the search).
      ...(view.findsAll ? {} : { withheld: view.snapshot.tools.length - view.tools.length }),
    };
    return findResultToToolResult(result, args.include_schema === true);
  };
}

/** True when some backend of the tool serves `version` compatibly (find_capability's version filter). */
function servesVersion(gateway: Gateway, toolId: string, version: string): boolean {
  const tool = gateway.catalog.toolById.get(toolId);
  const compat = gateway.compat;
  if (!tool || !compat) return false;
  try {
    const requirement = compat.pinned(tool.server, tool.name, version);
    return [...compat.currentVersions(tool.server, tool.name).keys()].some((instance) =>
      compat.accepts(instance, tool.name, requirement),
    );
  } catch {
    return false;
  }
}

/** A match as an experiment arm would route it: the arm's server (or tool) becomes the one named. */
function armedMatch<M extends { tool: string; server: string; reasons: readonly string[] }>(
  gateway: Gateway,
  experiments: ExperimentRunner | undefined,
  match: M,
  units: UnitIds,
  decisionId: string,
  view: CatalogView,
): M {
  const tool = gateway.catalog.toolById.get(match.tool);
  const assignment = tool ? experiments?.assignCall(tool.id, units, decisionId) : undefined;
  if (!tool || !assignment) return match;
  try {
    const { target } = routeArm(gateway, tool, assignment.route);
    if (!view.findable(target.id)) return match; // an arm never names a tool the caller may not call
    return {
      ...match,
      tool: target.id,
      server: target.server,
      reasons: [...match.reasons, `experiment ${assignment.experiment}: arm ${assignment.arm}`],
    };
  } catch {
    return match;
  }
}

/** What call_capability needs: the tool chain its chosen call runs through, and who may call what. */
export interface CallDeps {
  readonly gateway: Gateway;
  readonly access: AccessControl;
  readonly capabilities: Capabilities;
  readonly tool: Pipeline<ToolResult>;
  /** The tenant's tasks (`async: true`); absent: tasks are disabled. */
  readonly tasks?: TaskRegistry | undefined;
}

/** call_capability (see the module comment). */
export function callTerminal(deps: CallDeps): Terminal<ToolResult> {
  const { gateway, capabilities: caps } = deps;
  return async (ctx) => {
    const args = ctx.args ?? {};
    // Left out: no arguments (the tool's own schema says if it needs some); upstreams still get an object.
    const toolArgs = (args.arguments as Record<string, unknown> | undefined) ?? {};
    let decisionId = typeof args.decisionId === 'string' ? args.decisionId : undefined;
    let tool = typeof args.tool === 'string' ? args.tool : undefined;
    let routed: RoutedCall | undefined;
    if (!tool) {
      if (typeof args.capability !== 'string')
        return errorResult(
          new GatewayError(
            'INVALID_ARGUMENTS',
            'call_capability needs either "tool" (an id from find_capability) or "capability" (a need in words)',
          ),
        );
      const { view } = ctx;
      const found = await caps.find({
        capability: args.capability,
        k: 3,
        ...(view.findsAll ? {} : { visible: view.findable }),
      });
      noteDecision(ctx, found);
      const best = found.matches[0];
      if (!found.confident || !best) {
        const closest = found.matches.map((m) => m.tool).join(', ');
        return errorResult(
          new GatewayError(
            'UNKNOWN_TOOL',
            `no confident match for "${clip(args.capability)}"${closest ? `; closest: ${closest} (call one by id if it fits)` : ''}`,
            { decisionId: found.decisionId },
          ),
        );
      }
      if (args.allowSideEffects !== true) {
        const riskOf = (id: string) => sideEffectRisk(gateway.catalog.toolById.get(id)?.tool);
        // With fanout every equivalent runs, so each of them must be safe too.
        const chosen = [best.tool, ...(args.fanout === true ? providersFor(deps, ctx, best.tool) : [])]
          .map((id) => ({ tool: id, risk: riskOf(id) }))
          .find((c): c is { tool: string; risk: string } => c.risk !== undefined);
        if (chosen) return errorResult(sideEffectRefusal(found, chosen, riskOf));
      }
      tool = best.tool;
      decisionId = found.decisionId;
      routed = {
        tool: best.tool,
        server: best.server,
        confidence: found.confidence,
        reasons: best.reasons,
        decisionId: found.decisionId,
      };
    }
    const note = (result: ToolResult) => (routed ? withRouting(result, routed) : result);
    const version = typeof args.version === 'string' ? args.version : undefined;
    if (args.async === true && !deps.tasks)
      return errorResult(new GatewayError('BAD_REQUEST', 'async calls are off on this gateway (tasks.enabled: false)'));
    // The meta-tool call's _meta (hop count, traceparent) is the chosen tool's: a loop through it is counted.
    // As a task (the edge set ctx.task), the tool chain's task stage makes the chosen call the task.
    const forward = () => {
      ctx.forwarded = true; // the tool chain's audit stage records this call
      const forwarded = forwardedContext(ctx, tool, toolArgs, decisionId, version);
      return deps.tool(ctx.task ? { ...forwarded, task: ctx.task } : forwarded);
    };
    if (args.fanout === true) {
      const providers = providersFor(deps, ctx, tool, toolArgs);
      if (providers.length === 0) return forward(); // unknown tool: the tool chain explains
      const strategy = args.strategy === 'first' || args.strategy === 'quorum' ? args.strategy : 'merge';
      // Fan-out does not run the tool chain: the hop count is checked and passed on here.
      const hops = nextHops(ctx.meta, gateway.config.gateway.maxHops, tool);
      if (hops instanceof GatewayError) return errorResult(hops);
      const fan = (signal: AbortSignal, timeoutMs?: number) =>
        gateway.fanOut(
          `call_capability(${tool})`,
          providers,
          toolArgs,
          { [HOPS_META_KEY]: hops },
          { strategy, ...(typeof args.quorum === 'number' ? { quorum: args.quorum } : {}) },
          { signal, ...(timeoutMs !== undefined ? { timeoutMs } : {}) },
        );
      if (ctx.task && deps.tasks) return note(await fanOutTask(deps.tasks, ctx, ctx.task, tool, toolArgs, fan));
      try {
        return note(await fan(ctx.signal));
      } catch (error) {
        if (ctx.signal.aborted) throw error;
        return errorResult(asGatewayError(error));
      }
    }
    return note(await forward());
  };
}

/**
 * call_capability with `fanout` as a task: the fan-out runs as a task of its own (fan-out does not run
 * the tool chain), so a cancel or the deadline aborts every branch. Resolves when it has ended (the
 * edge answered once the task existed), so this request's audit event records the real outcome. It
 * is never re-run after a restart: which branches had run is not recorded.
 */
async function fanOutTask(
  tasks: TaskRegistry,
  ctx: RequestContext,
  intent: TaskIntent,
  tool: string,
  args: Record<string, unknown>,
  fan: (signal: AbortSignal, timeoutMs: number) => Promise<ToolResult>,
): Promise<ToolResult> {
  const { task } = tasks.create({
    owner: ownerKey(ctx.principal),
    principal: ctx.principal,
    session: intent.session ?? null,
    origin: intent.origin,
    method: ctx.method,
    tool: `call_capability(${tool})`,
    server: null,
    request: null,
    argsHash: argsHash(args),
    rerunSafe: false,
    ttlMs: intent.ttlMs,
  });
  intent.created(task);
  return tasks.run(task, (signal) => fan(signal, Math.max(1, task.deadlineAt - Date.now())));
}

/** The tool chain's context for the call call_capability chose: same principal, view and request. */
function forwardedContext(
  ctx: RequestContext,
  tool: string,
  args: Record<string, unknown>,
  decisionId: string | undefined,
  version: string | undefined,
): RequestContext {
  const { method, principal, units, view, meta, sdk, signal, startedAt, span } = ctx;
  // The request's span travels along: the tool chain's trace stage annotates it (no second span).
  const base = { method, principal, units, view, name: tool, args, meta, sdk, signal, startedAt, decisionId };
  return span ? { ...base, version, span } : { ...base, version };
}

/**
 * The equivalents of a tool that the caller may call (none when it may not see the tool itself);
 * with `args`, each must also pass the call's authorization (fan-out does not run the tool chain).
 */
function providersFor(deps: CallDeps, ctx: RequestContext, tool: string, args?: Record<string, unknown>): string[] {
  const { view } = ctx;
  if (view.full) return deps.capabilities.providers(tool);
  if (!view.findable(tool)) return [];
  return deps.capabilities.providers(tool).filter((id) => {
    const t = view.snapshot.toolById.get(id);
    if (!t || !view.findable(id)) return false;
    if (!args) return true;
    const resource = { kind: 'tool' as const, id, server: t.server, name: t.name, annotations: t.tool.annotations };
    return deps.access.authorize(ctx.principal, 'call', resource, args) === undefined;
  });
}

/** report_outcome: feedback for the experiment that exposed a decision. */
export function reportTerminal(experiments: ExperimentRunner | undefined): Terminal<ToolResult> {
  return async (ctx) => {
    const args = ctx.args ?? {};
    const recorded =
      experiments?.feedback(
        String(args.decisionId),
        args.success === true,
        typeof args.note === 'string' ? args.note : undefined,
      ) ?? false;
    const text = recorded
      ? 'Outcome recorded.'
      : 'Noted, but no experiment exposed that decision, so nothing was recorded.';
    return { content: [{ type: 'text', text }], structuredContent: { recorded } };
  };
}
