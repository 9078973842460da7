/**
 * What tracing costs per call (issue 13; goal: under 40 µs per call in process at 100% sampling),
 * against tracing off in the same run, with real components: the SDK exporting over OTLP/HTTP to a
 * real receiver on loopback (test/fixtures/otlp-receiver.ts, in a process of its own so decoding the
 * exports is not counted here), real gateways and stdio fixtures.
 *
 * 1. Latency of the tool chain with a terminal that returns at once (as operations.ts times it):
 *    without, and with the trace stage (request span, parent from `_meta`; the caller has the full
 *    view, so authorize decides nothing and has no span, as in a hub without scopes or policy).
 * 2. Latency of the tool chain of chains.ts over real gateways and fixtures (pool, upstream call):
 *    two gateways without a tracer (their difference is the noise between two gateway + fixture
 *    pairs on this machine), one with (attempt span, traceparent into `_meta`).
 * 3. This process's CPU per call on the path of 2, tracing off against on, in turns of whole runs; the
 *    traced turn ends with a flush, so serialising and sending every span is counted: the full cost.
 * 4. The price of one span with the SDK alone (7 attributes, like an attempt span): start + end, and
 *    its share of a JSON export over OTLP/HTTP, with a queue large enough that none is dropped.
 *
 * Latency variants take turns call by call. Everything after tracing starts runs with the API's
 * AsyncLocalStorage context manager registered (as a hub with tracing does); 1 is also timed before
 * that, for reference. At 100% sampling and tens of thousands of spans a second (1), the batch
 * processor's queue (2,048) fills between exports and drops spans rather than slow calls (the SDK's
 * design); `exported` says how many spans arrived against how many were made.
 */
import { spawn } from 'node:child_process';
import { ROOT_CONTEXT, SpanKind } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Hub } from '../../src/compose.js';
import { buildConfig } from '../../src/config/load.js';
import { anonymousPrincipal } from '../../src/core/principal.js';
import { AccessControl } from '../../src/gateway/access.js';
import { Gateway } from '../../src/gateway/gateway.js';
import { compose, type Pipeline, type Stage } from '../../src/mcp/pipeline/chain.js';
import { toolChain } from '../../src/mcp/pipeline/chains.js';
import type { RequestContext, ToolResult } from '../../src/mcp/pipeline/context.js';
import { authorizeStage } from '../../src/mcp/pipeline/stages/authorize.js';
import { errorsStage } from '../../src/mcp/pipeline/stages/errors.js';
import { pinStage } from '../../src/mcp/pipeline/stages/pin.js';
import { resolveStage } from '../../src/mcp/pipeline/stages/resolve.js';
import { sizeStage } from '../../src/mcp/pipeline/stages/size.js';
import { policySpan, toolTraceStage } from '../../src/mcp/pipeline/stages/trace.js';
import { validateStage } from '../../src/mcp/pipeline/stages/validate.js';
import { ArgumentValidator } from '../../src/mcp/validate.js';
import { openDb } from '../../src/store/db.js';
import { SqliteServerRegistry } from '../../src/store/servers-repo.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import type { Tracer } from '../../src/telemetry/trace-context.js';
import { startTracing } from '../../src/telemetry/tracing.js';
import { VERSION } from '../../src/version.js';
import { requestContextOf } from '../lib/pipeline.js';
import { fixtureArgs, ROOT, track, watchLines } from '../lib/procs.js';
import { summarize, type Summary } from '../lib/stats.js';
import type { BenchOptions, SectionResult } from '../run.js';

const ARGS = { text: 'hello' };
const GOAL_US = 40;
const SPAN_PRICE_N = 10_000;
const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

/**
 * Per-call µs of each variant, the variants taking turns call by call (the first of each turn rotates),
 * after a tenth of the calls as warm-up: background work (span exports, GC) falls on all of them alike.
 */
async function roundRobin(variants: readonly (() => Promise<unknown>)[], n: number): Promise<Summary[]> {
  for (const run of variants) for (let i = 0; i < Math.ceil(n / 10); i++) await run();
  const samples = variants.map(() => [] as number[]);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < variants.length; j++) {
      const k = (i + j) % variants.length;
      const t0 = performance.now();
      await variants[k]!();
      samples[k]!.push((performance.now() - t0) * 1000);
    }
  return samples.map((s) => summarize(s));
}

/**
 * This process's CPU µs per call (user + system) of each variant, run in turns of `n` calls, twice;
 * `settle` runs inside each turn's measurement (the traced one flushes its spans: exports count).
 */
async function cpuPerCall(
  variants: readonly { run: () => Promise<unknown>; settle?: () => Promise<void> }[],
  n: number,
) {
  const totals = variants.map(() => 0);
  for (let round = 0; round < 2; round++)
    for (const [k, v] of variants.entries()) {
      const c0 = process.cpuUsage();
      for (let i = 0; i < n; i++) await v.run();
      await v.settle?.();
      const c = process.cpuUsage(c0);
      totals[k]! += c.user + c.system;
    }
  return totals.map((t) => round(t / (2 * n), 1));
}

