/**
 * The TaskStore contract (core/tasks.ts): one suite, run against SQLite on a real temp file and the
 * in-memory store, so the registry can stand on either. Round trips with the JSON columns, tenant
 * isolation (two tenants on one file), filters, keyset pages across ties in createdAt, optimistic
 * versions, the state machine, recovery and purge reads, counts, and bounds. Then what only SQLite
 * has: the tasks migration on a file of the previous schema version, and rows that survive a reopen.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GatewayError } from '../src/core/errors.js';
import type { Principal } from '../src/core/principal.js';
import {
  MAX_TASK_BATCH,
  MAX_TASK_PAGE,
  TASK_STATUSES,
  canTransition,
  isTaskId,
  isTerminal,
  newTaskId,
  ownerKey,
  type NewTask,
  type TaskRecord,
  type TaskStore,
} from '../src/core/tasks.js';
import { openDb, SCHEMA_VERSION, type Db } from '../src/store/db.js';
import { SqliteEraMemo } from '../src/store/era-repo.js';
import { MemoryTaskStore, MemoryTaskTable } from '../src/store/tasks-memory.js';
import { SqliteTaskStore } from '../src/store/tasks-repo.js';
import { tempDir } from './helpers.js';

const dir = tempDir('switchboard-tasks-');
const opened: Db[] = [];
afterAll(() => {
  for (const db of opened) if (db.open) db.close();
  rmSync(dir, { recursive: true, force: true });
});

const T0 = Date.UTC(2026, 11, 1);

const alice: Principal = {
  tenant: 'acme',
  agent: 'claude',
  groups: ['eng'],
  scopes: ['tools:*'],
  source: 'apiKey',
  subject: 'key-alice',
};
const bob: Principal = { ...alice, subject: 'key-bob' };

/** A working gateway-run task of `principal`, created at `createdAt`. */
function newTask(principal: Principal, over: Partial<NewTask> = {}): NewTask {
  const createdAt = over.createdAt ?? T0;
  return {
    id: newTaskId(),
    owner: ownerKey(principal),
    principal,
    session: null,
    origin: '2025-11-25',
    method: 'tools/call',
    tool: 'alpha__echo',
    server: 'alpha',
    request: null,
    argsHash: 'sha256:abc',
    rerunSafe: false,
    mode: 'gateway',
    upstreamInstance: null,
    upstreamTaskId: null,
    upstreamEra: null,
    status: 'working',
    statusMessage: null,
    progress: null,
    progressTotal: null,
    createdAt,
    updatedAt: createdAt,
    deadlineAt: createdAt + 60_000,
    ttlMs: 3_600_000,
    expiresAt: createdAt + 3_600_000,
    pollIntervalMs: 1_000,
    result: null,
    error: null,
    ...over,
  };
}

/** The error a call throws (it must throw a GatewayError). */
function thrown(run: () => unknown): GatewayError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(GatewayError);
    return error as GatewayError;
  }
  throw new Error('expected a GatewayError');
}

/** One backing (a database file, or a shared memory table) and stores of any tenant over it. */
interface Backing {
  readonly store: (tenant?: string) => TaskStore;
  /** The stores' clock (epoch ms) for updatedAt. */
  readonly clock: { now: number };
}

let files = 0;
const implementations: [string, () => Backing][] = [
  [
    'sqlite',
    () => {
      const file = join(dir, `contract-${++files}.db`);
      const clock = { now: T0 + 1 };
      // One connection per store, as two gateways (or two tenant cores) would open the file.
      const store = (tenant = 'acme') => {
        const db = openDb(file);
        opened.push(db);
        return new SqliteTaskStore(db, { tenant, now: () => clock.now });
      };
      return { store, clock };
    },
  ],
  [
    'memory',
    () => {
      const table = new MemoryTaskTable();
      const clock = { now: T0 + 1 };
      return { store: (tenant = 'acme') => new MemoryTaskStore({ tenant, table, now: () => clock.now }), clock };
    },
  ],
];

