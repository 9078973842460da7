/**
 * Throughput through the hub's HTTP endpoint with 16 concurrent clients (16 separate connections,
 * each calling `echo` in a loop), against the same 16 clients calling the HTTP fixture directly,
 * in the same run. The time is split into windows in A B B A order (direct, hub, hub, direct), so
 * a linear drift in background load weighs on both sides equally.
 */
import type { Client } from '@modelcontextprotocol/client';
import { httpClient } from '../lib/clients.js';
import { startHttpFixture, startHubProcess, writeGatewayConfig } from '../lib/procs.js';
import type { BenchOptions, SectionResult } from '../run.js';

const CLIENTS = 16;

interface Rate {
  readonly calls: number;
  readonly errors: number;
  readonly seconds: number;
  readonly perSecond: number;
}

interface Side {
  readonly clients: Client[];
  readonly tool: string;
  calls: number;
  errors: number;
  seconds: number;
}

async function openSide(url: string, tool: string): Promise<Side> {
  const side: Side = { clients: [], tool, calls: 0, errors: 0, seconds: 0 };
  for (let i = 0; i < CLIENTS; i++) side.clients.push(await httpClient(url));
  // One untimed call each, so connection set-up is not in any window.
  await Promise.all(side.clients.map((c) => c.callTool({ name: tool, arguments: { text: 'x' } })));
  return side;
}

/** Every client of a side calls in a loop until the window closes; counts add up across windows. */
async function window(side: Side, ms: number): Promise<void> {
  const started = performance.now();
  const deadline = started + ms;
  await Promise.all(
    side.clients.map(async (c) => {
      while (performance.now() < deadline) {
        try {
          const r = await c.callTool({ name: side.tool, arguments: { text: 'x' } });
          if (r.isError) side.errors++;
          else side.calls++;
        } catch {
          side.errors++;
        }
      }
    }),
  );
  side.seconds += (performance.now() - started) / 1000;
}

const rate = (s: Side): Rate => ({
  calls: s.calls,
  errors: s.errors,
  seconds: Math.round(s.seconds * 1000) / 1000,
  perSecond: Math.round(s.calls / s.seconds),
});

/** Calls/s with 16 concurrent clients: direct versus through the hub. */
export async function throughputHttp(options: BenchOptions): Promise<SectionResult> {
  const fixture = await startHttpFixture('web');
  const hub = await startHubProcess(writeGatewayConfig({ web: { url: fixture } }));
  const sides: Side[] = [];
  try {
    sides.push(await openSide(fixture, 'echo'), await openSide(`${hub}/mcp`, 'web__echo'));
    const [directSide, hubSide] = sides as [Side, Side];
    for (const side of [directSide, hubSide, hubSide, directSide]) await window(side, options.durationMs / 2);
    const direct = rate(directSide);
    const gateway = rate(hubSide);
    const ratio = Math.round((gateway.perSecond / direct.perSecond) * 1000) / 1000;
    return {
      results: {
        clients: CLIENTS,
        durationMs: options.durationMs,
        order: 'direct, hub, hub, direct (durationMs / 2 each)',
        direct,
        gateway,
        ratio,
      },
      rows: [],
      notes: [],
      markdown: [
        '',
        `Throughput, ${CLIENTS} concurrent 2025-era HTTP clients (one connection each), ${options.durationMs} ms per side (two windows each, A B B A):`,
        '',
        '| path | calls/s | calls | errors |',
        '|---|---|---|---|',
        `| direct to the fixture | ${direct.perSecond} | ${direct.calls} | ${direct.errors} |`,
        `| through the hub | ${gateway.perSecond} | ${gateway.calls} | ${gateway.errors} |`,
        `| ratio (hub / direct) | ${ratio} | | |`,
      ],
    };
  } finally {
    await Promise.all(sides.flatMap((s) => s.clients.map((c) => c.close())));
  }
}
