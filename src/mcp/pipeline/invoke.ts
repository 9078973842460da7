/**
 * The end of the tool chain: hands the call to `Gateway.callTool` (the server's pool picks an
 * instance, fails over when safe, applies the call timeout) with the agent's abort signal, the
 * pass-through channel for the upstream's questions, the pin and the experiment's instances, and a
 * progress callback that re-emits each upstream progress with the agent's own token.
 */
import type { ServerContext } from '@modelcontextprotocol/server';
import type { CatalogTool } from '../../catalog/snapshot.js';
import type { CallOptions, Gateway } from '../../gateway/gateway.js';
import type { Terminal } from './chain.js';
import { resolvedTool, type ToolResult, type UpstreamTaskPlan } from './context.js';

/** Forwards the call upstream. */
export function invokeTerminal(gateway: Gateway): Terminal<ToolResult> {
  return (ctx) => {
    const { sdk } = ctx;
    const progressToken = sdk?.mcpReq._meta?.progressToken;
    const onprogress =
      ctx.progress ??
      (sdk && progressToken !== undefined ? (p: Progress) => void notifyProgress(sdk, progressToken, p) : undefined);
    const channel = ctx.detached ? ctx.detached.channel : sdk?.channel;
    const meta = ctx.metaOut ? { ...ctx.meta, ...ctx.metaOut } : ctx.meta;
    const tool = ctx.target ?? resolvedTool(ctx);
    const options: CallOptions & { signal: AbortSignal } = {
      signal: ctx.signal,
      agent: ctx.units.agent,
      attempted: (instance) => (ctx.attempts ??= []).push(instance),
      ...(channel ? { channel } : {}),
      ...(ctx.pin ? { pin: ctx.pin } : {}),
      ...(ctx.instances ? { instances: ctx.instances } : {}),
      ...(ctx.timeoutMs !== undefined ? { timeoutMs: ctx.timeoutMs } : {}),
      ...(onprogress ? { onprogress } : {}),
    };
    const plan = ctx.upstreamTask;
    if (!plan) return gateway.callTool(tool, ctx.args, forwardMeta(meta), options);
    return upstreamTask(gateway, tool, ctx.args, forwardMeta(meta), options, plan);
  };
}

type Progress = { progress: number; total?: number; message?: string };

/** Creates the call as an upstream task and follows it to its end (the server may answer at once instead). */
async function upstreamTask(
  gateway: Gateway,
  tool: CatalogTool,
  args: Record<string, unknown> | undefined,
  meta: Record<string, unknown> | undefined,
  options: CallOptions & { signal: AbortSignal },
  plan: UpstreamTaskPlan,
): Promise<ToolResult> {
  const { signal } = options;
  const created = await gateway.createUpstreamTask(tool, args, meta, { ...options, ttlMs: plan.ttlMs });
  if (created.kind === 'result') return created.result;
  plan.created(created.ref);
  plan.onStatus(created.status);
  return gateway.followUpstreamTask(created.ref, {
    signal,
    deadlineAt: plan.deadlineAt,
    poll: plan.poll,
    onStatus: plan.onStatus,
    detach: plan.detach,
    ...(options.onprogress ? { onProgress: options.onprogress } : {}),
    ...(options.channel ? { channel: options.channel } : {}),
  });
}

/** Re-emits an upstream progress update with the agent's own token. */
async function notifyProgress(ctx: ServerContext, progressToken: string | number, p: Progress): Promise<void> {
  try {
    await ctx.mcpReq.notify({ method: 'notifications/progress', params: { progressToken, ...p } });
  } catch {
    // The agent went away; the call itself is cancelled through the signal.
  }
}

/**
 * Passes `_meta` on (e.g. traceparent, and the hop count the hops stage set) minus the agent's progress
 * token, which the SDK replaces upstream.
 */
function forwardMeta(meta: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  if (!meta) return undefined;
  const { progressToken: _token, ...rest } = meta;
  return Object.keys(rest).length > 0 ? rest : undefined;
}
