/**
 * Unknown keys in server entries are errors, with a "did you mean". A misspelt key (`timeoutMS`,
 * `retrysafe`) that zod strips silently leaves the setting at its default and the operator none the
 * wiser; hosts' own extra keys stay accepted (see schema.ts), and keys a host reads but Switchboard
 * cannot honour get a message of their own instead of being dropped.
 */
import { z } from 'zod';
import { editDistance } from '../core/edit-distance.js';

/** Keys other hosts define that Switchboard refuses with an explanation rather than ignore. */
const UNSUPPORTED: Readonly<Record<string, string>> = {
  envFile:
    'envFile (VS Code, Cursor) is not read by switchboard: list the variables under env (values may use ${VAR} from the environment)',
};

/** The known key closest to `key` (case-insensitive match first), when close enough to be a typo. */
export function closestKey(key: string, known: readonly string[]): string | undefined {
  if (key.length > 64) return undefined;
  const lower = key.toLowerCase();
  const same = known.find((k) => k.toLowerCase() === lower);
  if (same) return same;
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(key.length / 3)) + 1;
  for (const candidate of known) {
    const d = editDistance(lower, candidate.toLowerCase(), { swaps: true });
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

/**
 * The message for keys of an entry that the schema does not know: each named, with the closest known
 * key (or the reason a host-specific key is refused). Used as a strict object's error for
 * `unrecognized_keys`, so these are reported together with every other problem of the entry.
 */
export function unknownKeysMessage(keys: readonly string[], known: readonly string[]): string {
  return keys
    .map((key) => {
      const unsupported = UNSUPPORTED[key];
      if (unsupported) return unsupported;
      const shown = key.length > 64 ? `${key.slice(0, 64)}…` : key;
      const close = closestKey(key, known);
      return `unknown key "${shown}"${close ? `; did you mean "${close}"?` : ' (the README lists the keys a server entry takes)'}`;
    })
    .join('; ');
}

/**
 * A strict zod object whose unknown keys are reported with a "did you mean" (every config section's
 * objects are built with it, so a misspelt key anywhere is an error at its path, never a silent default).
 */
export function strictObject<T extends z.ZodRawShape>(shape: T) {
  const known = Object.keys(shape);
  return z.strictObject(shape, {
    error: (issue) => (issue.code === 'unrecognized_keys' ? unknownKeysMessage(issue.keys, known) : undefined),
  });
}
