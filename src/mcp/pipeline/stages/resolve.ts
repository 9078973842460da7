/**
 * Resolves the exposed tool name in the request's catalog view. An unknown name is the caller's
 * mistake: a JSON-RPC error with suggestions. A known server that is down is a backend problem: a
 * retryable tool error naming the reason, not a bad request.
 */
import { asGatewayError } from '../../../core/errors.js';
import type { AccessControl } from '../../../gateway/access.js';
import type { Gateway } from '../../../gateway/gateway.js';
import { toProtocolError } from '../../protocol-errors.js';
import { errorResult } from '../../tool-errors.js';
import type { Stage } from '../chain.js';
import type { ToolResult } from '../context.js';

/** Sets `ctx.tool`: only among the tools the principal may see (a hidden one reads as unknown). */
export function resolveStage(gateway: Gateway, access: AccessControl): Stage<ToolResult> {
  return {
    name: 'resolve',
    async run(ctx, next) {
      const { view } = ctx;
      try {
        ctx.tool = gateway.resolveTool(
          ctx.name,
          view.snapshot,
          view.full
            ? undefined
            : {
                tools: view.tools,
                has: view.hasTool,
                mayKnowServer: (server, id) => access.mayKnowServer(ctx.principal, server, id),
              },
        );
      } catch (error) {
        const gatewayError = asGatewayError(error);
        if (!gatewayError.callerFault) return errorResult(gatewayError);
        throw toProtocolError(gatewayError);
      }
      return next();
    },
  };
}
