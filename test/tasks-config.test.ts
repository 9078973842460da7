/**
 * The `tasks` config section (config/tasks-schema.ts): its defaults on a config that does not name it,
 * a full override, and every way a value is refused, each reported at its own path in one pass (unknown
 * keys with a "did you mean", types, bounds, enums, and the cross-field rules).
 */
import { describe, expect, it } from 'vitest';
import { buildConfig } from '../src/config/load.js';
import { MAX_TASK_TIMER_MS } from '../src/config/tasks-schema.js';
import { GatewayError } from '../src/core/errors.js';

function issuesOf(tasks: unknown): { path: string; message: string }[] {
  try {
    buildConfig({ tasks }, { env: {} });
  } catch (error) {
    expect(error).toBeInstanceOf(GatewayError);
    expect((error as GatewayError).code).toBe('CONFIG_INVALID');
    return ((error as GatewayError).details?.issues ?? []) as { path: string; message: string }[];
  }
  throw new Error('expected the config to be rejected');
}

const DEFAULTS = {
  enabled: true,
  defaultTtlMs: 3_600_000,
  maxTtlMs: 86_400_000,
  minRetentionMs: 60_000,
  pollIntervalMs: 1_000,
  callTimeoutMs: 3_600_000,
  upstream: 'auto',
  upstreamPoll: { minMs: 250, maxMs: 10_000 },
  maxActive: 10_000,
  maxPerOwner: 1_000,
  purgeIntervalMs: 60_000,
  restart: { rerun: 'safe' },
};

describe('config: tasks', () => {
  it('has the design defaults when absent or empty, and is frozen', () => {
    const config = buildConfig({}, { env: {} });
    expect(config.tasks).toEqual(DEFAULTS);
    expect(Object.isFrozen(config.tasks.upstreamPoll)).toBe(true);
    expect(buildConfig({ tasks: {} }, { env: {} }).tasks).toEqual(DEFAULTS);
    expect(buildConfig({ tasks: { upstreamPoll: {}, restart: {} } }, { env: {} }).tasks).toEqual(DEFAULTS);
  });

  it('takes every field, at the edges of its bounds', () => {
    const tasks = {
      enabled: false,
      defaultTtlMs: MAX_TASK_TIMER_MS,
      maxTtlMs: MAX_TASK_TIMER_MS,
      minRetentionMs: 0,
      pollIntervalMs: 100,
      callTimeoutMs: 1,
      upstream: 'never',
      upstreamPoll: { minMs: 500, maxMs: 500 },
      maxActive: 5,
      maxPerOwner: 5,
      purgeIntervalMs: 1_000,
      restart: { rerun: 'never' },
    };
    expect(buildConfig({ tasks }, { env: {} }).tasks).toEqual(tasks);
  });

  it('names unknown keys with the closest known one, at every level', () => {
    expect(issuesOf({ defaultTTLMs: 5, upstreamPoll: { minMS: 1_000 }, restart: { rerunn: 'safe' } })).toEqual([
      { path: 'tasks.upstreamPoll', message: 'unknown key "minMS"; did you mean "minMs"?' },
      { path: 'tasks.restart', message: 'unknown key "rerunn"; did you mean "rerun"?' },
      { path: 'tasks', message: 'unknown key "defaultTTLMs"; did you mean "defaultTtlMs"?' },
    ]);
  });

  it('refuses wrong types, values out of bounds and unknown choices, each at its path', () => {
    const issues = issuesOf({
      enabled: 'yes',
      defaultTtlMs: 999,
      maxTtlMs: MAX_TASK_TIMER_MS + 1,
      minRetentionMs: -1,
      pollIntervalMs: 1.5,
      callTimeoutMs: 0,
      upstream: 'always',
      upstreamPoll: { minMs: 5, maxMs: 600_001 },
      maxActive: 0,
      maxPerOwner: 1_000_001,
      purgeIntervalMs: 86_400_001,
      restart: { rerun: 'always' },
    });
    const at = Object.fromEntries(issues.map((issue) => [issue.path, issue.message]));
    expect(Object.keys(at).sort()).toEqual(
      [
        'tasks.enabled',
        'tasks.defaultTtlMs',
        'tasks.maxTtlMs',
        'tasks.minRetentionMs',
        'tasks.pollIntervalMs',
        'tasks.callTimeoutMs',
        'tasks.upstream',
        'tasks.upstreamPoll.minMs',
        'tasks.upstreamPoll.maxMs',
        'tasks.maxActive',
        'tasks.maxPerOwner',
        'tasks.purgeIntervalMs',
        'tasks.restart.rerun',
      ].sort(),
    );
    expect(at).toMatchObject({
      'tasks.defaultTtlMs': 'defaultTtlMs is at least 1000 (milliseconds)',
      'tasks.maxTtlMs': expect.stringContaining('the longest a timer can wait'),
      'tasks.pollIntervalMs': 'pollIntervalMs is a whole number of milliseconds',
      'tasks.upstream': 'use "auto" (the default) or "never"',
      'tasks.upstreamPoll.minMs': 'upstreamPoll.minMs is at least 10 (milliseconds)',
      'tasks.maxActive': 'maxActive is at least 1',
      'tasks.restart.rerun': 'use "safe" (the default) or "never"',
    });
  });

  it('checks the fields that bound each other, at the field to change', () => {
    expect(issuesOf({ defaultTtlMs: 7_200_000, maxTtlMs: 3_600_000 })).toEqual([
      {
        path: 'tasks.defaultTtlMs',
        message: expect.stringContaining('defaultTtlMs (7200000) is above maxTtlMs (3600000)'),
      },
    ]);
    expect(issuesOf({ upstreamPoll: { minMs: 20_000 } })).toEqual([
      { path: 'tasks.upstreamPoll.minMs', message: expect.stringContaining('minMs (20000) is above maxMs (10000)') },
    ]);
    expect(issuesOf({ maxPerOwner: 20_000 })).toEqual([
      { path: 'tasks.maxPerOwner', message: expect.stringContaining('maxPerOwner (20000) is above maxActive (10000)') },
    ]);
    // Both rules of the section at once, and the nested one beside them.
    expect(
      issuesOf({ defaultTtlMs: 90_000_000, maxPerOwner: 10_001, upstreamPoll: { minMs: 600_000, maxMs: 100 } }).map(
        (issue) => issue.path,
      ),
    ).toEqual(['tasks.upstreamPoll.minMs', 'tasks.defaultTtlMs', 'tasks.maxPerOwner']);
  });
});
