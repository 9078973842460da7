/**
 * The order of every chain, declared once. Each agent request runs through the chain of its method
 * (see docs/architecture.md, "The call pipeline"):
 *
 *   tools/call                    audit -> errors -> hops -> resolve -> authorize -> limit -> size -> pin
 *                                   -> validate -> learn -> experiment -> task -> invoke
 *   find_capability               audit -> errors -> limit -> arguments -> metrics -> search
 *   call_capability (the request) audit -> errors -> arguments -> route (by need) -> the tool chain, or fan-out
 *   report_outcome                audit -> errors -> arguments -> record
 *   get_call, cancel_call         audit -> errors -> arguments -> the task registry
 *   tasks/* (both eras)           audit -> errors -> the task registry (tasks/ops.ts)
 *   prompts/get                   audit -> errors -> resolve -> authorize -> get
 *   resources/read                audit -> errors -> resolve -> authorize -> read
 *   completion/complete           audit -> errors -> resolve -> complete
 *
 * Every forwarded tool call (tools/call of a catalog tool, call_capability by id or by need) runs
 * the tool chain. Audit is outermost so it sees the final answer, refusals included; resolve reads the
 * principal's view, so a hidden tool is unknown; authorize (scopes, policy) comes before any other
 * work; limits come next (they need the resolved tool, and a caller refused by policy spends no
 * budget). Cheap refusals come first (oversize arguments) so hostile input costs little; validation
 * needs the pin; learning and experiments look at the outcome, so they wrap the call. A concern that
 * is not configured is not in the list. With `telemetry.tracing`, every chain starts with a trace stage
 * (before audit: the request's span; see stages/trace.ts), and authorize (for a restricted caller) and limit
 * get spans of their own.
 */
import type { AccessControl } from '../../gateway/access.js';
import type { Capabilities } from '../../gateway/capabilities.js';
import type { ExperimentRunner } from '../../gateway/experiments.js';
import type { Gateway } from '../../gateway/gateway.js';
import type { ArgumentValidator } from '../validate.js';
import type { Tool } from '@modelcontextprotocol/server';
import { compose, type Pipeline, type Stage, type Terminal } from './chain.js';
import type { CompletionResult, PromptResult, ResourceResult, ToolResult } from './context.js';
import { callTerminal, findTerminal, META_DEFINITIONS, metaArgumentsStage, reportTerminal } from './meta.js';
import { invokeTerminal } from './invoke.js';
import { completionTerminal, promptTerminal, resourceTerminal } from './items.js';
import {
  completionResolveStage,
  itemAuthorizeStage,
  promptResolveStage,
  resourceResolveStage,
} from './stages/items.js';
import { protocolErrorsStage } from './stages/protocol-errors.js';
import { auditStage, toolAuditStage, type AuditStageDeps } from './stages/audit.js';
import { limitStage, type Admission } from './stages/limit.js';
import { findMetricsStage } from './stages/metrics.js';
import type { Metrics } from '../../telemetry/metrics.js';
import { authorizeStage } from './stages/authorize.js';
import { errorsStage } from './stages/errors.js';
import { experimentStage } from './stages/experiment.js';
import { hopsStage } from './stages/hops.js';
import { learnStage } from './stages/learn.js';
import { pinStage } from './stages/pin.js';
import { resolveStage } from './stages/resolve.js';
import { sizeStage } from './stages/size.js';
import { validateStage } from './stages/validate.js';
import { policySpan, stageSpan, toolTraceStage, traceStage } from './stages/trace.js';
import type { Tracer } from '../../telemetry/trace-context.js';
import type { TaskRegistry } from '../../gateway/tasks/registry.js';
import { cancelCallTerminal, getCallTerminal } from './meta-tasks.js';
import { taskOpsTerminal } from '../tasks/ops.js';
import { taskStage } from './stages/task.js';

/** What the tool chain's stages need. */
export interface ToolChainDeps {
  readonly gateway: Gateway;
  readonly access: AccessControl;
  readonly validator: ArgumentValidator;
  readonly maxRequestBytes: number;
  /** gateway.maxHops: the hop count of server-to-server calls (absent: no hops stage). */
  readonly maxHops?: number | undefined;
  /** Absent: no learning stage. */
  readonly capabilities?: Capabilities | undefined;
  /** Absent: no experiment stage. (Present even with no experiment configured: a reload can add one.) */
  readonly experiments?: ExperimentRunner | undefined;
  /** The audit stage's observers (audit writer and usage meter, quotas); absent: no audit stage. */
  readonly audit?: AuditStageDeps | undefined;
  /** Rate limits and quotas; absent: no limit stage (nothing configured). */
  readonly admit?: Admission | undefined;
  /** Prometheus metrics (requests are counted by the audit stage's observer); absent: no find metrics stage. */
  readonly metrics?: Metrics | undefined;
  /** The tracer of telemetry.tracing; absent: no trace stage and no stage spans. */
  readonly tracer?: Tracer | undefined;
  /** The tenant's tasks; absent (tasks.enabled: false): no task stage, no get_call or cancel_call. */
  readonly tasks?: TaskRegistry | undefined;
}

