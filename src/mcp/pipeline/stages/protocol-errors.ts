/**
 * Outermost stage of the prompt, resource and completion chains: whatever a later stage or the upstream
 * throws leaves as a JSON-RPC error (a GatewayError mapped to its code, the upstream's own errors as
 * they came). These requests have no `isError` result to carry a failure in.
 */
import { asProtocolError } from '../../protocol-errors.js';
import type { Stage } from '../chain.js';

/** Maps thrown failures to JSON-RPC errors. */
export function protocolErrorsStage<R>(): Stage<R> {
  return {
    name: 'errors',
    async run(_ctx, next) {
      try {
        return await next();
      } catch (error) {
        throw asProtocolError(error);
      }
    },
  };
}
