/**
 * What a relayed call costs the gateway's own process, in CPU (user + system time of that process
 * from /proc, not wall time): sequential `echo` calls over Streamable HTTP in both eras and over
 * stdio, against the same fixture called directly in the same run (blocks interleaved, so load
 * drift lands on every side alike), with latency p50/p99; calls/s and CPU per call under 16
 * concurrent clients; the hub's resident memory once it has loaded the model and answered; and a
 * CPU profile of the hub under that load, summarised by module (bench/lib/profile.ts).
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/client';
import { BLOCK, httpClient, MODERN_REVISION, stdioProcess, waitForTool, type Era } from '../lib/clients.js';
import { CLI, fixtureArgs, startHttpFixtureProcess, startHub, writeGatewayConfig } from '../lib/procs.js';
import { summarizeProfile } from '../lib/profile.js';
import { summarize, type Summary } from '../lib/stats.js';
import type { BenchOptions, SectionResult } from '../run.js';
import type { AuditEvent } from '../../src/core/audit-event.js';
import { accessLog } from '../../src/mcp/pipeline/stages/access-log.js';
import { createLogger } from '../../src/telemetry/logger.js';

const CLIENTS = 16;
const TICK_MS = 1000 / (Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100);

/** CPU time (user + system) a process has used so far, in ms. */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
}

/** Resident memory of a process, in MB. */
function rssMb(pid: number): number {
  const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Math.round(Number(kb ?? 0) / 1024);
}

/** One path to measure: a connected client, its tool, and the processes whose CPU it costs. */
interface Side {
  readonly name: string;
  readonly client: Client;
  readonly tool: string;
  /** The gateway process (absent for a direct call). */
  readonly gatewayPid?: number;
  readonly upstreamPid: number;
  readonly samples: number[];
  gatewayMs: number;
  upstreamMs: number;
}

interface SideResult {
  readonly protocol: string;
  readonly latency: Summary;
  readonly gatewayCpuUsPerCall: number | undefined;
  readonly upstreamCpuUsPerCall: number;
}

const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;

/** Sequential calls, sides taking turns in blocks; CPU read around each block. */
async function sequential(sides: Side[], n: number): Promise<Record<string, SideResult>> {
  for (const s of sides) await waitForTool(s.client, s.tool);
  for (const s of sides)
    for (let i = 0; i < Math.min(200, n); i++) await s.client.callTool({ name: s.tool, arguments: { text: 'ping' } });
  for (let done = 0; done < n; done += BLOCK) {
    const size = Math.min(BLOCK, n - done);
    for (const s of sides) {
      const g0 = s.gatewayPid ? cpuMs(s.gatewayPid) : 0;
      const u0 = cpuMs(s.upstreamPid);
      for (let i = 0; i < size; i++) {
        const t0 = performance.now();
        const r = await s.client.callTool({ name: s.tool, arguments: { text: 'ping' } });
        s.samples.push(performance.now() - t0);
        if (r.isError) throw new Error(`${s.name}: ${JSON.stringify(r.content)}`);
      }
      if (s.gatewayPid) s.gatewayMs += cpuMs(s.gatewayPid) - g0;
      s.upstreamMs += cpuMs(s.upstreamPid) - u0;
    }
  }
  return Object.fromEntries(
    sides.map((s) => [
      s.name,
      {
        protocol: s.client.getNegotiatedProtocolVersion() ?? 'unknown',
        latency: summarize(s.samples),
        gatewayCpuUsPerCall: s.gatewayPid ? round((1000 * s.gatewayMs) / s.samples.length) : undefined,
        upstreamCpuUsPerCall: round((1000 * s.upstreamMs) / s.samples.length),
      },
    ]),
  );
}

const side = (name: string, client: Client, tool: string, upstreamPid: number, gatewayPid?: number): Side => ({
  name,
  client,
  tool,
  upstreamPid,
  ...(gatewayPid ? { gatewayPid } : {}),
  samples: [],
  gatewayMs: 0,
  upstreamMs: 0,
});

