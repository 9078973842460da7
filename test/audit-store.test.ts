/**
 * The audit store on real SQLite files: the hash chain verifies after many appends (from two
 * connections too), any edited column or removed row is found and named, retention keeps the chain
 * verifiable, readers filter by tenant and paginate every row exactly once, usage_hourly is the sum
 * of the audited calls; and the pieces around it: argument hashing and redaction, the config
 * section, JSONL/CSV export, and `switchboard audit verify` as a real process.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { csvCell, csvHeader, formatEvents, toCsvRow, toJsonl } from '../src/audit/export.js';
import { argsHash, argumentsRecorder, REDACT_LIMITS, REDACTED, redactArgs, TRUNCATED } from '../src/audit/redact.js';
import { auditSchema, DEFAULT_REDACT_PATTERNS } from '../src/config/audit-schema.js';
import type { AuditEvent, AuditMethod, AuditOutcome, StoredAuditEvent } from '../src/core/audit-event.js';
import { GatewayError } from '../src/core/errors.js';
import { canonicalJson, rowCanonicalJson, sha256Hex, type AuditRow } from '../src/store/audit-chain.js';
import { SqliteAuditRepo, type AuditFilter } from '../src/store/audit-repo.js';
import { openDb, type Db } from '../src/store/db.js';
import { cleanup, onCleanup, ROOT, tempDir } from './helpers.js';

const dir = tempDir('switchboard-audit-store-');
let files = 0;

function fresh(): { db: Db; repo: SqliteAuditRepo; file: string } {
  const file = join(dir, `s${files++}.db`);
  const db = openDb(file);
  onCleanup(() => db.open && db.close());
  return { db, repo: new SqliteAuditRepo(db), file };
}

const T0 = Date.UTC(2026, 0, 1);
const METHODS: AuditMethod[] = ['tools/call', 'find_capability', 'call_capability', 'prompts/get', 'admin'];
const OUTCOMES: AuditOutcome[] = ['success', 'success', 'isError', 'error', 'denied', 'limited'];

/** A deterministic mix of events: two tenants, several agents, users, tools, outcomes and hours. */
function mixed(n: number, start = 0): AuditEvent[] {
  return Array.from({ length: n }, (_, k) => {
    const i = start + k;
    const method = METHODS[i % METHODS.length]!;
    return {
      // Not monotone in i: a long call enters before a short one that finishes first.
      time: T0 + i * 1_000 - (i % 7) * 3_000,
      tenant: i % 3 === 0 ? 'globex' : 'acme',
      agent: `agent-${i % 4}`,
      user: i % 5 === 0 ? undefined : `user-${i % 6}`,
      session: `s-${i % 9}`,
      subject: i % 2 ? 'key_1' : undefined,
      traceId: i % 4 ? '4bf92f3577b34da6a3ce929d0e0e4736' : undefined,
      method,
      tool: method === 'find_capability' ? undefined : `srv${i % 3}__tool${i % 5}`,
      server: method === 'find_capability' ? undefined : `srv${i % 3}`,
      instance: i % 3 ? `srv${i % 3}#1` : undefined,
      decision: OUTCOMES[i % OUTCOMES.length] === 'denied' ? 'deny' : 'allow',
      policies: OUTCOMES[i % OUTCOMES.length] === 'denied' ? [`policy-${i % 2}`] : undefined,
      outcome: OUTCOMES[i % OUTCOMES.length]!,
      errorCode: i % 6 >= 2 ? 'UPSTREAM_FAILED' : undefined,
      latencyMs: (i % 13) * 1.25 + 0.1,
      bytesIn: 100 + (i % 17),
      bytesOut: 1_000 + i,
      argsHash: argsHash({ i }),
      args: i % 10 === 0 ? { query: `q${i}`, nested: { z: 1, a: [i, 'ünïcødé', null] } } : undefined,
      detail: i % 8 === 0 ? { attempts: [`srv${i % 3}#1`, `srv${i % 3}#2`], offered: 3 } : undefined,
    };
  });
}

