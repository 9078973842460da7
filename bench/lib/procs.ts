/**
 * Child processes for the benchmarks: fixture servers over HTTP and the gateway itself (hub or
 * sidecar) as real processes, so the client, the gateway and the upstream never share an event
 * loop. Everything started (children and temp folders) is removed by `stopAll()`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';

export const ROOT = resolve(import.meta.dirname, '../..');
export const FIXTURE = join(ROOT, 'test/fixtures/fixture-server.ts');
export const CLI = join(ROOT, 'src/cli.ts');

const started = new Set<ChildProcess>();
const tempDirs = new Set<string>();

/** The argv of a fixture server over stdio. */
export function fixtureArgs(name: string, extra: string[] = []): string[] {
  return ['--import', 'tsx', FIXTURE, '--name', name, ...extra];
}

/** Spawns and tracks a child. */
export function track(proc: ChildProcess): ChildProcess {
  started.add(proc);
  proc.once('exit', () => started.delete(proc));
  return proc;
}

/** Collects a stream's lines; `waitFor` resolves with the first capture of a line matching a pattern, past or future. */
export function watchLines(stream: NodeJS.ReadableStream): {
  waitFor(pattern: RegExp, what: string, timeoutMs?: number): Promise<string>;
} {
  const seen: string[] = [];
  const waiters = new Set<(line: string) => void>();
  createInterface({ input: stream }).on('line', (line) => {
    seen.push(line);
    if (seen.length > 1_000) seen.shift();
    for (const waiter of waiters) waiter(line);
  });
  return {
    waitFor(pattern, what, timeoutMs = 30_000) {
      return new Promise((resolveLine, reject) => {
        const hit = seen.map((line) => pattern.exec(line)).find(Boolean);
        if (hit) return resolveLine(hit[1] ?? '');
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timed out waiting for ${what}`));
        }, timeoutMs);
        const check = (line: string) => {
          const match = pattern.exec(line);
          if (!match) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolveLine(match[1] ?? '');
        };
        waiters.add(check);
      });
    },
  };
}

/** Starts the fixture over Streamable HTTP; resolves with its /mcp URL. */
export async function startHttpFixture(name: string, extra: string[] = []): Promise<string> {
  return (await startHttpFixtureProcess(name, extra)).url;
}

/** Starts the fixture over Streamable HTTP on `port` (0: any); resolves with its URL, port and process. */
export async function startHttpFixtureProcess(
  name: string,
  extra: string[] = [],
  port = 0,
): Promise<{ url: string; port: number; proc: ChildProcess }> {
  const proc = track(
    spawn(process.execPath, [...fixtureArgs(name, extra), '--transport', 'http', '--port', String(port)], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'ignore'],
    }),
  );
  const bound = Number(await watchLines(proc.stdout!).waitFor(/^LISTENING (\d+)/, `fixture ${name}`));
  return { url: `http://127.0.0.1:${bound}/mcp`, port: bound, proc };
}

/**
 * Writes a gateway config in a temp folder (store included, never data/) and returns its path.
 * Logs are at `warn` as the brief asks (a per-call info line is part of what an operator may turn
 * on, not of the gateway's floor); BENCH_LOG_LEVEL=info measures with them.
 */
export function writeGatewayConfig(
  servers: Record<string, unknown>,
  extra: {
    gateway?: Record<string, unknown>;
    virtualTools?: Record<string, unknown>;
    experiments?: Record<string, unknown>;
    pins?: Record<string, unknown>;
  } = {},
): string {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-bench-'));
  tempDirs.add(dir);
  const file = join(dir, 'config.json');
  writeFileSync(
    file,
    JSON.stringify({
      http: { port: 0 },
      store: { path: join(dir, 'db.sqlite') },
      log: { level: process.env.BENCH_LOG_LEVEL ?? 'warn' },
      gateway: { healthIntervalMs: 60_000, ...extra.gateway },
      ...(extra.virtualTools ? { virtualTools: extra.virtualTools } : {}),
      ...(extra.experiments ? { experiments: extra.experiments } : {}),
      ...(extra.pins ? { pins: extra.pins } : {}),
      servers,
    }),
  );
  return file;
}

/** A loopback port that was free a moment ago (the hub's logs are quiet at warn, so we choose it). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done, fail) => server.once('error', fail).listen(0, '127.0.0.1', done));
  const address = server.address();
  await new Promise<void>((done) => server.close(() => done()));
  if (!address || typeof address === 'string') throw new Error('could not pick a free port');
  return address.port;
}

/** Starts the hub as a child process on a port we pick; resolves with its base URL once /readyz says ready. */
export async function startHubProcess(configFile: string, timeoutMs = 30_000): Promise<string> {
  return (await startHub(configFile, { timeoutMs })).url;
}

/** As startHubProcess, with the process itself (its pid for CPU and memory readings) and extra node flags. */
export async function startHub(
  configFile: string,
  options: { timeoutMs?: number; nodeArgs?: readonly string[] } = {},
): Promise<{ url: string; proc: ChildProcess }> {
  const port = await freePort();
  const proc = track(
    spawn(
      process.execPath,
      [
        ...(options.nodeArgs ?? []),
        '--import',
        'tsx',
        CLI,
        'serve',
        '--config',
        configFile,
        '--host',
        '127.0.0.1',
        '--port',
        String(port),
      ],
      { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] },
    ),
  );
  const stderr: string[] = [];
  createInterface({ input: proc.stderr! }).on('line', (line) => void (stderr.push(line) > 20 && stderr.shift()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  while (Date.now() < deadline) {
    if (proc.exitCode !== null)
      throw new Error(`the hub exited (${proc.exitCode}) before it was ready:\n${stderr.join('\n')}`);
    const ready = await fetch(`${url}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) return { url, proc };
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`the hub was not ready within ${options.timeoutMs ?? 30_000} ms:\n${stderr.join('\n')}`);
}

/** Kills every child this run started. */
export async function stopAll(): Promise<void> {
  await Promise.all(
    [...started].map(
      (proc) =>
        new Promise<void>((done) => {
          if (proc.exitCode !== null || proc.signalCode !== null) return done();
          proc.once('exit', () => done());
          proc.kill('SIGTERM');
          setTimeout(() => proc.kill('SIGKILL'), 3_000).unref();
        }),
    ),
  );
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
}