/** 16 clients calling in a loop for `ms`: calls/s and the gateway's CPU per call meanwhile. */
async function concurrent(
  url: string,
  tool: string,
  ms: number,
  pid: number | undefined,
  era: Era = 'legacy',
): Promise<{ perSecond: number; calls: number; errors: number; cpuUsPerCall: number | undefined }> {
  const clients = await Promise.all(Array.from({ length: CLIENTS }, () => httpClient(url, era)));
  try {
    await Promise.all(clients.map((c) => c.callTool({ name: tool, arguments: { text: 'x' } })));
    let calls = 0;
    let errors = 0;
    const c0 = pid ? cpuMs(pid) : 0;
    const started = performance.now();
    const deadline = started + ms;
    await Promise.all(
      clients.map(async (c) => {
        while (performance.now() < deadline) {
          const r = await c.callTool({ name: tool, arguments: { text: 'x' } }).catch(() => undefined);
          if (!r || r.isError) errors++;
          else calls++;
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    return {
      perSecond: Math.round(calls / seconds),
      calls,
      errors,
      cpuUsPerCall: pid ? round((1000 * (cpuMs(pid) - c0)) / Math.max(1, calls)) : undefined,
    };
  } finally {
    await Promise.all(clients.map((c) => c.close()));
  }
}

/**
 * The machine's yardstick: CPU per bare HTTP round trip (Node's fetch to a node:http echo, both in
 * this process), so figures from machines of different speed can be compared as multiples of it.
 */
async function bareRoundTrip(n: number): Promise<number> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      res.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/`;
  const call = async () => (await fetch(url, { method: 'POST', body: '{"jsonrpc":"2.0","id":1,"result":{}}' })).text();
  try {
    for (let i = 0; i < Math.min(200, n); i++) await call();
    const c0 = process.cpuUsage();
    for (let i = 0; i < n; i++) await call();
    const c = process.cpuUsage(c0);
    return round((c.user + c.system) / n);
  } finally {
    server.close();
  }
}

/** CPU per request of the access log's observer: at info (counted, one line per interval) and at debug (a line per request). */
function accessLogCost(n: number): { infoUs: number; debugUs: number } {
  const sink = { write: () => {} };
  const event: AuditEvent = {
    time: Date.now(),
    tenant: 'default',
    agent: 'bench',
    method: 'tools/call',
    tool: 'web__echo',
    server: 'web',
    instance: 'web',
    decision: 'allow',
    outcome: 'success',
    latencyMs: 1.5,
    bytesIn: 80,
    bytesOut: 120,
  };
  const time = (level: string) => {
    const access = accessLog(createLogger({ level, destination: sink }), 3_600_000);
    try {
      for (let i = 0; i < 1000; i++) access.observer(event);
      const c0 = process.cpuUsage();
      for (let i = 0; i < n; i++) access.observer({ ...event, latencyMs: i % 97 });
      const c = process.cpuUsage(c0);
      return round((c.user + c.system) / n, 3);
    } finally {
      access.close();
    }
  };
  return { infoUs: time('info'), debugUs: time('debug') };
}

/** Runs the hub with --cpu-prof under 16 clients, stops it, and summarises the profile by module. */
async function profileHub(fixtureUrl: string, ms: number): Promise<ReturnType<typeof summarizeProfile>> {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-prof-'));
  const { url, proc } = await startHub(writeGatewayConfig({ web: { url: fixtureUrl } }), {
    nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${dir}`],
  });
  await concurrent(`${url}/mcp`, 'web__echo', ms, undefined);
  await stop(proc);
  // One file per thread (CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile): the main thread is 0.
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  const file = files.find((f) => /\.\d+\.0\.\d+\.cpuprofile$/.test(f)) ?? files[0];
  if (!file) throw new Error('the hub wrote no CPU profile (did it exit cleanly on SIGTERM?)');
  // The start-up (imports, model, first list) is in the profile too; under load for `ms` it is the minor part.
  return summarizeProfile(join(dir, file));
}

async function stop(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null) return;
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  proc.kill('SIGTERM');
  await exited;
}