/** Appends in batches of varying size. */
function appendAll(repo: SqliteAuditRepo, events: readonly AuditEvent[]): void {
  for (let i = 0, size = 1; i < events.length; i += size, size = (size * 7) % 97 || 1)
    repo.append(events.slice(i, i + size));
}

/** Pages through a query with `limit`, returning every event. */
function pageAll(repo: SqliteAuditRepo, filter: AuditFilter, limit: number): StoredAuditEvent[] {
  const out: StoredAuditEvent[] = [];
  let after: string | undefined;
  do {
    const page = repo.query(filter, { after, limit });
    expect(page.events.length).toBeLessThanOrEqual(limit);
    out.push(...page.events);
    after = page.nextCursor;
  } while (after);
  return out;
}

afterAll(async () => {
  await cleanup();
});

describe('audit chain', () => {
  it('verifies after many appends, from two connections writing one file in turn', () => {
    const { db, repo, file } = fresh();
    const second = openDb(file);
    onCleanup(() => second.close());
    const other = new SqliteAuditRepo(second);
    const events = mixed(4_000);
    for (let i = 0; i < events.length; i += 250) (i % 500 ? other : repo).append(events.slice(i, i + 250));
    expect(repo.verify()).toEqual({ ok: true, rows: 4_000 });
    expect(other.verify()).toEqual({ ok: true, rows: 4_000 });
    const seqs = db.prepare('SELECT seq FROM audit_events ORDER BY seq').pluck().all();
    expect(seqs).toEqual(Array.from({ length: 4_000 }, (_, i) => i + 1));
    // The first row starts from 64 zeros.
    expect(repo.query({}, { limit: 1000 }).events.find((e) => e.seq === 1)?.prevHash).toBe('0'.repeat(64));
  });

  it("hashes the canonical JSON of the stored event: the row's text equals canonicalJson of what reads back", () => {
    const { db, repo } = fresh();
    const odd: AuditEvent = {
      ...mixed(1)[0]!,
      user: 'lone \ud800 surrogate',
      tool: 'quote " and \\ backslash',
      args: {
        b: 2,
        a: { y: [1, { d: 4, c: 3 }], x: 'x' },
        undef: undefined,
        big: 10n,
        when: new Date(T0),
        detail: 0,
        policies: 0,
      },
      detail: { '"args":0': 'a string like a placeholder', policies: 0, n: -0 },
      policies: [],
      time: T0 + 0.6,
      bytesIn: -5,
      latencyMs: Number.NaN,
    };
    const [stored] = repo.append([odd]);
    const row = db.prepare('SELECT * FROM audit_events').get() as AuditRow;
    const readBack = repo.tail({}, 1)[0]!;
    const { hash, prevHash, ...fields } = readBack;
    expect(rowCanonicalJson(row)).toBe(canonicalJson(fields));
    expect(sha256Hex(`${prevHash}\n${canonicalJson(fields)}`)).toBe(hash);
    // Normalised before hashing: integers rounded, negatives and NaN zeroed, lone surrogates replaced.
    expect(readBack).toMatchObject({
      time: T0 + 1,
      bytesIn: 0,
      latencyMs: 0,
      user: 'lone \ufffd surrogate',
      policies: [],
    });
    expect(readBack.args).toEqual({
      a: { x: 'x', y: [1, { c: 3, d: 4 }] },
      b: 2,
      big: '10',
      when: new Date(T0).toISOString(),
      detail: 0,
      policies: 0,
    });
    // What append returned is what a reader gets (same canonical JSON, same hash).
    expect(canonicalJson(stored)).toBe(canonicalJson(readBack));
    expect(repo.verify()).toEqual({ ok: true, rows: 1 });
  });

  it('names the row when any one of its columns is edited', () => {
    const { db, repo } = fresh();
    appendAll(repo, mixed(300));
    const target = 150;
    const columns = (db.prepare("SELECT name FROM pragma_table_info('audit_events')").pluck().all() as string[]).filter(
      (c) => c !== 'seq',
    );
    expect(columns).toHaveLength(23);
    for (const column of columns) {
      db.exec('BEGIN');
      const info = db.prepare(`SELECT typeof(${column}) AS type FROM audit_events WHERE seq = ?`).get(target) as {
        type: string;
      };
      const edit =
        info.type === 'integer' || info.type === 'real'
          ? `${column} = ${column} + 1`
          : column === 'args' || column === 'detail' || column === 'policies'
            ? `${column} = '{"edited":true}'`
            : `${column} = COALESCE(${column}, '') || 'x'`;
      db.prepare(`UPDATE audit_events SET ${edit} WHERE seq = ?`).run(target);
      const result = repo.verify();
      db.exec('ROLLBACK');
      expect(result, column).toMatchObject({ ok: false, seq: target });
    }
    // Editing seq moves the row: the chain reports the seq that is no longer there.
    db.prepare('UPDATE audit_events SET seq = 10000 WHERE seq = ?').run(target);
    expect(repo.verify()).toMatchObject({ ok: false, seq: target, reason: expect.stringMatching(/missing/) });
    db.prepare('UPDATE audit_events SET seq = ? WHERE seq = 10000').run(target);
    expect(repo.verify()).toEqual({ ok: true, rows: 300 });
    // A re-hashed edit (content and hash both changed) breaks the link to the next row.
    const row = db.prepare('SELECT * FROM audit_events WHERE seq = ?').get(target) as AuditRow;
    const forged = { ...row, agent: 'someone-else' };
    const rehash = sha256Hex(`${row.prev_hash}\n${rowCanonicalJson(forged)}`);
    db.prepare('UPDATE audit_events SET agent = ?, hash = ? WHERE seq = ?').run('someone-else', rehash, target);
    expect(repo.verify()).toMatchObject({ ok: false, seq: target + 1, reason: expect.stringMatching(/prev_hash/) });
  });

  it('finds a removed row: in the middle, at the start', () => {
    const { db, repo } = fresh();
    appendAll(repo, mixed(200));
    db.prepare('DELETE FROM audit_events WHERE seq = 77').run();
    expect(repo.verify()).toMatchObject({ ok: false, seq: 77, reason: expect.stringMatching(/missing/) });
    const second = fresh();
    appendAll(second.repo, mixed(50));
    second.db.prepare('DELETE FROM audit_events WHERE seq <= 3').run();
    expect(second.repo.verify()).toMatchObject({ ok: false, seq: 1 });
  });

  it('retention removes the oldest rows and keeps the chain verifiable through the anchor', () => {
    const { db, repo } = fresh();
    const events = mixed(1_000);
    appendAll(repo, events);
    const cutoff = T0 + 400_000;
    const removed = repo.prune(cutoff);
    // A prefix in seq order: up to the first row not older than the cutoff.
    const firstKept = events.findIndex((e) => e.time >= cutoff) + 1;
    expect(removed).toBe(firstKept - 1);
    expect(repo.verify()).toEqual({ ok: true, rows: 1_000 - removed });
    expect(db.prepare('SELECT seq FROM audit_anchor').pluck().get()).toBe(firstKept - 1);
    // In chunks, as the writer runs it.
    expect(repo.prune(T0 + 600_000, 50)).toBe(50);
    expect(repo.verify()).toMatchObject({ ok: true });
    while (repo.prune(T0 + 600_000, 50) > 0);
    expect(repo.verify()).toMatchObject({ ok: true });
    // Everything gone: the chain continues from the anchor, seq too.
    const last = db.prepare('SELECT MAX(seq) FROM audit_events').pluck().get() as number;
    expect(repo.prune(Number.MAX_SAFE_INTEGER)).toBeGreaterThan(0);
    expect(repo.verify()).toEqual({ ok: true, rows: 0 });
    const [next] = repo.append(mixed(1, 5_000));
    expect(next?.seq).toBe(last + 1);
    expect(repo.verify()).toEqual({ ok: true, rows: 1 });
    // A row removed before the anchor's successor is found (its prev_hash is the anchor's).
    repo.append(mixed(3, 5_001));
    db.prepare('DELETE FROM audit_events WHERE seq = ?').run(last + 1);
    expect(repo.verify()).toMatchObject({ ok: false, seq: last + 1 });
  });
});

