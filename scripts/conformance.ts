/**
 * Conformance through the gateway: runs the protocol's own server suite
 * (`@modelcontextprotocol/conformance`, pinned 0.1.13, the last release that runs on Node 20) twice
 * against our conformance fixture (test/fixtures/conformance-server.ts): once directly, once through
 * a Switchboard hub in front of it (prefixes off, full exposure, so the agent sees exactly the
 * fixture's tools). A scenario that passes directly but fails through the gateway is a gateway bug;
 * one that fails directly is a fixture bug. Both runs go concurrently, each bounded by a timeout.
 *
 *   npx tsx scripts/conformance.ts [--scenario NAME]... [--timeout-ms N] [--scenario-timeout-ms N]
 *                                  [--keep] [--log LEVEL]
 *
 * Prints one row per scenario (direct, through gateway, failure messages) and exits 1 when any
 * scenario passes directly but not through the gateway (or a run produced no result), else 0.
 * test/conformance.test.ts imports `runConformance` and asserts the same.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { buildConfig } from '../src/config/load.js';
import { startHub, type Hub } from '../src/compose.js';
import { createLogger, silentLogger, type Logger } from '../src/telemetry/logger.js';
import { startConformanceServer } from '../test/fixtures/conformance-server.js';

const ROOT = resolve(import.meta.dirname, '..');
/** The suite's CLI, run with this process's Node (no npx: no registry lookup, no shell). */
const CLI = join(ROOT, 'node_modules/@modelcontextprotocol/conformance/dist/index.js');
/** The pinned suite version; checked against the installed package so a silent upgrade is noticed. */
export const SUITE_VERSION = '0.1.13';

/** One check as the suite writes it to `checks.json`. */
export interface Check {
  readonly id: string;
  readonly name: string;
  readonly description?: string;
  readonly status: 'SUCCESS' | 'FAILURE' | 'WARNING' | 'INFO' | 'SKIPPED';
  readonly errorMessage?: string;
  readonly details?: unknown;
}

/** A scenario's outcome in one run: pass = no FAILURE check (the suite's own rule); missing = no result. */
export interface ScenarioOutcome {
  readonly scenario: string;
  readonly status: 'pass' | 'fail' | 'missing';
  /** `name: errorMessage` of each FAILURE check (or why there is no result). */
  readonly failures: string[];
  /** `name: errorMessage` of each WARNING check (informational: warnings do not fail a scenario). */
  readonly warnings: string[];
  readonly checks: Check[];
}

/** One run of the suite against one URL. */
export interface SuiteRun {
  readonly url: string;
  readonly outcomes: Map<string, ScenarioOutcome>;
  /** The CLI's exit code; null when it was killed. */
  readonly exitCode: number | null;
  readonly timedOut: boolean;
  /** The last part of the CLI's stdout and stderr, for diagnosis. */
  readonly outputTail: string;
  readonly ms: number;
}

/** Both runs and their comparison. */
export interface ConformanceReport {
  readonly scenarios: string[];
  readonly direct: SuiteRun;
  readonly gateway: SuiteRun;
  /** Scenarios that pass directly but not through the gateway: the gateway's to-do list. */
  readonly regressions: string[];
  /** Scenarios that fail directly (the fixture is wrong, or the suite cannot run). */
  readonly directFailures: string[];
  readonly ms: number;
}

/** Options of `runConformance`. */
export interface ConformanceOptions {
  /** Only these scenarios (default: all server scenarios of the suite). */
  readonly scenarios?: readonly string[];
  /** Bound on each whole-suite run (default 120 s). */
  readonly timeoutMs?: number;
  /** Bound on each scenario run on its own (default 40 s). */
  readonly scenarioTimeoutMs?: number;
  /** The hub's logger (default silent). */
  readonly log?: Logger;
  /** Keep the results folder (the suite's checks.json files) and say where it is. */
  readonly keep?: boolean;
}

/** Runs the CLI with `args`; kills it after `timeoutMs`. */
function runCli(
  args: string[],
  timeoutMs: number,
): Promise<{ code: number | null; timedOut: boolean; output: string; lastScenario?: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    let lastScenario: string | undefined;
    const collect = (chunk: Buffer): void => {
      output = (output + chunk.toString()).slice(-64_000);
      for (const match of chunk.toString().matchAll(/=== Running scenario: (\S+) ===/g)) lastScenario = match[1];
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      fail(error);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      done({ code, timedOut, output, ...(lastScenario ? { lastScenario } : {}) });
    });
  });
}

/** The server scenarios the installed suite knows (`conformance list --server`). */
export async function listScenarios(): Promise<string[]> {
  const installed = JSON.parse(readFileSync(join(CLI, '../../package.json'), 'utf8')) as { version: string };
  if (installed.version !== SUITE_VERSION)
    throw new Error(`conformance ${installed.version} is installed, ${SUITE_VERSION} is pinned (npm ci)`);
  const { code, output } = await runCli(['list', '--server'], 30_000);
  if (code !== 0) throw new Error(`conformance list failed (${code}): ${output}`);
  return [...output.matchAll(/^\s+- (\S+)$/gm)].map((m) => m[1]!);
}

