/**
 * MCP clients for the benchmarks: over stdio (spawning a command) and over Streamable HTTP, in
 * either protocol era, plus an interleaved, sequential call-timing loop.
 */
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { ROOT } from './procs.js';

/** Which era a benchmark client speaks: default options (2025) or `versionNegotiation: auto`. */
export type Era = 'legacy' | 'modern';

/** The revision a `modern` client must end up on; `auto` may fall back silently, so we check. */
export const MODERN_REVISION = '2026-07-28';

function client(era: Era): Client {
  return new Client(
    { name: 'bench', version: '1.0.0' },
    era === 'modern' ? { versionNegotiation: { mode: 'auto' } } : {},
  );
}

/** Fails if an `auto` client fell back to 2025 (the row would be mislabelled). */
function checkEra(c: Client, era: Era, where: string): Client {
  const version = c.getNegotiatedProtocolVersion();
  if (era === 'modern' && version !== MODERN_REVISION)
    throw new Error(`${where}: expected ${MODERN_REVISION}, negotiated ${version ?? 'nothing'}`);
  return c;
}

/** A client connected over stdio to a spawned command. */
export async function stdioClient(args: string[], era: Era = 'legacy'): Promise<Client> {
  return (await stdioProcess(args, era)).client;
}

/** As stdioClient, with the spawned process's pid (for CPU and memory readings). */
export async function stdioProcess(args: string[], era: Era = 'legacy'): Promise<{ client: Client; pid: number }> {
  const c = client(era);
  const transport = new StdioClientTransport({ command: process.execPath, args, cwd: ROOT, stderr: 'ignore' });
  await c.connect(transport);
  if (!transport.pid) throw new Error(`no pid for ${args.join(' ')}`);
  return { client: checkEra(c, era, args.join(' ')), pid: transport.pid };
}

/** A client connected over Streamable HTTP. */
export async function httpClient(url: string, era: Era = 'legacy'): Promise<Client> {
  const c = client(era);
  await c.connect(new StreamableHTTPClientTransport(new URL(url)));
  return checkEra(c, era, url);
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

/** One thing to time: a connected client and the tool it calls. */
export interface Target {
  readonly client: Client;
  readonly tool: string;
}

/** The block size for interleaving: big enough to stay warm, small enough to share the machine's mood. */
export const BLOCK = 50;

/**
 * Calls each target's tool `n` times, one call at a time, after `warmup` untimed calls each; returns
 * per-call ms per target. Targets take turns in blocks of `block` calls (A B A B ...), so a change in
 * background load during the run lands on every target alike instead of on whichever ran last.
 */
export async function timeInterleaved(
  targets: readonly Target[],
  args: Record<string, unknown>,
  n: number,
  warmup: number,
  block = BLOCK,
): Promise<number[][]> {
  for (const { client, tool } of targets) await waitForTool(client, tool);
  for (const { client, tool } of targets)
    for (let i = 0; i < warmup; i++) await client.callTool({ name: tool, arguments: args });
  const samples = targets.map(() => [] as number[]);
  for (let done = 0; done < n; done += block) {
    const size = Math.min(block, n - done);
    for (const [k, { client, tool }] of targets.entries()) {
      for (let i = 0; i < size; i++) {
        const t0 = performance.now();
        const result = await client.callTool({ name: tool, arguments: args });
        samples[k]!.push(performance.now() - t0);
        if (result.isError) throw new Error(`${tool} failed: ${JSON.stringify(result.content)}`);
      }
    }
  }
  return samples;
}
