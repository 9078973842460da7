/**
 * The JSONL file sink: each committed audit batch appended to a file, one event per line, for a
 * SIEM's shipper (Filebeat, Vector, Fluent Bit) to tail.
 *
 * Lines are the events as stored (seq, prevHash and hash included, keys sorted: see export.ts), so
 * the copy can be checked against the chain independently of the database. The file is opened for
 * each batch (append mode) rather than held open, so a log rotation that moves it is followed at the
 * next batch without a signal; a batch is one write call. Written after the database commit: the
 * store is the record, and a failed append is the writer's to count and log.
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { StoredAuditEvent } from '../core/audit-event.js';
import { toJsonl } from './export.js';

/** Appends stored audit events to a JSONL file. */
export class JsonlFileSink {
  readonly path: string;

  /** `path` is absolute (the loader resolves it against the config's folder); its folder is created. */
  constructor(path: string) {
    this.path = path;
    mkdirSync(dirname(path), { recursive: true });
  }

  /** Appends the events, one JSON object per line (throws what the file system throws). */
  write(events: readonly StoredAuditEvent[]): void {
    if (events.length === 0) return;
    let text = '';
    for (const event of events) text += `${toJsonl(event)}\n`;
    appendFileSync(this.path, text, { mode: 0o600 });
  }
}
