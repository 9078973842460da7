/**
 * The one mapping from gateway errors to JSON-RPC errors, for methods without an isError channel:
 * a caller's mistake is invalid params, anything else an internal error; an upstream's own
 * ProtocolError passes unchanged.
 */
import { ProtocolError, ProtocolErrorCode } from '@modelcontextprotocol/server';
import { asGatewayError, type GatewayError } from '../core/errors.js';

/** Maps a gateway error to a JSON-RPC error. */
export function toProtocolError(error: GatewayError): ProtocolError {
  const code = error.callerFault ? ProtocolErrorCode.InvalidParams : ProtocolErrorCode.InternalError;
  return new ProtocolError(code, error.message, error.toJSON());
}

/** Anything thrown, as the JSON-RPC error an agent gets (a ProtocolError as it is). */
export function asProtocolError(error: unknown): ProtocolError {
  return error instanceof ProtocolError ? error : toProtocolError(asGatewayError(error));
}
