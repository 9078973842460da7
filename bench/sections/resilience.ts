/**
 * Resilient routing under faults, each figure against its own baseline in the same run:
 *
 * 1. Fault run: 10,000 calls of a read-only tool (8 concurrent clients) through the hub to a
 *    server with two HTTP replicas, while one replica is killed (SIGKILL) and restarted twice.
 *    Reports failed calls (goal 0), the time from each kill to its circuit opening (the admin API
 *    polled every 10 ms; each kill waits until the replica is back in service), and p50/p99 of calls started within 2 s after a kill against calls in
 *    the steady state before the first kill.
 * 2. Throughput of a CPU-bound tool with one versus two replicas (stdio), 8 concurrent clients,
 *    windows in A B B A order.
 * 3. Fan-out latency: a `merge` virtual tool over three branches (10, 25 and 50 ms) against a
 *    call of the slowest branch alone, interleaved; a fan-out should cost about the slowest
 *    branch, not the sum (85 ms).
 */
import type { Client } from '@modelcontextprotocol/client';
import { httpClient, timeInterleaved, waitForTool } from '../lib/clients.js';
import { fixtureArgs, startHttpFixtureProcess, startHubProcess, writeGatewayConfig } from '../lib/procs.js';
import { summarize, type Summary } from '../lib/stats.js';
import type { BenchOptions, SectionResult } from '../run.js';

const FAULT_CALLS = 10_000;
const CLIENTS = 8;
const FAULT_WINDOW_MS = 2_000;

interface CallRecord {
  readonly start: number;
  readonly ms: number;
  readonly ok: boolean;
  readonly error?: string;
}

interface InstanceView {
  instance: string;
  circuit: { state: string; opens: number };
  health: string;
}

async function instanceOf(hub: string, server: string, id: string): Promise<InstanceView | undefined> {
  const body = (await (await fetch(`${hub}/v1/servers`)).json()) as {
    servers: { name: string; instances: InstanceView[] }[];
  };
  return body.servers.find((s) => s.name === server)?.instances.find((i) => i.instance === id);
}

