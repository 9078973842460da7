/**
 * The order of the tool chain, declared once. Every forwarded tool call (tools/call of a catalog
 * tool, call_capability by id or by need) runs through it:
 *
 *   errors -> hops -> resolve -> authorize -> size -> pin -> validate -> learn -> experiment -> invoke
 *
 * Resolve reads the principal's view, so a hidden tool is unknown; authorize (scopes, policy) comes
 * before any other work. Cheap refusals come first (oversize arguments) so hostile input costs little;
 * validation needs the pin; learning and experiments look at the outcome, so they wrap the call.
 * Stages of later concerns (identity, policy, limits, audit, metering) are inserted here.
 */
import type { AccessControl } from '../../gateway/access.js';
import type { Capabilities } from '../../gateway/capabilities.js';
import type { ExperimentRunner } from '../../gateway/experiments.js';
import type { Gateway } from '../../gateway/gateway.js';
import type { ArgumentValidator } from '../validate.js';
import { compose, type Pipeline, type Stage } from './chain.js';
import type { ToolResult } from './context.js';
import { invokeTerminal } from './invoke.js';
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
}

/** Builds the tool chain in its declared order. */
export function toolChain(deps: ToolChainDeps): Pipeline<ToolResult> {
  const stages: Stage<ToolResult>[] = [
    errorsStage(),
    ...(deps.maxHops !== undefined ? [hopsStage(deps.maxHops)] : []),
    resolveStage(deps.gateway, deps.access),
    // Always present: servers registered at run time, policy reloads and mesh keys can restrict any
    // hub; for a caller with the full view it is one check.
    authorizeStage(deps.access),
    sizeStage(deps.maxRequestBytes),
    pinStage(deps.gateway),
    validateStage(deps.validator),
    ...(deps.capabilities ? [learnStage(deps.capabilities)] : []),
    ...(deps.experiments ? [experimentStage(deps.gateway, deps.experiments)] : []),
  ];
  return compose(stages, invokeTerminal(deps.gateway));
}
