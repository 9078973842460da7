/**
 * The audit writer: takes each finished request's event on the hot path and writes them to the
 * store in batches, off the caller's path.
 *
 * `record()` only pushes onto an in-memory buffer. The buffer is written, one transaction per batch
 * of at most `batchSize` events, when its oldest event has waited `batchMs` (a timer armed when the
 * buffer stops being empty) or at once when `batchSize` events are waiting (an immediate); a
 * backlog is written batch by batch with a turn of the event loop between batches, so no single
 * write blocks the process for long. Each committed batch is then appended to the JSONL file sink,
 * when one is configured. All timers are unref'd: the writer never keeps a process alive.
 *
 * Loss bound: SIGTERM loses nothing (the entry's handler calls close(), which writes every buffered
 * event). After SIGKILL at most one batch window is lost: the events recorded in the last
 * `batchMs`, or fewer when `batchSize` filled first (up to `batchSize` events plus those recorded in
 * the same turn of the event loop), provided the disk keeps up; if it does not, the unwritten
 * backlog, itself at most `maxBuffered` events. (A power cut can lose more: the store runs WAL with
 * synchronous=NORMAL, which keeps the file consistent but may drop the last commits.) Writes run on
 * the event loop and wait at most the store's busy_timeout for another process's write lock.
 *
 * When the disk is slower than the input the buffer stops at `maxBuffered` events and further events
 * are dropped, never blocking the caller and never growing memory without bound. A drop is not
 * silent: it is counted (stats().dropped), logged (at most every 10 s, with the count) and written
 * into the trail itself as one `admin` event per tenant (`detail.action: "audit.dropped"`, with the
 * number lost) with the next batch that commits. A batch that fails for a transient reason (busy,
 * disk full, I/O) stays buffered and is retried a second later; one that fails for another reason
 * is retried event by event, and an event the store refuses is dropped the same way.
 *
 * The writer also runs retention: every `pruneEveryMs` (an hour) it removes events older than
 * `retentionDays`, in chunks of 2,000 rows (a pause of tens of ms each) with a turn of the event loop
 * between them.
 */
import type { AuditEvent, StoredAuditEvent } from '../core/audit-event.js';
import type { AuditConfig } from '../config/audit-schema.js';
import type { AuditSink } from '../store/audit-repo.js';
import type { Logger } from '../telemetry/logger.js';
import { JsonlFileSink } from './sink.js';

/** What an AuditWriter needs. */
export interface AuditWriterOptions {
  readonly store: AuditSink;
  readonly log: Logger;
  /** batchMs, batchSize, retentionDays and the sink file (absolute). */
  readonly config: Pick<AuditConfig, 'batchMs' | 'batchSize' | 'retentionDays' | 'file'>;
  /** Most events held in memory; past it events are dropped and counted (default batchSize × 64, at least 4096). */
  readonly maxBuffered?: number;
  /** How often retention runs (default one hour; the first run is a minute after start, or sooner). */
  readonly pruneEveryMs?: number;
  /** The clock (epoch ms). */
  readonly now?: () => number;
  /** Called after each batch commits (and reaches the sink), with the events as stored. */
  readonly onCommit?: (events: readonly StoredAuditEvent[]) => void;
}

/** Counters of one writer. */
export interface AuditWriterStats {
  /** Events waiting in memory. */
  readonly buffered: number;
  /** Events committed to the store. */
  readonly written: number;
  /** Events lost: buffer full, refused by the store, or unwritable at close. */
  readonly dropped: number;
  /** Batches that failed (and were retried or split). */
  readonly failedBatches: number;
  /** Batches the JSONL sink could not append. */
  readonly sinkErrors: number;
}

const PRUNE_CHUNK = 2_000;
const DAY_MS = 86_400_000;
const RETRY_MS = 1_000;
const LOG_EVERY_MS = 10_000;

/** A transient store failure (retry the batch later) as opposed to a refused event. */
function transient(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^SQLITE_(BUSY|LOCKED|FULL|IOERR|CANTOPEN|READONLY|NOMEM|PROTOCOL)/.test(code);
}

