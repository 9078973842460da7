/**
 * Nesting depth of JSON bodies, bounded before they are parsed.
 *
 * JSON.parse itself copes with deep input, but what runs on the parsed value afterwards (schema
 * validation, environment expansion, JSON-RPC classification) recurses: 3,000 levels on /v1 once
 * answered "Maximum call stack size exceeded" and 4,106 levels on /mcp a bare 500. A linear scan that
 * counts brackets outside strings refuses such a body first, at a cost of a few ms for 4 MB.
 */
import { GatewayError } from '../core/errors.js';

/** Deepest nesting of objects and arrays accepted in a request body (a JSON-RPC envelope uses 3). */
export const MAX_JSON_DEPTH = 64;

/** True when `text` nests objects and arrays deeper than `limit` (strings and escapes are skipped). */
export function exceedsJsonDepth(text: string, limit = MAX_JSON_DEPTH): boolean {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // Skip the string: to the next quote not escaped by a backslash.
      for (i++; i < text.length; i++) {
        const s = text.charCodeAt(i);
        if (s === 0x5c) i++;
        else if (s === 0x22) break;
      }
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > limit) return true;
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
    }
  }
  return false;
}

/** The 400 for a body nested too deep; {@link isJsonDepthError} tells it apart from a syntax error. */
export function jsonDepthError(limit = MAX_JSON_DEPTH): GatewayError {
  return new GatewayError('BAD_REQUEST', `JSON body nests deeper than ${limit} levels`, {
    reason: 'json-depth',
    limit,
  });
}

/** True for the error of {@link jsonDepthError} (well-formed JSON, refused: an invalid request, not a parse error). */
export function isJsonDepthError(error: GatewayError): boolean {
  return error.details?.reason === 'json-depth';
}
