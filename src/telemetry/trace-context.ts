/**
 * W3C trace context on the call path, on `@opentelemetry/api` alone (no SDK is loaded for it): reading
 * an agent's `traceparent`/`tracestate`, writing the active span's into an upstream call's `_meta` and
 * HTTP headers, the ids for log lines, and running work in a child span.
 *
 * Why not the SDK's W3C propagator: this module is on every call's path whether tracing is on or off
 * (upstreams inject, the logger mixes ids in), and the SDK is imported only when `telemetry.tracing` is
 * configured (see tracing.ts). With tracing off no context manager is registered, `context.active()` is
 * the empty root context, and every function here returns at its first check.
 *
 * The context manager is process-wide by the API's design (one AsyncLocalStorage for all async code);
 * tracers are not: they are passed as dependencies, so code without a tracer makes no spans at all.
 */
import {
  context,
  createTraceState,
  isSpanContextValid,
  ROOT_CONTEXT,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Span,
  type SpanContext,
  type SpanKind,
  type Tracer,
} from '@opentelemetry/api';

export type { Span, Tracer } from '@opentelemetry/api';

/**
 * Attribute names: OpenTelemetry semantic conventions where they exist (rpc, server, error,
 * mcp.resource.uri), ours under `mcp.` and `switchboard.`.
 */
export const ATTR = {
  rpcSystem: 'rpc.system',
  rpcMethod: 'rpc.method',
  serverAddress: 'server.address',
  serverPort: 'server.port',
  errorType: 'error.type',
  tool: 'mcp.tool',
  server: 'mcp.server',
  tenant: 'switchboard.tenant',
  agent: 'switchboard.agent',
  arm: 'switchboard.arm',
  experiment: 'switchboard.experiment',
  pin: 'switchboard.pin',
  outcome: 'switchboard.outcome',
  instance: 'switchboard.instance',
  retry: 'switchboard.retry',
  failoverReason: 'switchboard.failover.reason',
  failoverCode: 'switchboard.failover.code',
  resourceUri: 'mcp.resource.uri',
  refused: 'switchboard.refused',
  policies: 'switchboard.policies',
  decisionId: 'switchboard.decision_id',
  candidates: 'switchboard.find.candidates',
  confidence: 'switchboard.find.confidence',
  confident: 'switchboard.find.confident',
  fanoutCall: 'switchboard.fanout.call',
  fanoutStrategy: 'switchboard.fanout.strategy',
} as const;

/** `version-traceid-parentid-flags`; a future version may append fields after a dash. */
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
/** W3C bounds: traceparent is 55 characters in version 00; tracestate at most 512. */
const MAX_HEADER = 512;

/** The span context a `traceparent` (and `tracestate`) names, or undefined when malformed or all zeros. */
export function parseTraceparent(traceparent: unknown, tracestate?: unknown): SpanContext | undefined {
  if (typeof traceparent !== 'string' || traceparent.length > MAX_HEADER) return undefined;
  const match = TRACEPARENT.exec(traceparent.trim());
  if (!match) return undefined;
  const [, version, traceId, spanId, flags, rest] = match as unknown as [
    string,
    string,
    string,
    string,
    string,
    string?,
  ];
  if (version === 'ff' || (version === '00' && rest !== undefined)) return undefined;
  const spanContext: SpanContext = {
    traceId,
    spanId,
    traceFlags: parseInt(flags, 16),
    isRemote: true,
    ...(typeof tracestate === 'string' && tracestate.length > 0 && tracestate.length <= MAX_HEADER
      ? { traceState: createTraceState(tracestate) }
      : {}),
  };
  return isSpanContextValid(spanContext) ? spanContext : undefined;
}

/** Something that reads headers (a fetch `Headers`). */
export interface HeaderReader {
  get(name: string): string | null;
}

/**
 * The parent context of an agent's request: `_meta.traceparent` (every transport) first, else the
 * HTTP request's `traceparent` header; the root context when neither is well formed.
 */
