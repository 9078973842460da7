/**
 * The `audit` section of the config: the tamper-evident audit trail of every agent request, policy
 * denial and admin change (see audit/writer.ts for how it is written, store/audit-repo.ts for how it
 * is kept and checked).
 *
 * On by default. Arguments are recorded as a hash unless `arguments: full`; then the values of keys
 * matching one of `redact` (case-insensitive regular expressions, tested against each key at any
 * depth) are replaced by "[redacted]". Listing `redact` replaces the default list
 * (DEFAULT_REDACT_PATTERNS), so a file that adds a pattern repeats the defaults it still wants.
 */
import { z } from 'zod';
import { strictObject as strict } from './keys.js';

/** Key patterns whose values are never stored in full-argument mode (case-insensitive regex sources). */
export const DEFAULT_REDACT_PATTERNS: readonly string[] = [
  'secret',
  'token',
  'password',
  'passwd',
  'api[-_]?key',
  'authorization',
  'cookie',
  'credential',
  'private[-_]?key',
];

/** One redaction pattern: must compile as a JavaScript regular expression (flag `i` is added). */
const redactPattern = z
  .string()
  .min(1, 'an empty pattern would redact every key; remove it')
  .max(500)
  .superRefine((source, ctx) => {
    try {
      new RegExp(source, 'i');
    } catch (error) {
      ctx.addIssue({
        code: 'custom',
        message: `not a valid regular expression (${(error as Error).message}); write a JavaScript regex source such as "api[-_]?key"`,
      });
    }
  });

/** The `audit` section. */
export const auditSchema = strict({
  /** Record the audit trail (in the store's SQLite file). */
  enabled: z.boolean().default(true),
  /** `hash`: only the sha256 of the canonical arguments; `full`: the arguments too, secrets redacted. */
  arguments: z.enum(['hash', 'full'], { error: 'use "hash" (the default) or "full"' }).default('hash'),
  /** Keys whose values `full` mode replaces by "[redacted]" (replaces the default list when given). */
  redact: z
    .array(redactPattern)
    .max(200)
    .default(() => [...DEFAULT_REDACT_PATTERNS]),
  /** Longest an event waits in memory before it is written (and the most a SIGKILL can lose), in ms. */
  batchMs: z.number().int().min(1, 'batchMs is at least 1 (ms)').default(200),
  /** Events written per transaction; a full batch is written at once without waiting for batchMs. */
  batchSize: z.number().int().min(1, 'batchSize is at least 1').default(512),
  /** Events older than this many days are removed (hourly); the chain stays verifiable. */
  retentionDays: z.number().int().min(1, 'retentionDays is at least 1').default(90),
  /**
   * A JSONL file each written batch is appended to (one event per line, after it is committed), for
   * shipping to a SIEM. Relative paths are against the config file's folder.
   */
  file: z.string().min(1, 'file is empty: give a path, or remove the key').optional(),
}).prefault({});

/** The parsed `audit` section. */
export type AuditConfig = z.infer<typeof auditSchema>;
