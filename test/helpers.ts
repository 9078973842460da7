/**
 * Shared test harness: real fixture servers (child processes), configs in temp folders, hubs on
 * loopback ports, and real MCP clients of either protocol era. Everything started here is
 * registered for cleanup, so a failing test leaves no process behind.
 */
import { spawn, spawnSync, type ChildProcess, type SpawnSyncReturns } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { buildConfig, type Config } from '../src/config/load.js';
import { GatewayError } from '../src/core/errors.js';
import { startHub, type Hub } from '../src/compose.js';
import { silentLogger } from '../src/telemetry/logger.js';

export const ROOT = resolve(import.meta.dirname, '..');
export const FIXTURE = join(ROOT, 'test/fixtures/fixture-server.ts');
export const EVERYTHING = join(ROOT, 'node_modules/@modelcontextprotocol/server-everything/dist/index.js');

/** Things to stop after a test file. */
const cleanups: (() => unknown)[] = [];

/** Registers a cleanup to run in `cleanup()`. */
export function onCleanup(fn: () => unknown): void {
  cleanups.push(fn);
}

/** Runs and clears every registered cleanup (call from afterAll/afterEach). */
export async function cleanup(): Promise<void> {
  const all = cleanups.splice(0).reverse();
  for (const fn of all)
    await Promise.resolve()
      .then(fn)
      .catch(() => {});
}