export function remoteParent(meta: Record<string, unknown> | undefined, headers?: HeaderReader): Context {
  const fromMeta = meta && parseTraceparent(meta.traceparent, meta.tracestate);
  const parent = fromMeta ?? (headers && parseTraceparent(headers.get('traceparent'), headers.get('tracestate')));
  return parent ? trace.setSpanContext(ROOT_CONTEXT, parent) : ROOT_CONTEXT;
}

/** The active span's `traceparent` (and `tracestate`), or undefined when there is no valid span. */
export function activeTraceContext(): { traceparent: string; tracestate?: string } | undefined {
  const spanContext = trace.getSpanContext(context.active());
  if (!spanContext || !isSpanContextValid(spanContext)) return undefined;
  const flags = (spanContext.traceFlags & 0xff).toString(16).padStart(2, '0');
  const traceparent = `00-${spanContext.traceId}-${spanContext.spanId}-${flags}`;
  const tracestate = spanContext.traceState?.serialize();
  return tracestate ? { traceparent, tracestate } : { traceparent };
}

/**
 * `meta` with the active span's trace context in place of whatever trace context it carried (the
 * agent's, which is this span's ancestor), so the upstream's spans join as children of this attempt.
 * Unchanged when no span is active (tracing off: the agent's own traceparent passes through).
 */
export function withTraceMeta(meta: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  const active = activeTraceContext();
  if (!active) return meta;
  const { tracestate: _previous, ...rest } = meta ?? {};
  return { ...rest, ...active };
}

type Fetch = (url: string | URL, init?: RequestInit) => Promise<Response>;

/** A fetch that adds the active span's `traceparent`/`tracestate` headers (none outside a span). */
export function tracedFetch<F extends Fetch>(base: F): F {
  return ((url: string | URL, init?: RequestInit) => {
    const active = activeTraceContext();
    if (!active) return base(url, init);
    const headers = new Headers(init?.headers);
    headers.set('traceparent', active.traceparent);
    if (active.tracestate) headers.set('tracestate', active.tracestate);
    else headers.delete('tracestate');
    return base(url, { ...init, headers });
  }) as F;
}

/**
 * `trace_id`/`span_id` of the active span for a log line (pino's mixin; an empty object outside a span,
 * a fresh one each time: pino merges the line's own fields into what the mixin returns).
 */
export function logTraceIds(): Record<string, string> {
  const spanContext = trace.getSpanContext(context.active());
  return spanContext && isSpanContextValid(spanContext)
    ? { trace_id: spanContext.traceId, span_id: spanContext.spanId }
    : {};
}

/**
 * How a failure reads as `error.type`: its string code (a GatewayError's, e.g. UPSTREAM_FAILED, or a
 * system error's), a cancellation, or the error's name. (Read by shape: telemetry/ imports no other layer.)
 */
export function errorType(error: unknown): string {
  if (!(error instanceof Error)) return 'INTERNAL';
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') return code;
  return error.name === 'AbortError' ? 'CANCELLED' : error.name;
}

/** Marks a span failed: status ERROR with a message, and `error.type`. */
export function failSpan(span: Span, type: string, message?: string): void {
  span.setAttribute(ATTR.errorType, type);
  span.setStatus({ code: SpanStatusCode.ERROR, ...(message ? { message } : {}) });
}

/**
 * Runs `fn` in a new child span of the active context (active while it runs, so its own children and
 * upstream calls nest under it); a throw marks the span failed; the span ends when `fn` settles.
 */
export async function inSpan<T>(
  tracer: Tracer,
  name: string,
  options: { kind: SpanKind; attributes: Attributes },
  fn: (span: Span) => Promise<T>,
): Promise<T> {
  const parent = context.active();
  const span = tracer.startSpan(name, options, parent);
  try {
    return await context.with(trace.setSpan(parent, span), fn, undefined, span);
  } catch (error) {
    failSpan(span, errorType(error), error instanceof Error ? error.message : undefined);
    throw error;
  } finally {
    span.end();
  }
}