/** The CPU-per-call section. */
export async function cpuPerCall(options: BenchOptions): Promise<SectionResult> {
  const fixture = await startHttpFixtureProcess('web');
  const hub = await startHub(writeGatewayConfig({ web: { url: fixture.url } }));
  const hubPid = hub.proc.pid!;
  const fixturePid = fixture.proc.pid!;
  const open: Client[] = [];
  const keep = (c: Client) => (open.push(c), c);
  try {
    // Resident memory once the hub has loaded the model, listed its upstream and answered a find.
    const probe = keep(await httpClient(`${hub.url}/mcp`));
    await waitForTool(probe, 'web__echo');
    await probe.callTool({ name: 'find_capability', arguments: { capability: 'echo a message back' } });
    const rssAtStart = rssMb(hubPid);

    const http = await sequential(
      [
        side('HTTP direct (2025)', keep(await httpClient(fixture.url, 'legacy')), 'echo', fixturePid),
        side(
          'HTTP via hub (2025)',
          keep(await httpClient(`${hub.url}/mcp`, 'legacy')),
          'web__echo',
          fixturePid,
          hubPid,
        ),
        side(
          `HTTP via hub (${MODERN_REVISION})`,
          keep(await httpClient(`${hub.url}/mcp`, 'modern')),
          'web__echo',
          fixturePid,
          hubPid,
        ),
      ],
      options.calls,
    );
    const config = writeGatewayConfig({ fx: { command: process.execPath, args: fixtureArgs('fx') } });
    const direct = await stdioProcess(fixtureArgs('fx'));
    const sidecar = await stdioProcess(['--import', 'tsx', CLI, 'stdio', '--config', config]);
    keep(direct.client);
    keep(sidecar.client);
    // The sidecar's upstream is its own child: its CPU is not the gateway's, so only the sidecar is read.
    const stdio = await sequential(
      [
        side('stdio direct', direct.client, 'echo', direct.pid),
        side('stdio via sidecar', sidecar.client, 'fx__echo', sidecar.pid, sidecar.pid),
      ],
      options.calls,
    );
    const loadDirect = await concurrent(fixture.url, 'echo', options.durationMs, undefined);
    const loadHub = await concurrent(`${hub.url}/mcp`, 'web__echo', options.durationMs, hubPid);
    const profile = await profileHub(fixture.url, options.durationMs);
    const yardstick = await bareRoundTrip(options.calls);
    const access = accessLogCost(100_000);

    const rows = { ...http, ...stdio };
    const httpGateway = [http['HTTP via hub (2025)']!, http[`HTTP via hub (${MODERN_REVISION})`]!];
    const worstHttp = Math.max(...httpGateway.map((r) => r.gatewayCpuUsPerCall ?? 0));
    const stdioOverhead = round(
      (stdio['stdio via sidecar']!.latency.p50 - stdio['stdio direct']!.latency.p50) * 1000,
      0,
    );
    const markdown = [
      '',
      `**Gateway CPU per call** (${options.calls} sequential \`echo\` calls per path, blocks of ${BLOCK} interleaved; CPU = user + system time of the process from /proc; the hub and sidecar run through tsx as \`npm start\` does)`,
      '',
      '| path | protocol | gateway CPU µs/call | upstream CPU µs/call | p50 ms | p99 ms |',
      '|---|---|---|---|---|---|',
      ...Object.entries(rows).map(
        ([name, r]) =>
          `| ${name} | ${r.protocol} | ${r.gatewayCpuUsPerCall ?? '-'} | ${r.upstreamCpuUsPerCall} | ${r.latency.p50} | ${r.latency.p99} |`,
      ),
      '',
      `Yardstick of this machine: a bare HTTP round trip (Node's fetch to a node:http echo, client and server in one process) costs ${yardstick} µs of CPU; the hub's CPU per HTTP call is ${round(worstHttp / yardstick, 2)} of those.`,
      '',
      `Access log (in process, 100,000 requests): ${access.infoUs} µs per request at info (counted; one line per interval), ${access.debugUs} µs at debug (a line per request, to a null sink).`,
      '',
      `Under ${CLIENTS} concurrent 2025-era HTTP clients: direct ${loadDirect.perSecond} calls/s, via the hub ${loadHub.perSecond} calls/s (${loadHub.errors} errors) at ${loadHub.cpuUsPerCall} µs of hub CPU per call. Hub resident memory at start (model loaded, one upstream listed, one find answered): ${rssAtStart} MB.`,
      '',
      `CPU profile of the hub under the same load (${options.durationMs} ms, start-up included), self time by module:`,
      '',
      '| module | share of busy time | ms |',
      '|---|---|---|',
      ...profile.slice(0, 15).map((m) => `| ${m.module} | ${m.percent}% | ${m.ms} |`),
    ];
    return {
      results: {
        calls: options.calls,
        interleaveBlock: BLOCK,
        sequential: rows,
        concurrent: { clients: CLIENTS, durationMs: options.durationMs, direct: loadDirect, hub: loadHub },
        rssAtStartMb: rssAtStart,
        bareRoundTripCpuUs: yardstick,
        accessLogUsPerRequest: access,
        stdioOverheadP50Us: stdioOverhead,
        profile,
      },
      rows: [],
      notes: [
        `hub CPU per HTTP call (worse era): ${worstHttp} µs; issue 17: <= 250 µs ${worstHttp <= 250 ? 'met' : 'NOT met'}, goal <= 150 µs ${worstHttp <= 150 ? 'met' : 'NOT met'}`,
        `stdio overhead p50: ${stdioOverhead} µs; goal <= 200 µs ${stdioOverhead <= 200 ? 'met' : 'NOT met'}`,
        `access log at info: ${access.infoUs} µs per request; goal < 10 µs ${access.infoUs < 10 ? 'met' : 'NOT met'}`,
        `hub RSS at start: ${rssAtStart} MB; goal <= 100 MB ${rssAtStart <= 100 ? 'met' : 'NOT met'}`,
      ],
      markdown,
    };
  } finally {
    await Promise.all(open.map((c) => c.close().catch(() => {})));
  }
}
