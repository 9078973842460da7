/**
 * The audit writer on real SQLite files: record() never touches the disk, batches are bounded by
 * batchSize, close() loses nothing, a full buffer drops and says so (in the log and in the trail),
 * a busy database is retried, an event the store refuses is isolated, the JSONL sink mirrors the
 * table, retention runs on its own, and the loss bounds hold for a real child process killed with
 * SIGKILL (at most one batch window) or stopped with SIGTERM (nothing).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { AuditWriter } from '../src/audit/writer.js';
import type { AuditEvent, StoredAuditEvent } from '../src/core/audit-event.js';
import { sha256Hex } from '../src/store/audit-chain.js';
import { SqliteAuditRepo } from '../src/store/audit-repo.js';
import { openDb, type Db } from '../src/store/db.js';
import { createLogger, silentLogger } from '../src/telemetry/logger.js';
import { cleanup, onCleanup, ROOT, tempDir, waitFor } from './helpers.js';

const dir = tempDir('switchboard-audit-writer-');
let files = 0;

function store(): { db: Db; repo: SqliteAuditRepo; file: string } {
  const file = join(dir, `w${files++}.db`);
  const db = openDb(file);
  onCleanup(() => db.open && db.close());
  return { db, repo: new SqliteAuditRepo(db), file };
}

function event(i: number, extra: Partial<AuditEvent> = {}): AuditEvent {
  return {
    time: Date.now(),
    tenant: i % 2 ? 'acme' : 'globex',
    agent: 'bot',
    method: 'tools/call',
    tool: 'files__read',
    server: 'files',
    decision: 'allow',
    outcome: 'success',
    latencyMs: 2,
    bytesIn: 5,
    bytesOut: 7,
    detail: { i },
    ...extra,
  };
}

/** A logger whose lines are collected. */
function capturedLog(): { log: ReturnType<typeof createLogger>; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const log = createLogger({
    level: 'info',
    destination: { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) },
  });
  return { log, lines };
}

const count = (db: Db, where = "method != 'admin'") =>
  (db.prepare(`SELECT COUNT(*) AS n FROM audit_events WHERE ${where}`).get() as { n: number }).n;
const numbers = (db: Db) =>
  (
    db.prepare("SELECT detail FROM audit_events WHERE method != 'admin' ORDER BY seq").all() as { detail: string }[]
  ).map((r) => (JSON.parse(r.detail) as { i: number }).i);

afterAll(async () => {
  await cleanup();
});

