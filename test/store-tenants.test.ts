/**
 * Tenant isolation in the store, on one real SQLite file: for every repository, instances bound to
 * `acme` and `globex` write rows with the same natural keys, and each reads back (through every read
 * method) only its own; deletes and updates in one leave the other's rows. Also the upgrade path: a
 * file at the previous schema version with rows in every table upgrades and keeps them as tenant
 * `default`.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteCompatStore } from '../src/store/compat-repo.js';
import { openDb, SCHEMA_VERSION, type Db } from '../src/store/db.js';
import { SqliteEmbeddingCache, textHash as textHashOf } from '../src/store/embedding-cache.js';
import { SqliteEraMemo } from '../src/store/era-repo.js';
import { SqliteExampleStore } from '../src/store/examples-repo.js';
import { SqliteExperimentStore } from '../src/store/experiments-repo.js';
import { SqliteServerRegistry } from '../src/store/servers-repo.js';
import { tempDir } from './helpers.js';

const dir = tempDir('switchboard-tenants-');
const opened: Db[] = [];

/** Two connections on one file, one per tenant, as two gateways' stores would be. */
function twoConnections(name: string): [Db, Db] {
  const file = join(dir, `${name}.db`);
  const a = openDb(file);
  const b = openDb(file);
  opened.push(a, b);
  return [a, b];
}

