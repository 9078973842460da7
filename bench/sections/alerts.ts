/**
 * What the built-in alert engine costs (issue 13), with the engine the hub composes (alerts/ over the
 * config loader's rules), against the metrics in the same run:
 *
 * 1. Per call: the alert windows' audit observer against the metrics observer (the baseline every
 *    call already pays with metrics on), per event over a large batch, and the ratio.
 * 2. Per evaluation: every signal's rule (the README's eight kinds) evaluated over a live state of
 *    20, 200 and 2,000 servers (two instances each, one tenant) whose windows hold a call of every
 *    server in every bucket; ms per evaluation and its share of the default 15 s interval.
 */
import { AlertEngine } from '../../src/alerts/engine.js';
import { compileRule } from '../../src/alerts/rules.js';
import { AlertWindows } from '../../src/alerts/window.js';
import { buildConfig } from '../../src/config/load.js';
import type { AuditEvent } from '../../src/core/audit-event.js';
import { metricsObserver } from '../../src/mcp/pipeline/stages/metrics.js';
import { Metrics, type LiveState } from '../../src/telemetry/metrics.js';
import { VERSION } from '../../src/version.js';
import { summarize, type Summary } from '../lib/stats.js';
import type { BenchOptions, SectionResult } from '../run.js';

const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;
const EVERY_MS = 15_000;

/** One rule of every signal, each told to the log. */
const RULES = [
  { name: 'down', signal: 'server_down', forMs: 60_000 },
  { name: 'errors', signal: 'error_rate', above: 0.05 },
  { name: 'slow', signal: 'latency_p95', above: 2000 },
  { name: 'flapping', signal: 'circuit_flapping', above: 3 },
  { name: 'shrank', signal: 'catalog_shrank', above: 0.2 },
  { name: 'no-match', signal: 'no_match_rate', above: 0.3 },
  { name: 'queue', signal: 'audit_queue', above: 1000 },
  { name: 'dropped', signal: 'audit_dropped' },
].map((rule) => ({ ...rule, notify: ['log'] }));

function callEvent(server: string, time: number): AuditEvent {
  return {
    time,
    tenant: 'default',
    agent: 'ada',
    method: 'tools/call',
    tool: `${server}__echo`,
    server,
    instance: server,
    decision: 'allow',
    outcome: 'success',
    latencyMs: 1.2,
    bytesIn: 16,
    bytesOut: 40,
  };
}

/** ns per event of `observe`, over `n` events after a warm-up. */
function perEvent(observe: (event: AuditEvent) => void, event: AuditEvent, n: number): number {
  for (let i = 0; i < n / 10; i++) observe(event);
  const t0 = performance.now();
  for (let i = 0; i < n; i++) observe(event);
  return round(((performance.now() - t0) * 1e6) / n, 0);
}

/** 1: the alert windows' observer against the metrics observer, per event. */
function observers(n: number) {
  const windows = new AlertWindows();
  const config = buildConfig({ alerts: { receivers: { log: { log: {} } }, rules: RULES } });
  for (const rule of config.alerts!.rules) compileRule(rule, windows);
  const metrics = metricsObserver(new Metrics({ tenantLabels: true, version: VERSION }));
  const event = callEvent('alpha', Date.now());
  // Interleaved rounds: a busy machine slows both alike.
  const a: number[] = [];
  const m: number[] = [];
  for (let round = 0; round < 5; round++) {
    m.push(perEvent(metrics, event, n));
    a.push(perEvent((e) => windows.observe(e), event, n));
  }
  const metricsNs = summarize(m).p50;
  const alertsNs = summarize(a).p50;
  return { metricsObserverNs: metricsNs, alertsObserverNs: alertsNs, ratio: round(alertsNs / metricsNs, 2) };
}

/** 2: one evaluation of every rule over `servers` servers, each with a call in every bucket of the windows. */
function evaluation(servers: number, evaluations: number): { servers: number; ms: Summary; shareOfInterval: string } {
  const windows = new AlertWindows();
  const config = buildConfig({ alerts: { receivers: { log: { log: {} } }, rules: RULES } });
  const rules = config.alerts!.rules.map((rule) => compileRule(rule, windows));
  const names = Array.from({ length: servers }, (_, i) => `s${i}`);
  const state: LiveState = {
    tenants: [
      {
        tenant: 'default',
        catalogVersion: 1,
        catalog: { tools: servers * 10, prompts: 0, resources: 0 },
        servers: names.map((server) => ({
          server,
          up: true,
          tools: 10,
          instances: ['a', 'b'].map((i) => ({
            instance: `${server}-${i}`,
            health: 'healthy' as const,
            circuit: 'closed' as const,
            inFlight: 0,
            reconnects: 0,
            circuitOpens: 0,
          })),
        })),
      },
    ],
    audit: { buffered: 0, written: 0, dropped: 0, failedBatches: 0 },
  };
  const start = Date.now() - 30 * 60_000;
  // A call of every server every 10 s over the last 30 minutes: every bucket of every window holds one.
  for (let t = start; t <= Date.now(); t += 10_000) for (const server of names) windows.observe(callEvent(server, t));
  let now = Date.now();
  const engine = new AlertEngine({ rules, read: () => state, notify: () => {}, now: () => now });
  for (let i = 0; i < 5; i++) engine.evaluate();
  const samples: number[] = [];
  for (let i = 0; i < evaluations; i++) {
    now += EVERY_MS;
    const t0 = performance.now();
    engine.evaluate();
    samples.push(performance.now() - t0);
  }
  const ms = summarize(samples);
  return { servers, ms, shareOfInterval: `${round((ms.p50 / EVERY_MS) * 100, 4)}%` };
}

export async function alerts(options: BenchOptions): Promise<SectionResult> {
  process.stderr.write('bench: alerts: observers ...\n');
  const observer = observers(Math.max(20_000, Math.min(options.calls, 2_000) * 50));
  process.stderr.write('bench: alerts: evaluations ...\n');
  const evaluations = [20, 200, 2_000].map((n) => evaluation(n, n >= 2_000 ? 20 : 100));
  const results = { observer, evaluations, evaluateEveryMs: EVERY_MS };
  return { results, rows: [], notes: [], markdown: markdown(results) };
}

function markdown(r: {
  observer: ReturnType<typeof observers>;
  evaluations: ReturnType<typeof evaluation>[];
}): string[] {
  return [
    '',
    '## Built-in alert engine (issue 13)',
    '',
    '| measure | baseline | alerts | figure |',
    '|---|---|---|---|',
    `| audit observer per call, ns | metrics observer ${r.observer.metricsObserverNs} | alert windows ${r.observer.alertsObserverNs} | ${r.observer.ratio}× the metrics observer |`,
    ...r.evaluations.map(
      (e) =>
        `| one evaluation of 8 rules, ${e.servers} servers × 2 instances, ms p50 / p99 | | ${e.ms.p50} / ${e.ms.p99} | ${e.shareOfInterval} of the 15 s interval |`,
    ),
  ];
}
