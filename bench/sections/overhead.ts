/**
 * Per-call overhead of the gateway against calling the same upstream directly, in the same run:
 * sequential `echo` calls over stdio (sidecar) and over Streamable HTTP (hub), both client eras.
 */
import type { Client } from '@modelcontextprotocol/client';
import { summarize, type Summary } from '../lib/stats.js';
import { httpClient, stdioClient, timeCalls, type Era } from '../lib/clients.js';
import { CLI, fixtureArgs, startHttpFixture, startHubProcess, writeGatewayConfig } from '../lib/procs.js';
import type { BenchOptions, SectionResult } from '../run.js';

interface Pair {
  readonly direct: Summary;
  readonly gateway: Summary;
  readonly overheadP50Ms: number;
  readonly overheadP99Ms: number;
  readonly ratioP50: number;
}

function pair(direct: number[], gateway: number[]): Pair {
  const d = summarize(direct);
  const g = summarize(gateway);
  const round = (x: number) => Math.round(x * 1000) / 1000;
  return { direct: d, gateway: g, overheadP50Ms: round(g.p50 - d.p50), overheadP99Ms: round(g.p99 - d.p99), ratioP50: round(g.p50 / d.p50) };
}

async function measure(open: () => Promise<Client>, tool: string, options: BenchOptions): Promise<number[]> {
  const c = await open();
  try {
    return await timeCalls(c, tool, { text: 'ping' }, options.calls, Math.min(200, options.calls));
  } finally {
    await c.close();
  }
}

/** Over stdio: direct client -> fixture, versus client -> sidecar gateway -> fixture. */
export async function overheadStdio(options: BenchOptions): Promise<SectionResult> {
  const config = writeGatewayConfig({ fx: { command: process.execPath, args: fixtureArgs('fx') } });
  const direct = await measure(() => stdioClient(fixtureArgs('fx')), 'echo', options);
  const gateway = await measure(() => stdioClient(['--import', 'tsx', CLI, 'stdio', '--config', config]), 'fx__echo', options);
  const result = pair(direct, gateway);
  return {
    results: { stdio: result },
    rows: [['stdio, 2025 client', result]],
    notes: [`goal: median overhead < 0.5 ms over a direct stdio call: ${result.overheadP50Ms < 0.5 ? 'met' : 'NOT met'} (${result.overheadP50Ms} ms)`],
  };
}

/** Over HTTP: direct client -> HTTP fixture, versus client -> hub -> HTTP fixture; both eras. */
export async function overheadHttp(options: BenchOptions): Promise<SectionResult> {
  const fixture = await startHttpFixture('web');
  const hub = await startHubProcess(writeGatewayConfig({ web: { url: fixture } }));
  const results: Record<string, Pair> = {};
  for (const era of ['legacy', 'modern'] as Era[]) {
    const direct = await measure(() => httpClient(fixture, era), 'echo', options);
    const gateway = await measure(() => httpClient(`${hub}/mcp`, era), 'web__echo', options);
    results[era] = pair(direct, gateway);
  }
  return {
    results,
    rows: Object.entries(results).map(([era, r]) => [`HTTP, ${era === 'legacy' ? '2025' : '2026-07-28'} client`, r]),
    notes: [],
  };
}