afterAll(() => {
  for (const db of opened) if (db.open) db.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A clock that advances one second per reading. */
function clock(): () => Date {
  let t = Date.UTC(2026, 0, 1);
  return () => new Date((t += 1000));
}

const schemas = (n: number) => ({ inputSchema: { type: 'object', properties: { [`p${n}`]: { type: 'string' } } } });

describe('store tenants', () => {
  it('registered servers: one name per tenant, listed, replaced and removed within the tenant', () => {
    const [da, dg] = twoConnections('servers');
    const acme = new SqliteServerRegistry(da, 'acme');
    const globex = new SqliteServerRegistry(dg, 'globex');
    expect([acme.tenant, globex.tenant, new SqliteServerRegistry(da).tenant]).toEqual(['acme', 'globex', 'default']);
    acme.save('files', { command: 'acme-files' });
    acme.save('only-acme', { command: 'x' });
    globex.save('files', { command: 'globex-files' });
    expect(acme.list().map((s) => [s.name, s.entry])).toEqual([
      ['files', { command: 'acme-files' }],
      ['only-acme', { command: 'x' }],
    ]);
    expect(globex.list().map((s) => [s.name, s.entry])).toEqual([['files', { command: 'globex-files' }]]);
    expect(new SqliteServerRegistry(da).list()).toEqual([]);

    acme.save('files', { command: 'acme-files-2' });
    expect(globex.list()[0]?.entry).toEqual({ command: 'globex-files' });
    expect(globex.remove('only-acme')).toBe(false);
    expect(acme.list().map((s) => s.name)).toEqual(['files', 'only-acme']);
    expect(acme.remove('files')).toBe(true);
    expect(globex.list().map((s) => s.name)).toEqual(['files']);
    expect(acme.list().map((s) => s.name)).toEqual(['only-acme']);
  });

  it('embedding cache: one model and text per tenant, each reading only its own vectors', () => {
    const [da, dg] = twoConnections('embeddings');
    const acme = new SqliteEmbeddingCache(da, 'acme');
    const globex = new SqliteEmbeddingCache(dg, 'globex');
    acme.putMany('m', new Map([['hello', new Float32Array([1, 2, 3])]]));
    acme.putMany('m', new Map([['only-acme', new Float32Array([7])]]));
    globex.putMany('m', new Map([['hello', new Float32Array([4, 5, 6])]]));
    const texts = ['hello', 'only-acme'];
    expect([...(acme.getMany('m', texts).get('hello') ?? [])]).toEqual([1, 2, 3]);
    expect([...(globex.getMany('m', texts).get('hello') ?? [])]).toEqual([4, 5, 6]);
    expect([...globex.getMany('m', texts).keys()]).toEqual(['hello']);
    expect(new SqliteEmbeddingCache(da).getMany('m', texts).size).toBe(0);

    acme.putMany('m', new Map([['hello', new Float32Array([9, 9, 9])]]));
    expect([...(acme.getMany('m', ['hello']).get('hello') ?? [])]).toEqual([9, 9, 9]);
    expect([...(globex.getMany('m', ['hello']).get('hello') ?? [])]).toEqual([4, 5, 6]);
  });

  it('learned examples: the same need per tenant, bounded and removed within the tenant', () => {
    const [da, dg] = twoConnections('examples');
    const acme = new SqliteExampleStore(da, 2, 'acme');
    const globex = new SqliteExampleStore(dg, 2, 'globex');
    expect(acme.add('search', 'find a file', 'd1')).toBe(true);
    expect(globex.add('search', 'find a file', 'g1')).toBe(true);
    expect(acme.add('search', 'find a file', 'd2')).toBe(false);
    acme.add('search', 'look up a file', 'd3');
    acme.add('search', 'grep the tree', 'd4');
    acme.add('read', 'open a file', undefined);
    // The bound of 2 per tool dropped acme's oldest 'search' example, not globex's.
    expect(acme.list('search').map((e) => e.need)).toEqual(['look up a file', 'grep the tree']);
    expect(acme.list().map((e) => e.need)).toEqual(['look up a file', 'grep the tree', 'open a file']);
    expect(globex.list().map((e) => [e.tool, e.need, e.decisionId])).toEqual([['search', 'find a file', 'g1']]);
    expect(globex.list('search')).toHaveLength(1);
    expect(globex.list('read')).toEqual([]);
    expect(new SqliteExampleStore(da).list()).toEqual([]);

    const acmeId = acme.list('read')[0]!.id;
    const globexId = globex.list()[0]!.id;
    expect(globex.remove(acmeId)).toBe(false);
    expect(acme.remove(globexId)).toBe(false);
    expect(acme.list('read')).toHaveLength(1);
    expect(acme.remove(acmeId)).toBe(true);
    expect(globex.list()).toHaveLength(1);
  });

  it('experiments: events, reports, feedback and run-time state per tenant', () => {
    const [da, dg] = twoConnections('experiments');
    const acme = new SqliteExperimentStore(da, { tenant: 'acme' });
    const globex = new SqliteExperimentStore(dg, { tenant: 'globex' });
    const call = { experiment: 'e', arm: 'a', unit: 'u1', tool: 'search', server: 's', latencyMs: 10 } as const;
    acme.recordExposure({ experiment: 'e', arm: 'a', unit: 'u1', decisionId: 'd1' });
    acme.recordExposure({ experiment: 'e', arm: 'a', unit: 'u2', decisionId: 'd-acme' });
    acme.recordExposure({ experiment: 'only-acme', arm: 'a', unit: 'u1' });
    acme.recordOutcome({ ...call, outcome: 'success', decisionId: 'd1' });
    acme.recordOutcome({ ...call, outcome: 'timeout', latencyMs: 500 });
    globex.recordExposure({ experiment: 'e', arm: 'a', unit: 'u1', decisionId: 'd1' });
    globex.recordOutcome({ ...call, outcome: 'is_error', latencyMs: 20, decisionId: 'd1' });

    expect(acme.experiments()).toEqual(['e', 'only-acme']);
    expect(globex.experiments()).toEqual(['e']);
    expect(new SqliteExperimentStore(da).experiments()).toEqual([]);
    const [acmeArm] = acme.armStats('e');
    expect(acmeArm).toMatchObject({ arm: 'a', exposures: 2, units: 2, calls: 2, successes: 1, errors: 1 });
    expect(acmeArm?.latencies).toEqual([10, 500]);
    const [globexArm] = globex.armStats('e');
    expect(globexArm).toMatchObject({ arm: 'a', exposures: 1, units: 1, calls: 1, successes: 0, errors: 1 });
    expect(globexArm?.latencies).toEqual([20]);
    expect(globex.armStats('only-acme')).toEqual([]);

    // Feedback on a decision id both tenants used lands in the caller's tenant only.
    expect(acme.recordFeedback('d1', true)).toBe(true);
    expect(globex.recordFeedback('d-acme', false)).toBe(false);
    expect(acme.armStats('e')[0]).toMatchObject({ feedbackSuccesses: 1, feedbackFailures: 0 });
    expect(globex.armStats('e')[0]).toMatchObject({ feedbackSuccesses: 0, feedbackFailures: 0 });
    expect(globex.recordFeedback('d1', false)).toBe(true);
    expect(acme.armStats('e')[0]).toMatchObject({ feedbackSuccesses: 1, feedbackFailures: 0 });
    expect(globex.armStats('e')[0]).toMatchObject({ feedbackSuccesses: 0, feedbackFailures: 1 });

    acme.setRunning('e', false);
    globex.stopArm('e', 'a', 'guardrail');
    expect(acme.states().get('e')).toEqual({ running: false, stoppedArms: new Map() });
    expect(globex.states().get('e')).toEqual({ running: undefined, stoppedArms: new Map([['a', 'guardrail']]) });
    acme.stopArm('e', 'a', 'acme guardrail');
    acme.setRunning('e', true); // clears acme's stopped arms, not globex's
    expect(acme.states().get('e')).toEqual({ running: true, stoppedArms: new Map() });
    expect(globex.states().get('e')?.stoppedArms).toEqual(new Map([['a', 'guardrail']]));
    globex.setRunning('e', undefined);
    expect(globex.states().size).toBe(0);
    expect(acme.states().get('e')?.running).toBe(true);
    expect(new SqliteExperimentStore(da).states().size).toBe(0);
    acme.flush();
    globex.flush();
  });

  it('schema versions: numbered, current and logged per tenant', () => {
    const [da, dg] = twoConnections('compat');
    const acme = new SqliteCompatStore(da, clock(), 'acme');
    const globex = new SqliteCompatStore(dg, clock(), 'globex');
    expect(acme.observe('files', 'read', 'fp-1', schemas(1))).toMatchObject({ version: 1, isNew: true });
    expect(globex.observe('files', 'read', 'fp-1', schemas(1))).toMatchObject({ version: 1, isNew: true });
    const moved = acme.observe('files', 'read', 'fp-x', schemas(2));
    expect(moved).toMatchObject({ version: 2, isNew: true, previous: { fingerprint: 'fp-1' } });
    // Numbers are per tenant: globex's second schema is its v2, and acme's fp-x is not globex's v2.
    expect(globex.observe('files', 'read', 'fp-y', schemas(3)).version).toBe(2);
    expect(globex.observe('files', 'read', 'fp-x', schemas(2))).toMatchObject({ version: 3, isNew: true });

    const view = (store: SqliteCompatStore) =>
      store.versions('files', 'read').map((v) => [v.fingerprint, v.version, v.current]);
    expect(view(acme)).toEqual([
      ['fp-1', 1, false],
      ['fp-x', 2, true],
    ]);
    expect(view(globex)).toEqual([
      ['fp-1', 1, false],
      ['fp-y', 2, false],
      ['fp-x', 3, true],
    ]);
    expect(acme.versionsOfTool('read').map((v) => v.fingerprint)).toEqual(['fp-1', 'fp-x']);
    expect(globex.versionsOfTool('read').map((v) => v.fingerprint)).toEqual(['fp-1', 'fp-y', 'fp-x']);
    expect(acme.all()).toHaveLength(2);
    expect(globex.all()).toHaveLength(3);
    expect(new SqliteCompatStore(da).all()).toEqual([]);

    // Re-observing in acme updates acme's rows only.
    const globexBefore = globex.versions('files', 'read');
    acme.observe('files', 'read', 'fp-1', schemas(1), '1.0');
    expect(view(acme)).toEqual([
      ['fp-1', 1, true],
      ['fp-x', 2, false],
    ]);
    expect(acme.versions('files', 'read')[0]?.declaredVersion).toBe('1.0');
    expect(globex.versions('files', 'read')).toEqual(globexBefore);

    acme.recordChange({ server: 'files', tool: 'read', fromVersion: 1, toVersion: 2, kind: 'additive', changes: [] });
    globex.recordChange({ server: 'files', tool: 'read', fromVersion: 2, toVersion: 3, kind: 'breaking', changes: [] });
    expect(acme.listChanges().map((c) => [c.kind, c.toVersion])).toEqual([['additive', 2]]);
    expect(globex.listChanges().map((c) => [c.kind, c.toVersion])).toEqual([['breaking', 3]]);
    expect(new SqliteCompatStore(da).listChanges()).toEqual([]);
  });

  it('era memo: one key per tenant, set and deleted within the tenant', () => {
    const [da, dg] = twoConnections('eras');
    const acme = new SqliteEraMemo(da, 'acme');
    const globex = new SqliteEraMemo(dg, 'globex');
    acme.set('k', { kind: 'legacy' });
    globex.set('k', { kind: 'modern' });
    expect(acme.get('k')?.verdict).toEqual({ kind: 'legacy' });
    expect(globex.get('k')?.verdict).toEqual({ kind: 'modern' });
    expect(new SqliteEraMemo(da).get('k')).toBeUndefined();
    acme.set('k', { kind: 'legacy', again: true });
    expect(globex.get('k')?.verdict).toEqual({ kind: 'modern' });
    acme.delete('k');
    expect(acme.get('k')).toBeUndefined();
    expect(globex.get('k')?.verdict).toEqual({ kind: 'modern' });
  });
});

/** Every table and how many rows the upgrade test writes to it at the previous version. */
const TABLES: Record<string, number> = {
  registered_servers: 1,
  embeddings: 1,
  learned_examples: 1,
  experiment_exposures: 1,
  experiment_outcomes: 1,
  schema_versions: 2,
  schema_changes: 1,
  experiment_state: 2,
  upstream_eras: 1,
  api_keys: 1,
};

/** The migration that added the tenant columns (db.ts MIGRATIONS[8]). */
const TENANT_MIGRATION = 9;

describe('store tenants: upgrade', () => {
  it('upgrades a file from before the tenant migration (version 9), keeping every row as tenant default', () => {
    const file = join(dir, 'upgrade.db');
    // Pinned: the version before migration 9 (tenants), whatever migrations come after it.
    const old = openDb(file, { version: TENANT_MIGRATION - 1 });
    expect(old.pragma('user_version', { simple: true })).toBe(TENANT_MIGRATION - 1);
    const input = JSON.stringify({ type: 'object' });
    old.exec(`
      INSERT INTO registered_servers (name, entry, created_at) VALUES ('files', '{"command":"cat"}', '2026-01-01T00:00:00.000Z');
      INSERT INTO embeddings (model, text_hash, dim, vector) VALUES ('m', 'h', 1, x'0000803f');
      INSERT INTO learned_examples (id, tool, need, decision_id) VALUES (41, 'search', 'find a file', 'd1');
      INSERT INTO experiment_exposures (experiment, arm, unit, decision_id) VALUES ('e', 'a', 'u1', 'd1');
      INSERT INTO experiment_outcomes (experiment, arm, unit, tool, server, outcome, latency_ms, decision_id)
        VALUES ('e', 'a', 'u1', 'search', 's', 'success', 12, 'd1');
      INSERT INTO schema_versions (server, tool, fingerprint, version, input_schema, first_seen, last_seen, current)
        VALUES ('files', 'read', 'fp-1', 1, '${input}', 't0', 't0', 0), ('files', 'read', 'fp-2', 2, '${input}', 't1', 't1', 1);
      INSERT INTO schema_changes (server, tool, from_version, to_version, kind, changes, at)
        VALUES ('files', 'read', 1, 2, 'breaking', '[]', 't1');
      INSERT INTO experiment_state (experiment, arm, state) VALUES ('e', '', 'stopped');
      INSERT INTO experiment_state (experiment, arm, state, reason) VALUES ('e', 'a', 'arm_stopped', 'guardrail');
      INSERT INTO upstream_eras (key, verdict, stored_at) VALUES ('k', '{"kind":"legacy"}', 1);
      INSERT INTO api_keys (id, hash, tenant, agent, scopes, created_at) VALUES ('key1', 'h', 'acme', 'bot', '[]', 1);
    `);
    old.close();

    const db = openDb(file);
    opened.push(db);
    expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    for (const [table, rows] of Object.entries(TABLES)) {
      const tenants = db.prepare(`SELECT tenant, COUNT(*) AS n FROM ${table} GROUP BY tenant`).all();
      expect(tenants, table).toEqual([{ tenant: table === 'api_keys' ? 'acme' : 'default', n: rows }]);
    }
    // The rebuilt tables keep their kind (STRICT everywhere, WITHOUT ROWID for embeddings only).
    const kinds = db.prepare("SELECT name, strict, wr FROM pragma_table_list WHERE schema = 'main'").all() as {
      name: string;
      strict: number;
      wr: number;
    }[];
    for (const table of Object.keys(TABLES))
      expect(
        kinds.find((k) => k.name === table),
        table,
      ).toEqual({
        name: table,
        strict: 1,
        wr: table === 'embeddings' ? 1 : 0,
      });

    // Every repository of the default tenant reads the old rows; another tenant sees none of them.
    expect(new SqliteServerRegistry(db).list()).toMatchObject([{ name: 'files', entry: { command: 'cat' } }]);
    expect(new SqliteServerRegistry(db, 'acme').list()).toEqual([]);
    db.prepare("UPDATE embeddings SET text_hash = ? WHERE text_hash = 'h'").run(textHashOf('hello'));
    expect([...(new SqliteEmbeddingCache(db).getMany('m', ['hello']).get('hello') ?? [])]).toEqual([1]);
    expect(new SqliteEmbeddingCache(db, 'acme').getMany('m', ['hello']).size).toBe(0);
    const examples = new SqliteExampleStore(db);
    expect(examples.list()).toMatchObject([{ id: 41, tool: 'search', need: 'find a file', decisionId: 'd1' }]);
    expect(examples.add('search', 'find a file', 'd9')).toBe(false);
    expect(new SqliteExampleStore(db, 20, 'acme').list()).toEqual([]);
    const experiments = new SqliteExperimentStore(db);
    expect(experiments.experiments()).toEqual(['e']);
    expect(experiments.armStats('e')[0]).toMatchObject({ exposures: 1, calls: 1, successes: 1 });
    expect(experiments.states().get('e')).toEqual({ running: false, stoppedArms: new Map([['a', 'guardrail']]) });
    expect(experiments.recordFeedback('d1', true)).toBe(true);
    expect(experiments.armStats('e')[0]?.feedbackSuccesses).toBe(1);
    expect(new SqliteExperimentStore(db, { tenant: 'acme' }).experiments()).toEqual([]);
    const compat = new SqliteCompatStore(db);
    expect(compat.versions('files', 'read').map((v) => [v.version, v.current])).toEqual([
      [1, false],
      [2, true],
    ]);
    expect(compat.observe('files', 'read', 'fp-2', schemas(2))).toMatchObject({ version: 2, isNew: false });
    expect(compat.observe('files', 'read', 'fp-3', schemas(3))).toMatchObject({ version: 3, isNew: true });
    expect(compat.listChanges()).toMatchObject([{ kind: 'breaking', fromVersion: 1, toVersion: 2 }]);
    expect(new SqliteCompatStore(db, undefined, 'acme').all()).toEqual([]);
    expect(new SqliteEraMemo(db).get('k')).toEqual({ verdict: { kind: 'legacy' }, storedAt: 1 });
    expect(new SqliteEraMemo(db, 'acme').get('k')).toBeUndefined();
  });
});
