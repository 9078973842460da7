/**
 * Schema version history on a real SQLite file: numbering per tool name across servers, the current
 * schema per server, rollbacks, the change log, and persistence across a reopen.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fingerprint } from '../src/compat/canonical.js';
import { diffTool } from '../src/compat/diff.js';
import { openDb, type Db } from '../src/store/db.js';
import { SqliteCompatStore } from '../src/store/compat-repo.js';

const dir = mkdtempSync(join(tmpdir(), 'switchboard-compat-'));
const file = join(dir, 'switchboard.db');
const opened: Db[] = [];

/** A clock that advances one second per reading. */
function clock(): () => Date {
  let t = Date.UTC(2026, 0, 1);
  return () => new Date((t += 1000));
}

function open(now = clock()): { db: Db; store: SqliteCompatStore } {
  const db = openDb(file);
  opened.push(db);
  return { db, store: new SqliteCompatStore(db, now) };
}

afterAll(() => {
  for (const db of opened) if (db.open) db.close();
  rmSync(dir, { recursive: true, force: true });
});

const v1 = {
  inputSchema: { type: 'object', properties: { q: { type: 'string', description: 'query' } }, required: ['q'] },
};
const v2 = {
  inputSchema: { type: 'object', properties: { q: { type: 'string' }, k: { type: 'integer' } }, required: ['q'] },
};
const v3 = {
  inputSchema: { type: 'object', properties: { query: { type: 'string' } }, required: ['query'] },
  outputSchema: { type: 'object' },
};
const fp = (s: { inputSchema: unknown; outputSchema?: unknown }) => fingerprint(s.inputSchema, s.outputSchema);

describe('SqliteCompatStore', () => {
  it('numbers new fingerprints v1, v2, ... and bumps last_seen of known ones', () => {
    const { db, store } = open();
    expect(store.observe('a', 'search', fp(v1), v1)).toEqual({ version: 1, isNew: true, previous: undefined });
    expect(store.observe('a', 'search', fp(v1), v1)).toEqual({ version: 1, isNew: false, previous: undefined });
    const obs = store.observe('a', 'search', fp(v2), v2, '2.0.0');
    expect(obs).toMatchObject({
      version: 2,
      isNew: true,
      previous: { version: 1, fingerprint: fp(v1), current: true },
    });
    const [first, second] = store.versions('a', 'search');
    expect(first).toMatchObject({
      version: 1,
      current: false,
      declaredVersion: null,
      inputSchema: v1.inputSchema,
      outputSchema: undefined,
    });
    expect(first!.lastSeen > first!.firstSeen).toBe(true);
    expect(second).toMatchObject({ version: 2, current: true, declaredVersion: '2.0.0' });
    db.close();
  });

  it('shares numbers across servers serving the same schema under the same tool name', () => {
    const { store } = open();
    // Server b first serves v2's schema: it gets v2's number, not v1.
    expect(store.observe('b', 'search', fp(v2), v2).version).toBe(2);
    expect(store.observe('b', 'search', fp(v3), v3).version).toBe(3);
    expect(store.observe('a', 'search', fp(v3), v3)).toMatchObject({
      version: 3,
      isNew: true,
      previous: { version: 2 },
    });
    expect(store.versions('b', 'search').map((v) => v.version)).toEqual([2, 3]);
    expect(store.versionsOfTool('search').map((v) => `${v.server}@v${v.version}`)).toEqual([
      'a@v1',
      'a@v2',
      'b@v2',
      'a@v3',
      'b@v3',
    ]);
    // Another tool name starts its own numbering.
    expect(store.observe('a', 'fetch', fp(v1), v1).version).toBe(1);
  });

  it('notices a rollback to an older version as a change', () => {
    const { store } = open();
    const obs = store.observe('a', 'search', fp(v1), v1);
    expect(obs).toMatchObject({ version: 1, isNew: false, previous: { version: 3 } });
    expect(
      store
        .versions('a', 'search')
        .filter((v) => v.current)
        .map((v) => v.version),
    ).toEqual([1]);
  });

  it('logs changes newest first, with the diff as computed by compat/', () => {
    const { db, store } = open();
    const diff = diffTool(v2, v3);
    store.recordChange({
      server: 'a',
      tool: 'search',
      fromVersion: 1,
      toVersion: 2,
      kind: diffTool(v1, v2).kind,
      changes: diffTool(v1, v2).changes,
    });
    store.recordChange({
      server: 'a',
      tool: 'search',
      fromVersion: 2,
      toVersion: 3,
      kind: diff.kind,
      changes: diff.changes,
    });
    db.close();

    const again = open().store;
    const [latest, earlier] = again.listChanges(10);
    expect(latest).toMatchObject({ server: 'a', tool: 'search', fromVersion: 2, toVersion: 3, kind: 'breaking' });
    expect(latest!.changes.map((c) => c.message)).toContain('property "q" was removed');
    expect(earlier).toMatchObject({
      fromVersion: 1,
      toVersion: 2,
      kind: 'additive',
      changes: [{ path: 'k', kind: 'additive', role: 'input' }],
    });
    expect(again.listChanges(1)).toHaveLength(1);
    // The history survived the reopen too.
    expect(again.all().map((v) => `${v.tool}:${v.server}@v${v.version}`)).toEqual([
      'fetch:a@v1',
      'search:a@v1',
      'search:a@v2',
      'search:b@v2',
      'search:a@v3',
      'search:b@v3',
    ]);
  });
});
