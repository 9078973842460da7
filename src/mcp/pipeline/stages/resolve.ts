/**
 * Resolves the exposed tool name in the current catalog snapshot. An unknown name is the caller's
 * mistake: a JSON-RPC error with suggestions. A known server that is down is a backend problem: a
 * retryable tool error naming the reason, not a bad request.
 */
import { asGatewayError } from '../../../core/errors.js';
import type { Gateway } from '../../../gateway/gateway.js';
import { toProtocolError } from '../../protocol-errors.js';
import { errorResult } from '../../tool-errors.js';
import type { Stage } from '../chain.js';
import type { ToolResult } from '../context.js';

/** Sets `ctx.tool`. */
export function resolveStage(gateway: Gateway): Stage<ToolResult> {
  return {
    name: 'resolve',
    async run(ctx, next) {
      try {
        ctx.tool = gateway.resolveTool(ctx.name);
      } catch (error) {
        const gatewayError = asGatewayError(error);
        if (!gatewayError.callerFault) return errorResult(gatewayError);
        throw toProtocolError(gatewayError);
      }
      return next();
    },
  };
}