describe('audit readers', () => {
  const { repo } = fresh();
  const events = mixed(2_500);
  appendAll(repo, events);

  it("a tenant's reads never return another tenant's rows", () => {
    for (const tenant of ['acme', 'globex']) {
      const pages = pageAll(repo, { tenant }, 333);
      expect(pages.length).toBe(events.filter((e) => e.tenant === tenant).length);
      expect(pages.every((e) => e.tenant === tenant)).toBe(true);
      expect(repo.tail({ tenant }, 1000).every((e) => e.tenant === tenant)).toBe(true);
      expect(repo.readAfter({ tenant }, 100, 1000).every((e) => e.tenant === tenant && e.seq > 100)).toBe(true);
      expect(
        pageAll(repo, { tenant, agent: 'agent-1', outcome: 'isError' }, 10).every((e) => e.tenant === tenant),
      ).toBe(true);
    }
    expect(pageAll(repo, { tenant: 'initech' }, 100)).toEqual([]);
  });

  it('cursor pagination returns every matching row exactly once, in (time, seq) order', () => {
    const filters: AuditFilter[] = [
      {},
      { tenant: 'acme' },
      { tenant: 'acme', agent: 'agent-2' },
      { tenant: 'globex', tool: 'srv0__tool0' },
      { user: 'user-3', outcome: 'error' },
      { tenant: 'acme', since: T0 + 500_000, until: T0 + 900_000 },
      { method: 'find_capability', server: undefined },
      { server: 'srv1', since: T0 + 100_000 },
    ];
    for (const filter of filters) {
      const expected = events
        .map((e, i) => ({ ...e, seq: i + 1 }))
        .filter(
          (e) =>
            (filter.tenant === undefined || e.tenant === filter.tenant) &&
            (filter.agent === undefined || e.agent === filter.agent) &&
            (filter.user === undefined || e.user === filter.user) &&
            (filter.tool === undefined || e.tool === filter.tool) &&
            (filter.server === undefined || e.server === filter.server) &&
            (filter.method === undefined || e.method === filter.method) &&
            (filter.outcome === undefined || e.outcome === filter.outcome) &&
            (filter.since === undefined || e.time >= filter.since) &&
            (filter.until === undefined || e.time < filter.until),
        )
        .sort((a, b) => a.time - b.time || a.seq - b.seq)
        .map((e) => e.seq);
      expect(expected.length, JSON.stringify(filter)).toBeGreaterThan(0);
      for (const limit of [1, 7, 1000]) {
        if (limit === 1 && expected.length > 300) continue;
        expect(
          pageAll(repo, filter, limit).map((e) => e.seq),
          `${JSON.stringify(filter)} limit ${limit}`,
        ).toEqual(expected);
      }
    }
  });

  it('tail and readAfter go by seq; limits are capped; a foreign cursor is refused', () => {
    const tail = repo.tail({ tenant: 'globex' }, 5);
    expect(tail.map((e) => e.seq)).toEqual(
      events
        .map((e, i) => [e.tenant, i + 1] as const)
        .filter(([t]) => t === 'globex')
        .slice(-5)
        .map(([, seq]) => seq),
    );
    expect(repo.readAfter({}, 2_490, 100).map((e) => e.seq)).toEqual([
      2491, 2492, 2493, 2494, 2495, 2496, 2497, 2498, 2499, 2500,
    ]);
    expect(repo.query({}, { limit: 5_000 }).events).toHaveLength(1000);
    expect(() => repo.query({}, { after: 'seq:5', limit: 10 })).toThrow(GatewayError);
    expect(() => repo.query({}, { after: 'a1.zzzzzzzzzzzzzzzz.1', limit: 10 })).toThrow(/not one this server issued/);
  });
});

