/**
 * What audit, rate limits and metering cost (issue 12; goals: under 30 µs per call in process and no
 * change in p99 through the hub; at least 20,000 audit events/s written in batches on 2 cores; the
 * limit check with Redis against in memory), each against a baseline in the same run, with real
 * components: a hub's real gateway and fixture server, the audit writer on a SQLite file in a temp
 * dir, rate-limiter-flexible in memory and over a real redis-server (Debian's, started here).
 *
 * 1. The tool chain per call with a terminal that returns at once: without and with the audit stage
 *    (writer on a real file) and the limit stage (one rule that never refuses, and a quota), samples
 *    interleaved in blocks.
 * 2. tools/call over HTTP loopback: two hub processes, one with audit off and no limits, one with
 *    audit, two rules and a quota; interleaved per block (p50 and p99 side by side).
 * 3. Audit write throughput: 100,000 events through AuditWriter (batches of 512) against one
 *    transaction per event (what writing on the call path would cost), same store code.
 * 4. RateLimits.check: in memory against Redis on loopback, one at a time.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { argumentsRecorder } from '../../src/audit/redact.js';
import { AuditWriter } from '../../src/audit/writer.js';
import type { Hub } from '../../src/compose.js';
import { auditSchema } from '../../src/config/audit-schema.js';
import { limitsSchema, redisSchema } from '../../src/config/limits-schema.js';
import type { AuditEvent } from '../../src/core/audit-event.js';
import { anonymousPrincipal } from '../../src/core/principal.js';
import { AccessControl } from '../../src/gateway/access.js';
import { limitError, RateLimits } from '../../src/limits/rate-limits.js';
import { compose } from '../../src/mcp/pipeline/chain.js';
import type { ToolResult } from '../../src/mcp/pipeline/context.js';
import { toolAuditStage } from '../../src/mcp/pipeline/stages/audit.js';
import { errorsStage } from '../../src/mcp/pipeline/stages/errors.js';
import { limitStage } from '../../src/mcp/pipeline/stages/limit.js';
import { ArgumentValidator } from '../../src/mcp/validate.js';
import { isMetered, SqliteAuditRepo } from '../../src/store/audit-repo.js';
import { openDb } from '../../src/store/db.js';
import { SqliteUsageRepo } from '../../src/store/usage-repo.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { quotaError, Quotas } from '../../src/usage/quotas.js';
import { startRedis } from '../../test/fixtures/redis.js';
import { httpClient, timeInterleaved } from '../lib/clients.js';
import { coreToolStages, requestContextOf, startAlphaHub } from '../lib/pipeline.js';
import { fixtureArgs, startHubProcess } from '../lib/procs.js';
import { interleaveUs, summarize, type Summary } from '../lib/stats.js';
import type { BenchOptions, SectionResult } from '../run.js';

const ARGS = { text: 'hello' };
const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

/** The request context of one call: bench/ada calling alpha's echo. */
const contextOf = (hub: Hub, access: AccessControl) =>
  requestContextOf(hub, access, anonymousPrincipal('bench', 'ada'), 'alpha__echo', ARGS);