/** Builds the tool chain in its declared order. */
export function toolChain(deps: ToolChainDeps): Pipeline<ToolResult> {
  const stages: Stage<ToolResult>[] = [
    ...(deps.tracer ? [toolTraceStage(deps.tracer)] : []),
    ...(deps.audit ? [toolAuditStage(deps.audit)] : []),
    errorsStage(),
    ...(deps.maxHops !== undefined ? [hopsStage(deps.maxHops)] : []),
    resolveStage(deps.gateway, deps.access),
    // Always present: servers registered at run time, policy reloads and mesh keys can restrict any
    // hub; for a caller with the full view it is one check.
    policySpan(deps.tracer, authorizeStage(deps.access)),
    ...(deps.admit ? [stageSpan(deps.tracer, limitStage('call', deps.admit))] : []),
    sizeStage(deps.maxRequestBytes),
    pinStage(deps.gateway),
    validateStage(deps.validator),
    ...(deps.capabilities ? [learnStage(deps.capabilities)] : []),
    ...(deps.experiments ? [experimentStage(deps.gateway, deps.experiments)] : []),
    // Last: only a call that passed every check becomes a task (and its outcome is still recorded above).
    ...(deps.tasks ? [taskStage(deps.gateway, deps.tasks)] : []),
  ];
  return compose(stages, invokeTerminal(deps.gateway));
}

/** The chains of every agent request, one per method. */
export interface Chains {
  readonly tool: Pipeline<ToolResult>;
  /** The meta-tools' chains; absent without capability routing (no meta-tools). */
  readonly meta?:
    | {
        readonly find: Pipeline<ToolResult>;
        readonly call: Pipeline<ToolResult>;
        readonly report: Pipeline<ToolResult>;
        /** get_call and cancel_call; absent when tasks are off. */
        readonly getCall?: Pipeline<ToolResult> | undefined;
        readonly cancelCall?: Pipeline<ToolResult> | undefined;
      }
    | undefined;
  readonly prompt: Pipeline<PromptResult>;
  readonly resource: Pipeline<ResourceResult>;
  readonly completion: Pipeline<CompletionResult>;
  /** Both eras' tasks/* methods; absent when tasks are off. */
  readonly tasks?: Pipeline<Record<string, unknown>> | undefined;
}

/** Builds every chain in its declared order. */
export function chains(deps: ToolChainDeps): Chains {
  const { gateway, access, capabilities, validator, tasks } = deps;
  const tool = toolChain(deps);
  const { tracer } = deps;
  /** The outer stages before `stages`: trace (with a tracer), then audit (with observers). */
  const audited = <R>(
    stages: Stage<R>[],
    read?: (deps: AuditStageDeps) => Stage<R>,
    trace: (tracer: Tracer) => Stage<R> = traceStage,
  ): Stage<R>[] => [
    ...(tracer ? [trace(tracer)] : []),
    ...(deps.audit ? [(read ?? ((a: AuditStageDeps) => auditStage<R>(a)))(deps.audit)] : []),
    ...stages,
  ];
  const metaChain = (
    definition: Tool,
    terminal: Terminal<ToolResult>,
    admit?: Stage<ToolResult>,
    inner?: Stage<ToolResult>,
  ) =>
    compose(
      audited(
        [
          errorsStage(),
          ...(admit ? [admit] : []),
          metaArgumentsStage(gateway, validator, definition),
          ...(inner ? [inner] : []),
        ],
        toolAuditStage,
        toolTraceStage,
      ),
      terminal,
    );
  return {
    tool,
    meta: capabilities
      ? {
          find: metaChain(
            META_DEFINITIONS.find,
            findTerminal(gateway, capabilities, deps.experiments),
            deps.admit ? stageSpan(tracer, limitStage('find', deps.admit)) : undefined,
            deps.metrics ? findMetricsStage(deps.metrics) : undefined,
          ),
          call: metaChain(META_DEFINITIONS.call, callTerminal({ gateway, access, capabilities, tool, tasks })),
          report: metaChain(META_DEFINITIONS.report, reportTerminal(deps.experiments)),
          ...(tasks
            ? {
                getCall: metaChain(META_DEFINITIONS.getCall, getCallTerminal(tasks)),
                cancelCall: metaChain(META_DEFINITIONS.cancelCall, cancelCallTerminal(tasks)),
              }
            : {}),
        }
      : undefined,
    prompt: compose(
      audited([
        protocolErrorsStage(),
        promptResolveStage(),
        policySpan(tracer, itemAuthorizeStage(access, 'getPrompt')),
      ]),
      promptTerminal(gateway),
    ),
    resource: compose(
      audited([
        protocolErrorsStage(),
        resourceResolveStage(gateway),
        policySpan(tracer, itemAuthorizeStage(access, 'readResource')),
      ]),
      resourceTerminal(gateway),
    ),
    completion: compose(audited([protocolErrorsStage(), completionResolveStage()]), completionTerminal(gateway)),
    ...(tasks ? { tasks: compose(audited([protocolErrorsStage()]), taskOpsTerminal(tasks)) } : {}),
  };
}