/**
 * Reads the checks a scenario left in `dir` (`server-<scenario>-<ISO time>/checks.json`), if any. The
 * suite creates the folder before it runs the scenario, so a killed run leaves one without checks.json.
 */
function readChecks(dir: string, scenario: string): Check[] | undefined {
  const pattern = new RegExp(`^server-${scenario.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}-\\d{4}-\\d\\d-\\d\\dT`);
  const folders = existsSync(dir) ? readdirSync(dir).filter((name) => pattern.test(name)) : [];
  for (const folder of folders.sort().reverse()) {
    const file = join(dir, folder, 'checks.json');
    if (!existsSync(file)) continue;
    try {
      return JSON.parse(readFileSync(file, 'utf8')) as Check[];
    } catch {
      return undefined; // half-written (the run was killed while saving): no result
    }
  }
  return undefined;
}

/** `name: message`, plus the tool's own answer when the check recorded one (it often says why). */
function describe(c: Check): string {
  const result = (c.details as { result?: { isError?: boolean; content?: { type: string; text?: string }[] } })?.result;
  const said = result?.content?.find((b) => b.type === 'text')?.text;
  const answer = said ? ` [tool answered${result?.isError ? ' isError' : ''}: ${said}]` : '';
  return `${c.name}: ${c.errorMessage ?? c.description ?? c.status}${answer}`;
}

/** Bounds of one suite run. */
export interface SuiteLimits {
  /** The whole-suite process (default 120 s). */
  readonly suiteMs: number;
  /** One scenario run on its own (default 40 s; the suite's client waits up to 60 s for an answer). */
  readonly scenarioMs: number;
}

/** The outcome of `scenario` from what it left in `outDir`, or `missing` with `why`. */
function outcomeOf(outDir: string, scenario: string, why: string): ScenarioOutcome {
  const checks = readChecks(outDir, scenario);
  if (!checks) return { scenario, status: 'missing', failures: [why], warnings: [], checks: [] };
  const failures = checks.filter((c) => c.status === 'FAILURE').map(describe);
  const warnings = checks.filter((c) => c.status === 'WARNING').map(describe);
  return { scenario, status: failures.length > 0 ? 'fail' : 'pass', failures, warnings, checks };
}

/**
 * Runs `scenarios` against `url`, results under `outDir`. The whole suite runs in one process (the
 * fast path, about 2 s against a healthy server); scenarios run one by one when only some are asked
 * for, and when the whole-suite process was killed on its timeout those it never reached are run on
 * their own, so one hanging scenario does not hide the results of the rest.
 */
export async function runSuite(
  url: string,
  scenarios: readonly string[],
  outDir: string,
  limits: SuiteLimits,
  all: boolean,
): Promise<SuiteRun> {
  const started = Date.now();
  const outcomes = new Map<string, ScenarioOutcome>();
  let output = '';
  let timedOut = false;
  let exitCode: number | null = 0;
  let pending = [...scenarios];
  if (all) {
    const run = await runCli(['server', '--url', url, '--suite', 'all', '-o', outDir], limits.suiteMs);
    ({ output, timedOut } = run);
    exitCode = run.code;
    for (const scenario of scenarios) {
      const hung = run.timedOut && run.lastScenario === scenario;
      const why = hung ? `suite killed after ${limits.suiteMs} ms while running this scenario` : 'no checks.json';
      const outcome = outcomeOf(outDir, scenario, `${why} (suite exit ${run.code})`);
      if (outcome.status !== 'missing' || hung || !run.timedOut) outcomes.set(scenario, outcome);
    }
    pending = scenarios.filter((s) => !outcomes.has(s));
  }
  for (const scenario of pending) {
    const run = await runCli(['server', '--url', url, '--scenario', scenario, '-o', outDir], limits.scenarioMs);
    output += run.output;
    timedOut ||= run.timedOut;
    if (run.code !== 0 && exitCode === 0) exitCode = run.code;
    const why = run.timedOut ? `scenario killed after ${limits.scenarioMs} ms` : `no checks.json (exit ${run.code})`;
    outcomes.set(scenario, outcomeOf(outDir, scenario, why));
  }
  const ordered = new Map(scenarios.map((s) => [s, outcomes.get(s)!]));
  return { url, outcomes: ordered, exitCode, timedOut, outputTail: output.slice(-8_000), ms: Date.now() - started };
}

/** Starts a hub in front of one upstream URL: no prefixes, full exposure (no meta-tools), lexical routing. */
export async function startGatewayFor(upstreamUrl: string, storeDir: string, log: Logger): Promise<Hub> {
  const config = buildConfig({
    gateway: { prefix: 'never', connectTimeoutMs: 10_000, callTimeoutMs: 15_000, drainTimeoutMs: 1_000 },
    http: { host: '127.0.0.1', port: 0 },
    routing: { exposure: 'full', model: 'none' },
    store: { path: join(storeDir, 'switchboard.db') },
    log: { level: 'silent' },
    servers: { conformance: { type: 'streamable-http', url: upstreamUrl } },
  });
  const hub = await startHub(config, { log });
  await hub.ready;
  return hub;
}

