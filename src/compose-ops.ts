/**
 * Composition of the operations side of the call pipeline, one per process (every tenant's core
 * shares it, as they share the store): the audit writer (which meters usage in the same transaction
 * as each batch of audit rows), rate limits (in memory, or shared through Redis with `store.redis`),
 * and tenant quotas (counted from the metered usage, so they survive restarts).
 *
 * What the pipeline gets is two values: the audit stage's observers and the admission check (see
 * mcp/pipeline/stages/audit.ts and limit.ts). Nothing configured, nothing in the chain: the admission
 * check is absent without rules or quotas.
 *
 * Metering: every audited request except refusals (outcome `denied` or `limited`) and admin changes
 * is metered, and charged against the quotas; refusals stay in the audit trail but are never billed.
 */
import { argumentsRecorder } from './audit/redact.js';
import { AuditWriter, type AuditWriterStats } from './audit/writer.js';
import type { Config } from './config/load.js';
import type { AuditEvent } from './core/audit-event.js';
import { limitError, RateLimits } from './limits/rate-limits.js';
import type { AuditObserver, AuditStageDeps } from './mcp/pipeline/stages/audit.js';
import type { Admission } from './mcp/pipeline/stages/limit.js';
import type { Db } from './store/db.js';
import { isMetered, SqliteAuditRepo } from './store/audit-repo.js';
import { SqliteUsageRepo } from './store/usage-repo.js';
import type { Logger } from './telemetry/logger.js';
import { quotaError, Quotas } from './usage/quotas.js';

/** The process's audit, limits and quotas. */
export interface Operations {
  /** The audit stage's observers and argument recorder (present always: usage is always metered). */
  readonly audit: AuditStageDeps;
  /** Rate limits and quotas; absent when neither is configured. */
  readonly admit: Admission | undefined;
  /** Records an admin change (a `/v1` write, a key, a config reload). */
  readonly recordAdmin: (event: AuditEvent) => void;
  readonly auditRepo: SqliteAuditRepo;
  readonly usageRepo: SqliteUsageRepo;
  readonly quotas: Quotas;
  /** The audit writer's counters (queue depth, written, dropped), for the metrics. */
  readonly auditStats: () => AuditWriterStats;
  /** Writes what is buffered (synchronous: the store closes right after). */
  flush(): void;
  /** Disconnects Redis. */
  close(): Promise<void>;
}

/** Builds the operations of a process over its store; `more` observe every audited request too (metrics). */
export function buildOperations(config: Config, db: Db, log: Logger, more: readonly AuditObserver[] = []): Operations {
  const auditRepo = new SqliteAuditRepo(db, { rows: config.audit.enabled });
  const usageRepo = new SqliteUsageRepo(db);
  const writer = new AuditWriter({ store: auditRepo, log: log.child({ component: 'audit' }), config: config.audit });
  const quotas = new Quotas({ quotas: config.quotas, usage: config.usage, reader: usageRepo });
  const limits = new RateLimits(config.limits, { redis: config.store.redis, log: log.child({ component: 'limits' }) });
  const record = (event: AuditEvent) => writer.record(event);
  const observers = [record, ...more];
  if (quotas.configured)
    observers.push((event) => {
      if (!isMetered(event)) return; // the store's own rule: quotas count what usage counts
      const cost = quotas.costOf({ ...event, durationMs: event.latencyMs });
      quotas.charge(event.tenant, { calls: 1, cost }, event.time);
    });
  const admit: Admission | undefined =
    limits.active || quotas.configured
      ? async (subject) => {
          const spent = quotas.configured ? quotas.check(subject.tenant) : undefined;
          if (spent) return quotaError(spent);
          if (!limits.active) return undefined;
          const refusal = await limits.check(subject);
          return refusal ? limitError(refusal) : undefined;
        }
      : undefined;
  return {
    audit: { observers, describeArgs: argumentsRecorder(config.audit) },
    admit,
    recordAdmin: record,
    auditRepo,
    usageRepo,
    quotas,
    auditStats: () => writer.stats(),
    flush: () => writer.close(),
    close: () => limits.close(),
  };
}