describe.each(implementations)('TaskStore contract: %s', (_kind, backing) => {
  it('round-trips every column, JSON included; reads are copies; unknown ids read as missing', () => {
    const { store, clock } = backing();
    const tasks = store();
    const input = newTask(alice, {
      session: 'session-1',
      origin: 'handle',
      method: 'call_capability',
      request: { name: 'alpha__echo', args: { text: 'hi', nested: { n: [1, 2] }, gone: undefined }, version: 'v2' },
      rerunSafe: true,
      mode: 'upstream',
      upstreamInstance: 'alpha#0',
      upstreamTaskId: 'up-1',
      upstreamEra: '2026-07-28',
      statusMessage: 'starting',
      progress: 0.5,
      progressTotal: 4,
    });
    const stored = tasks.insert(input);
    const expected: TaskRecord = {
      ...input,
      tenant: 'acme',
      request: { name: 'alpha__echo', args: { text: 'hi', nested: { n: [1, 2] } }, version: 'v2' },
      runs: 1,
      version: 0,
    };
    expect(stored).toEqual(expected);
    expect(Object.keys(stored.request?.args ?? {})).toEqual(['text', 'nested']);
    expect(tasks.get(input.id)).toEqual(expected);

    clock.now = T0 + 5_000;
    const result = { content: [{ type: 'text' as const, text: 'done' }], structuredContent: { ok: true, n: 3 } };
    expect(tasks.update(input.id, { status: 'completed', result, expiresAt: T0 + 7_200_000 })).toBe(true);
    const done = tasks.get(input.id);
    expect(done).toEqual({
      ...expected,
      status: 'completed',
      result,
      updatedAt: T0 + 5_000,
      expiresAt: T0 + 7_200_000,
      version: 1,
    });

    const failing = tasks.insert(newTask(alice));
    const error = {
      code: 'UPSTREAM_TIMEOUT',
      message: 'no answer within 60000 ms',
      data: { ms: 60_000 },
      retryable: true,
    };
    expect(tasks.update(failing.id, { status: 'failed', error, updatedAt: T0 + 9 })).toBe(true);
    expect(tasks.get(failing.id)).toMatchObject({ status: 'failed', error, result: null, updatedAt: T0 + 9 });

    // A record handed out is the caller's: changing it changes nothing stored.
    (done?.result?.content as { text: string }[])[0]!.text = 'changed';
    (done?.principal.groups as string[]).push('admins');
    expect(tasks.get(input.id)?.result).toEqual(result);
    expect(tasks.get(input.id)?.principal.groups).toEqual(['eng']);

    expect(tasks.get(newTaskId())).toBeUndefined();
    expect(tasks.get('not a task id')).toBeUndefined();
    expect(tasks.get('x'.repeat(100_000))).toBeUndefined();
    expect(tasks.update(newTaskId(), { statusMessage: 'x' })).toBe(false);
  });

  it('keeps tenants apart on one backing: same ids, every read and write within its own tenant', () => {
    const { store } = backing();
    const acme = store('acme');
    const globex = store('globex');
    const carol: Principal = { ...alice, tenant: 'globex', subject: 'key-carol' };
    const shared = newTaskId();
    acme.insert(newTask(alice, { id: shared, tool: 'acme-tool' }));
    globex.insert(newTask(carol, { id: shared, tool: 'globex-tool', expiresAt: T0 }));
    acme.insert(newTask(alice, { status: 'input_required' }));
    expect(acme.get(shared)?.tool).toBe('acme-tool');
    expect(globex.get(shared)?.tool).toBe('globex-tool');
    expect([acme.get(shared)?.tenant, globex.get(shared)?.tenant]).toEqual(['acme', 'globex']);
    expect(acme.list({}, { limit: 10 }).tasks.map((t) => t.tenant)).toEqual(['acme', 'acme']);
    expect(globex.list({}, { limit: 10 }).tasks.map((t) => t.id)).toEqual([shared]);
    expect(globex.active().map((t) => t.tool)).toEqual(['globex-tool']);
    expect(acme.expired(T0, 10)).toEqual([]);
    expect(globex.expired(T0, 10).map((t) => t.tool)).toEqual(['globex-tool']);
    expect(acme.counts()).toMatchObject({ working: 1, input_required: 1 });
    expect(globex.counts()).toMatchObject({ working: 1, input_required: 0 });

    expect(globex.update(shared, { status: 'cancelled' })).toBe(true);
    expect(acme.get(shared)?.status).toBe('working');
    expect(acme.delete([shared])).toBe(1);
    expect(globex.get(shared)?.status).toBe('cancelled');
    expect(store('initech').list({}, { limit: 10 }).tasks).toEqual([]);

    // A principal of another tenant is not written into this one.
    const wrong = thrown(() => acme.insert(newTask(carol)));
    expect([wrong.code, wrong.message]).toEqual(['BAD_REQUEST', expect.stringContaining('tenant "globex"')]);
  });

  it('filters by owner, status and server, alone and together', () => {
    const tasks = backing().store();
    const a1 = tasks.insert(newTask(alice, { createdAt: T0 + 1 }));
    const a2 = tasks.insert(newTask(alice, { createdAt: T0 + 2, server: 'beta', tool: 'beta__x' }));
    const a3 = tasks.insert(newTask(alice, { createdAt: T0 + 3, server: null, tool: 'switchboard__fan' }));
    const b1 = tasks.insert(newTask(bob, { createdAt: T0 + 4 }));
    tasks.update(a1.id, { status: 'completed', result: { content: [] } });
    tasks.update(b1.id, { status: 'completed', result: { content: [] } });
    const ids = (filter: Parameters<TaskStore['list']>[0]) => tasks.list(filter, { limit: 50 }).tasks.map((t) => t.id);
    expect(ids({ owner: ownerKey(alice) })).toEqual([a3.id, a2.id, a1.id]);
    expect(ids({ owner: ownerKey(bob) })).toEqual([b1.id]);
    expect(ids({ owner: ownerKey({ ...alice, subject: 'key-mallory' }) })).toEqual([]);
    expect(ids({ status: 'completed' })).toEqual([b1.id, a1.id]);
    expect(ids({ status: 'working' })).toEqual([a3.id, a2.id]);
    expect(ids({ server: 'alpha' })).toEqual([b1.id, a1.id]);
    expect(ids({ server: 'beta', status: 'working' })).toEqual([a2.id]);
    expect(ids({ owner: ownerKey(alice), status: 'completed', server: 'alpha' })).toEqual([a1.id]);
    expect(ids({ owner: ownerKey(bob), status: 'working' })).toEqual([]);
    expect(ids({})).toEqual([b1.id, a3.id, a2.id, a1.id]);
  });

  it('pages newest first, each task exactly once, across ties in createdAt and filters', () => {
    const tasks = backing().store();
    // 23 tasks over 6 distinct times: most pages end inside a run of equal createdAt.
    const all = Array.from({ length: 23 }, (_, i) =>
      tasks.insert(newTask(i % 3 === 0 ? bob : alice, { createdAt: T0 + Math.floor(i / 4) * 1000 })),
    );
    const order = (list: TaskRecord[]) =>
      [...list].sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? 1 : -1)).map((t) => t.id);
    const walk = (filter: Parameters<TaskStore['list']>[0], limit: number) => {
      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = tasks.list(filter, { cursor, limit });
        expect(page.tasks.length).toBeLessThanOrEqual(limit);
        seen.push(...page.tasks.map((t) => t.id));
        cursor = page.nextCursor;
        pages++;
      } while (cursor && pages < 100);
      return { seen, pages };
    };
    for (const limit of [1, 3, 4, 5, 22, 23, 50]) {
      const { seen, pages } = walk({}, limit);
      expect(seen, `limit ${limit}`).toEqual(order(all));
      expect(pages, `limit ${limit}`).toBe(Math.max(1, Math.ceil(23 / limit)));
    }
    const mine = all.filter((t) => t.owner === ownerKey(alice));
    expect(walk({ owner: ownerKey(alice) }, 4).seen).toEqual(order(mine));

    // A task created between pages is newer than the cursor: later pages neither repeat nor skip any.
    const first = tasks.list({}, { limit: 5 });
    tasks.insert(newTask(alice, { createdAt: T0 + 99_000 }));
    const rest: string[] = [];
    let cursor = first.nextCursor;
    while (cursor) {
      const page = tasks.list({}, { cursor, limit: 5 });
      rest.push(...page.tasks.map((t) => t.id));
      cursor = page.nextCursor;
    }
    expect([...first.tasks.map((t) => t.id), ...rest]).toEqual(order(all));
  });

  it('applies an update only at the expected version; each applied update adds one', () => {
    const { store, clock } = backing();
    const tasks = store();
    const t = tasks.insert(newTask(alice));
    expect(tasks.update(t.id, { statusMessage: 'step 1/4', progress: 1, progressTotal: 4 }, 0)).toBe(true);
    clock.now = T0 + 77;
    // A second writer that read version 0 too loses, and changes nothing.
    expect(tasks.update(t.id, { status: 'cancelled' }, 0)).toBe(false);
    expect(tasks.get(t.id)).toMatchObject({
      status: 'working',
      statusMessage: 'step 1/4',
      version: 1,
      updatedAt: T0 + 1,
    });
    expect(tasks.update(t.id, { statusMessage: null, progress: 2 }, 1)).toBe(true);
    expect(tasks.get(t.id)).toMatchObject({ statusMessage: null, progress: 2, version: 2, updatedAt: T0 + 77 });
    expect(tasks.update(t.id, { runs: 2 })).toBe(true);
    expect(tasks.update(t.id, {}, 3)).toBe(true);
    expect(tasks.get(t.id)).toMatchObject({ runs: 2, version: 4 });
    expect(tasks.update(t.id, { progress: 3 }, 99)).toBe(false);
    expect(thrown(() => tasks.update(t.id, { progress: 3 }, -1)).code).toBe('BAD_REQUEST');
    expect(thrown(() => tasks.update(t.id, { progress: 3 }, 1.5)).code).toBe('BAD_REQUEST');
  });

  it('follows the state machine: terminal states are final, fixed fields stay fixed', () => {
    const tasks = backing().store();
    const t = tasks.insert(newTask(alice));
    expect(tasks.update(t.id, { status: 'input_required' })).toBe(true);
    expect(tasks.update(t.id, { status: 'working' })).toBe(true);
    expect(tasks.update(t.id, { status: 'completed', result: { content: [] } })).toBe(true);
    const final = tasks.get(t.id);
    for (const patch of [{ status: 'working' as const }, { status: 'cancelled' as const }, { statusMessage: 'late' }]) {
      const error = thrown(() => tasks.update(t.id, patch, final?.version));
      expect(error.code).toBe('BAD_REQUEST');
      expect(error.message).toContain('completed, which is final');
      expect(error.details).toMatchObject({ id: t.id, from: 'completed' });
    }
    expect(tasks.get(t.id)).toEqual(final);

    const c = tasks.insert(newTask(alice, { status: 'input_required' }));
    expect(tasks.update(c.id, { status: 'cancelled' })).toBe(true);
    expect(thrown(() => tasks.update(c.id, { status: 'failed' })).details).toMatchObject({
      from: 'cancelled',
      to: 'failed',
    });
    // A stale writer is told "not applied" before it is told "forbidden": it reads again and sees the end.
    expect(tasks.update(c.id, { status: 'failed' }, 0)).toBe(false);

    for (const status of ['completed', 'failed', 'cancelled'] as const)
      expect(thrown(() => tasks.insert(newTask(alice, { status }))).message).toContain('created running');
    const w = tasks.insert(newTask(alice));
    const fixed = thrown(() => tasks.update(w.id, { owner: ownerKey(bob) } as never));
    expect([fixed.code, fixed.message]).toEqual(['BAD_REQUEST', expect.stringContaining('owner cannot be updated')]);
    expect(thrown(() => tasks.update(w.id, { status: 'done' } as never)).code).toBe('BAD_REQUEST');
    expect(tasks.get(w.id)?.owner).toBe(ownerKey(alice));
  });

  it('active() lists every unfinished task oldest first; counts() has every status', () => {
    const tasks = backing().store();
    expect(tasks.active()).toEqual([]);
    expect(tasks.counts()).toEqual({ working: 0, input_required: 0, completed: 0, failed: 0, cancelled: 0 });
    const made = [3, 1, 2, 1, 5].map((s) => tasks.insert(newTask(alice, { createdAt: T0 + s })));
    tasks.update(made[0]!.id, { status: 'input_required' });
    tasks.update(made[1]!.id, { status: 'failed', error: { code: 'INTERRUPTED', message: 'x', retryable: false } });
    tasks.update(made[4]!.id, { status: 'cancelled' });
    const expected = [made[2]!, made[3]!, made[0]!]
      .sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1))
      .map((t) => t.id);
    expect(tasks.active().map((t) => t.id)).toEqual(expected);
    expect(tasks.counts()).toEqual({ working: 2, input_required: 1, completed: 0, failed: 1, cancelled: 1 });
  });

  it('expired() returns what is due, soonest first and bounded; delete() purges it', () => {
    const tasks = backing().store();
    const due = [30, 10, 20].map((at) => tasks.insert(newTask(alice, { expiresAt: T0 + at })));
    const later = tasks.insert(newTask(alice, { expiresAt: T0 + 1_000 }));
    tasks.update(due[0]!.id, { status: 'completed', result: { content: [] } });
    expect(tasks.expired(T0 + 30, 10).map((t) => t.expiresAt)).toEqual([T0 + 10, T0 + 20, T0 + 30]);
    expect(tasks.expired(T0 + 30, 2).map((t) => t.expiresAt)).toEqual([T0 + 10, T0 + 20]);
    expect(tasks.expired(T0 + 30, 0)).toHaveLength(1);
    expect(tasks.expired(T0 + 9, 10)).toEqual([]);
    const ids = tasks.expired(T0 + 30.9, 10).map((t) => t.id);
    expect(tasks.delete([...ids, newTaskId(), 'garbage', ids[0]!])).toBe(3);
    expect(ids.map((id) => tasks.get(id))).toEqual([undefined, undefined, undefined]);
    expect(tasks.list({}, { limit: 10 }).tasks.map((t) => t.id)).toEqual([later.id]);
    expect(tasks.counts()).toMatchObject({ working: 1, completed: 0 });
    expect(tasks.delete([])).toBe(0);
    expect(thrown(() => tasks.expired(Number.NaN, 10)).code).toBe('BAD_REQUEST');
  });

  it('bounds every input: page sizes capped, cursors checked, strings, numbers and JSON limited', () => {
    const tasks = backing().store();
    for (let i = 0; i <= MAX_TASK_BATCH; i++) tasks.insert(newTask(alice, { createdAt: T0 + i, expiresAt: T0 }));
    expect(tasks.list({}, { limit: 1_000_000 }).tasks).toHaveLength(MAX_TASK_PAGE);
    expect(tasks.list({}, { limit: Number.NaN }).tasks).toHaveLength(MAX_TASK_PAGE);
    expect(tasks.list({}, { limit: 0 }).tasks).toHaveLength(1);
    expect(tasks.list({}, { limit: -5 }).tasks).toHaveLength(1);
    expect(tasks.list({}, { limit: 2.9 }).tasks).toHaveLength(2);
    expect(tasks.expired(T0, 1_000_000)).toHaveLength(MAX_TASK_BATCH);

    const good = tasks.list({}, { limit: 1 }).nextCursor ?? '';
    const badCursors = [
      '',
      'garbage',
      'a1.1.2',
      `${good}x`,
      good.replace('sbt_', 'sbx_'),
      `t1.zzzzzzzzzzzz.${newTaskId()}`,
      'x'.repeat(10_000),
    ];
    for (const cursor of badCursors) {
      const error = thrown(() => tasks.list({}, { cursor, limit: 5 }));
      expect([error.code, error.message], cursor.slice(0, 40)).toEqual([
        'BAD_REQUEST',
        expect.stringContaining('cursor'),
      ]);
    }
    expect(thrown(() => tasks.list({ status: 'done' as never }, { limit: 5 })).code).toBe('BAD_REQUEST');
    expect(thrown(() => tasks.list({ server: 's'.repeat(257) }, { limit: 5 })).code).toBe('BAD_REQUEST');
    expect(thrown(() => tasks.delete(Array.from({ length: MAX_TASK_BATCH + 1 }, () => newTaskId()))).code).toBe(
      'BAD_REQUEST',
    );

    const refused: [string, Partial<NewTask>][] = [
      ['id', { id: 'sbt_short' }],
      ['tool', { tool: 't'.repeat(1025) }],
      ['tool', { tool: '' }],
      ['upstreamTaskId', { upstreamTaskId: 'u'.repeat(1025) }],
      ['statusMessage', { statusMessage: 'm'.repeat(4097) }],
      ['createdAt', { createdAt: 1.5 }],
      ['ttlMs', { ttlMs: -1 }],
      ['progress', { progress: Number.NaN }],
      ['origin', { origin: '2024-11-05' as never }],
      ['mode', { mode: 'both' as never }],
      ['upstreamEra', { upstreamEra: 'legacy' as never }],
      ['rerunSafe', { rerunSafe: 1 as never }],
      ['request', { request: [] as never }],
      ['result', { result: { content: [], big: 'x'.repeat(64 * 1024 * 1024) } }],
      ['principal', { principal: { ...alice, groups: ['g'.repeat(70_000)] } }],
      ['runs', { runs: 0 }],
    ];
    for (const [field, over] of refused) {
      const error = thrown(() => tasks.insert(newTask(alice, over)));
      expect([error.code, error.message], field).toEqual(['BAD_REQUEST', expect.stringContaining(field)]);
    }
    const t = tasks.insert(newTask(alice));
    expect(thrown(() => tasks.update(t.id, { statusMessage: 'm'.repeat(4097) })).code).toBe('BAD_REQUEST');
    expect(thrown(() => tasks.update(t.id, { expiresAt: Number.POSITIVE_INFINITY })).code).toBe('BAD_REQUEST');
    expect(tasks.get(t.id)?.version).toBe(0);

    // Unique keys: one id, and one gateway task per upstream task.
    expect(thrown(() => tasks.insert(newTask(alice, { id: t.id }))).message).toContain('exists already');
    const upstream = { mode: 'upstream' as const, upstreamInstance: 'alpha#0', upstreamTaskId: 'u-7' };
    const u = tasks.insert(newTask(alice, upstream));
    expect(thrown(() => tasks.insert(newTask(alice, upstream))).message).toContain('already follows');
    expect(thrown(() => tasks.update(t.id, upstream)).message).toContain('already follows');
    expect(tasks.insert(newTask(alice, { ...upstream, server: 'beta' })).upstreamTaskId).toBe('u-7');
    expect(tasks.update(u.id, { upstreamTaskId: 'u-8' })).toBe(true);
    expect(tasks.update(t.id, upstream)).toBe(true);
  });
});

