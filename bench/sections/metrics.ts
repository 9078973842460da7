/**
 * What Prometheus metrics cost (issue 13; goal: under 5 µs per call in process), against metrics off
 * in the same run, with real components: an in-process hub's gateway and fixture server, the audit
 * writer on a SQLite file in a temp dir, the metrics registry and observer the hub composes.
 *
 * 1. The tool chain per call with a terminal that answers at once (as bench/sections/operations.ts):
 *    the audit stage feeding the audit writer, without and with the metrics observer; samples
 *    interleaved in blocks. Plus the observer alone, per event, over a large batch (steadier on a
 *    busy machine than the difference of two chains).
 * 2. `GET /metrics` on a hub whose catalog has 2,000 tools (one fixture server serving a generated
 *    catalog): scrape time and size with only the live gauges, then after one call of every tool
 *    (a counter series and a histogram of 17 series per tool).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { argumentsRecorder } from '../../src/audit/redact.js';
import { AuditWriter } from '../../src/audit/writer.js';
import { startHub, type Hub } from '../../src/compose.js';
import { buildConfig } from '../../src/config/load.js';
import { auditSchema } from '../../src/config/audit-schema.js';
import type { AuditEvent } from '../../src/core/audit-event.js';
import { anonymousPrincipal } from '../../src/core/principal.js';
import { AccessControl } from '../../src/gateway/access.js';
import { compose, type Stage } from '../../src/mcp/pipeline/chain.js';
import type { RequestContext, ToolResult } from '../../src/mcp/pipeline/context.js';
import { toolAuditStage, type AuditObserver } from '../../src/mcp/pipeline/stages/audit.js';
import { errorsStage } from '../../src/mcp/pipeline/stages/errors.js';
import { metricsObserver } from '../../src/mcp/pipeline/stages/metrics.js';
import { ArgumentValidator } from '../../src/mcp/validate.js';
import { SqliteAuditRepo } from '../../src/store/audit-repo.js';
import { openDb } from '../../src/store/db.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { Metrics } from '../../src/telemetry/metrics.js';
import { VERSION } from '../../src/version.js';
import { httpClient } from '../lib/clients.js';
import { coreToolStages, requestContextOf, startAlphaHub } from '../lib/pipeline.js';
import { fixtureArgs } from '../lib/procs.js';
import { interleaveUs, summarize, type Summary } from '../lib/stats.js';
import type { BenchOptions, SectionResult } from '../run.js';

const ARGS = { text: 'hello' };
const TOOLS = 2_000;
const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

/** 1: the chain with the audit writer, without and with the metrics observer; and the observer alone. */
async function inProcess(dir: string, calls: number) {
  const log = silentLogger();
  const hub = await startAlphaHub(dir, log);
  const db = openDb(join(dir, 'ops.db'));
  try {
    const access = new AccessControl();
    const { gateway } = hub;
    const validator = new ArgumentValidator();
    const writer = new AuditWriter({ store: new SqliteAuditRepo(db), log, config: auditSchema.parse({}) });
    const metrics = new Metrics({ tenantLabels: true, version: VERSION });
    const observe = metricsObserver(metrics);
    const record: AuditObserver = (e) => writer.record(e);
    const describeArgs = argumentsRecorder({ arguments: 'hash', redact: [] });
    const ok: ToolResult = { content: [{ type: 'text', text: 'alpha: hello' }] };
    // As the invoke terminal does: the instance that answered, so the latency histogram observes too.
    const terminal = async (ctx: RequestContext) => {
      (ctx.attempts ??= []).push('alpha');
      return ok;
    };
    const chain = (observers: AuditObserver[]) => {
      const stages: Stage<ToolResult>[] = [
        toolAuditStage({ observers, describeArgs }),
        errorsStage(),
        ...coreToolStages(gateway, access, validator),
      ];
      return compose(stages, terminal);
    };
    const off = chain([record]);
    const on = chain([record, observe]);
    const contextOf = () => requestContextOf(hub, access, anonymousPrincipal('bench', 'ada'), 'alpha__echo', ARGS);
    const [base, withMetrics] = await interleaveUs([() => off(contextOf()), () => on(contextOf())], calls);
    writer.close();

    // The observer alone: the event a successful echo call produces, many times over.
    const event: AuditEvent = {
      time: Date.now(),
      tenant: 'default',
      agent: 'ada',
      method: 'tools/call',
      tool: 'alpha__echo',
      server: 'alpha',
      instance: 'alpha',
      decision: 'allow',
      outcome: 'success',
      latencyMs: 1.2,
      bytesIn: 16,
      bytesOut: 40,
    };
    const n = 200_000;
    for (let i = 0; i < n / 10; i++) observe(event);
    const t0 = performance.now();
    for (let i = 0; i < n; i++) observe(event);
    const observerNs = round(((performance.now() - t0) * 1e6) / n, 0);
    return {
      off: base!,
      on: withMetrics!,
      overheadP50Us: round(withMetrics!.p50 - base!.p50, 2),
      overheadMeanUs: round(withMetrics!.mean - base!.mean, 2),
      observerNsPerCall: observerNs,
      goalUs: 5,
    };
  } finally {
    db.close();
    await hub.close();
  }
}

