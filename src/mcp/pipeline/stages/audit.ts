/**
 * Outermost stage of every chain: measures the request once and hands one AuditEvent to each observer
 * (the audit writer, which also meters usage from it in the same transaction, and the tenant quotas).
 * It sees the final answer, refusals included: a tool error result with its code, or whatever was
 * thrown (a JSON-RPC error, a cancellation), which it rethrows unchanged.
 *
 * Observers must not block: the writer only appends to a buffer (the disk is written off the call's
 * path), so the cost here is building the event: the clock, the arguments' hash and two sizes.
 * Arguments are kept only as a hash unless `audit.arguments: full`, and then with secret-looking keys
 * redacted (see the `describe` function the composition root passes).
 */
import { ProtocolError } from '@modelcontextprotocol/server';
import type { AuditEvent, AuditOutcome } from '../../../core/audit-event.js';
import { GatewayError } from '../../../core/errors.js';
import { ERROR_META_KEY } from '../../tool-errors.js';
import type { Stage } from '../chain.js';
import type { RequestContext, ToolResult } from '../context.js';

/** Receives each finished request's event (must return at once: buffer, count, never wait). */
export type AuditObserver = (event: AuditEvent) => void;

/** How arguments appear in an event: a hash, and the (redacted) arguments where configured. */
export interface ArgumentsRecord {
  readonly argsHash?: string | undefined;
  readonly args?: unknown;
}

/** What the audit stage needs. */
export interface AuditStageDeps {
  readonly observers: readonly AuditObserver[];
  /** The arguments' hash (and the redacted arguments, when configured). */
  readonly describeArgs: (args: Record<string, unknown>) => ArgumentsRecord;
}

/** How a chain's answer reads as an outcome (tool results carry failures; other results do not). */
type Reading<R> = (result: R) => { outcome: AuditOutcome; errorCode?: string | undefined };

const OK = { outcome: 'success' as const };

/** The audit stage of a chain whose answers are tool results (tools, meta-tools). */
export function toolAuditStage(deps: AuditStageDeps): Stage<ToolResult> {
  return auditStage(deps, readToolResult);
}

/** The audit stage of a chain whose answers have no error channel (prompts, resources, completions). */
export function auditStage<R>(deps: AuditStageDeps, read: Reading<R> = () => OK): Stage<R> {
  const { observers } = deps;
  const emit = (event: AuditEvent) => {
    for (const observe of observers) observe(event);
  };
  return {
    name: 'audit',
    async run(ctx, next) {
      const time = Date.now();
      let result: R;
      try {
        result = await next();
      } catch (error) {
        if (!ctx.forwarded) emit(eventOf(ctx, deps, time, thrownOutcome(error), 0));
        throw error;
      }
      if (!ctx.forwarded) emit(eventOf(ctx, deps, time, read(result), byteSize(result)));
      return result;
    },
  };
}

function eventOf(
  ctx: RequestContext,
  deps: AuditStageDeps,
  time: number,
  reading: { outcome: AuditOutcome; errorCode?: string | undefined },
  bytesOut: number,
): AuditEvent {
  const { principal, units } = ctx;
  const target = ctx.target ?? ctx.tool;
  const args = ctx.args;
  const recorded = args && Object.keys(args).length > 0 ? deps.describeArgs(args) : undefined;
  const attempts = ctx.attempts;
  const denied = ctx.deniedBy !== undefined;
  const detail = {
    ...(attempts && attempts.length > 1 ? { attempts } : {}),
    ...(ctx.target && ctx.tool && ctx.target.id !== ctx.tool.id ? { asked: ctx.tool.id } : {}),
    ...ctx.auditDetail,
  };
  return {
    time,
    tenant: principal.tenant,
    agent: units.agent,
    user: units.user,
    session: units.session,
    subject: principal.subject,
    // The request span's (it exists even when not sampled); without tracing, the agent's traceparent.
    traceId: ctx.span?.spanContext().traceId ?? traceIdOf(ctx.meta),
    method: ctx.method,
    tool: target?.id ?? (ctx.method === 'find_capability' || ctx.method === 'report_outcome' ? undefined : ctx.name),
    server: target?.server ?? ctx.owner,
    instance: attempts?.[attempts.length - 1],
    decision: denied ? 'deny' : 'allow',
    policies: ctx.deniedBy,
    outcome: denied ? 'denied' : reading.outcome,
    errorCode: reading.errorCode,
    latencyMs: performance.now() - ctx.startedAt,
    bytesIn: ctx.bytesIn ?? (args ? Buffer.byteLength(JSON.stringify(args)) : 0),
    bytesOut,
    argsHash: recorded?.argsHash,
    args: recorded?.args,
    detail: Object.keys(detail).length > 0 ? detail : undefined,
  };
}

/** A tool result's outcome: success, a refusal (denied, limited) or another failure (isError). */
export function readToolResult(result: ToolResult): { outcome: AuditOutcome; errorCode?: string | undefined } {
  if (result.isError !== true) return OK;
  const code = (result._meta?.[ERROR_META_KEY] as { code?: unknown } | undefined)?.code;
  const errorCode = typeof code === 'string' ? code : undefined;
  return { outcome: refusalOutcome(errorCode) ?? 'isError', errorCode };
}

/** What a thrown failure reads as (its code, or CANCELLED, or INTERNAL). */
export function thrownOutcome(error: unknown): { outcome: AuditOutcome; errorCode?: string | undefined } {
  const errorCode =
    error instanceof GatewayError
      ? error.code
      : error instanceof ProtocolError
        ? (codeOfData(error.data) ?? String(error.code))
        : error instanceof Error && error.name === 'AbortError'
          ? 'CANCELLED'
          : 'INTERNAL';
  return { outcome: refusalOutcome(errorCode) ?? 'error', errorCode };
}

function refusalOutcome(code: string | undefined): AuditOutcome | undefined {
  if (code === 'FORBIDDEN') return 'denied';
  if (code === 'RATE_LIMITED' || code === 'QUOTA_EXCEEDED') return 'limited';
  return undefined;
}

function codeOfData(data: unknown): string | undefined {
  const code = (data as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** The trace id of a W3C traceparent (`00-<32 hex>-<16 hex>-<2 hex>`) in `_meta`, if well formed. */
function traceIdOf(meta: Record<string, unknown> | undefined): string | undefined {
  const traceparent = meta?.traceparent;
  if (typeof traceparent !== 'string' || traceparent.length !== 55) return undefined;
  const id = traceparent.slice(3, 35);
  return /^[0-9a-f]{32}$/.test(id) && id !== '0'.repeat(32) ? id : undefined;
}

/** The answer's size as JSON, in bytes (what the agent is sent, before transport framing). */
function byteSize(result: unknown): number {
  const json = JSON.stringify(result);
  return json === undefined ? 0 : Buffer.byteLength(json);
}
