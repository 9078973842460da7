/**
 * MCP clients for the benchmarks: over stdio (spawning a command) and over Streamable HTTP, in
 * either protocol era, plus a sequential call-timing loop.
 */
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { ROOT } from './procs.js';

/** Which era a benchmark client speaks. */
export type Era = 'legacy' | 'modern';

function client(era: Era): Client {
  return new Client({ name: 'bench', version: '1.0.0' }, era === 'modern' ? { versionNegotiation: { mode: { pin: '2026-07-28' } } } : {});
}

/** A client connected over stdio to a spawned command. */
export async function stdioClient(args: string[], era: Era = 'legacy'): Promise<Client> {
  const c = client(era);
  await c.connect(new StdioClientTransport({ command: process.execPath, args, cwd: ROOT, stderr: 'ignore' }));
  return c;
}

/** A client connected over Streamable HTTP. */
export async function httpClient(url: string, era: Era = 'legacy'): Promise<Client> {
  const c = client(era);
  await c.connect(new StreamableHTTPClientTransport(new URL(url)));
  return c;
}

/** Waits until the client's tool list has `name` (a sidecar answers before its upstreams connect). */
export async function waitForTool(c: Client, name: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if ((await c.listTools()).tools.some((t) => t.name === name)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`tool ${name} did not appear within ${timeoutMs} ms`);
}

/** Calls a tool `n` times sequentially (after `warmup` untimed calls); returns per-call ms. */
export async function timeCalls(c: Client, name: string, args: Record<string, unknown>, n: number, warmup: number): Promise<number[]> {
  await waitForTool(c, name);
  for (let i = 0; i < warmup; i++) await c.callTool({ name, arguments: args });
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const result = await c.callTool({ name, arguments: args });
    samples.push(performance.now() - t0);
    if (result.isError) throw new Error(`${name} failed: ${JSON.stringify(result.content)}`);
  }
  return samples;
}