/** Times `n` scrapes of `url`: ms per scrape, and the body's size. */
async function scrapes(url: string, n: number): Promise<{ ms: Summary; bytes: number; series: number }> {
  let text = '';
  for (let i = 0; i < 3; i++) text = await (await fetch(url)).text();
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    text = await (await fetch(url)).text();
    samples.push(performance.now() - t0);
  }
  const series = text.split('\n').filter((l) => l !== '' && !l.startsWith('#')).length;
  return { ms: summarize(samples), bytes: Buffer.byteLength(text), series };
}

/** 2: /metrics with a 2,000-tool catalog, before and after a call of every tool. */
async function scrapeTime(dir: string) {
  const catalog = join(dir, 'catalog.json');
  const tools = Array.from({ length: TOOLS }, (_, i) => ({
    name: `tool_${String(i).padStart(4, '0')}`,
    description: `Benchmark tool number ${i}`,
    inputSchema: { type: 'object', properties: {} },
  }));
  writeFileSync(catalog, JSON.stringify({ servers: [{ name: 'big', tools }] }));
  const hub: Hub = await startHub(
    buildConfig({
      http: { port: 0 },
      store: { path: join(dir, 'scrape.db') },
      routing: { model: 'none' },
      log: { level: 'silent' },
      servers: { big: { command: process.execPath, args: fixtureArgs('big', ['--catalog', catalog]) } },
    }),
    { log: silentLogger() },
  );
  try {
    await hub.ready;
    const ids = hub.gateway.catalog.tools.filter((t) => t.server === 'big').map((t) => t.id);
    if (ids.length !== TOOLS) throw new Error(`the hub lists ${ids.length} tools of "big", expected ${TOOLS}`);
    const url = `${hub.url}/metrics`;
    const idle = await scrapes(url, 50);
    const client = await httpClient(`${hub.url}/mcp`);
    for (const name of ids) await client.callTool({ name, arguments: {} });
    await client.close();
    const busy = await scrapes(url, 50);
    return { tools: ids.length, liveGaugesOnly: idle, afterOneCallPerTool: busy };
  } finally {
    await hub.close();
  }
}

export async function metrics(options: BenchOptions): Promise<SectionResult> {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-bench-metrics-'));
  try {
    process.stderr.write('bench: metrics: in process ...\n');
    const pipeline = await inProcess(dir, Math.min(options.calls, 2_000) * 5);
    process.stderr.write(`bench: metrics: /metrics with ${TOOLS} tools ...\n`);
    const scrape = await scrapeTime(dir);
    const results = { pipeline, scrape };
    return { results, rows: [], notes: [], markdown: markdown(results) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function markdown(r: {
  pipeline: Awaited<ReturnType<typeof inProcess>>;
  scrape: Awaited<ReturnType<typeof scrapeTime>>;
}): string[] {
  const us = (s: Summary) => `${s.p50} / ${s.p99}`;
  const signed = (x: number) => (x >= 0 ? `+${x}` : `${x}`);
  const kb = (bytes: number) => `${round(bytes / 1024, 0)} KiB`;
  const { liveGaugesOnly: idle, afterOneCallPerTool: busy } = r.scrape;
  return [
    '',
    '## Prometheus metrics (issue 13)',
    '',
    '| measure | baseline | with | figure |',
    '|---|---|---|---|',
    `| tool chain per call, µs p50 / p99 (audit writer on; terminal answers at once) | metrics off ${us(r.pipeline.off)} | metrics on ${us(r.pipeline.on)} | ${signed(r.pipeline.overheadP50Us)} µs p50, ${signed(r.pipeline.overheadMeanUs)} µs mean (goal < ${r.pipeline.goalUs}) |`,
    `| the metrics observer alone, per call | | | ${r.pipeline.observerNsPerCall} ns |`,
    `| GET /metrics, ${r.scrape.tools}-tool catalog, ms p50 / p99 | live gauges only: ${us(idle.ms)} (${idle.series} series, ${kb(idle.bytes)}) | after one call of every tool: ${us(busy.ms)} (${busy.series} series, ${kb(busy.bytes)}) | |`,
  ];
}