describe('core/tasks', () => {
  it('allows working ⇄ input_required → a terminal state, and nothing out of one', () => {
    const allowed = TASK_STATUSES.flatMap((from) =>
      TASK_STATUSES.filter((to) => canTransition(from, to)).map((to) => `${from}>${to}`),
    );
    expect(allowed.sort()).toEqual(
      [
        'working>working',
        'working>input_required',
        'working>completed',
        'working>failed',
        'working>cancelled',
        'input_required>input_required',
        'input_required>working',
        'input_required>completed',
        'input_required>failed',
        'input_required>cancelled',
      ].sort(),
    );
    expect(TASK_STATUSES.filter(isTerminal)).toEqual(['completed', 'failed', 'cancelled']);
  });

  it('owner keys: one per credential and user, stable across grants; the agent name without auth', () => {
    expect(ownerKey(alice)).toBe('["acme","apiKey","key-alice",null]');
    expect(ownerKey({ ...alice, scopes: ['admin'], groups: [] })).toBe(ownerKey(alice));
    expect(ownerKey(bob)).not.toBe(ownerKey(alice));
    expect(ownerKey({ ...alice, user: 'u1' })).not.toBe(ownerKey({ ...alice, user: 'u2' }));
    expect(ownerKey({ ...alice, source: 'jwt' })).not.toBe(ownerKey(alice));
    expect(ownerKey({ ...alice, tenant: 'globex' })).not.toBe(ownerKey(alice));
    const anonymous: Principal = { tenant: 'default', agent: 'cursor', groups: [], scopes: undefined, source: 'none' };
    expect(ownerKey(anonymous)).toBe('["default","none","cursor",null]');
  });

  it('task ids: sbt_ and 128 random bits in base64url', () => {
    const ids = new Set(Array.from({ length: 1000 }, newTaskId));
    expect(ids.size).toBe(1000);
    for (const id of ids) expect([id.length, isTaskId(id)]).toEqual([26, true]);
    expect(isTaskId('sbt_' + 'a'.repeat(21))).toBe(false);
    expect(isTaskId('sbt_' + 'a'.repeat(21) + '/')).toBe(false);
  });
});

