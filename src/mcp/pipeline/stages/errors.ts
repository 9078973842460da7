/**
 * Outermost stage of the tool chain: a failure thrown by a later stage or by the upstream call becomes
 * a tool result with `isError` (backend faults marked retryable), except the upstream's own JSON-RPC
 * errors, which pass through, and a cancelled call, which the SDK answers itself.
 */
import { ProtocolError } from '@modelcontextprotocol/server';
import { asGatewayError } from '../../../core/errors.js';
import { errorResult } from '../../tool-errors.js';
import type { Stage } from '../chain.js';
import type { ToolResult } from '../context.js';

/** Maps thrown failures to tool error results. */
export function errorsStage(): Stage<ToolResult> {
  return {
    name: 'errors',
    async run(ctx, next) {
      try {
        return await next();
      } catch (error) {
        if (error instanceof ProtocolError) throw error;
        if (ctx.signal.aborted) throw error;
        return errorResult(asGatewayError(error));
      }
    },
  };
}