describe('usage_hourly', () => {
  /** usage_hourly as the audit rows say it should be: metered events summed by their key and hour. */
  const fromAudit = (db: Db) =>
    db
      .prepare(
        `SELECT tenant, (time / 3600000) * 3600000 AS hour, agent, COALESCE(tool, '') AS tool, COALESCE(server, '') AS server,
                method, COUNT(*) AS calls, SUM(outcome != 'success') AS errors, SUM(latency_ms) AS duration_ms,
                SUM(bytes_in) AS bytes_in, SUM(bytes_out) AS bytes_out
         FROM audit_events WHERE method != 'admin' AND outcome NOT IN ('denied', 'limited')
         GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 3, 4, 5, 6`,
      )
      .all() as Record<string, number | string>[];
  const usageOf = (db: Db) =>
    db.prepare('SELECT * FROM usage_hourly ORDER BY tenant, hour, agent, tool, server, method').all() as Record<
      string,
      number | string
    >[];
  const expectSums = (usage: Record<string, number | string>[], audit: Record<string, number | string>[]) => {
    expect(usage.length).toBe(audit.length);
    usage.forEach((u, i) => {
      const { duration_ms: duration, ...exact } = audit[i]!;
      expect(u).toMatchObject(exact);
      // Floating sums in another order: equal up to rounding.
      expect(u.duration_ms as number).toBeCloseTo(duration as number, 6);
    });
  };

  it('is the sum of the metered audited requests per tenant, hour, agent, tool, server, method', () => {
    const { db, repo } = fresh();
    appendAll(repo, mixed(3_000));
    const audit = fromAudit(db);
    expect(audit.length).toBeGreaterThan(20);
    expectSums(usageOf(db), audit);
    // Admin changes and refusals are in the trail, never in the meter.
    const refused = db.prepare("SELECT COUNT(*) FROM audit_events WHERE outcome IN ('denied', 'limited')").pluck();
    expect(refused.get()).toBeGreaterThan(0);
    expect(db.prepare("SELECT COUNT(*) FROM usage_hourly WHERE method = 'admin'").pluck().get()).toBe(0);
  });

  it('with rows off (audit disabled) the meter is kept the same and the trail is empty', () => {
    const withRows = fresh();
    appendAll(withRows.repo, mixed(1_000));
    const { db } = fresh();
    const meterOnly = new SqliteAuditRepo(db, { rows: false });
    appendAll(meterOnly, mixed(1_000));
    expect(db.prepare('SELECT COUNT(*) FROM audit_events').pluck().get()).toBe(0);
    expect(meterOnly.append(mixed(1))).toEqual([]);
    expect(withRows.repo.append(mixed(1))).toHaveLength(1);
    expectSums(usageOf(db), usageOf(withRows.db));
  });
});