/** Polls until the instance's circuit has opened `opens` times; resolves with the ms it took. */
async function timeToOpen(hub: string, killedAt: number, opens: number): Promise<number> {
  for (;;) {
    const view = await instanceOf(hub, 'rep', 'rep#1');
    if (view && view.circuit.opens >= opens) return performance.now() - killedAt;
    if (performance.now() - killedAt > 30_000) return Number.NaN;
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function faultRun(calls: number): Promise<Record<string, unknown> & { markdown: string[] }> {
  const r1 = await startHttpFixtureProcess('r1');
  const r2 = await startHttpFixtureProcess('r2');
  const hub = await startHubProcess(
    writeGatewayConfig(
      { rep: { instances: [{ url: r1.url }, { url: r2.url }], circuit: { openMs: 1_000 } } },
      { gateway: { healthIntervalMs: 1_000, healthTimeoutMs: 1_000 } },
    ),
  );
  const clients: Client[] = [];
  for (let i = 0; i < CLIENTS; i++) clients.push(await httpClient(`${hub}/mcp`));
  await waitForTool(clients[0]!, 'rep__echo');
  for (const c of clients) await c.callTool({ name: 'rep__echo', arguments: { text: 'warm' } });

  const records: CallRecord[] = [];
  const kills: { at: number; restartedAt?: number; openMs?: number }[] = [];
  let current = r1;
  let next = 0;
  // Kill at 20% and 55% of the run; restart on the same port 1.5 s after each kill.
  const killAt = [Math.floor(calls * 0.2), Math.floor(calls * 0.55)];
  const pending: Promise<void>[] = [];
  const killOne = async (): Promise<void> => {
    // Kill a replica that is in service (after a restart, the gateway reconnects with backoff).
    for (let waited = 0; waited < 30_000 && (await instanceOf(hub, 'rep', 'rep#1'))?.health !== 'healthy'; waited += 50)
      await new Promise((r) => setTimeout(r, 50));
    const at = performance.now();
    const kill = { at } as { at: number; restartedAt?: number; openMs?: number };
    kills.push(kill);
    current.proc.kill('SIGKILL');
    const opened = timeToOpen(hub, at, kills.length);
    await new Promise((r) => setTimeout(r, 1_500));
    current = await startHttpFixtureProcess('r1', [], r1.port);
    kill.restartedAt = performance.now() - at;
    kill.openMs = Math.round((await opened) * 100) / 100;
  };
  const started = performance.now();
  await Promise.all(
    clients.map(async (client) => {
      while (next < calls) {
        const i = next++;
        if (killAt.includes(i)) pending.push(killOne());
        const t0 = performance.now();
        try {
          const result = await client.callTool({ name: 'rep__echo', arguments: { text: String(i) } });
          records.push({
            start: t0,
            ms: performance.now() - t0,
            ok: result.isError !== true,
            ...(result.isError ? { error: JSON.stringify(result.content).slice(0, 200) } : {}),
          });
        } catch (error) {
          records.push({ start: t0, ms: performance.now() - t0, ok: false, error: (error as Error).message });
        }
      }
    }),
  );
  await Promise.all(pending);
  const seconds = (performance.now() - started) / 1000;
  const firstKill = kills[0]?.at ?? Number.POSITIVE_INFINITY;
  const steady = records.filter((r) => r.start < firstKill).map((r) => r.ms);
  const fault = records
    .filter((r) => kills.some((k) => r.start >= k.at && r.start < k.at + FAULT_WINDOW_MS))
    .map((r) => r.ms);
  const failed = records.filter((r) => !r.ok);
  const steadySummary = summarize(steady);
  const faultSummary = summarize(fault);
  const back = await instanceOf(hub, 'rep', 'rep#1');
  const extraP99 = Math.round((faultSummary.p99 - steadySummary.p99) * 1000) / 1000;
  return {
    calls: records.length,
    failed: failed.length,
    failures: failed.slice(0, 5).map((f) => f.error),
    callsPerSecond: Math.round(records.length / seconds),
    kills: kills.map((k) => ({ killToCircuitOpenMs: k.openMs, restartedAfterMs: Math.round(k.restartedAt ?? 0) })),
    steady: steadySummary,
    duringFault: faultSummary,
    extraP99Ms: extraP99,
    killedReplicaAtEnd: back ? { health: back.health, circuit: back.circuit } : undefined,
    markdown: [
      '',
      `Fault run: ${records.length} calls of a read-only tool, ${CLIENTS} concurrent clients, two HTTP replicas; replica 1 killed (SIGKILL) twice and restarted 1.5 s after each kill:`,
      '',
      '| failed calls | kill -> circuit open (ms) | steady p50 / p99 (ms) | within 2 s of a kill p50 / p99 (ms) | extra p99 | calls/s |',
      '|---|---|---|---|---|---|',
      `| ${failed.length} | ${kills.map((k) => k.openMs).join(', ')} | ${steadySummary.p50} / ${steadySummary.p99} | ${faultSummary.p50} / ${faultSummary.p99} | ${extraP99} ms | ${Math.round(records.length / seconds)} |`,
    ],
  };
}

interface Side {
  readonly clients: Client[];
  readonly tool: string;
  calls: number;
  errors: number;
  seconds: number;
}

async function window(side: Side, ms: number): Promise<void> {
  const started = performance.now();
  const deadline = started + ms;
  await Promise.all(
    side.clients.map(async (c) => {
      while (performance.now() < deadline) {
        const r = await c.callTool({ name: side.tool, arguments: { ms: 5 } }).catch(() => ({ isError: true }));
        if (r.isError) side.errors++;
        else side.calls++;
      }
    }),
  );
  side.seconds += (performance.now() - started) / 1000;
}

async function replicaThroughput(durationMs: number) {
  const hub = await startHubProcess(
    writeGatewayConfig({
      one: { command: process.execPath, args: fixtureArgs('one') },
      two: {
        instances: [
          { command: process.execPath, args: fixtureArgs('two-a') },
          { command: process.execPath, args: fixtureArgs('two-b') },
        ],
      },
    }),
  );
  const open = async (tool: string): Promise<Side> => {
    const clients: Client[] = [];
    for (let i = 0; i < CLIENTS; i++) clients.push(await httpClient(`${hub}/mcp`));
    await waitForTool(clients[0]!, tool);
    await Promise.all(clients.map((c) => c.callTool({ name: tool, arguments: { ms: 5 } })));
    return { clients, tool, calls: 0, errors: 0, seconds: 0 };
  };
  const one = await open('one__cpu');
  const two = await open('two__cpu');
  for (const side of [one, two, two, one]) await window(side, durationMs / 2);
  const rate = (s: Side) => ({ calls: s.calls, errors: s.errors, perSecond: Math.round(s.calls / s.seconds) });
  return {
    one: rate(one),
    two: rate(two),
    ratio: Math.round((rate(two).perSecond / rate(one).perSecond) * 1000) / 1000,
  };
}

async function fanoutLatency(n: number): Promise<{ slowest: Summary; fanout: Summary; ratioP50: number }> {
  const hub = await startHubProcess(
    writeGatewayConfig(
      {
        f10: { command: process.execPath, args: fixtureArgs('f10', ['--delay-ms', '10']) },
        f25: { command: process.execPath, args: fixtureArgs('f25', ['--delay-ms', '25']) },
        f50: { command: process.execPath, args: fixtureArgs('f50', ['--delay-ms', '50']) },
      },
      { virtualTools: { search_all: { tools: ['f10__search', 'f25__search', 'f50__search'], strategy: 'merge' } } },
    ),
  );
  const client = await httpClient(`${hub}/mcp`);
  await waitForTool(client, 'f50__search');
  await waitForTool(client, 'switchboard__search_all');
  const [slowest, fanout] = await timeInterleaved(
    [
      { client, tool: 'f50__search' },
      { client, tool: 'switchboard__search_all' },
    ],
    { query: 'q' },
    n,
    10,
    25,
  );
  const s = summarize(slowest!);
  const f = summarize(fanout!);
  return { slowest: s, fanout: f, ratioP50: Math.round((f.p50 / s.p50) * 1000) / 1000 };
}

/** The resilience section. */
export async function resilience(options: BenchOptions): Promise<SectionResult> {
  const calls = Math.max(1_000, Math.min(FAULT_CALLS, options.calls * 5));
  const { markdown: faultMarkdown, ...fault } = await faultRun(calls);
  const throughput = await replicaThroughput(options.durationMs);
  const fan = await fanoutLatency(Math.min(200, options.calls));
  return {
    results: { fault, throughput, fanout: fan },
    rows: [],
    notes: [],
    markdown: [
      ...faultMarkdown,
      '',
      `Throughput of a CPU-bound tool (5 ms busy loop per call), ${CLIENTS} concurrent clients through the hub, ${options.durationMs} ms per side (A B B A):`,
      '',
      '| replicas | calls/s | errors |',
      '|---|---|---|',
      `| one | ${throughput.one.perSecond} | ${throughput.one.errors} |`,
      `| two | ${throughput.two.perSecond} | ${throughput.two.errors} |`,
      '',
      `Two replicas give ${throughput.ratio}x the throughput of one (2 cores shared by the clients, the hub and the replicas).`,
      '',
      `Fan-out (merge over branches of 10, 25 and 50 ms; the sum would be 85 ms), ${fan.fanout.n} interleaved calls each: fan-out p50 ${fan.fanout.p50} ms / p99 ${fan.fanout.p99} ms against the slowest branch alone p50 ${fan.slowest.p50} ms / p99 ${fan.slowest.p99} ms: ratio p50 ${fan.ratioP50}.`,
    ],
  };
}
