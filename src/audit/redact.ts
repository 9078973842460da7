/**
 * What an audit event keeps of a request's arguments: always their hash, and in `audit.arguments:
 * full` mode a copy with the values of secret-looking keys replaced by "[redacted]".
 *
 * The copy is bounded, because the arguments are the caller's and the copy is built on the request's
 * path: at most REDACT_LIMITS.depth levels (deeper values become "[truncated]"), REDACT_LIMITS.nodes
 * values in all and REDACT_LIMITS.entries members per object or array (the rest are dropped and
 * counted in a "[truncated]" member), strings cut to REDACT_LIMITS.stringChars characters and
 * REDACT_LIMITS.totalChars characters of strings and keys in all. Past a bound nothing more is
 * copied (members are only counted), so the copy's size is bounded whatever the input's; the hash
 * covers the arguments whole (linear in their size, like the JSON parse that produced them).
 */
import type { AuditConfig } from '../config/audit-schema.js';
import { canonicalJson, sha256Hex } from '../store/audit-chain.js';

/** The bounds of a redacted copy (see the header). */
export const REDACT_LIMITS = {
  depth: 16,
  nodes: 10_000,
  entries: 1_000,
  stringChars: 4_096,
  totalChars: 65_536,
} as const;

/** What replaces a secret value. */
export const REDACTED = '[redacted]';
/** What replaces a value past a bound. */
export const TRUNCATED = '[truncated]';

/** sha256 (hex) of the canonical JSON of the arguments (keys sorted at every level). */
export function argsHash(args: unknown): string {
  return sha256Hex(canonicalJson(args) ?? '');
}

/** One case-insensitive expression matching any of the patterns; undefined when there are none. */
export function compileRedaction(patterns: readonly string[]): RegExp | undefined {
  return patterns.length === 0 ? undefined : new RegExp(patterns.map((p) => `(?:${p})`).join('|'), 'i');
}

interface Budget {
  nodes: number;
  chars: number;
}

/**
 * A copy of `args` in which the value of every key matching a pattern (at any depth) is "[redacted]",
 * within REDACT_LIMITS. `patterns` are regex sources (tested case-insensitively) or a compiled
 * expression from compileRedaction.
 */
export function redactArgs(args: unknown, patterns: readonly string[] | RegExp | undefined): unknown {
  const match = patterns === undefined || patterns instanceof RegExp ? patterns : compileRedaction(patterns);
  return copy(args, match, 0, { nodes: REDACT_LIMITS.nodes, chars: REDACT_LIMITS.totalChars });
}

function copy(value: unknown, match: RegExp | undefined, depth: number, budget: Budget): unknown {
  if (--budget.nodes < 0) return TRUNCATED;
  if (typeof value === 'string') {
    const room = Math.min(REDACT_LIMITS.stringChars, Math.max(budget.chars, 0));
    budget.chars -= Math.min(value.length, room);
    return value.length <= room ? value : `${value.slice(0, room)}${TRUNCATED}`;
  }
  if (value === null || typeof value !== 'object') return value;
  if (depth >= REDACT_LIMITS.depth) return TRUNCATED;
  if (Array.isArray(value)) {
    const out: unknown[] = [];
    const n = Math.min(value.length, REDACT_LIMITS.entries);
    for (let i = 0; i < n && budget.nodes > 0; i++) out.push(copy(value[i], match, depth + 1, budget));
    if (out.length < value.length) out.push(`${TRUNCATED} ${value.length - out.length} more`);
    return out;
  }
  const entries: [string, unknown][] = [];
  let skipped = 0;
  for (const key in value) {
    if (!Object.hasOwn(value, key)) continue;
    if (entries.length >= REDACT_LIMITS.entries || budget.nodes <= 0 || budget.chars <= 0) {
      skipped++;
      continue;
    }
    budget.chars -= key.length;
    const member = (value as Record<string, unknown>)[key];
    entries.push([key, match?.test(key) ? REDACTED : copy(member, match, depth + 1, budget)]);
  }
  if (skipped > 0) entries.push([TRUNCATED, `${skipped} more`]);
  // fromEntries defines own properties, so a "__proto__" key stays data instead of a prototype.
  return Object.fromEntries(entries);
}

/** How a request's arguments appear in its audit event. */
export interface ArgumentsRecord {
  readonly argsHash: string;
  /** The redacted copy, in `full` mode only. */
  readonly args?: unknown;
}

/** The function the audit stage calls per request: the hash, and the redacted copy where configured. */
export function argumentsRecorder(
  config: Pick<AuditConfig, 'arguments' | 'redact'>,
): (args: Record<string, unknown>) => ArgumentsRecord {
  if (config.arguments !== 'full') return (args) => ({ argsHash: argsHash(args) });
  const match = compileRedaction(config.redact);
  return (args) => ({ argsHash: argsHash(args), args: redactArgs(args, match) });
}
