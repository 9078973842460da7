/**
 * "Did you mean" suggestions for unknown names: the closest exposed names by edit distance, so an
 * agent that dropped a prefix or made a typo can correct itself from the error alone.
 *
 * Edit distance costs name length x candidate length per candidate, so names beyond
 * {@link MAX_NAME_LENGTH} get no suggestions (a 4 MB name once froze the process for 13 s), and
 * {@link clip} bounds what any error message echoes back of a caller's input.
 */

import { editDistance } from '../core/edit-distance.js';

/** Longest tool or prompt name accepted from a caller (MCP names are 1 to 128 characters). */
export const MAX_NAME_LENGTH = 128;

/** Longest capability need (find_capability / call_capability text) accepted, in characters. */
export const MAX_NEED_LENGTH = 4096;

/** Longest resource URI accepted from a caller, in characters. */
export const MAX_URI_LENGTH = 8192;

/** How much of a caller's input an error message echoes. */
const ECHO_LENGTH = 100;

/** `text` cut to `max` (about 100) characters with an ellipsis, for echoing caller input. */
export function clip(text: string, max = ECHO_LENGTH): string {
  return text.length <= max ? text : `${text.slice(0, max)}…`;
}

/** The error text for an input over its limit, echoing only its start. */
export function tooLong(what: string, value: string, limit: number): string {
  return `${what} is ${value.length} characters; the limit is ${limit} ("${clip(value)}")`;
}

/** Up to `limit` names close to `name`: suffix matches first (a missing server prefix), then by distance. */
export function suggest(name: string, names: readonly string[], limit = 3): string[] {
  if (name.length > MAX_NAME_LENGTH) return [];
  const lower = name.toLowerCase();
  const scored = names
    .map((candidate) => {
      const c = candidate.toLowerCase();
      const suffix = c.endsWith(`__${lower}`) || c.endsWith(lower) ? 0 : 1;
      return { candidate, suffix, distance: editDistance(lower, c) };
    })
    .filter((s) => s.suffix === 0 || s.distance <= Math.max(2, Math.floor(name.length / 3)));
  scored.sort((x, y) => x.suffix - y.suffix || x.distance - y.distance || x.candidate.localeCompare(y.candidate));
  return scored.slice(0, limit).map((s) => s.candidate);
}
