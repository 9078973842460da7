/**
 * Throughput through the hub's HTTP endpoint with 16 concurrent clients, against the same 16
 * clients calling the HTTP fixture directly, in the same run.
 */
import type { Client } from '@modelcontextprotocol/client';
import { httpClient } from '../lib/clients.js';
import { startHttpFixture, startHubProcess, writeGatewayConfig } from '../lib/procs.js';
import type { BenchOptions, SectionResult } from '../run.js';

const CLIENTS = 16;

async function callsPerSecond(url: string, tool: string, durationMs: number): Promise<{ calls: number; errors: number; perSecond: number }> {
  const clients: Client[] = await Promise.all(Array.from({ length: CLIENTS }, () => httpClient(url)));
  let calls = 0;
  let errors = 0;
  const started = performance.now();
  const deadline = started + durationMs;
  await Promise.all(clients.map(async (c) => {
    while (performance.now() < deadline) {
      try {
        const r = await c.callTool({ name: tool, arguments: { text: 'x' } });
        if (r.isError) errors++;
        else calls++;
      } catch {
        errors++;
      }
    }
  }));
  const seconds = (performance.now() - started) / 1000;
  await Promise.all(clients.map((c) => c.close()));
  return { calls, errors, perSecond: Math.round(calls / seconds) };
}

/** Calls/s with 16 concurrent clients: direct versus through the hub. */
export async function throughputHttp(options: BenchOptions): Promise<SectionResult> {
  const fixture = await startHttpFixture('web');
  const hub = await startHubProcess(writeGatewayConfig({ web: { url: fixture } }));
  const direct = await callsPerSecond(fixture, 'echo', options.durationMs);
  const gateway = await callsPerSecond(`${hub}/mcp`, 'web__echo', options.durationMs);
  const ratio = Math.round((gateway.perSecond / direct.perSecond) * 1000) / 1000;
  return {
    results: { clients: CLIENTS, durationMs: options.durationMs, direct, gateway, ratio },
    rows: [],
    notes: [`${CLIENTS} concurrent 2025-era clients for ${options.durationMs} ms: direct ${direct.perSecond} calls/s, through the hub ${gateway.perSecond} calls/s (ratio ${ratio}); errors: direct ${direct.errors}, hub ${gateway.errors}`],
  };
}
