/**
 * Process hygiene of the real CLI: SIGTERM stops the hub and every stdio child (no orphans), and a
 * sidecar exits with its children when the agent closes its stdin.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { alive, cleanup, fixtureEntry, onCleanup, ROOT, tempDir, waitFor } from './helpers.js';

afterAll(cleanup);

function writeConfig(port: number | undefined): string {
  const dir = tempDir();
  const file = join(dir, 'config.json');
  writeFileSync(
    file,
    JSON.stringify({
      http: { port: port ?? 0 },
      store: { path: join(dir, 'db.sqlite') },
      log: { level: 'info' },
      servers: {
        one: { ...fixtureEntry('one'), env: { ONE_API_KEY: 'do-not-log-this-secret' } },
        two: fixtureEntry('two'),
      },
    }),
  );
  return file;
}

describe('process lifecycle', () => {
  it('SIGTERM stops the hub and its stdio children', async () => {
    const file = writeConfig(0);
    const proc = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli.ts'), 'serve', '--config', file], {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    onCleanup(() => proc.kill('SIGKILL'));
    let logs = '';
    proc.stderr.on('data', (chunk: Buffer) => (logs += chunk.toString()));
    const url = await waitFor(() => /"url":"(http:\/\/[^"]+)\/mcp"/.exec(logs)?.[1], 20_000, 'the hub to listen');
    await waitFor(async () => (await fetch(`${url}/readyz`)).status === 200, 20_000, 'readiness');
    const servers = ((await (await fetch(`${url}/v1/servers`)).json()) as { servers: { pid: number }[] }).servers;
    const pids = servers.map((s) => s.pid);
    expect(pids.every((pid) => typeof pid === 'number' && alive(pid))).toBe(true);

    // Structured logs on stderr: each upstream's own stderr lines under its name, secrets never.
    expect(logs).toMatch(/"server":"one","stream":"stderr","msg":"\[fixture one\] ready on stdio"/);
    expect(logs).not.toContain('do-not-log-this-secret');

    const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
    proc.kill('SIGTERM');
    expect(await exited).toBe(0);
    await waitFor(() => pids.every((pid) => !alive(pid)), 5_000, 'children to exit');
  });

  it('a sidecar exits with its children when the agent closes stdin', async () => {
    const file = writeConfig(undefined);
    const proc = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli.ts'), 'stdio', '--config', file], {
      cwd: ROOT,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    onCleanup(() => proc.kill('SIGKILL'));
    let logs = '';
    proc.stderr.on('data', (chunk: Buffer) => (logs += chunk.toString()));
    await waitFor(() => logs.includes('gateway ready'), 20_000, 'the sidecar to be ready');
    const pids = [...logs.matchAll(/"childPid":(\d+)/g)].map((m) => Number(m[1]));
    expect(pids).toHaveLength(2);
    expect(pids.every(alive)).toBe(true);
    const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
    proc.stdin.end();
    expect(await exited).toBe(0);
    await waitFor(() => pids.every((pid) => !alive(pid)), 5_000, 'children to exit');
  });
});
