/**
 * The experiment runner's rules with a real (in-memory) SQLite store and an injected clock:
 * start and end times, which calls an experiment targets (tools, a capability group,
 * find_capability itself), units of assignment, stops and starts, and config replacement.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ExperimentEntry } from '../src/config/schema.js';
import { ExperimentRunner } from '../src/gateway/experiments.js';
import { openDb } from '../src/store/db.js';
import { SqliteExperimentStore } from '../src/store/experiments-repo.js';
import { silentLogger } from '../src/telemetry/logger.js';
import { tempDir } from './helpers.js';

const units = (agent: string, user?: string, session = 's1') => ({ agent, user, session });

function runner(experiments: Record<string, ExperimentEntry>, now = () => Date.parse('2026-11-24T12:00:00Z')) {
  const store = new SqliteExperimentStore(openDb(':memory:'));
  return new ExperimentRunner({
    store,
    log: silentLogger(),
    experiments,
    providers: (id) => (id === 'a__search' ? ['a__search', 'b__search'] : []),
    now,
  });
}

const base: ExperimentEntry = {
  enabled: true,
  target: { tools: ['a__echo'] },
  unit: 'agent',
  arms: [
    { name: 'control', weight: 1, route: {} },
    { name: 'other', weight: 1, route: { server: 'b' } },
  ],
};

describe('experiment runner', () => {
  it('runs only between start and end, and not when disabled', () => {
    const before = runner({ e: { ...base, start: '2026-11-25T00:00:00Z' } });
    expect(before.assignCall('a__echo', units('x'))).toBeUndefined();
    expect(before.list()[0]).toMatchObject({ running: false, why: 'starts at 2026-11-25T00:00:00Z' });
    const ended = runner({ e: { ...base, end: '2026-11-24T00:00:00Z' } });
    expect(ended.assignCall('a__echo', units('x'))).toBeUndefined();
    expect(runner({ e: { ...base, enabled: false } }).assignCall('a__echo', units('x'))).toBeUndefined();
    expect(runner({ e: base }).assignCall('a__echo', units('x'))).toBeDefined();
  });

  it('targets tools, a capability group, or find_capability', () => {
    const r = runner({
      group: { ...base, target: { capability: 'a__search' } },
      find: {
        ...base,
        target: { find: true },
        arms: [
          { name: 'control', weight: 1, route: {} },
          { name: 'dense', weight: 1, route: { denseWeight: 1.5 } },
        ],
      },
    });
    expect(r.assignCall('b__search', units('x'))?.experiment).toBe('group');
    expect(r.assignCall('c__search', units('x'))).toBeUndefined();
    const find = r.assignFind(units('x'), 'd1');
    expect(find?.experiment).toBe('find');
    expect(['control', 'dense']).toContain(find?.arm);
  });

  it('keeps a unit in its arm by agent, user or session; request units vary', () => {
    for (const unit of ['agent', 'user', 'session'] as const) {
      const r = runner({ e: { ...base, unit } });
      const first = r.assignCall('a__echo', units('agent-1', 'user-1', 'session-1'))?.arm;
      for (let i = 0; i < 20; i++)
        expect(r.assignCall('a__echo', units('agent-1', 'user-1', 'session-1'))?.arm).toBe(first);
    }
    const perRequest = runner({ e: { ...base, unit: 'request' } });
    const arms = new Set(Array.from({ length: 60 }, () => perRequest.assignCall('a__echo', units('same'))?.arm));
    expect(arms.size).toBe(2);
  });

  it('stopping sends no traffic into the experiment; replacing the config keeps only what still exists', () => {
    const r = runner({ e: base });
    r.setRunning('e', false);
    expect(r.assignCall('a__echo', units('x'))).toBeUndefined();
    r.setRunning('e', true);
    expect(r.assignCall('a__echo', units('x'))).toBeDefined();
    r.replace({});
    expect(r.list()).toEqual([]);
    expect(() => r.setRunning('e', true)).toThrow(/no experiment named "e"/);
  });

  it('keeps run-time stops and guardrail-stopped arms across restarts (same SQLite file)', () => {
    const file = join(tempDir(), 'state.db');
    const open = () => {
      const db = openDb(file);
      const store = new SqliteExperimentStore(db);
      return {
        db,
        store,
        runner: new ExperimentRunner({
          store,
          log: silentLogger(),
          experiments: { e: base, f: base },
          providers: () => [],
        }),
      };
    };
    const first = open();
    first.runner.setRunning('e', false);
    first.store.stopArm('f', 'other', 'error rate 50% over 40 calls exceeds 20.0%');
    first.db.close();

    const second = open();
    expect(second.runner.list().find((x) => x.name === 'e')).toMatchObject({
      running: false,
      why: 'stopped through the admin API',
    });
    expect(
      second.runner
        .list()
        .find((x) => x.name === 'f')
        ?.arms.find((a) => a.name === 'other')?.stopped,
    ).toMatch(/error rate 50%/);
    // A stopped arm's units get the control.
    for (let i = 0; i < 20; i++)
      expect(second.runner.assignCall('a__echo', units(`agent-${i}`))?.arm ?? 'control').toBe('control');
    // Starting clears the stops; removing an experiment from the config forgets its state.
    second.runner.setRunning('f', true);
    second.runner.replace({ f: base });
    second.db.close();
    const third = open();
    expect(third.runner.list().every((x) => x.running && x.arms.every((a) => !a.stopped))).toBe(true);
    third.db.close();
  });
});