/** A gateway over its own store and stdio fixture `alpha`, started and with alpha__echo in its catalog. */
async function startGateway(dir: string, name: string, tracer?: Tracer): Promise<Gateway> {
  const config = buildConfig({
    store: { path: join(dir, `${name}.db`) },
    routing: { model: 'none' },
    log: { level: 'silent' },
    gateway: { healthIntervalMs: 60_000 },
    servers: { alpha: { command: process.execPath, args: fixtureArgs('alpha') } },
  });
  const gateway = new Gateway({
    config,
    log: silentLogger(),
    registry: new SqliteServerRegistry(openDb(config.store.path)),
    ...(tracer ? { tracer } : {}),
  });
  await gateway.start();
  for (let i = 0; i < 200 && !gateway.catalog.toolById.has('alpha__echo'); i++)
    await new Promise((r) => setTimeout(r, 25));
  return gateway;
}

/** A call's context: bench/ada calling alpha__echo, with an agent traceparent in `_meta`. */
function contextOf(gateway: Gateway, access: AccessControl, i: number): RequestContext {
  // requestContextOf reads only the hub's gateway (its catalog).
  const ctx = requestContextOf(
    { gateway } as unknown as Hub,
    access,
    anonymousPrincipal('bench', 'ada'),
    'alpha__echo',
    ARGS,
  );
  const traceId = (i + 1).toString(16).padStart(32, '0');
  return { ...ctx, meta: { traceparent: `00-${traceId}-00000000000000a1-01` } };
}

/** 4: this process's CPU µs to start and end one span, and its share of exporting it (best of 3 rounds). */
async function spanPrice(url: string, n = SPAN_PRICE_N): Promise<{ startEndUs: number; exportUs: number }> {
  // One more than n: a full batch would start its export inside the timed loop.
  const big = { maxQueueSize: n + 1, maxExportBatchSize: n + 1, scheduledDelayMillis: 3_600_000 };
  const provider = new BasicTracerProvider({
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url }), big)],
  });
  const tracer = provider.getTracer('bench');
  const attributes = {
    'rpc.system': 'mcp',
    'rpc.method': 'tools/call',
    'mcp.server': 'alpha',
    'switchboard.instance': 'alpha#1',
    'switchboard.retry': 0,
    'server.address': '127.0.0.1',
    'server.port': 8080,
  };
  const cpu = () => {
    const c = process.cpuUsage();
    return c.user + c.system;
  };
  let best = { startEndUs: Infinity, exportUs: Infinity };
  for (let r = 0; r < 3; r++) {
    const c0 = cpu();
    for (let i = 0; i < n; i++)
      tracer.startSpan('tools/call echo', { kind: SpanKind.CLIENT, attributes }, ROOT_CONTEXT).end();
    const c1 = cpu();
    await provider.forceFlush();
    const c2 = cpu();
    best = { startEndUs: Math.min(best.startEndUs, (c1 - c0) / n), exportUs: Math.min(best.exportUs, (c2 - c1) / n) };
  }
  await provider.shutdown();
  return { startEndUs: round(best.startEndUs, 1), exportUs: round(best.exportUs, 1) };
}

/** The OTLP receiver as a child process: its traces URL and its counters. */
async function startReceiver(): Promise<{ url: string; stats: () => Promise<{ spans: number; requests: number }> }> {
  const proc = track(
    spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'test/fixtures/otlp-receiver.ts')], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    }),
  );
  const url = await watchLines(proc.stdout!).waitFor(/^LISTENING (\S+)/, 'the OTLP receiver');
  const stats = async () =>
    (await (await fetch(url.replace(/\/v1\/traces$/, '/stats'))).json()) as { spans: number; requests: number };
  return { url, stats };
}

