/**
 * Tenant quotas over a real SQLite usage store: a calls quota refuses exactly after N, a cost quota after
 * the call that crosses it, a new Quotas over the same file (a restart) continues from the stored usage,
 * periods roll over at UTC midnight and month ends (the clock injected), a tenant's own quota replaces the
 * common one, and the error says which quota, how much is used and when it resets (retryAfterMs).
 */
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { quotasSchema, usageSchema } from '../src/config/usage-schema.js';
import { openDb, type Db } from '../src/store/db.js';
import { SqliteUsageRepo } from '../src/store/usage-repo.js';
import { periodBounds, quotaError, Quotas } from '../src/usage/quotas.js';
import { cleanup, onCleanup, tempDir } from './helpers.js';

afterAll(cleanup);

const HOUR = 3_600_000;
/** 2025-01-15T00:00:00Z */
const D = Date.UTC(2025, 0, 15);
const NOON = D + 12 * HOUR;

function usageDb(): { db: Db; path: string } {
  const path = join(tempDir(), 'usage.db');
  const db = openDb(path);
  onCleanup(() => db.close());
  return { db, path };
}

/** Adds one metered call to the store, as the metering writer would (summed into its hour's row). */
function meter(
  db: Db,
  call: { tenant?: string; at: number; tool?: string; server?: string; durationMs?: number; bytes?: number },
): void {
  db.prepare(
    `INSERT INTO usage_hourly (tenant, hour, agent, tool, server, method, calls, errors, duration_ms, bytes_in, bytes_out)
     VALUES (?, ?, 'bot', ?, ?, 'tools/call', 1, 0, ?, ?, 0)
     ON CONFLICT DO UPDATE SET calls = calls + 1, duration_ms = duration_ms + excluded.duration_ms, bytes_in = bytes_in + excluded.bytes_in`,
  ).run(
    call.tenant ?? 'acme',
    Math.floor(call.at / HOUR) * HOUR,
    call.tool ?? 'gh__search',
    call.server ?? 'gh',
    call.durationMs ?? 0,
    call.bytes ?? 0,
  );
}

function quotas(db: Db, config: unknown, usage: unknown = {}, now = () => NOON): Quotas {
  return new Quotas({
    quotas: quotasSchema.parse(config),
    usage: usageSchema.parse(usage),
    reader: new SqliteUsageRepo(db),
    now,
  });
}