describe('arguments: hash and redaction', () => {
  it('hashes canonical JSON: key order does not matter, values do', () => {
    expect(argsHash({ a: 1, b: { c: [1, 2], d: 'x' } })).toBe(argsHash({ b: { d: 'x', c: [1, 2] }, a: 1 }));
    expect(argsHash({ a: 1 })).not.toBe(argsHash({ a: 2 }));
    expect(argsHash({ a: 1 })).toBe(sha256Hex('{"a":1}'));
  });

  it('redacts values of secret-looking keys at any depth, case-insensitively', () => {
    const args = {
      path: '/etc/hosts',
      API_KEY: 'sk-1',
      nested: { Authorization: 'Bearer x', list: [{ password: 'p', keep: 1 }, { refresh_token: { deep: true } }] },
      'x-Private-Key': 'k',
      ['__proto__']: { secret: 's' },
    };
    const redacted = redactArgs(JSON.parse(JSON.stringify(args)), DEFAULT_REDACT_PATTERNS) as Record<string, unknown>;
    expect(redacted).toEqual(
      JSON.parse(
        JSON.stringify({
          path: '/etc/hosts',
          API_KEY: REDACTED,
          nested: { Authorization: REDACTED, list: [{ password: REDACTED, keep: 1 }, { refresh_token: REDACTED }] },
          'x-Private-Key': REDACTED,
          ['__proto__']: { secret: REDACTED },
        }),
      ),
    );
    // "__proto__" stayed an own data key; the copy's prototype is untouched.
    expect(Object.getPrototypeOf(redacted)).toBe(Object.prototype);
    expect(redactArgs({ token: 1 }, [])).toEqual({ token: 1 });
  });

  it('bounds the copy: depth, members, total values and string sizes', () => {
    let deep: unknown = 'bottom';
    for (let i = 0; i < 100; i++) deep = { d: deep };
    let walked = redactArgs(deep, []) as Record<string, unknown>;
    let depth = 0;
    for (; typeof walked === 'object'; depth++) walked = walked.d as Record<string, unknown>;
    expect([depth, walked]).toEqual([REDACT_LIMITS.depth, TRUNCATED]);

    const wide = Object.fromEntries(Array.from({ length: 5_000 }, (_, i) => [`k${i}`, i]));
    const copy = redactArgs(wide, []) as Record<string, unknown>;
    expect(Object.keys(copy)).toHaveLength(REDACT_LIMITS.entries + 1);
    expect(copy[TRUNCATED]).toBe(`${5_000 - REDACT_LIMITS.entries} more`);
    const long = redactArgs({ s: 'x'.repeat(100_000), list: Array.from({ length: 3_000 }, () => 1) }, []) as {
      s: string;
      list: unknown[];
    };
    expect(long.s).toHaveLength(REDACT_LIMITS.stringChars + TRUNCATED.length);
    expect(long.list).toHaveLength(REDACT_LIMITS.entries + 1);
    // Many strings: the total budget stops copying them.
    const many = redactArgs(
      Array.from({ length: 40 }, () => Array.from({ length: 40 }, () => 'y'.repeat(1_000))),
      [],
    ) as string[][];
    const chars = many.flat().reduce((n, s) => n + s.replace(TRUNCATED, '').length, 0);
    expect(chars).toBeLessThanOrEqual(REDACT_LIMITS.totalChars);
    expect(JSON.stringify(many).length).toBeLessThan(REDACT_LIMITS.totalChars + 50_000);
  });

  it('argumentsRecorder: hash only by default, redacted copy in full mode', () => {
    const args = { query: 'q', token: 't' };
    expect(argumentsRecorder(auditSchema.parse({}))(args)).toEqual({ argsHash: argsHash(args) });
    expect(argumentsRecorder(auditSchema.parse({ arguments: 'full' }))(args)).toEqual({
      argsHash: argsHash(args),
      args: { query: 'q', token: REDACTED },
    });
  });
});

