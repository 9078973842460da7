/**
 * The request context of the call pipeline: one object per agent request (a tools/call, a meta-tool,
 * a prompt or a resource), built when the request enters and handed to every stage in turn.
 *
 * Identity is fixed on entry (`principal`, `units`): no stage re-derives it from `_meta`. Stages fill
 * in what they decide (the resolved tool, the pin, the experiment's target) for the stages after them,
 * so each concern is computed once. See chain.ts for how stages are run.
 */
import type {
  CallToolResult,
  CompleteResult,
  GetPromptResult,
  ReadResourceResult,
  Tool,
} from '@modelcontextprotocol/server';
import type { CatalogTool } from '../../catalog/snapshot.js';
import type { AuditMethod } from '../../core/audit-event.js';
import type { Principal } from '../../core/principal.js';
import type { CatalogView } from '../../gateway/access.js';
import type { UnitIds } from '../../gateway/experiments.js';
import type { CallContext } from '../passthrough.js';
import type { Span } from '../../telemetry/trace-context.js';
import type { AgentChannel } from '../../core/channel.js';
import type { UpstreamTaskRef, UpstreamTaskStatus } from '../../gateway/gateway.js';
import type { TaskOrigin, TaskRecord } from '../../core/tasks.js';

/** How invoke runs a call as an upstream task (set by the task stage). */
export interface UpstreamTaskPlan {
  readonly ttlMs: number;
  readonly deadlineAt: number;
  readonly poll: { readonly minMs: number; readonly maxMs: number };
  /** Aborted at gateway shutdown: stop following, leave the upstream task running. */
  readonly detach: AbortSignal;
  /** The upstream task exists (record where it is before following it). */
  readonly created: (ref: UpstreamTaskRef) => void;
  readonly onStatus: (status: UpstreamTaskStatus) => void;
}

/**
 * An agent's request to run a call as a task: the task stage creates the task and calls `created`
 * with it at once (the edge answers with the handle), then runs the call to its end.
 */
export interface TaskIntent {
  readonly origin: TaskOrigin;
  /** The TTL the agent asked for (clamped by tasks.maxTtlMs); absent: tasks.defaultTtlMs. */
  readonly ttlMs?: number | undefined;
  /** The agent session, where notifications about the task go (stdio, 2025 sessions). */
  readonly session?: string | undefined;
  /** Hears the call's progress too (a 2025 session's progress notifications with the agent's token). */
  readonly progress?: ((p: { progress: number; total?: number; message?: string }) => void) | undefined;
  /** An unfinished task to run again (a re-run after a gateway restart) instead of creating one. */
  readonly resume?: TaskRecord | undefined;
  readonly created: (task: TaskRecord) => void;
}

/** What kind of agent request a context carries (each has its chain: see chains.ts). */
export type AgentMethod = Exclude<AuditMethod, 'admin'>;

