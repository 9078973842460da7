/**
 * Loop protection for servers that call through the gateway (the mesh): every forwarded call carries a
 * hop count in `_meta["io.switchboard/hops"]`. A call arriving with N hops (absent: 0, an agent's own
 * call) goes upstream with N + 1; a server that calls the gateway from inside a tool passes on the
 * count its own request carried (test/fixtures/mesh-server.ts shows how). A call arriving with
 * `gateway.maxHops` or more is refused with a tool error that says why, so a server calling itself,
 * or two servers calling each other, end after maxHops calls instead of running until something falls
 * over. Counting relies on servers passing `_meta` on, as they pass `traceparent` on.
 *
 * Placed right after `errors`: a refused call does no other work. Every call is counted (the cost is
 * one property read), not only a mesh principal's, because a server may also reach the gateway with an
 * operator's API key.
 */
import { GatewayError } from '../../../core/errors.js';
import { errorResult } from '../../tool-errors.js';
import type { Stage } from '../chain.js';
import type { ToolResult } from '../context.js';

/** The `_meta` key of the hop count. */
export const HOPS_META_KEY = 'io.switchboard/hops';

/**
 * The hop count a call goes upstream with (incoming + 1), or the error refusing it: a count that is
 * not a non-negative integer (a sloppy server must not reset it), or one at `maxHops` or more.
 * Also used by call_capability's fan-out, which does not run the tool chain.
 */
export function nextHops(
  meta: Record<string, unknown> | undefined,
  maxHops: number,
  tool: string,
): number | GatewayError {
  const raw = meta?.[HOPS_META_KEY];
  const hops = raw === undefined ? 0 : raw;
  if (typeof hops !== 'number' || !Number.isSafeInteger(hops) || hops < 0)
    return new GatewayError('BAD_REQUEST', `_meta["${HOPS_META_KEY}"] must be a non-negative integer (the hop count)`, {
      hops: raw,
    });
  if (hops >= maxHops)
    return new GatewayError(
      'BAD_REQUEST',
      `call chain too deep: ${hops} hops (gateway.maxHops = ${maxHops}); a server is probably calling itself through the gateway`,
      { hops, maxHops, tool },
    );
  return hops + 1;
}

/** Counts hops and refuses calls past `maxHops`. */
export function hopsStage(maxHops: number): Stage<ToolResult> {
  return {
    name: 'hops',
    async run(ctx, next) {
      const hops = nextHops(ctx.meta, maxHops, ctx.name);
      if (hops instanceof GatewayError) return errorResult(hops);
      ctx.metaOut = { ...ctx.metaOut, [HOPS_META_KEY]: hops };
      return next();
    },
  };
}