describe('quotas', () => {
  it('a calls quota per day lets exactly N calls through, then refuses until midnight UTC', () => {
    const { db } = usageDb();
    const q = quotas(db, [{ tenant: 'acme', period: 'day', calls: 3 }]);
    for (let i = 0; i < 3; i++) {
      expect(q.check('acme'), `call ${i + 1}`).toBeUndefined();
      q.charge('acme', { calls: 1, cost: 0 });
    }
    expect(q.check('acme')).toEqual({
      tenant: 'acme',
      period: 'day',
      kind: 'calls',
      limit: 3,
      used: 3,
      resetsAt: D + 24 * HOUR,
    });
    // Another tenant is not capped by acme's quota.
    expect(q.check('globex')).toBeUndefined();
  });

  it('a cost quota refuses after the call that crosses it (a cost is known only afterwards)', () => {
    const { db } = usageDb();
    const q = quotas(db, [{ tenant: '*', period: 'month', cost: 1.2 }], {
      currency: 'EUR',
      prices: { servers: { gh: { perCall: 0.5, perSecond: 0.1 } } },
    });
    const call = { tool: 'gh__search', server: 'gh', durationMs: 1000, bytesIn: 10, bytesOut: 10 };
    // 0.5 per call + 1 s x 0.1 = 0.6 a call.
    expect(q.costOf(call)).toBeCloseTo(0.6, 12);
    expect(q.check('acme')).toBeUndefined();
    q.charge('acme', { calls: 1, cost: q.costOf(call) });
    expect(q.check('acme')).toBeUndefined(); // 0.6 of 1.2
    q.charge('acme', { calls: 1, cost: q.costOf(call) });
    const refusal = q.check('acme'); // 1.2 of 1.2
    expect(refusal).toMatchObject({ kind: 'cost', period: 'month', limit: 1.2, currency: 'EUR' });
    expect(refusal?.used).toBeCloseTo(1.2, 12);
    expect(refusal?.resetsAt).toBe(Date.UTC(2025, 1, 1));
    // Unpriced calls cost nothing and never spend a cost quota.
    expect(q.costOf({ tool: 'other', server: 'x', durationMs: 5000, bytesIn: 1e9, bytesOut: 0 })).toBe(0);
  });

  it('a new Quotas over the same store (a restart) continues from the stored usage', () => {
    const { db, path } = usageDb();
    const config = [
      { tenant: 'acme', period: 'day', calls: 5 },
      { tenant: 'acme', period: 'month', cost: 10 },
    ];
    const usage = { prices: { default: { perCall: 1 } } };
    const first = quotas(db, config, usage);
    // Three calls, charged and metered as the pipeline does (at 09:00, 10:00, 11:00).
    for (const at of [D + 9 * HOUR, D + 10 * HOUR, D + 11 * HOUR]) {
      expect(first.check('acme', at)).toBeUndefined();
      first.charge('acme', { calls: 1, cost: first.costOf({ durationMs: 0, bytesIn: 0, bytesOut: 0 }) }, at);
      meter(db, { at, tool: '', server: '' });
    }
    // Usage that must not count: yesterday (in the month: cost only), another tenant.
    meter(db, { at: D - HOUR, tool: '', server: '' });
    meter(db, { tenant: 'globex', at: D + HOUR });
    db.close();

    // The restart: a new process opens the same file.
    const reopened = openDb(path);
    onCleanup(() => reopened.close());
    const second = quotas(reopened, config, usage);
    // Day: 3 used of 5.
    for (let i = 0; i < 2; i++) {
      expect(second.check('acme')).toBeUndefined();
      second.charge('acme', { calls: 1, cost: 1 });
    }
    expect(second.check('acme')).toMatchObject({ kind: 'calls', period: 'day', used: 5, limit: 5 });
    expect(second.check('globex')).toBeUndefined();
    // The month's stored cost: yesterday's call and today's three, at 1 each, so a quota of 4 is spent.
    const month = quotas(reopened, [{ tenant: 'acme', period: 'month', cost: 4 }], usage);
    expect(month.check('acme')).toMatchObject({ kind: 'cost', period: 'month', used: 4, limit: 4 });
  });

  it('rolls over at midnight UTC and at the month end, starting the new period from the store', () => {
    const { db } = usageDb();
    let now = D + 23 * HOUR + 59 * 60_000; // 2025-01-15T23:59Z
    const q = quotas(
      db,
      [
        { tenant: 'acme', period: 'day', calls: 2 },
        { tenant: 'acme', period: 'month', calls: 3 },
      ],
      {},
      () => now,
    );
    q.charge('acme', { calls: 2, cost: 0 });
    expect(q.check('acme')).toMatchObject({ period: 'day', resetsAt: D + 24 * HOUR });
    now = D + 24 * HOUR; // 2025-01-16T00:00Z: a new day
    expect(q.check('acme')).toBeUndefined();
    q.charge('acme', { calls: 1, cost: 0 });
    // The month has 3 of 3 now: refused until February.
    expect(q.check('acme')).toMatchObject({ period: 'month', used: 3, resetsAt: Date.UTC(2025, 1, 1) });
    now = Date.UTC(2025, 1, 1); // February: both periods are new; the store has nothing for them
    expect(q.check('acme')).toBeUndefined();
    // A call of January charged late (its time given) is January's: February's count does not move.
    q.charge('acme', { calls: 5, cost: 0 }, Date.UTC(2025, 0, 31, 23, 59));
    expect(q.check('acme')).toBeUndefined();
    meter(db, { at: now + HOUR, tool: '', server: '' });
    meter(db, { at: now + 2 * HOUR, tool: '', server: '' });
    // A restart on February 1st reads February's two stored calls: the day quota is spent.
    const restarted = quotas(db, [{ tenant: 'acme', period: 'day', calls: 2 }], {}, () => now + 3 * HOUR);
    expect(restarted.check('acme')).toMatchObject({ period: 'day', used: 2, resetsAt: Date.UTC(2025, 1, 2) });
  });

  it("a tenant's own quota replaces the '*' one for its period; other periods keep the '*' one", () => {
    const { db } = usageDb();
    const q = quotas(db, [
      { tenant: '*', period: 'day', calls: 1 },
      { tenant: '*', period: 'month', calls: 4 },
      { tenant: 'acme', period: 'day', calls: 3 },
    ]);
    q.charge('globex', { calls: 1, cost: 0 });
    expect(q.check('globex')).toMatchObject({ tenant: 'globex', period: 'day', limit: 1 });
    q.charge('acme', { calls: 1, cost: 0 });
    expect(q.check('acme')).toBeUndefined();
    q.charge('acme', { calls: 2, cost: 0 });
    expect(q.check('acme')).toMatchObject({ period: 'day', limit: 3 });
    q.charge('acme', { calls: 1, cost: 0 });
    // Both spent: the refusal names the one that resets last (the month).
    expect(q.check('acme')).toMatchObject({ period: 'month', limit: 4, used: 4 });
  });

  it('without quotas nothing is read from the store', () => {
    // A store without the usage table: any read would throw.
    const { db } = usageDb();
    db.exec('DROP TABLE usage_hourly');
    const q = quotas(db, []);
    expect(q.configured).toBe(false);
    expect(q.check('acme')).toBeUndefined();
    q.charge('acme', { calls: 1, cost: 1 });
    expect(() => quotas(db, [{ tenant: 'acme', period: 'day', calls: 1 }]).check('acme')).toThrow(/usage_hourly/);
  });

  it('the error is QUOTA_EXCEEDED (429, not retryable) with what is used, when it resets and retryAfterMs', () => {
    const now = D + 20 * HOUR + 30 * 60_000; // 20:30Z
    const calls = quotaError(
      { tenant: 'acme', period: 'day', kind: 'calls', limit: 100, used: 100, resetsAt: D + 24 * HOUR },
      now,
    );
    expect(calls.code).toBe('QUOTA_EXCEEDED');
    expect(calls.httpStatus).toBe(429);
    expect(calls.retryable).toBe(false);
    expect(calls.callerFault).toBe(true);
    expect(calls.message).toBe(
      'quota exceeded: tenant "acme" has used 100 calls of its 100 calls per day (UTC); it resets at 2025-01-16T00:00:00Z (in 3h 30m)',
    );
    expect(calls.details).toMatchObject({ retryAfterMs: 3.5 * HOUR, kind: 'calls', limit: 100, used: 100 });

    const cost = quotaError(
      {
        tenant: 'acme',
        period: 'month',
        kind: 'cost',
        limit: 250,
        used: 250.00000049,
        resetsAt: Date.UTC(2025, 1, 1),
        currency: 'EUR',
      },
      now,
    );
    expect(cost.message).toMatch(
      /has used 250 EUR of its 250 EUR per month \(UTC\); it resets at 2025-02-01T00:00:00Z \(in 16d 3h\)/,
    );
    expect(cost.details?.retryAfterMs).toBe(Date.UTC(2025, 1, 1) - now);
  });

  it('periods are UTC calendar days and months', () => {
    expect(periodBounds('day', D + 1)).toEqual({ start: D, end: D + 24 * HOUR });
    expect(periodBounds('month', Date.UTC(2024, 11, 31, 23, 59))).toEqual({
      start: Date.UTC(2024, 11, 1),
      end: Date.UTC(2025, 0, 1),
    });
    // February of a leap year.
    expect(periodBounds('month', Date.UTC(2024, 1, 29, 12))).toEqual({
      start: Date.UTC(2024, 1, 1),
      end: Date.UTC(2024, 2, 1),
    });
  });
});
