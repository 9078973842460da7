/**
 * Child processes for the benchmarks: fixture servers over HTTP and the gateway itself (hub or
 * sidecar) as real processes, so the client, the gateway and the upstream never share an event
 * loop. Everything started is killed by `stopAll()`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';

export const ROOT = resolve(import.meta.dirname, '../..');
export const FIXTURE = join(ROOT, 'test/fixtures/fixture-server.ts');
export const CLI = join(ROOT, 'src/cli.ts');

const started = new Set<ChildProcess>();

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
export function watchLines(stream: NodeJS.ReadableStream): { waitFor(pattern: RegExp, what: string, timeoutMs?: number): Promise<string> } {
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
  const proc = track(spawn(process.execPath, [...fixtureArgs(name, extra), '--transport', 'http', '--port', '0'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] }));
  const port = await watchLines(proc.stdout!).waitFor(/^LISTENING (\d+)/, `fixture ${name}`);
  return `http://127.0.0.1:${port}/mcp`;
}

/** Writes a gateway config (temp store, quiet logs) and returns its path. */
export function writeGatewayConfig(servers: Record<string, unknown>): string {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-bench-'));
  const file = join(dir, 'config.json');
  writeFileSync(file, JSON.stringify({ http: { port: 0 }, store: { path: join(dir, 'db.sqlite') }, log: { level: process.env.BENCH_LOG_LEVEL ?? 'info' }, gateway: { healthIntervalMs: 60_000 }, servers }));
  return file;
}

/** Starts the hub as a child process; resolves with its base URL once ready. */
export async function startHubProcess(configFile: string): Promise<string> {
  const proc = track(spawn(process.execPath, ['--import', 'tsx', CLI, 'serve', '--config', configFile], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] }));
  const lines = watchLines(proc.stderr!);
  const url = await lines.waitFor(/"url":"(http:\/\/[^"]+)\/mcp"/, 'the hub to listen');
  await lines.waitFor(/"msg":"gateway (ready)"/, 'the hub to be ready');
  return url;
}

/** Kills every child this run started. */
export async function stopAll(): Promise<void> {
  await Promise.all([...started].map((proc) => new Promise<void>((done) => {
    if (proc.exitCode !== null || proc.signalCode !== null) return done();
    proc.once('exit', () => done());
    proc.kill('SIGTERM');
    setTimeout(() => proc.kill('SIGKILL'), 3_000).unref();
  })));
}