describe('audit writer', () => {
  it('record() only buffers; batches of at most batchSize are written on later turns, in order', async () => {
    const { db, repo } = store();
    const batches: number[] = [];
    // What the table and the buffer held right after each commit (read in the commit's own turn: a poll
    // from outside could land after the next turn's batch, as it once did on a loaded CI machine).
    const after: { rows: number; buffered: number }[] = [];
    const writer: AuditWriter = new AuditWriter({
      store: repo,
      log: silentLogger(),
      config: { batchMs: 10_000, batchSize: 100, retentionDays: 90 },
      onCommit: (events) => {
        batches.push(events.length);
        after.push({ rows: count(db), buffered: writer.stats().buffered });
      },
    });
    onCleanup(() => writer.close());
    for (let i = 0; i < 1_050; i++) writer.record(event(i));
    // Nothing has touched the disk yet: record() returned without writing.
    expect(count(db)).toBe(0);
    expect(writer.stats().buffered).toBe(1_050);
    // A full batch does not wait for batchMs (10 s here): the backlog drains on the next turns.
    await waitFor(() => batches.length >= 10, 15_000, 'ten full batches');
    expect(batches.slice(0, 10)).toEqual(Array.from({ length: 10 }, () => 100));
    expect(after[9]).toEqual({ rows: 1_000, buffered: 50 });
    expect(Math.max(...batches)).toBe(100);
    writer.close();
    expect(numbers(db)).toEqual(Array.from({ length: 1_050 }, (_, i) => i));
    expect(repo.verify()).toEqual({ ok: true, rows: 1_050 });
  });

  it('a batch smaller than batchSize is written once batchMs has passed', async () => {
    const { db, repo } = store();
    const writer = new AuditWriter({
      store: repo,
      log: silentLogger(),
      config: { batchMs: 20, batchSize: 512, retentionDays: 90 },
    });
    onCleanup(() => writer.close());
    for (let i = 0; i < 3; i++) writer.record(event(i));
    expect(count(db)).toBe(0);
    await waitFor(() => count(db) === 3, 15_000, 'the timed batch');
    expect(writer.stats()).toMatchObject({ buffered: 0, written: 3, dropped: 0 });
  });

  it('close() writes everything buffered, and an event recorded after close is written at once', () => {
    const { db, repo } = store();
    const writer = new AuditWriter({
      store: repo,
      log: silentLogger(),
      config: { batchMs: 200, batchSize: 512, retentionDays: 90 },
    });
    for (let i = 0; i < 5_000; i++) writer.record(event(i));
    writer.close();
    writer.close();
    expect(count(db)).toBe(5_000);
    writer.record(event(5_000));
    expect(count(db)).toBe(5_001);
    expect(numbers(db)).toEqual(Array.from({ length: 5_001 }, (_, i) => i));
    expect(repo.verify()).toEqual({ ok: true, rows: 5_001 });
  });

  it('a full buffer drops new events, counts and logs them, and records the loss in the trail', () => {
    const { db, repo } = store();
    const { log, lines } = capturedLog();
    const writer = new AuditWriter({
      store: repo,
      log,
      config: { batchMs: 200, batchSize: 10, retentionDays: 90 },
      maxBuffered: 100,
    });
    for (let i = 0; i < 150; i++) writer.record(event(i));
    expect(writer.stats()).toMatchObject({ buffered: 100, dropped: 50 });
    expect(lines.find((l) => l.msg === 'audit events dropped')).toMatchObject({ level: 40, dropped: 1 });
    writer.close();
    // The first 100 are kept (in order); the 50 dropped are one marker per tenant.
    expect(numbers(db)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    const markers = repo.query({ method: 'admin' }, { limit: 10 }).events;
    expect(markers.map((m) => [m.tenant, m.errorCode, m.detail]).sort()).toEqual([
      ['acme', 'AUDIT_DROPPED', { action: 'audit.dropped', dropped: 25 }],
      ['globex', 'AUDIT_DROPPED', { action: 'audit.dropped', dropped: 25 }],
    ]);
    // Markers are admin events: not metered as usage.
    const usage = db.prepare('SELECT SUM(calls) AS calls FROM usage_hourly').get() as { calls: number };
    expect(usage.calls).toBe(100);
    expect(repo.verify()).toEqual({ ok: true, rows: 102 });
  });

  it('a busy database keeps the batch buffered and writes it once the lock is gone', async () => {
    const { db, repo, file } = store();
    db.pragma('busy_timeout = 0');
    const other = openDb(file);
    onCleanup(() => other.open && other.close());
    other.exec('BEGIN IMMEDIATE');
    const { log, lines } = capturedLog();
    const writer = new AuditWriter({ store: repo, log, config: { batchMs: 5, batchSize: 512, retentionDays: 90 } });
    onCleanup(() => writer.close());
    for (let i = 0; i < 20; i++) writer.record(event(i));
    await waitFor(() => writer.stats().failedBatches > 0, 15_000, 'a failed batch');
    expect(writer.stats()).toMatchObject({ buffered: 20, written: 0, dropped: 0 });
    expect(lines.find((l) => l.msg === 'audit batch not written; retrying')).toBeDefined();
    other.exec('COMMIT');
    await waitFor(() => count(db) === 20, 15_000, 'the retried batch');
    expect(numbers(db)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(writer.stats().dropped).toBe(0);
  });

  it('an event the store refuses is dropped alone (and marked); its batch is written', () => {
    const { db, repo } = store();
    const { log, lines } = capturedLog();
    const writer = new AuditWriter({ store: repo, log, config: { batchMs: 200, batchSize: 512, retentionDays: 90 } });
    for (let i = 0; i < 10; i++)
      writer.record(
        i === 4
          ? event(i, {
              detail: {
                toJSON() {
                  throw new Error('not serialisable');
                },
              },
            })
          : event(i),
      );
    writer.close();
    expect(numbers(db)).toEqual([0, 1, 2, 3, 5, 6, 7, 8, 9]);
    expect(writer.stats()).toMatchObject({ dropped: 1, failedBatches: 1 });
    expect(lines.some((l) => String(l.msg).startsWith('audit batch refused'))).toBe(true);
    const marker = repo.query({ method: 'admin' }, { limit: 10 }).events;
    expect(marker).toMatchObject([{ tenant: 'globex', detail: { action: 'audit.dropped', dropped: 1 } }]);
    expect(repo.verify()).toMatchObject({ ok: true });
  });

  it('the JSONL sink gets each committed batch, lines that re-verify; a failing sink is counted', () => {
    const { repo } = store();
    const file = join(dir, 'sink', 'audit.jsonl');
    const writer = new AuditWriter({
      store: repo,
      log: silentLogger(),
      config: { batchMs: 200, batchSize: 64, retentionDays: 90, file },
    });
    for (let i = 0; i < 300; i++) writer.record(event(i, { args: { q: `x${i}`, nested: { b: 1, a: [i] } } }));
    writer.close();
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    expect(lines).toHaveLength(300);
    let prev = '0'.repeat(64);
    for (const line of lines) {
      const stored = JSON.parse(line) as StoredAuditEvent & Record<string, unknown>;
      // Recompute the hash from the line alone: drop hash and prevHash, hash prevHash + "\n" + the rest.
      const { hash, prevHash, ...fields } = stored;
      expect(prevHash).toBe(prev);
      const canonical = line.replace(`"hash":"${hash}",`, '').replace(`"prevHash":"${prevHash}",`, '');
      expect(JSON.parse(canonical)).toEqual(fields);
      expect(sha256Hex(`${prevHash}\n${canonical}`)).toBe(hash);
      prev = hash;
    }
    expect(repo.tail({}, 1)[0]?.hash).toBe(prev);

    const broken = join(dir, 'sink-is-a-folder');
    mkdirSync(broken);
    const { log, lines: logged } = capturedLog();
    const failing = new AuditWriter({
      store: repo,
      log,
      config: { batchMs: 200, batchSize: 64, retentionDays: 90, file: broken },
    });
    failing.record(event(1));
    failing.close();
    expect(failing.stats()).toMatchObject({ written: 1, sinkErrors: 1 });
    expect(logged.some((l) => String(l.msg).startsWith('audit file sink'))).toBe(true);
  });

  it('runs retention on its own timer, removing expired events and keeping the chain verifiable', async () => {
    const { db, repo } = store();
    const day = 86_400_000;
    repo.append(Array.from({ length: 30 }, (_, i) => event(i, { time: Date.now() - 3 * day })));
    repo.append(Array.from({ length: 5 }, (_, i) => event(30 + i)));
    const writer = new AuditWriter({
      store: repo,
      log: silentLogger(),
      config: { batchMs: 200, batchSize: 64, retentionDays: 1 },
      pruneEveryMs: 20,
    });
    onCleanup(() => writer.close());
    await waitFor(() => count(db) === 5, 15_000, 'retention');
    expect(numbers(db)).toEqual([30, 31, 32, 33, 34]);
    expect(repo.verify()).toEqual({ ok: true, rows: 5 });
  });

  it('throughput: batched writes through the writer (printed, not asserted)', async () => {
    const { db, repo } = store();
    const writer = new AuditWriter({
      store: repo,
      log: silentLogger(),
      config: { batchMs: 200, batchSize: 512, retentionDays: 90 },
    });
    const n = 40_000;
    const events = Array.from({ length: n }, (_, i) => event(i, { argsHash: 'ab'.repeat(32), user: `u${i % 9}` }));
    const started = performance.now();
    for (let i = 0; i < n; i += 1_000) {
      for (let k = i; k < i + 1_000; k++) writer.record(events[k]!);
      await new Promise((done) => setImmediate(done));
    }
    writer.close();
    const seconds = (performance.now() - started) / 1000;
    expect(count(db)).toBe(n);
    expect(writer.stats().dropped).toBe(0);
    console.log(`audit writer: ${Math.round(n / seconds)} events/s (${n} events, batchSize 512)`);
  });
});

/** A child process recording events; its printed lines, parsed. */
interface ChildRun {
  readonly recorded: number;
  readonly committed: number;
  readonly terminated?: number;
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

function runChild(file: string, batchMs: number, batchSize: number, burst: number, stop: NodeJS.Signals) {
  return new Promise<ChildRun>((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        join(ROOT, 'test/fixtures/audit-writer-child.ts'),
        file,
        String(batchMs),
        String(batchSize),
        String(burst),
      ],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    onCleanup(() => child.exitCode === null && child.kill('SIGKILL'));
    let recorded = -1;
    let committed = -1;
    let terminated: number | undefined;
    let signalled = false;
    createInterface({ input: child.stdout }).on('line', (line) => {
      const [kind, value] = line.split(' ');
      if (kind === 'C') committed = Math.max(committed, Number(value));
      if (kind === 'T') terminated = Number(value);
      if (kind === 'R') {
        recorded = Number(value);
        // Stop it mid-stream, after 1,000 events: a moment that has nothing to do with its flushes.
        if (recorded >= 1_000 && !signalled) {
          signalled = true;
          child.kill(stop);
        }
      }
    });
    child.on('error', reject);
    child.on('close', (code, signal) =>
      resolve({ recorded, committed, code, signal, ...(terminated !== undefined ? { terminated } : {}) }),
    );
  });
}

describe('audit writer: loss bounds of a real process', () => {
  /** Opens what a child left and checks it is an unbroken prefix holding everything reported committed. */
  function kept(file: string, run: ChildRun): number {
    const db = openDb(file);
    onCleanup(() => db.close());
    const kept = numbers(db);
    // Exactly events 0..k-1, in order: nothing reordered, nothing missing in between.
    expect(kept).toEqual(Array.from({ length: kept.length }, (_, i) => i));
    // Everything the child saw committed is there: what is lost was recorded after its last commit.
    expect(kept.length - 1).toBeGreaterThanOrEqual(run.committed);
    expect(new SqliteAuditRepo(db).verify()).toEqual({ ok: true, rows: kept.length });
    return kept.length;
  }

  it('SIGKILL with a full batch pending loses at most one batch (plus the burst that filled it)', async () => {
    // batchMs is a minute, so only the size trigger writes: 40 events every 2 ms fill a batch of 64
    // every other turn. Without it everything recorded would be lost.
    const [batchMs, batchSize, burst] = [60_000, 64, 40];
    const file = join(dir, 'killed-size.db');
    const run = await runChild(file, batchMs, batchSize, burst, 'SIGKILL');
    expect(run.signal).toBe('SIGKILL');
    const lost = run.recorded + 1 - kept(file, run);
    console.log(`SIGKILL (size): recorded ${run.recorded + 1}, lost ${lost} (bound ${batchSize + burst})`);
    expect(lost).toBeGreaterThanOrEqual(0);
    expect(lost).toBeLessThanOrEqual(batchSize + burst);
  });

  it('SIGKILL between timed batches loses only what was recorded after the last commit', async () => {
    // batchSize is never reached: every batch is the timer's.
    const [batchMs, batchSize, burst] = [30, 1_000_000, 5];
    const file = join(dir, 'killed-time.db');
    const run = await runChild(file, batchMs, batchSize, burst, 'SIGKILL');
    expect(run.signal).toBe('SIGKILL');
    // 1,000 events at 5 per turn of 2 ms or more took many windows: the timer wrote some.
    expect(run.committed).toBeGreaterThanOrEqual(0);
    const lost = run.recorded + 1 - kept(file, run);
    console.log(`SIGKILL (time): recorded ${run.recorded + 1}, lost ${lost} (the events of the last ${batchMs} ms)`);
    expect(lost).toBeGreaterThanOrEqual(0);
  });

  it('SIGTERM (the handler calls close()) loses nothing', async () => {
    const file = join(dir, 'terminated.db');
    const run = await runChild(file, 30, 64, 40, 'SIGTERM');
    expect(run.code).toBe(0);
    expect(run.terminated).toBe(run.recorded);
    expect(kept(file, run)).toBe(run.recorded + 1);
  });
});