/** A fresh temp folder. */
export function tempDir(prefix = 'switchboard-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** A stdio server entry running the fixture server. */
export function fixtureEntry(name: string, extra: string[] = []): { command: string; args: string[] } {
  return { command: process.execPath, args: ['--import', 'tsx', FIXTURE, '--name', name, ...extra] };
}

/** A stdio server entry running the published server-everything. */
export function everythingEntry(): { command: string; args: string[] } {
  return { command: process.execPath, args: [EVERYTHING, 'stdio'] };
}

/** A fixture server over Streamable HTTP, as a child process. */
export interface HttpFixture {
  readonly url: string;
  readonly port: number;
  readonly proc: ChildProcess;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** Starts the fixture in HTTP mode and waits for its `LISTENING <port>` line. */
export async function startHttpFixture(name: string, extra: string[] = [], port = 0): Promise<HttpFixture> {
  const proc = spawn(
    process.execPath,
    ['--import', 'tsx', FIXTURE, '--name', name, '--transport', 'http', '--port', String(port), ...extra],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const listening = await new Promise<number>((resolvePort, reject) => {
    const timer = setTimeout(() => reject(new Error(`fixture ${name} did not start`)), 30_000);
    proc.once('exit', (code) => reject(new Error(`fixture ${name} exited with ${code}`)));
    createInterface({ input: proc.stdout }).on('line', (line) => {
      const match = /^LISTENING (\d+)/.exec(line);
      if (match) {
        clearTimeout(timer);
        resolvePort(Number(match[1]));
      }
    });
  });
  const kill = async (signal: NodeJS.Signals = 'SIGTERM') => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill(signal);
    await exited;
  };
  onCleanup(() => kill('SIGKILL'));
  return { url: `http://127.0.0.1:${listening}/mcp`, port: listening, proc, kill };
}

/** Builds a config with a temp store and fast timings; `servers` in the mcpServers shape. */
export function makeConfig(
  servers: Record<string, unknown>,
  overrides: {
    gateway?: Record<string, unknown>;
    http?: Record<string, unknown>;
    routing?: Record<string, unknown>;
    store?: string;
    virtualTools?: Record<string, unknown>;
    experiments?: Record<string, unknown>;
    pins?: Record<string, unknown>;
    auth?: Record<string, unknown>;
    policy?: Record<string, unknown>;
    tenants?: Record<string, unknown>;
    audit?: Record<string, unknown>;
    limits?: Record<string, unknown>;
    usage?: Record<string, unknown>;
    quotas?: unknown[];
    /** store.redis */
    redis?: unknown;
    telemetry?: Record<string, unknown>;
    alerts?: Record<string, unknown>;
    tasks?: Record<string, unknown>;
    /** Merged over `{ level: 'silent' }`. */
    log?: Record<string, unknown>;
  } = {},
): Config {
  return buildConfig({
    ...(overrides.tasks ? { tasks: overrides.tasks } : {}),
    ...(overrides.audit ? { audit: overrides.audit } : {}),
    ...(overrides.telemetry ? { telemetry: overrides.telemetry } : {}),
    ...(overrides.alerts ? { alerts: overrides.alerts } : {}),
    ...(overrides.limits ? { limits: overrides.limits } : {}),
    ...(overrides.usage ? { usage: overrides.usage } : {}),
    ...(overrides.quotas ? { quotas: overrides.quotas } : {}),
    ...(overrides.tenants ? { tenants: overrides.tenants } : {}),
    ...(overrides.auth ? { auth: overrides.auth } : {}),
    ...(overrides.policy ? { policy: overrides.policy } : {}),
    ...(overrides.virtualTools ? { virtualTools: overrides.virtualTools } : {}),
    ...(overrides.experiments ? { experiments: overrides.experiments } : {}),
    ...(overrides.pins ? { pins: overrides.pins } : {}),
    gateway: {
      connectTimeoutMs: 15_000,
      healthIntervalMs: 1_000,
      healthTimeoutMs: 2_000,
      callTimeoutMs: 20_000,
      drainTimeoutMs: 2_000,
      ...overrides.gateway,
    },
    http: { port: 0, ...overrides.http },
    routing: { modelsDir: join(ROOT, 'models'), ...overrides.routing },
    store: {
      path: overrides.store ?? join(tempDir(), 'switchboard.db'),
      ...(overrides.redis !== undefined ? { redis: overrides.redis } : {}),
    },
    log: { level: 'silent', ...overrides.log },
    servers,
  });
}

/** Starts an in-process hub on a free loopback port and waits until it is ready. */
export async function startTestHub(config: Config): Promise<Hub> {
  const hub = await startHub(config, { log: silentLogger() });
  onCleanup(() => hub.close());
  await hub.ready;
  return hub;
}

/** Which protocol era an agent speaks. */
export type Era = 'legacy' | 'modern';

/**
 * Connects a real MCP client to a hub's /mcp endpoint in the given era; with `token`, it sends it as
 * its bearer credential (an API key or a JWT).
 */
export async function connectAgent(
  url: string,
  era: Era = 'legacy',
  name = 'test-agent',
  token?: string,
): Promise<Client> {
  const client = new Client(
    { name, version: '1.0.0' },
    era === 'modern' ? { versionNegotiation: { mode: { pin: '2026-07-28' } } } : {},
  );
  await client.connect(
    new StreamableHTTPClientTransport(
      new URL(`${url}/mcp`),
      token === undefined ? {} : { authProvider: { token: async () => token } },
    ),
  );
  onCleanup(() => client.close());
  return client;
}

/** A 2025-era `initialize` request as a raw JSON-RPC message. */
export function initializeMessage(id = 1): Record<string, unknown> {
  return {
    jsonrpc: '2.0',
    id,
    method: 'initialize',
    params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
  };
}

/**
 * POSTs one JSON-RPC message (default: initialize) to a hub's /mcp, as a raw HTTP client does, for the
 * status codes and headers an SDK client hides; `fetch` replaces the global one (e.g. for TLS).
 */
export function postMcp(
  url: string,
  options: {
    authorization?: string | undefined;
    message?: unknown;
    fetch?: (url: string, init: RequestInit) => Promise<Response>;
  } = {},
): Promise<Response> {
  return (options.fetch ?? fetch)(`${url}/mcp`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...(options.authorization ? { authorization: options.authorization } : {}),
    },
    body: JSON.stringify(options.message ?? initializeMessage()),
  });
}