describe('audit config', () => {
  it('defaults, and errors with their paths', () => {
    expect(auditSchema.parse(undefined)).toEqual({
      enabled: true,
      arguments: 'hash',
      redact: [...DEFAULT_REDACT_PATTERNS],
      batchMs: 200,
      batchSize: 512,
      retentionDays: 90,
    });
    const bad = auditSchema.safeParse({
      redact: ['token', '(unclosed'],
      batchMs: 0,
      arguments: 'some',
      retentionDay: 3,
    });
    expect(bad.success).toBe(false);
    const issues = bad.error!.issues.map((i) => [i.path.join('.'), i.message]);
    expect(issues).toEqual(
      expect.arrayContaining([
        ['redact.1', expect.stringMatching(/not a valid regular expression/)],
        ['batchMs', expect.stringMatching(/at least 1/)],
        ['arguments', expect.stringMatching(/"hash".*"full"/)],
        ['', expect.stringMatching(/unknown key "retentionDay"; did you mean "retentionDays"/)],
      ]),
    );
  });
});

describe('export', () => {
  const event: StoredAuditEvent = {
    seq: 7,
    time: T0,
    tenant: 'acme',
    agent: '=HYPERLINK("http://x","y")',
    user: '+1 555',
    method: 'tools/call',
    tool: 'say, "hi"\nthere',
    server: '@srv',
    decision: 'deny',
    policies: ['p1', 'p2'],
    outcome: 'denied',
    errorCode: '-1',
    latencyMs: 1.5,
    bytesIn: 1,
    bytesOut: 2,
    args: { a: 'b' },
    prevHash: 'a'.repeat(64),
    hash: 'b'.repeat(64),
  };

  it('CSV: RFC 4180 quoting and the formula guard', () => {
    expect(csvCell('plain')).toBe('plain');
    expect(csvCell('a,b')).toBe('"a,b"');
    expect(csvCell('say "x"')).toBe('"say ""x"""');
    expect(csvCell('two\r\nlines')).toBe('"two\r\nlines"');
    for (const lead of ['=', '+', '-', '@', '\t']) expect(csvCell(`${lead}cmd`)).toBe(`'${lead}cmd`);
    expect(csvCell('\rcmd')).toBe(`"'\rcmd"`);
    expect(csvCell('=1,2')).toBe(`"'=1,2"`);
    expect(csvCell(undefined)).toBe('');
    expect(csvCell(-1)).toBe('-1');
    const row = toCsvRow(event);
    expect(row.endsWith('\r\n')).toBe(true);
    expect(row).toBe(
      `7,2026-01-01T00:00:00.000Z,acme,"'=HYPERLINK(""http://x"",""y"")",'+1 555,,,,tools/call,"say, ""hi""\nthere",'@srv,,deny,p1 p2,denied,'-1,1.5,1,2,,"{""a"":""b""}",,${'a'.repeat(64)},${'b'.repeat(64)}\r\n`,
    );
    expect(csvHeader().split(',')).toHaveLength(24);
    expect(formatEvents([event, event], 'csv', true).split('\r\n')).toHaveLength(4);
  });

  it('JSONL: one canonical object per line', () => {
    const line = toJsonl(event);
    expect(JSON.parse(line)).toEqual(event);
    expect(Object.keys(JSON.parse(line) as object)).toEqual(Object.keys(event).sort());
    expect(formatEvents([event, event], 'jsonl')).toBe(`${line}\n${line}\n`);
  });
});