export async function tracing(options: BenchOptions): Promise<SectionResult> {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-bench-tracing-'));
  const receiver = await startReceiver();
  const gateways: Gateway[] = [];
  try {
    const n = Math.min(options.calls, 2_000);
    const access = new AccessControl();
    const validator = new ArgumentValidator();
    const plain = await startGateway(dir, 'plain');
    gateways.push(plain);
    const maxRequestBytes = plain.config.gateway.maxRequestBytes;
    const ok: ToolResult = { content: [{ type: 'text', text: 'alpha: hello' }] };
    const instant = async () => ok;
    const stages = (tracer?: Tracer): Stage<ToolResult>[] => [
      ...(tracer ? [toolTraceStage(tracer)] : []),
      errorsStage(),
      resolveStage(plain, access),
      policySpan(tracer, authorizeStage(access)),
      sizeStage(maxRequestBytes),
      pinStage(plain),
      validateStage(validator),
    ];
    const chainOff = compose(stages(), instant);
    let i = 0;
    const run = (chain: Pipeline<ToolResult>, gateway: Gateway) => () => chain(contextOf(gateway, access, i++));

    process.stderr.write('bench: tracing: chain before tracing started ...\n');
    const [pristine] = await roundRobin([run(chainOff, plain)], n * 5);
    const started = startTracing(
      { endpoint: receiver.url, headers: {}, sampler: { ratio: 1 }, serviceName: 'switchboard-bench' },
      { version: VERSION, log: silentLogger() },
    )!;
    const chainOn = compose(stages(started.tracer), instant);
    process.stderr.write('bench: tracing: chain off / on (100% sampled) ...\n');
    const [off, on] = await roundRobin([run(chainOff, plain), run(chainOn, plain)], n * 5);
    await started.flush();

    const traced = await startGateway(dir, 'traced', started.tracer);
    const other = await startGateway(dir, 'other');
    gateways.push(traced, other);
    const callOff = run(toolChain({ gateway: plain, access, validator, maxRequestBytes }), plain);
    const callOn = run(
      toolChain({ gateway: traced, access, validator, maxRequestBytes, tracer: started.tracer }),
      traced,
    );
    const callOther = run(toolChain({ gateway: other, access, validator, maxRequestBytes }), other);
    process.stderr.write('bench: tracing: gateway calls off / on / off ...\n');
    const [gOff, gOn, gOther] = await roundRobin([callOff, callOn, callOther], n);
    await started.flush();
    process.stderr.write('bench: tracing: CPU per gateway call, off / on ...\n');
    const [cpuOff, cpuOn] = await cpuPerCall([{ run: callOff }, { run: callOn, settle: () => started.flush() }], n);

    await started.shutdown();
    process.stderr.write('bench: tracing: the price of one span ...\n');
    const span = await spanPrice(receiver.url);
    const warm = (k: number) => k + Math.ceil(k / 10);
    // The request span per traced chain call; request + attempt per traced gateway call.
    const made = warm(n * 5) + warm(n) * 2 + 2 * n * 2 + 3 * SPAN_PRICE_N;
    const chain = {
      pristine: pristine!,
      off: off!,
      on: on!,
      overheadP50Us: round(on!.p50 - off!.p50),
      overheadP50UsVsPristine: round(on!.p50 - pristine!.p50),
    };
    const call = {
      off: gOff!,
      on: gOn!,
      otherOff: gOther!,
      overheadP50Us: round(gOn!.p50 - (gOff!.p50 + gOther!.p50) / 2),
      noiseP50Us: round(Math.abs(gOther!.p50 - gOff!.p50)),
    };
    const cpu = { offUs: cpuOff!, onUs: cpuOn!, overheadUs: round(cpuOn! - cpuOff!, 1) };
    const exported = { made, ...(await receiver.stats()) };
    const results = { goalUs: GOAL_US, chain, call, cpu, span, exported };
    return { results, rows: [], notes: [], markdown: markdown(results) };
  } finally {
    await Promise.all(gateways.map((g) => g.close()));
    rmSync(dir, { recursive: true, force: true });
  }
}

function markdown(r: {
  goalUs: number;
  chain: { pristine: Summary; off: Summary; on: Summary; overheadP50Us: number; overheadP50UsVsPristine: number };
  call: { off: Summary; on: Summary; otherOff: Summary; overheadP50Us: number; noiseP50Us: number };
  cpu: { offUs: number; onUs: number; overheadUs: number };
  span: { startEndUs: number; exportUs: number };
  exported: { made: number; spans: number; requests: number };
}): string[] {
  const us = (s: Summary) => `${s.p50} / ${s.p99}`;
  return [
    '',
    '## Tracing (issue 13)',
    '',
    '| measure, µs p50 / p99 | tracing off | tracing on (100% sampled, OTLP/HTTP export) | overhead p50 |',
    '|---|---|---|---|',
    `| tool chain, terminal answers at once | ${us(r.chain.off)} (before tracing started: ${us(r.chain.pristine)}) | ${us(r.chain.on)} | +${r.chain.overheadP50Us} µs (+${r.chain.overheadP50UsVsPristine} vs before; goal < ${r.goalUs}) |`,
    `| tool chain over a gateway and a stdio fixture | ${us(r.call.off)}; a second pair ${us(r.call.otherOff)} | ${us(r.call.on)} | +${r.call.overheadP50Us} µs against the mean of both (the two untraced pairs differ by ${r.call.noiseP50Us}; goal < ${r.goalUs}) |`,
    `| this process's CPU per gateway call, µs (exports included) | ${r.cpu.offUs} | ${r.cpu.onUs} | +${r.cpu.overheadUs} µs (goal < ${r.goalUs}) |`,
    `| one span with the SDK alone (7 attributes), CPU µs | | start + end ${r.span.startEndUs}; exporting it (OTLP/HTTP JSON) ${r.span.exportUs} | |`,
    '',
    `Spans made: ${r.exported.made}; received by the OTLP receiver: ${r.exported.spans} in ${r.exported.requests} export requests (the rest dropped by the batch processor's full queue, by design).`,
  ];
}