/** The migration that added the tasks table (db.ts MIGRATIONS[10]). */
const TASKS_MIGRATION = 11;

describe('SQLite task store: migration and restart', () => {
  it('upgrades a file of the previous schema version, keeping its rows', () => {
    const file = join(dir, 'upgrade.db');
    // Pinned: the version before migration 11 (tasks), whatever migrations come after it.
    const old = openDb(file, { version: TASKS_MIGRATION - 1 });
    expect(old.pragma('user_version', { simple: true })).toBe(TASKS_MIGRATION - 1);
    expect(old.prepare("SELECT name FROM sqlite_master WHERE name = 'tasks'").get()).toBeUndefined();
    new SqliteEraMemo(old).set('k', { kind: 'legacy' });
    old.close();

    const db = openDb(file);
    opened.push(db);
    expect(db.pragma('user_version', { simple: true })).toBeGreaterThanOrEqual(TASKS_MIGRATION);
    expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect(new SqliteEraMemo(db).get('k')?.verdict).toEqual({ kind: 'legacy' });
    const kind = db.prepare("SELECT strict FROM pragma_table_list WHERE schema = 'main' AND name = 'tasks'").get();
    expect(kind).toEqual({ strict: 1 });
    const indexes = db
      .prepare(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'tasks' AND sql IS NOT NULL ORDER BY name",
      )
      .all();
    expect(indexes).toEqual(
      ['tasks_created', 'tasks_expiry', 'tasks_owner', 'tasks_status', 'tasks_upstream'].map((name) => ({ name })),
    );
    const tasks = new SqliteTaskStore(db);
    const t = tasks.insert(newTask({ ...alice, tenant: 'default' }));
    expect(tasks.get(t.id)?.id).toBe(t.id);
    // The CHECK constraints hold for writes that bypass the store.
    expect(() => db.prepare("UPDATE tasks SET status = 'done' WHERE id = ?").run(t.id)).toThrow(/CHECK/);
    expect(() => db.prepare("UPDATE tasks SET result = '{not json' WHERE id = ?").run(t.id)).toThrow(/CHECK/);
  });

  it("an agent's list, the admin's lists, recovery and purge are index ranges, not sorts", () => {
    const db = openDb(join(dir, 'plans.db'));
    opened.push(db);
    const plan = (where: string) =>
      (
        db
          .prepare(
            `EXPLAIN QUERY PLAN SELECT * FROM tasks WHERE tenant = 'a' ${where} ORDER BY created_at DESC, id DESC LIMIT 5`,
          )
          .all() as { detail: string }[]
      )
        .map((r) => r.detail)
        .join('; ');
    expect(plan("AND owner = 'o' AND (created_at, id) < (1, 'x')")).toMatch(/USING INDEX tasks_owner/);
    expect(plan('')).toMatch(/USING INDEX tasks_created/);
    expect(plan("AND status = 'working'")).toMatch(/USING INDEX tasks_status/);
    for (const where of ["AND owner = 'o'", '', "AND status = 'working'", "AND server = 's'"])
      expect(plan(where), where).not.toMatch(/TEMP B-TREE/);
    // The store's recovery and purge reads (tasks-repo.ts) likewise.
    const detail = (sql: string) =>
      (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all() as { detail: string }[]).map((r) => r.detail).join('; ');
    expect(detail("SELECT * FROM tasks WHERE tenant = 'a' AND status IN ('working', 'input_required')")).toMatch(
      /USING INDEX tasks_status \(tenant=\? AND status=\?\)/,
    );
    const purge = detail("SELECT * FROM tasks WHERE tenant = 'a' AND expires_at <= 5 ORDER BY expires_at, id LIMIT 9");
    expect(purge).toMatch(/USING INDEX tasks_expiry/);
    expect(purge).not.toMatch(/TEMP B-TREE/);
  });

  it('keeps every row and its version across a reopen (a gateway restart)', () => {
    const file = join(dir, 'restart.db');
    const before = openDb(file);
    const first = new SqliteTaskStore(before, { tenant: 'acme' });
    const running = first.insert(newTask(alice, { mode: 'upstream', upstreamInstance: 'a#0', upstreamTaskId: 'u1' }));
    const done = first.insert(newTask(bob, { rerunSafe: true, request: { name: 'alpha__echo', args: { x: 1 } } }));
    first.update(running.id, { statusMessage: 'step 2/4', progress: 2, progressTotal: 4 });
    first.update(done.id, { status: 'completed', result: { content: [{ type: 'text', text: 'ok' }] } });
    const snapshot = [first.get(running.id), first.get(done.id)];
    before.close();

    const after = openDb(file);
    opened.push(after);
    const second = new SqliteTaskStore(after, { tenant: 'acme' });
    expect([second.get(running.id), second.get(done.id)]).toEqual(snapshot);
    expect(second.active().map((t) => t.id)).toEqual([running.id]);
    expect(second.update(running.id, { status: 'completed', result: { content: [] } }, 1)).toBe(true);
    expect(second.counts()).toMatchObject({ working: 0, completed: 2 });
  });
});