/** 1: the chain without and with audit + limits + quota, terminal answering at once. */
async function inProcess(dir: string, calls: number) {
  const log = silentLogger();
  const hub = await startAlphaHub(dir, log);
  const db = openDb(join(dir, 'ops.db'));
  try {
    const access = new AccessControl();
    const { gateway } = hub;
    const validator = new ArgumentValidator();
    const writer = new AuditWriter({ store: new SqliteAuditRepo(db), log, config: auditSchema.parse({}) });
    const limits = new RateLimits(
      limitsSchema.parse({ rules: [{ name: 'per-user', per: 'user', points: 1_000_000_000, intervalMs: 60_000 }] }),
      { log },
    );
    const quotas = new Quotas({
      quotas: [{ tenant: '*', period: 'day', calls: 1_000_000_000 }],
      reader: new SqliteUsageRepo(db),
    });
    const audit = {
      observers: [
        (e: AuditEvent) => writer.record(e),
        (e: AuditEvent) => {
          if (isMetered(e)) quotas.charge(e.tenant, { calls: 1, cost: 0 }, e.time);
        },
      ],
      describeArgs: argumentsRecorder({ arguments: 'hash', redact: [] }),
    };
    const admit = async (s: Parameters<typeof limits.check>[0]) => {
      const spent = quotas.check(s.tenant);
      if (spent) return quotaError(spent);
      const refusal = await limits.check(s);
      return refusal ? limitError(refusal) : undefined;
    };
    const ok: ToolResult = { content: [{ type: 'text', text: 'alpha: hello' }] };
    const terminal = async () => ok;
    const core = () => coreToolStages(gateway, access, validator);
    const [first, ...rest] = core();
    const none = compose([errorsStage(), ...core()], terminal);
    const auditOnly = compose([toolAuditStage(audit), errorsStage(), ...core()], terminal);
    const all = compose(
      [toolAuditStage(audit), errorsStage(), first!, rest[0]!, limitStage('call', admit), ...rest.slice(1)],
      terminal,
    );
    const [base, withAudit, withAll] = await interleaveUs(
      [() => none(contextOf(hub, access)), () => auditOnly(contextOf(hub, access)), () => all(contextOf(hub, access))],
      calls,
    );
    writer.close();
    await limits.close();
    const plus = (s: Summary) => round(s.p50 - base!.p50, 2);
    return {
      none: base!,
      audit: withAudit!,
      auditLimitsQuota: withAll!,
      overheadP50Us: { audit: plus(withAudit!), auditLimitsQuota: plus(withAll!) },
      targetUs: 30,
    };
  } finally {
    db.close();
    await hub.close();
  }
}

/** 2: tools/call over HTTP loopback, audit off and no limits against everything on. */
async function overHttp(dir: string, calls: number) {
  const write = (name: string, extra: Record<string, unknown>) => {
    const file = join(dir, `${name}.json`);
    writeFileSync(
      file,
      JSON.stringify({
        http: { port: 0 },
        store: { path: join(dir, `${name}.db`) },
        routing: { model: 'none' },
        log: { level: 'warn' },
        gateway: { healthIntervalMs: 60_000 },
        servers: { alpha: { command: process.execPath, args: fixtureArgs('alpha') } },
        ...extra,
      }),
    );
    return file;
  };
  const [offUrl, onUrl] = await Promise.all([
    startHubProcess(write('off', { audit: { enabled: false } })),
    startHubProcess(
      write('on', {
        limits: {
          rules: [
            { name: 'per-agent', per: 'agent', points: 1_000_000_000, intervalMs: 60_000 },
            { name: 'per-tool', per: 'tool', points: 1_000_000_000, intervalMs: 60_000 },
          ],
        },
        quotas: [{ tenant: '*', period: 'day', calls: 1_000_000_000 }],
        usage: { prices: { default: { perCall: 0.001 } } },
      }),
    ),
  ]);
  const [off, on] = await Promise.all([httpClient(`${offUrl}/mcp`), httpClient(`${onUrl}/mcp`)]);
  const [a, b] = await timeInterleaved(
    [
      { client: off, tool: 'alpha__echo' },
      { client: on, tool: 'alpha__echo' },
    ],
    ARGS,
    calls,
    Math.ceil(calls / 10),
  );
  await Promise.all([off.close(), on.close()]);
  const offS = summarize(a!);
  const onS = summarize(b!);
  return {
    auditOffMs: offS,
    allOnMs: onS,
    ratioP50: round(onS.p50 / offS.p50),
    ratioP99: round(onS.p99 / offS.p99),
  };
}

function eventOf(i: number): AuditEvent {
  return {
    time: Date.now(),
    tenant: i % 2 ? 'acme' : 'globex',
    agent: `agent-${i % 7}`,
    user: `user-${i % 13}`,
    session: 's',
    method: 'tools/call',
    tool: `srv__tool${i % 50}`,
    server: 'srv',
    instance: 'srv',
    decision: 'allow',
    outcome: i % 10 ? 'success' : 'isError',
    latencyMs: 1.5,
    bytesIn: 40,
    bytesOut: 120,
    argsHash: 'a'.repeat(64),
  };
}

