/**
 * Per-call overhead of the gateway against calling the same upstream directly, in the same run:
 * sequential `echo` calls over stdio (sidecar) and over Streamable HTTP (hub), both client eras.
 * The gateway runs as a real child process in both cases, as an agent would start it, and the
 * direct and gateway clients take turns in blocks (see timeInterleaved) so they share the load.
 */
import type { Client } from '@modelcontextprotocol/client';
import { summarize, type Summary } from '../lib/stats.js';
import { BLOCK, httpClient, stdioClient, timeInterleaved, type Era } from '../lib/clients.js';
import { CLI, fixtureArgs, startHttpFixture, startHubProcess, writeGatewayConfig } from '../lib/procs.js';
import type { BenchOptions, SectionResult } from '../run.js';

/** Direct versus gateway for one path, with the protocol revision each connection negotiated. */
export interface Pair {
  readonly direct: Summary & { readonly protocol: string };
  readonly gateway: Summary & { readonly protocol: string };
  readonly overheadP50Ms: number;
  readonly overheadP99Ms: number;
  readonly ratioP50: number;
}

interface Run {
  readonly samples: number[];
  readonly protocol: string;
}

const round = (x: number) => Math.round(x * 1000) / 1000;

function pair(direct: Run, gateway: Run): Pair {
  const d = summarize(direct.samples);
  const g = summarize(gateway.samples);
  return {
    direct: { ...d, protocol: direct.protocol },
    gateway: { ...g, protocol: gateway.protocol },
    overheadP50Ms: round(g.p50 - d.p50),
    overheadP99Ms: round(g.p99 - d.p99),
    ratioP50: round(g.p50 / d.p50),
  };
}

/** Opens every client, times them interleaved, closes them all (also on failure). */
async function measure(
  sides: readonly { open: () => Promise<Client>; tool: string }[],
  options: BenchOptions,
): Promise<Run[]> {
  const clients: Client[] = [];
  try {
    for (const side of sides) clients.push(await side.open());
    const targets = clients.map((client, i) => ({ client, tool: sides[i]!.tool }));
    const samples = await timeInterleaved(targets, { text: 'ping' }, options.calls, Math.min(200, options.calls));
    return samples.map((s, i) => ({ samples: s, protocol: clients[i]!.getNegotiatedProtocolVersion() ?? 'unknown' }));
  } finally {
    await Promise.all(clients.map((c) => c.close()));
  }
}

/** Over stdio: direct client -> fixture, versus client -> sidecar gateway -> fixture. */
export async function overheadStdio(options: BenchOptions): Promise<SectionResult> {
  const config = writeGatewayConfig({ fx: { command: process.execPath, args: fixtureArgs('fx') } });
  const [direct, gateway] = await measure(
    [
      { open: () => stdioClient(fixtureArgs('fx')), tool: 'echo' },
      { open: () => stdioClient(['--import', 'tsx', CLI, 'stdio', '--config', config]), tool: 'fx__echo' },
    ],
    options,
  );
  const result = pair(direct!, gateway!);
  return {
    results: { interleaveBlock: BLOCK, stdio: result },
    rows: [[`stdio, 2025 client (${result.gateway.protocol})`, result]],
    notes: [
      `goal: median overhead < 0.5 ms over a direct stdio call: ${result.overheadP50Ms < 0.5 ? 'met' : 'NOT met'} (${result.overheadP50Ms} ms)`,
    ],
  };
}

/** Over HTTP: direct client -> HTTP fixture, versus client -> hub -> HTTP fixture; both eras. */
export async function overheadHttp(options: BenchOptions): Promise<SectionResult> {
  const fixture = await startHttpFixture('web');
  const hub = await startHubProcess(writeGatewayConfig({ web: { url: fixture } }));
  const eras: Era[] = ['legacy', 'modern'];
  // All four connections take turns, so the eras are compared under the same load too.
  const runs = await measure(
    eras.flatMap((era) => [
      { open: () => httpClient(fixture, era), tool: 'echo' },
      { open: () => httpClient(`${hub}/mcp`, era), tool: 'web__echo' },
    ]),
    options,
  );
  const results: Record<string, Pair> = Object.fromEntries(
    eras.map((era, i) => [era, pair(runs[2 * i]!, runs[2 * i + 1]!)]),
  );
  return {
    results: { interleaveBlock: BLOCK, ...results },
    rows: Object.entries(results).map(([era, r]) => [
      `HTTP, ${era === 'legacy' ? '2025 client' : 'auto-negotiating client'} (${r.gateway.protocol})`,
      r,
    ]),
    notes: [],
  };
}
