/**
 * The gateway's spans (with telemetry.tracing; without a tracer none of this runs): one CLIENT span
 * per upstream attempt of a pool (instance, retry number, and for a retry the failure it fails over
 * from), and one span per fan-out branch. Each runs its work as the active span, so the upstream
 * adapter writes that span's traceparent into the call's `_meta` and HTTP headers
 * (telemetry/trace-context.ts): the upstream's own spans become children of the attempt.
 */
import { SpanKind, type Attributes } from '@opentelemetry/api';
import type { UpstreamSpec } from '../config/spec.js';
import { GatewayError } from '../core/errors.js';
import type { CallToolResult } from '../core/protocol.js';
import { ATTR, failSpan, inSpan, type Tracer } from '../telemetry/trace-context.js';

/** One attempt of a pool's call, as `#route` sees it. */
export interface Attempt {
  readonly method: string;
  /** The upstream's own tool name (tools/call). */
  readonly tool: string | undefined;
  readonly server: string;
  readonly upstream: { readonly instance: string; readonly spec: UpstreamSpec };
  /** 0 for the first attempt, 1 for the first failover, ... */
  readonly retry: number;
  /** Why the previous attempt failed (a failover), if this is one. */
  readonly after: Error | undefined;
}

/** Runs one upstream attempt in its span. */
export function attemptSpan<T>(tracer: Tracer, attempt: Attempt, run: () => Promise<T>): Promise<T> {
  const { method, tool, server, upstream, retry, after } = attempt;
  // Few attributes (each costs at export): the tool is in the name, the rest on the request's span.
  const attributes: Attributes = {
    [ATTR.rpcSystem]: 'mcp',
    [ATTR.rpcMethod]: method,
    [ATTR.server]: server,
    [ATTR.instance]: upstream.instance,
    [ATTR.retry]: retry,
    ...addressOf(upstream.spec),
  };
  if (after !== undefined) {
    attributes[ATTR.failoverReason] = after.message;
    if (after instanceof GatewayError) attributes[ATTR.failoverCode] = after.code;
  }
  return inSpan(tracer, tool !== undefined ? `${method} ${tool}` : method, { kind: SpanKind.CLIENT, attributes }, run);
}

/** `server.address` and `server.port` of an HTTP upstream (none for stdio). */
function addressOf(spec: UpstreamSpec): Attributes {
  if (spec.kind === 'stdio') return {};
  const url = new URL(spec.url);
  const port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
  return { [ATTR.serverAddress]: url.hostname, [ATTR.serverPort]: port };
}

/** Runs one fan-out branch (a catalog tool) in its span; a branch answering `isError` is marked failed. */
export function branchSpan(
  tracer: Tracer,
  branch: { call: string; strategy: string; tool: string; server: string },
  run: () => Promise<CallToolResult>,
): Promise<CallToolResult> {
  const attributes: Attributes = {
    [ATTR.tool]: branch.tool,
    [ATTR.server]: branch.server,
    [ATTR.fanoutCall]: branch.call,
    [ATTR.fanoutStrategy]: branch.strategy,
  };
  return inSpan(tracer, `fanout ${branch.tool}`, { kind: SpanKind.INTERNAL, attributes }, async (span) => {
    const result = await run();
    if (result.isError === true) failSpan(span, 'tool_error');
    return result;
  });
}
