/**
 * A failed call as a tool result the model can read. Backend faults say so and are marked retryable,
 * so the model does not blame (or rewrite) its own request; the structured error rides in `_meta`.
 */
import type { CallToolResult } from '@modelcontextprotocol/server';
import type { GatewayError } from '../core/errors.js';

/** `_meta` key carrying the gateway's structured error on failed tool results. */
export const ERROR_META_KEY = 'io.switchboard/error';

/** A failed call as a tool result the model can read; backend faults say so and are marked retryable. */
export function errorResult(error: GatewayError): CallToolResult {
  const who = error.callerFault
    ? ''
    : error.retryable
      ? ' (a backend problem, not your request; retrying later may succeed)'
      : error.code === 'RESULT_TOO_LARGE'
        ? ' (the server answered, but its result is over the gateway limit; repeating the call will not help: ask for less)'
        : ' (a gateway problem, not your request)';
  return {
    content: [{ type: 'text', text: `${error.message}${who}` }],
    isError: true,
    _meta: { [ERROR_META_KEY]: errorMeta(error) },
  };
}

/**
 * The structured error of `_meta`: the error's JSON, plus `retryAfterMs` at the top where the error
 * says when to retry (rate limits, quotas, busy servers), so a client need not dig into details.
 */
function errorMeta(error: GatewayError): Record<string, unknown> {
  const json = error.toJSON();
  const retryAfterMs = error.details?.retryAfterMs;
  return typeof retryAfterMs === 'number' ? { ...json, retryAfterMs } : json;
}
