/**
 * The end of the tool chain: hands the call to `Gateway.callTool` (the server's pool picks an
 * instance, fails over when safe, applies the call timeout) with the agent's abort signal, the
 * pass-through channel for the upstream's questions, the pin and the experiment's instances, and a
 * progress callback that re-emits each upstream progress with the agent's own token.
 */
import type { ServerContext } from '@modelcontextprotocol/server';
import type { Gateway } from '../../gateway/gateway.js';
import type { Terminal } from './chain.js';
import { resolvedTool, type ToolResult } from './context.js';

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
    return gateway.callTool(ctx.target ?? resolvedTool(ctx), ctx.args, forwardMeta(meta), {
      signal: ctx.signal,
      agent: ctx.units.agent,
      attempted: (instance) => (ctx.attempts ??= []).push(instance),
      ...(channel ? { channel } : {}),
      ...(ctx.pin ? { pin: ctx.pin } : {}),
      ...(ctx.instances ? { instances: ctx.instances } : {}),
      ...(ctx.timeoutMs !== undefined ? { timeoutMs: ctx.timeoutMs } : {}),
      ...(onprogress ? { onprogress } : {}),
    });
  };
}

type Progress = { progress: number; total?: number; message?: string };

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
