/**
 * The order of every chain, declared once. Each agent request runs through the chain of its method
 * (see docs/architecture.md, "The call pipeline"):
 *
 *   tools/call                    audit -> errors -> hops -> resolve -> authorize -> limit -> size -> pin
 *                                   -> validate -> learn -> experiment -> invoke
 *   find_capability               audit -> errors -> limit -> arguments -> search
 *   call_capability (the request) audit -> errors -> arguments -> route (by need) -> the tool chain, or fan-out
 *   report_outcome                audit -> errors -> arguments -> record
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
 * is not configured is not in the list.
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
import { authorizeStage } from './stages/authorize.js';
import { errorsStage } from './stages/errors.js';
import { experimentStage } from './stages/experiment.js';
import { hopsStage } from './stages/hops.js';
import { learnStage } from './stages/learn.js';
import { pinStage } from './stages/pin.js';
import { resolveStage } from './stages/resolve.js';
import { sizeStage } from './stages/size.js';
import { validateStage } from './stages/validate.js';

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
}

/** Builds the tool chain in its declared order. */
export function toolChain(deps: ToolChainDeps): Pipeline<ToolResult> {
  const stages: Stage<ToolResult>[] = [
    ...(deps.audit ? [toolAuditStage(deps.audit)] : []),
    errorsStage(),
    ...(deps.maxHops !== undefined ? [hopsStage(deps.maxHops)] : []),
    resolveStage(deps.gateway, deps.access),
    // Always present: servers registered at run time, policy reloads and mesh keys can restrict any
    // hub; for a caller with the full view it is one check.
    authorizeStage(deps.access),
    ...(deps.admit ? [limitStage('call', deps.admit)] : []),
    sizeStage(deps.maxRequestBytes),
    pinStage(deps.gateway),
    validateStage(deps.validator),
    ...(deps.capabilities ? [learnStage(deps.capabilities)] : []),
    ...(deps.experiments ? [experimentStage(deps.gateway, deps.experiments)] : []),
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
      }
    | undefined;
  readonly prompt: Pipeline<PromptResult>;
  readonly resource: Pipeline<ResourceResult>;
  readonly completion: Pipeline<CompletionResult>;
}

/** Builds every chain in its declared order. */
export function chains(deps: ToolChainDeps): Chains {
  const { gateway, access, capabilities, validator } = deps;
  const tool = toolChain(deps);
  const audited = <R>(stages: Stage<R>[], read?: (deps: AuditStageDeps) => Stage<R>): Stage<R>[] =>
    deps.audit ? [(read ?? ((a: AuditStageDeps) => auditStage<R>(a)))(deps.audit), ...stages] : stages;
  const metaChain = (definition: Tool, terminal: Terminal<ToolResult>, admit?: Stage<ToolResult>) =>
    compose(
      audited(
        [errorsStage(), ...(admit ? [admit] : []), metaArgumentsStage(gateway, validator, definition)],
        toolAuditStage,
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
            deps.admit ? limitStage('find', deps.admit) : undefined,
          ),
          call: metaChain(META_DEFINITIONS.call, callTerminal({ gateway, access, capabilities, tool })),
          report: metaChain(META_DEFINITIONS.report, reportTerminal(deps.experiments)),
        }
      : undefined,
    prompt: compose(
      audited([protocolErrorsStage(), promptResolveStage(), itemAuthorizeStage(access, 'getPrompt')]),
      promptTerminal(gateway),
    ),
    resource: compose(
      audited([protocolErrorsStage(), resourceResolveStage(gateway), itemAuthorizeStage(access, 'readResource')]),
      resourceTerminal(gateway),
    ),
    completion: compose(audited([protocolErrorsStage(), completionResolveStage()]), completionTerminal(gateway)),
  };
}