/** Starts the fixture and a hub, runs the suite directly and through the hub, and compares. */
export async function runConformance(options: ConformanceOptions = {}): Promise<ConformanceReport> {
  const started = Date.now();
  const limits: SuiteLimits = {
    suiteMs: options.timeoutMs ?? 120_000,
    scenarioMs: options.scenarioTimeoutMs ?? 40_000,
  };
  const work = mkdtempSync(join(tmpdir(), 'switchboard-conformance-'));
  const fixture = await startConformanceServer();
  let hub: Hub | undefined;
  try {
    const known = await listScenarios();
    const unknown = (options.scenarios ?? []).filter((s) => !known.includes(s));
    if (unknown.length > 0) throw new Error(`no such server scenario: ${unknown.join(', ')}`);
    const scenarios = options.scenarios?.length ? [...options.scenarios] : known;
    const all = scenarios.length === known.length;
    hub = await startGatewayFor(fixture.url, work, options.log ?? silentLogger());
    // allSettled: neither run may still be writing into `work` when `finally` removes it.
    const runs = await Promise.allSettled([
      runSuite(fixture.url, scenarios, join(work, 'direct'), limits, all),
      runSuite(`${hub.url}/mcp`, scenarios, join(work, 'gateway'), limits, all),
    ]);
    const [direct, gateway] = runs.map((r) => {
      if (r.status === 'rejected') throw r.reason;
      return r.value;
    }) as [SuiteRun, SuiteRun];
    const passes = (run: SuiteRun, s: string): boolean => run.outcomes.get(s)?.status === 'pass';
    return {
      scenarios,
      direct,
      gateway,
      regressions: scenarios.filter((s) => passes(direct, s) && !passes(gateway, s)),
      directFailures: scenarios.filter((s) => !passes(direct, s)),
      ms: Date.now() - started,
    };
  } finally {
    await hub?.close();
    await fixture.close();
    if (options.keep) process.stderr.write(`results kept in ${work}\n`);
    else rmSync(work, { recursive: true, force: true });
  }
}

/** The report as a table (scenario, direct, through gateway), then each failure's messages. */
export function formatReport(report: ConformanceReport): string {
  const mark = (o: ScenarioOutcome | undefined): string =>
    !o ? '-' : o.status === 'pass' ? (o.warnings.length ? `pass (${o.warnings.length}w)` : 'pass') : o.status;
  const width = Math.max(8, ...report.scenarios.map((s) => s.length));
  const lines = [`${'scenario'.padEnd(width)}  direct       gateway`, `${'-'.repeat(width)}  -----------  -----------`];
  for (const s of report.scenarios)
    lines.push(
      `${s.padEnd(width)}  ${mark(report.direct.outcomes.get(s)).padEnd(11)}  ${mark(report.gateway.outcomes.get(s))}`,
    );
  const count = (run: SuiteRun): number => [...run.outcomes.values()].filter((o) => o.status === 'pass').length;
  const n = report.scenarios.length;
  lines.push('', `direct ${count(report.direct)}/${n}, through gateway ${count(report.gateway)}/${n}`);
  lines.push(`(${report.direct.ms} ms direct, ${report.gateway.ms} ms through gateway, ${report.ms} ms in all)`);
  for (const [label, run] of [
    ['direct', report.direct],
    ['through gateway', report.gateway],
  ] as const) {
    const failed = [...run.outcomes.values()].filter((o) => o.status !== 'pass');
    if (failed.length === 0) continue;
    lines.push('', `Failures ${label}:`);
    for (const o of failed) lines.push(`  ${o.scenario}:`, ...o.failures.map((f) => `    - ${f}`));
    if (run.timedOut) lines.push(`  (a run was killed on its timeout; last output:)`, run.outputTail.slice(-2_000));
  }
  return lines.join('\n');
}

// Command line: print the table; exit 1 on any scenario that passes directly but not through the gateway.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({
    options: {
      scenario: { type: 'string', multiple: true },
      'timeout-ms': { type: 'string', default: '120000' },
      'scenario-timeout-ms': { type: 'string', default: '40000' },
      keep: { type: 'boolean', default: false },
      log: { type: 'string', default: 'silent' },
    },
  });
  const report = await runConformance({
    scenarios: values.scenario ?? [],
    timeoutMs: Number(values['timeout-ms']),
    scenarioTimeoutMs: Number(values['scenario-timeout-ms']),
    keep: values.keep ?? false,
    log: values.log === 'silent' ? silentLogger() : createLogger({ level: values.log ?? 'info' }),
  });
  process.stdout.write(`${formatReport(report)}\n`);
  if (report.directFailures.length > 0)
    process.stdout.write(`\nfixture problem: fails directly: ${report.directFailures.join(', ')}\n`);
  if (report.regressions.length > 0)
    process.stdout.write(`\nfails only through the gateway: ${report.regressions.join(', ')}\n`);
  process.exit(report.regressions.length > 0 || report.directFailures.length > 0 ? 1 : 0);
}