/** One agent request on its way through the pipeline. */
export interface RequestContext {
  readonly method: AgentMethod;
  /** Who is calling (fixed on entry). */
  readonly principal: Principal;
  /** Experiment units and the agent's name for pins: agent, end user, session. */
  readonly units: UnitIds;
  /** What the principal may see of the catalog snapshot this request reads (one snapshot per request). */
  readonly view: CatalogView;
  /**
   * What the request names, as the agent sent it: the exposed tool name (tools/call, call_capability),
   * the meta-tool's name (find_capability), the prompt's name, the resource's URI, or the prompt name
   * or template URI a completion is for.
   */
  readonly name: string;
  /** The tool's (or meta-tool's, or prompt's) arguments. */
  readonly args: Record<string, unknown> | undefined;
  /** The request's params as sent, for terminals that forward them whole (completion/complete). */
  readonly params?: Readonly<Record<string, unknown>> | undefined;
  /** The request's `_meta` (traceparent, pins, decision ids), as the agent sent it. */
  readonly meta: Record<string, unknown> | undefined;
  /**
   * The SDK's handler context: abort signal, notifications, the agent channel of pass-through. Absent
   * for a call the gateway starts itself (a task re-run after a restart: no agent request is open).
   */
  readonly sdk?: CallContext | undefined;
  /**
   * The signal that aborts the call: the agent's, until the task stage makes the request a task and
   * replaces it with the task's own (a task outlives the request that created it).
   */
  signal: AbortSignal;
  /**
   * Where the upstream's progress goes: absent, to the agent's progress token of this request (if it
   * sent one). The task stage sets it to the task's record.
   */
  progress?: ((p: { progress: number; total?: number; message?: string }) => void) | undefined;
  /**
   * Set by the task stage: the request has been answered with a task handle, so the upstream's
   * questions can no longer ride it; they go to `channel` (absent: the relay's other rules decide).
   */
  detached?: { readonly channel?: AgentChannel | undefined } | undefined;
  /**
   * Set by the task stage when the call's server runs it as a task of its own: invoke creates the
   * upstream task and follows it to its end instead of calling the tool (see gateway/tasks/).
   */
  upstreamTask?: UpstreamTaskPlan | undefined;
  /** The call's deadline in ms from now, when something shorter than the server's timeout applies (a task's). */
  timeoutMs?: number | undefined;
  /** Set by the edge when the agent asked to run this call as a task (see stages/task.ts). */
  readonly task?: TaskIntent | undefined;
  /** performance.now() when the request entered. */
  readonly startedAt: number;
  /** The find_capability decision this call follows, when the agent says so (learning, experiments). */
  readonly decisionId: string | undefined;
  /** A version asked for explicitly (call_capability's `version`); otherwise pins come from `_meta` or config. */
  readonly version: string | undefined;

  /** Set by the resolve stage: the catalog tool the name refers to. */
  tool?: CatalogTool;
  /** Set by the resolve stages of prompts, resources and completions: the server that owns the item. */
  owner?: string;
  /** Set by authorize stages when they refuse: the deciding policy ids (empty: a missing scope). */
  deniedBy?: readonly string[];
  /** Set by the pin stage: the version the call is pinned to, if any. */
  pin?: string | undefined;
  /** Set by the pin stage: the definition whose input schema the arguments are checked against. */
  schemaTool?: Tool;
  /** Set by the experiment stage: where the call goes (another tool or server) and on which instances. */
  target?: CatalogTool;
  instances?: readonly string[] | undefined;
  /** Set by stages (hops): `_meta` entries forwarded upstream on top of the agent's own. */
  metaOut?: Record<string, unknown>;
  /** Set by the size stage: the arguments' size in bytes (JSON), so later stages need not measure again. */
  bytesIn?: number;
  /** Set by the invoke terminal: the instance of each attempt, in order (failover tries several). */
  attempts?: string[];
  /**
   * Set by call_capability when it hands its chosen call to the tool chain: that chain's audit stage
   * records the call, so the meta-tool's own does not record it a second time.
   */
  forwarded?: boolean;
  /** Set by the audit stage of a meta-tool: what the request decided, for its audit event (offered, withheld). */
  auditDetail?: Record<string, unknown>;
  /**
   * Set by the trace stage (tracing on): the request's span, for attributes (find_capability's) and ids
   * (the audit event's trace id); call_capability's chosen call shares it.
   */
  span?: Span;
  /** Set by the experiment stage: the experiment and arm the call was assigned to (for traces). */
  arm?: { readonly experiment: string; readonly arm: string };
}

/** The result a tool pipeline produces (tools/call, call_capability, find_capability). */
export type ToolResult = CallToolResult;
/** The results of the prompt, resource and completion chains. */
export type PromptResult = GetPromptResult;
export type ResourceResult = ReadResourceResult;
export type CompletionResult = CompleteResult;

/** The resolved tool of a context, for stages that run after the resolve stage. */
export function resolvedTool(ctx: RequestContext): CatalogTool {
  if (!ctx.tool) throw new Error(`pipeline order: a stage needs the resolved tool of "${ctx.name}" before resolve ran`);
  return ctx.tool;
}
