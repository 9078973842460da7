/**
 * The experiment event log on a real SQLite file: exposures, call outcomes and feedback aggregate
 * into per-arm totals, and survive closing and reopening the file.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openDb, type Db } from '../src/store/db.js';
import { SqliteExperimentStore } from '../src/store/experiments-repo.js';

const dir = mkdtempSync(join(tmpdir(), 'switchboard-experiments-'));
const file = join(dir, 'nested', 'switchboard.db');
const opened: Db[] = [];

function open(): { db: Db; store: SqliteExperimentStore } {
  const db = openDb(file);
  opened.push(db);
  return { db, store: new SqliteExperimentStore(db) };
}

afterAll(() => {
  for (const db of opened) if (db.open) db.close();
  rmSync(dir, { recursive: true, force: true });
});

const call = { experiment: 'search-ab', tool: 'search', latencyMs: 10 } as const;

describe('SqliteExperimentStore', () => {
  it('aggregates exposures, outcomes and feedback per arm, and keeps them across a reopen', () => {
    const { db, store } = open();
    store.recordExposure({ experiment: 'search-ab', arm: 'control', unit: 'agent-1', decisionId: 'd1' });
    store.recordExposure({ experiment: 'search-ab', arm: 'control', unit: 'agent-1', decisionId: 'd2' });
    store.recordExposure({ experiment: 'search-ab', arm: 'control', unit: 'agent-2' });
    store.recordExposure({ experiment: 'search-ab', arm: 'treatment', unit: 'agent-3', decisionId: 'd3' });
    store.recordOutcome({
      ...call,
      arm: 'control',
      unit: 'agent-1',
      server: 'a',
      outcome: 'success',
      latencyMs: 12,
      decisionId: 'd1',
    });
    store.recordOutcome({ ...call, arm: 'control', unit: 'agent-1', server: 'a', outcome: 'is_error', latencyMs: 30 });
    store.recordOutcome({ ...call, arm: 'control', unit: 'agent-2', server: 'a', outcome: 'timeout', latencyMs: 5000 });
    store.recordOutcome({
      ...call,
      arm: 'treatment',
      unit: 'agent-3',
      server: 'b',
      outcome: 'success',
      latencyMs: 8,
      decisionId: 'd3',
    });
    store.recordOutcome({
      ...call,
      arm: 'treatment',
      unit: 'agent-3',
      server: 'b',
      outcome: 'transport_error',
      latencyMs: 2,
      note: 'ECONNRESET',
    });
    expect(store.recordFeedback('d1', true, 'found it')).toBe(true);
    expect(store.recordFeedback('d3', false)).toBe(true);
    expect(store.recordFeedback('unknown', true)).toBe(false);
    db.close();

    const again = open().store;
    expect(again.experiments()).toEqual(['search-ab']);
    const [control, treatment] = again.armStats('search-ab');
    expect(control).toMatchObject({
      arm: 'control',
      exposures: 3,
      units: 2,
      calls: 3,
      successes: 1,
      errors: 2,
      feedbackSuccesses: 1,
      feedbackFailures: 0,
      latencies: [12, 30, 5000],
    });
    expect(control?.outcomes).toEqual({
      success: 1,
      is_error: 1,
      transport_error: 0,
      timeout: 1,
      feedback_success: 1,
      feedback_failure: 0,
    });
    expect(treatment).toMatchObject({
      arm: 'treatment',
      exposures: 1,
      units: 1,
      calls: 2,
      successes: 1,
      errors: 1,
      feedbackSuccesses: 0,
      feedbackFailures: 1,
      latencies: [8, 2],
    });
  });

  it('stores feedback against the exposed arm with the tool and server of the decision call', () => {
    const { db, store } = open();
    store.recordExposure({ experiment: 'fb', arm: 'b', unit: 'u', decisionId: 'dx' });
    store.recordOutcome({
      experiment: 'fb',
      arm: 'b',
      unit: 'u',
      tool: 'weather',
      server: 's2',
      outcome: 'success',
      latencyMs: 4,
      decisionId: 'dx',
    });
    store.recordFeedback('dx', false, 'wrong city');
    const row = db
      .prepare(
        "SELECT arm, unit, tool, server, outcome, latency_ms, note FROM experiment_outcomes WHERE experiment = 'fb' AND outcome LIKE 'feedback%'",
      )
      .get();
    expect(row).toEqual({
      arm: 'b',
      unit: 'u',
      tool: 'weather',
      server: 's2',
      outcome: 'feedback_failure',
      latency_ms: null,
      note: 'wrong city',
    });
  });

  it('records feedback once per experiment that exposed the decision, against its latest exposure', () => {
    const { store } = open();
    store.recordExposure({ experiment: 'e1', arm: 'x', unit: 'u', decisionId: 'shared' });
    store.recordExposure({ experiment: 'e1', arm: 'y', unit: 'u', decisionId: 'shared' });
    store.recordExposure({ experiment: 'e2', arm: 'z', unit: 'u', decisionId: 'shared' });
    expect(store.recordFeedback('shared', true)).toBe(true);
    expect(store.armStats('e1').map((a) => [a.arm, a.feedbackSuccesses])).toEqual([
      ['x', 0],
      ['y', 1],
    ]);
    expect(store.armStats('e2').map((a) => [a.arm, a.feedbackSuccesses])).toEqual([['z', 1]]);
  });

  it('lists arms seen only in outcomes and returns nothing for an unknown experiment', () => {
    const { store } = open();
    store.recordOutcome({
      experiment: 'orphan',
      arm: 'a',
      unit: 'u',
      tool: 't',
      server: 's',
      outcome: 'success',
      latencyMs: 1,
    });
    expect(store.armStats('orphan')).toMatchObject([{ arm: 'a', exposures: 0, units: 0, calls: 1 }]);
    expect(store.armStats('nope')).toEqual([]);
  });

  it('rejects an unknown outcome kind at the database, without losing the events buffered with it', () => {
    const { store } = open();
    // Writes are buffered and committed in batches; the database's CHECK rejects the bad row at flush.
    store.recordOutcome({
      experiment: 'x',
      arm: 'a',
      unit: 'u',
      tool: 't',
      server: 's',
      outcome: 'maybe' as 'success',
      latencyMs: 1,
    });
    store.recordOutcome({
      experiment: 'x',
      arm: 'a',
      unit: 'u',
      tool: 't',
      server: 's',
      outcome: 'success',
      latencyMs: 2,
    });
    expect(() => store.flush()).toThrow(/CHECK/);
    expect(store.armStats('x')[0]).toMatchObject({ arm: 'a', calls: 1, successes: 1 });
  });
});