/** Starts `switchboard stdio --config FILE` as a real child process and connects an SDK client to it. */
export async function startSidecarProcess(
  configFile: string,
  name = 'sidecar-test',
): Promise<{ agent: Client; stderr: () => string }> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: ['--import', 'tsx', join(ROOT, 'src/cli.ts'), 'stdio', '--config', configFile],
    cwd: ROOT,
    stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const agent = new Client({ name, version: '1.0.0' });
  onCleanup(() => agent.close());
  await agent.connect(transport);
  return { agent, stderr: () => stderr };
}

/** Polls `check` until it returns a truthy value or the timeout passes. */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  timeoutMs = 15_000,
  what = 'condition',
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(
    `timed out waiting for ${what}${last ? `: ${last instanceof Error ? last.message : JSON.stringify(last)}` : ''}`,
  );
}

/** The text of a tool result's first text block. */
export function textOf(result: { content?: unknown }): string {
  const content = (result.content ?? []) as { type: string; text?: string }[];
  return content.find((c) => c.type === 'text')?.text ?? '';
}

/** True while a process id is alive. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A free loopback port (for servers that cannot be told to pick one). */
export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolvePort(port));
    });
  });
}

/** Starts the published server-everything over HTTP (`sse` or `streamableHttp`) on a free port. */
export async function startEverythingHttp(
  mode: 'sse' | 'streamableHttp',
): Promise<{ url: string; proc: ChildProcess }> {
  const port = await freePort();
  const proc = spawn(process.execPath, [EVERYTHING, mode], {
    cwd: ROOT,
    env: { ...process.env, PORT: String(port) },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  onCleanup(() => proc.kill('SIGKILL'));
  await new Promise<void>((ready, reject) => {
    const timer = setTimeout(() => reject(new Error(`server-everything ${mode} did not start`)), 20_000);
    proc.stderr.on('data', (chunk: Buffer) => {
      if (/listening|running/i.test(chunk.toString())) {
        clearTimeout(timer);
        ready();
      }
    });
  });
  return { url: `http://127.0.0.1:${port}/${mode === 'sse' ? 'sse' : 'mcp'}`, proc };
}

/**
 * The first YAML block of the README after `heading`, written to `switchboard.yaml` in a new temp
 * folder: the README's config examples are tested as printed.
 */
export function readmeYamlFile(heading: string): { dir: string; file: string; block: string } {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const at = readme.indexOf(heading);
  if (at < 0) throw new Error(`README has no "${heading}"`);
  const block = /```yaml\n([\s\S]*?)```/.exec(readme.slice(at))?.[1];
  if (block === undefined) throw new Error(`README has no YAML block after "${heading}"`);
  const dir = tempDir('switchboard-readme-');
  const file = join(dir, 'switchboard.yaml');
  writeFileSync(file, block);
  return { dir, file, block };
}

/** `switchboard check --config file` as a user runs it, from `cwd`, with the variables in `unset` removed. */
export function switchboardCheck(file: string, cwd: string, unset: readonly string[] = []): SpawnSyncReturns<string> {
  const env = { ...process.env };
  for (const name of unset) delete env[name];
  const tsx = pathToFileURL(join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href;
  return spawnSync(process.execPath, ['--import', tsx, join(ROOT, 'src/cli.ts'), 'check', '--config', file], {
    cwd,
    env,
    encoding: 'utf8',
    timeout: 60_000,
  });
}

/** The issues (path and message) of the config that `run` builds and the loader rejects. */
export function configIssues(run: () => unknown): { path: string; message: string }[] {
  try {
    run();
  } catch (error) {
    if (!(error instanceof GatewayError)) throw error;
    return (error.details?.issues ?? []) as { path: string; message: string }[];
  }
  throw new Error('expected the config to be rejected');
}