/** Batches audit events into the store; see the header for the timing and loss bounds. */
export class AuditWriter {
  readonly #store: AuditSink;
  readonly #log: Logger;
  readonly #batchMs: number;
  readonly #batchSize: number;
  readonly #max: number;
  readonly #now: () => number;
  readonly #onCommit: ((events: readonly StoredAuditEvent[]) => void) | undefined;
  readonly #sink: JsonlFileSink | undefined;
  #buffer: AuditEvent[] = [];
  #timer: NodeJS.Timeout | undefined;
  #immediate: NodeJS.Immediate | undefined;
  /** After a transient failure: wait for the retry timer instead of trying again on every full batch. */
  #retrying = false;
  readonly #pruneTimers: NodeJS.Timeout[] = [];
  #pruneNext: NodeJS.Immediate | undefined;
  /** Drops not yet written into the trail, by tenant. */
  readonly #drops = new Map<string, number>();
  #closed = false;
  #written = 0;
  #dropped = 0;
  #failedBatches = 0;
  #sinkErrors = 0;
  #lastDropLog = 0;
  #lastErrorLog = 0;

  constructor(options: AuditWriterOptions) {
    const { config } = options;
    this.#store = options.store;
    this.#log = options.log;
    this.#batchMs = Math.max(1, config.batchMs);
    this.#batchSize = Math.max(1, config.batchSize);
    this.#max = Math.max(options.maxBuffered ?? Math.max(this.#batchSize * 64, 4096), this.#batchSize);
    this.#now = options.now ?? Date.now;
    this.#onCommit = options.onCommit;
    this.#sink = config.file ? new JsonlFileSink(config.file) : undefined;
    const every = options.pruneEveryMs ?? 3_600_000;
    const cutoff = () => this.#now() - config.retentionDays * DAY_MS;
    this.#pruneTimers.push(
      setTimeout(() => this.#prune(cutoff()), Math.min(60_000, every)).unref(),
      setInterval(() => this.#prune(cutoff()), every).unref(),
    );
  }

  /** Takes one event (returns at once; the disk is written later). */
  record(event: AuditEvent): void {
    if (this.#closed) return this.#late(event);
    if (this.#buffer.length >= this.#max)
      return this.#drop(event.tenant, 1, 'buffer full: the disk is slower than the input');
    this.#buffer.push(event);
    if (this.#buffer.length >= this.#batchSize && !this.#retrying) {
      this.#immediate ??= setImmediate(() => this.#tick()).unref();
    } else if (!this.#timer && !this.#immediate) {
      this.#timer = setTimeout(() => this.#tick(), this.#batchMs).unref();
    }
  }

  /** Writes every buffered event now (synchronously); returns how many were committed. */
  flush(): number {
    this.#cancel();
    this.#retrying = false;
    let written = 0;
    let n = 0;
    while (this.#buffer.length > 0 && (n = this.#writeBatch()) >= 0) written += n;
    // Drop markers of events refused on the way, once (a store that refuses those too is reported by its log).
    if (n >= 0 && this.#drops.size > 0) written += Math.max(this.#writeBatch(), 0);
    if (n < 0 && !this.#closed) this.#retryLater();
    return written;
  }

  /** Flushes everything and stops the timers (idempotent). Events recorded later are written one by one. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const timer of this.#pruneTimers.splice(0)) clearTimeout(timer);
    if (this.#pruneNext) clearImmediate(this.#pruneNext);
    this.flush();
    if (this.#buffer.length > 0) {
      const lost = this.#buffer.splice(0);
      for (const event of lost) this.#count(event.tenant, 1);
      this.#log.error({ lost: lost.length }, 'audit events could not be written at close and are lost');
    }
  }

  stats(): AuditWriterStats {
    return {
      buffered: this.#buffer.length,
      written: this.#written,
      dropped: this.#dropped,
      failedBatches: this.#failedBatches,
      sinkErrors: this.#sinkErrors,
    };
  }

  #cancel(): void {
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#immediate) clearImmediate(this.#immediate);
    this.#timer = this.#immediate = undefined;
  }

  /** One batch from a timer or immediate; what remains is written on the next turn. */
  #tick(): void {
    this.#cancel();
    this.#retrying = false;
    if (this.#writeBatch() < 0) this.#retryLater();
    else if (this.#buffer.length > 0 || this.#drops.size > 0)
      this.#immediate = setImmediate(() => this.#tick()).unref();
  }

  #retryLater(): void {
    this.#cancel();
    this.#retrying = true;
    this.#timer = setTimeout(() => this.#tick(), Math.max(this.#batchMs, RETRY_MS)).unref();
  }

  /** Writes up to one batch (and any drop markers); the count committed, or -1 after a transient failure. */
  #writeBatch(): number {
    const batch =
      this.#buffer.length <= this.#batchSize ? this.#buffer.splice(0) : this.#buffer.splice(0, this.#batchSize);
    const markers = this.#markers();
    let stored: StoredAuditEvent[];
    try {
      stored = this.#store.append(markers.length > 0 ? [...batch, ...markers] : batch);
    } catch (error) {
      this.#failedBatches++;
      for (const marker of markers)
        this.#drops.set(marker.tenant, (this.#drops.get(marker.tenant) ?? 0) + Number(marker.detail?.dropped));
      if (transient(error) || batch.length === 0) {
        this.#buffer.unshift(...batch);
        this.#logError(error, 'audit batch not written; retrying', batch.length);
        return -1;
      }
      this.#logError(error, 'audit batch refused by the store; writing its events one by one', batch.length);
      let committed = 0;
      for (const event of batch) {
        let one: StoredAuditEvent[];
        try {
          one = this.#store.append([event]);
        } catch (single) {
          this.#drop(event.tenant, 1, `refused by the store: ${(single as Error).message}`);
          continue;
        }
        committed += this.#commit(one);
      }
      return committed;
    }
    return this.#commit(stored);
  }

  /** After a commit: count, append to the sink, tell onCommit (none of which can undo the commit). */
  #commit(stored: StoredAuditEvent[]): number {
    this.#written += stored.length;
    if (this.#sink && stored.length > 0) {
      try {
        this.#sink.write(stored);
      } catch (error) {
        this.#sinkErrors++;
        const seqs = { fromSeq: stored[0]?.seq, toSeq: stored[stored.length - 1]?.seq };
        this.#log.error(
          { ...seqs, err: (error as Error).message },
          'audit file sink: batch not appended (export it from the store)',
        );
      }
    }
    try {
      this.#onCommit?.(stored);
    } catch (error) {
      this.#log.error({ err: (error as Error).message }, 'audit onCommit callback failed');
    }
    return stored.length;
  }

  /** One admin event per tenant that lost events since the last commit (taken from the drop counts). */
  #markers(): AuditEvent[] {
    if (this.#drops.size === 0) return [];
    const time = this.#now();
    const markers = [...this.#drops].map(([tenant, dropped]): AuditEvent => ({
      time,
      tenant,
      agent: 'switchboard',
      method: 'admin',
      decision: 'allow',
      outcome: 'error',
      errorCode: 'AUDIT_DROPPED',
      latencyMs: 0,
      bytesIn: 0,
      bytesOut: 0,
      detail: { action: 'audit.dropped', dropped },
    }));
    this.#drops.clear();
    return markers;
  }

  #count(tenant: string, n: number): void {
    this.#dropped += n;
    this.#drops.set(tenant, (this.#drops.get(tenant) ?? 0) + n);
  }