/** 3: events/s written through the batching writer against one transaction per event. */
function throughput(dir: string) {
  const log = silentLogger();
  const batched = openDb(join(dir, 'batched.db'));
  const single = openDb(join(dir, 'single.db'));
  try {
    const n = 100_000;
    const writer = new AuditWriter({ store: new SqliteAuditRepo(batched), log, config: auditSchema.parse({}) });
    const t0 = performance.now();
    for (let i = 0; i < n; i++) writer.record(eventOf(i));
    writer.close(); // writes every buffered batch
    const batchedS = (performance.now() - t0) / 1000;
    const repo = new SqliteAuditRepo(single);
    const m = 5_000;
    const t1 = performance.now();
    for (let i = 0; i < m; i++) repo.append([eventOf(i)]);
    const singleS = (performance.now() - t1) / 1000;
    const batchedRate = Math.round(n / batchedS);
    const singleRate = Math.round(m / singleS);
    const verified = new SqliteAuditRepo(batched).verify();
    return {
      events: n,
      batchedPerS: batchedRate,
      perEventTransactionPerS: singleRate,
      ratio: round(batchedRate / singleRate),
      goalPerS: 20_000,
      chainVerifies: verified.ok,
    };
  } finally {
    batched.close();
    single.close();
  }
}

/** 4: one limit check, in memory against Redis on loopback. */
async function limitLatency(calls: number) {
  const log = silentLogger();
  const redis = await startRedis();
  try {
    const rules = limitsSchema.parse({
      rules: [{ name: 'per-user', per: 'user', points: 1_000_000_000, intervalMs: 60_000 }],
    });
    const memory = new RateLimits(rules, { log });
    const shared = new RateLimits(rules, { log, redis: redisSchema.parse(redis.url) });
    const subject = (i: number) => ({ kind: 'call' as const, tenant: 'default', agent: 'bench', user: `u${i % 100}` });
    const [mem, red] = await interleaveUs([(i) => memory.check(subject(i)), (i) => shared.check(subject(i))], calls);
    await Promise.all([memory.close(), shared.close()]);
    return { memoryUs: mem!, redisUs: red!, ratioP50: round(red!.p50 / mem!.p50, 1) };
  } finally {
    await redis.stop();
  }
}

export async function operations(options: BenchOptions): Promise<SectionResult> {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-bench-ops-'));
  try {
    const calls = Math.min(options.calls, 2_000);
    process.stderr.write('bench: operations: in process ...\n');
    const pipeline = await inProcess(dir, calls * 5);
    process.stderr.write('bench: operations: over HTTP ...\n');
    const http = await overHttp(dir, calls);
    process.stderr.write('bench: operations: audit throughput ...\n');
    const audit = throughput(dir);
    process.stderr.write('bench: operations: limit checks ...\n');
    const limits = await limitLatency(calls);
    const results = { pipeline, http, audit, limits };
    return { results, rows: [], notes: [], markdown: markdown(results) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function markdown(r: {
  pipeline: Awaited<ReturnType<typeof inProcess>>;
  http: Awaited<ReturnType<typeof overHttp>>;
  audit: ReturnType<typeof throughput>;
  limits: Awaited<ReturnType<typeof limitLatency>>;
}): string[] {
  const us = (s: Summary) => `${s.p50} / ${s.p99}`;
  return [
    '',
    '## Audit, limits and metering (issue 12)',
    '',
    '| measure | baseline | with | figure |',
    '|---|---|---|---|',
    `| tool chain per call, µs p50 / p99 (terminal answers at once) | ${us(r.pipeline.none)} | audit ${us(r.pipeline.audit)}; audit + limits + quota ${us(r.pipeline.auditLimitsQuota)} | +${r.pipeline.overheadP50Us.audit} / +${r.pipeline.overheadP50Us.auditLimitsQuota} µs p50 (goal < ${r.pipeline.targetUs}) |`,
    `| tools/call over HTTP loopback, ms p50 / p99 | audit off, no limits ${us(r.http.auditOffMs)} | all on ${us(r.http.allOnMs)} | ratio p50 ${r.http.ratioP50}, p99 ${r.http.ratioP99} |`,
    `| audit events written per second | one transaction per event ${r.audit.perEventTransactionPerS} | batched writer ${r.audit.batchedPerS} | ${r.audit.ratio}× (goal ≥ ${r.audit.goalPerS}/s; chain verifies: ${r.audit.chainVerifies}) |`,
    `| rate limit check, µs p50 / p99 | in memory ${us(r.limits.memoryUs)} | Redis on loopback ${us(r.limits.redisUs)} | ${r.limits.ratioP50}× p50 |`,
  ];
}