describe('switchboard audit (CLI process)', () => {
  const cli = (...args: string[]) =>
    spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli.ts'), 'audit', ...args], {
      cwd: ROOT,
      encoding: 'utf8',
    });

  it('verify: ok on a good store, exit 1 naming the first broken seq on an edited one; export to a file', () => {
    const folder = tempDir('switchboard-audit-cli-');
    const config = join(folder, 'switchboard.yaml');
    writeFileSync(config, 'store:\n  path: ./store.db\n');
    const db = openDb(join(folder, 'store.db'));
    const repo = new SqliteAuditRepo(db);
    appendAll(repo, mixed(500));

    const good = cli('verify', '--config', config);
    expect([good.status, good.stdout.trim()]).toEqual([0, 'ok, 500 rows']);

    const out = join(folder, 'acme.csv');
    const exported = cli('export', '--config', config, '--format', 'csv', '--tenant', 'acme', '--out', out);
    expect(exported.status).toBe(0);
    const lines = readFileSync(out, 'utf8').trimEnd().split('\r\n');
    expect(lines.length - 1).toBe(mixed(500).filter((e) => e.tenant === 'acme').length);
    expect(lines.slice(1).every((l) => l.split(',')[2] === 'acme')).toBe(true);

    db.prepare("UPDATE audit_events SET outcome = 'success' WHERE seq = 321").run();
    db.close();
    const bad = cli('verify', '--config', config);
    expect(bad.status).toBe(1);
    expect(bad.stderr.trim()).toBe(
      "switchboard: audit chain broken at seq 321: hash does not match the row's content: the row was edited",
    );

    const missing = cli('verify', '--db', join(folder, 'nope.db'));
    expect([missing.status, missing.stderr]).toEqual([
      2,
      expect.stringMatching(/^switchboard: no store at .*nope\.db/),
    ]);
    const usage = cli('query', '--config', config, '--since', 'yesterday');
    expect([usage.status, usage.stderr]).toEqual([2, expect.stringMatching(/--since must be an ISO 8601 time/)]);
    const typo = cli('query', '--config', config, '--outcome', 'denid');
    expect([typo.status, typo.stderr]).toEqual([2, expect.stringMatching(/--outcome is one of success, .*"denid"/)]);
  });
});
