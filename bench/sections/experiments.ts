/**
 * What experiments and version pins cost per call (target: under 20 µs), two ways, each against
 * the same call with no experiment configured, in the same run:
 *
 * 1. In process, the gateway's own work per call, timed over many iterations with the real
 *    SQLite stores on a temp file: experiment lookup, assignment (hash), the exposure and outcome
 *    records, pin resolution and the instance compatibility check. The baseline is what every
 *    call does anyway when no experiment targets its tool and it is not pinned (a lookup that
 *    finds nothing, the catalog-version compatibility check).
 * 2. End to end, through a hub process: `ab__echo` (a 50/50 experiment by user between two
 *    instance sets of one server, and a v1 pin) against `plain__echo` (same fixture, nothing
 *    configured), interleaved; the p50 difference is within the noise of a ~2 ms call.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExperimentEntry } from '../../src/config/schema.js';
import type { ServerPart } from '../../src/core/protocol.js';
import { CompatTracker } from '../../src/gateway/compat.js';
import { ExperimentRunner } from '../../src/gateway/experiments.js';
import { openDb } from '../../src/store/db.js';
import { SqliteCompatStore } from '../../src/store/compat-repo.js';
import { SqliteExperimentStore } from '../../src/store/experiments-repo.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { httpClient, timeInterleaved } from '../lib/clients.js';
import { fixtureArgs, startHubProcess, writeGatewayConfig } from '../lib/procs.js';
import { summarize } from '../lib/stats.js';
import type { BenchOptions, SectionResult } from '../run.js';

const ITERATIONS = 50_000;

const TOOL = {
  name: 'echo',
  description: 'Echo the text back',
  inputSchema: { type: 'object' as const, properties: { text: { type: 'string' } }, required: ['text'] },
  outputSchema: {
    type: 'object' as const,
    properties: { server: { type: 'string' }, text: { type: 'string' } },
    required: ['server', 'text'],
  },
};

function experiment(arms: ExperimentEntry['arms']): ExperimentEntry {
  return { enabled: true, target: { tools: ['svc__echo'] }, unit: 'user', arms };
}

/** µs per iteration of `work`, best of 3 runs (after a warm-up run). */
function timeLoop(work: (i: number) => void, n: number): number {
  for (let i = 0; i < Math.min(n, 5_000); i++) work(i);
  let best = Number.POSITIVE_INFINITY;
  for (let run = 0; run < 3; run++) {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) work(i);
    best = Math.min(best, ((performance.now() - t0) * 1000) / n);
  }
  return Math.round(best * 100) / 100;
}

function inProcess(n: number) {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-bench-exp-'));
  const db = openDb(join(dir, 'bench.db'));
  try {
    const log = silentLogger();
    const compat = new CompatTracker(new SqliteCompatStore(db), log);
    const part: ServerPart = {
      tools: [TOOL],
      prompts: [],
      resources: [],
      resourceTemplates: [],
      instructions: undefined,
    };
    compat.observe('svc', 'svc#1', part);
    compat.observe('svc', 'svc#2', part);
    const store = new SqliteExperimentStore(db);
    const withExperiment = new ExperimentRunner({
      store,
      log,
      providers: () => [],
      experiments: {
        ab: experiment([
          { name: 'control', weight: 90, route: {} },
          { name: 'treatment', weight: 10, route: { instances: ['svc#2'] } },
        ]),
      },
    });
    const without = new ExperimentRunner({ store, log, providers: () => [], experiments: {} });
    const catalogTool = { ...TOOL, name: 'svc__echo' };
    const result = { content: [{ type: 'text' as const, text: 'x' }] };
    const units = (i: number) => ({ agent: 'bench', user: `user-${i % 10_000}`, session: 's' });

    // What every call does with nothing configured.
    const baseline = timeLoop((i) => {
      withoutCall(without, units(i));
      const requirement = compat.catalogs(catalogTool);
      compat.accepts('svc#1', 'echo', requirement);
      compat.accepts('svc#2', 'echo', requirement);
    }, n);
    // With an experiment on the tool and a v1 pin on the call.
    const treated = timeLoop((i) => {
      const assignment = withExperiment.assignCall('svc__echo', units(i));
      const requirement = compat.pinned('svc', 'echo', 'v1');
      compat.accepts('svc#1', 'echo', requirement);
      compat.accepts('svc#2', 'echo', requirement);
      if (assignment) withExperiment.recordCall(assignment, 'svc__echo', 'svc', result, undefined, 1.5);
    }, n);
    store.flush();
    return {
      iterations: n,
      baselineUs: baseline,
      withExperimentAndPinUs: treated,
      overheadUs: Math.round((treated - baseline) * 100) / 100,
    };
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function withoutCall(runner: ExperimentRunner, units: { agent: string; user: string; session: string }): void {
  if (runner.assignCall('svc__echo', units)) throw new Error('no experiment expected');
}

async function endToEnd(n: number) {
  const hub = await startHubProcess(
    writeGatewayConfig(
      {
        plain: { command: process.execPath, args: fixtureArgs('plain') },
        ab: {
          instances: [
            { command: process.execPath, args: fixtureArgs('ab-1') },
            { command: process.execPath, args: fixtureArgs('ab-2') },
          ],
        },
      },
      {
        experiments: {
          ab: {
            target: { tools: ['ab__echo'] },
            unit: 'session',
            arms: [
              { name: 'control', weight: 50, route: { instances: ['ab#1'] } },
              { name: 'treatment', weight: 50, route: { instances: ['ab#2'] } },
            ],
          },
        },
        pins: { global: { ab__echo: 'v1' } },
      },
    ),
  );
  const client = await httpClient(`${hub}/mcp`);
  const [plain, ab] = await timeInterleaved(
    [
      { client, tool: 'plain__echo' },
      { client, tool: 'ab__echo' },
    ],
    { text: 'x' },
    n,
    50,
  );
  const p = summarize(plain!);
  const a = summarize(ab!);
  return { plain: p, experimentAndPin: a, p50DifferenceUs: Math.round((a.p50 - p.p50) * 1000) };
}

/** The experiments section. */
export async function experimentsOverhead(options: BenchOptions): Promise<SectionResult> {
  const micro = inProcess(ITERATIONS);
  const e2e = await endToEnd(Math.min(2_000, options.calls));
  return {
    results: { inProcess: micro, endToEnd: e2e, targetUs: 20 },
    rows: [],
    notes: [],
    markdown: [
      '',
      `Experiments and pins, cost per call (target under 20 µs). In process, ${micro.iterations} iterations, best of 3, real SQLite stores:`,
      '',
      '| per call | µs |',
      '|---|---|',
      `| nothing configured (experiment lookup finds none, catalog-version compatibility check) | ${micro.baselineUs} |`,
      `| experiment on the tool (assign, exposure + outcome records) and a v1 pin (resolve, check two instances) | ${micro.withExperimentAndPinUs} |`,
      `| **overhead** | **${micro.overheadUs}** |`,
      '',
      `End to end through a hub process, ${e2e.plain.n} interleaved calls each: plain p50 ${e2e.plain.p50} ms, with experiment and pin p50 ${e2e.experimentAndPin.p50} ms (difference ${e2e.p50DifferenceUs} µs, within the noise of the call itself).`,
    ],
  };
}