  #drop(tenant: string, n: number, why: string): void {
    this.#count(tenant, n);
    const now = this.#now();
    if (now - this.#lastDropLog < LOG_EVERY_MS) return;
    this.#lastDropLog = now;
    this.#log.warn({ dropped: this.#dropped, buffered: this.#buffer.length, why }, 'audit events dropped');
  }

  /** An event after close: written at once (shutdown only), else counted as lost. */
  #late(event: AuditEvent): void {
    try {
      this.#commit(this.#store.append([event]));
    } catch (error) {
      this.#count(event.tenant, 1);
      this.#log.error({ tenant: event.tenant, err: (error as Error).message }, 'audit event after close not written');
    }
  }

  #logError(error: unknown, message: string, events: number): void {
    const now = this.#now();
    if (now - this.#lastErrorLog < LOG_EVERY_MS) return;
    this.#lastErrorLog = now;
    this.#log.error({ err: (error as Error).message, events, buffered: this.#buffer.length }, message);
  }

  /** Removes expired rows a chunk at a time, yielding between chunks. */
  #prune(cutoff: number, total = 0): void {
    this.#pruneNext = undefined;
    let removed: number;
    try {
      removed = this.#store.prune(cutoff, PRUNE_CHUNK);
    } catch (error) {
      this.#log.error({ err: (error as Error).message }, 'audit retention failed; retrying at the next run');
      return;
    }
    total += removed;
    if (removed === PRUNE_CHUNK && !this.#closed) {
      this.#pruneNext = setImmediate(() => this.#prune(cutoff, total)).unref();
      return;
    }
    if (total > 0) this.#log.info({ removed: total, before: new Date(cutoff).toISOString() }, 'audit retention');
  }
}
