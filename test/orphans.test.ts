/**
 * No orphans: whatever way the gateway ends, no process it started (or that those started) is left.
 *
 * - `npm start` is one process that owns its children: SIGTERM to the npm process stops the hub,
 *   its three upstreams and everything else in that tree.
 * - SIGKILL of the hub or the sidecar, with an upstream that ignores stdin EOF and SIGTERM, and one
 *   started through a wrapper (`sh -c` then `setsid`) whose grandchild ignores them too.
 * - A graceful close of an in-process gateway stops those upstreams as well (the SDK signals only
 *   the direct child).
 *
 * Processes are found in /proc (ppid links, and an environment variable of the test's own that
 * every upstream process inherits, so reparented ones are found too): Linux only.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { ChildGuard, CHILD_TAG_VAR } from '../src/upstream/child-guard.js';
import { createLogger } from '../src/telemetry/logger.js';
import { cleanup, makeConfig, onCleanup, ROOT, startTestHub, tempDir, waitFor } from './helpers.js';

afterAll(cleanup);

const MEMORY = join(ROOT, 'node_modules/@modelcontextprotocol/server-memory/dist/index.js');

/**
 * An upstream that ignores stdin EOF and SIGTERM: `node stubborn.mjs NAME SERVER.js [ARGS]` relays
 * stdio to a real MCP server (the published server-memory: plain JS, quick to start) and keeps its
 * stdin open, so the server stays up too.
 */
const STUBBORN = `
import { spawn } from 'node:child_process';
const [name, ...server] = process.argv.slice(2);
const say = (what) => process.stderr.write('[stubborn ' + name + '] ' + what + '\\n');
for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(sig, () => say('ignored ' + sig));
const child = spawn(process.execPath, server, { stdio: ['pipe', 'pipe', 'inherit'] });
child.stdin.on('error', () => {});
// Writing to the gateway's pipes once it is gone must not end the process either.
process.stdout.on('error', () => {});
process.stderr.on('error', () => {});
process.stdin.on('data', (chunk) => child.stdin.write(chunk));
process.stdin.on('end', () => say('ignored stdin EOF'));
child.stdout.on('data', (chunk) => process.stdout.write(chunk));
say('relay pid ' + process.pid + ', server pid ' + child.pid);
setInterval(() => {}, 60_000);
`;

/** Each process's parent and state, from /proc/<pid>/stat (the command name may hold spaces and parens). */
function processTable(): Map<number, { ppid: number; state: string }> {
  const table = new Map<number, { ppid: number; state: string }>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      table.set(Number(name), { ppid: Number(ppid), state: state ?? '?' });
    } catch {
      // Gone meanwhile.
    }
  }
  return table;
}

/** `root` and every process below it, by parent pid. */
function tree(root: number): number[] {
  const table = processTable();
  const found = [root];
  for (let i = 0; i < found.length; i++)
    for (const [pid, { ppid }] of table) if (ppid === found[i] && !found.includes(pid)) found.push(pid);
  return found;
}

/** Processes whose environment has `name=value` (ours only: others' environ is unreadable). */
function withEnv(name: string, value: string): number[] {
  const entry = `${name}=${value}`;
  return readdirSync('/proc')
    .filter((n) => /^\d+$/.test(n) && Number(n) !== process.pid)
    .filter((n) => {
      try {
        return readFileSync(`/proc/${n}/environ`, 'latin1').split('\0').includes(entry);
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** Alive and not a zombie (an orphaned zombie waits for init to reap it; it runs nothing). */
function running(pid: number): boolean {
  const state = processTable().get(pid)?.state;
  return state !== undefined && state !== 'Z' && state !== 'X';
}

function describeProcess(pid: number): string {
  try {
    return `${pid} ${readFileSync(`/proc/${pid}/cmdline`, 'utf8')
      .replace(/[\0\n]+/g, ' ')
      .slice(0, 160)}`;
  } catch {
    return `${pid} (gone)`;
  }
}

/** Registers a last-resort SIGKILL for every pid, so a failing test leaves nothing behind. */
function killOnCleanup(pids: readonly number[]): void {
  onCleanup(() => {
    for (const pid of pids) if (running(pid)) process.kill(pid, 'SIGKILL');
  });
}

/** Waits until none of `pids` runs; the error names the survivors. */
async function allGone(pids: readonly number[], what: string): Promise<void> {
  try {
    await waitFor(() => pids.every((pid) => !running(pid)), 10_000, what);
  } catch {
    throw new Error(`still running after ${what}:\n${pids.filter(running).map(describeProcess).join('\n')}`);
  }
}

/** Collects a child's stderr. */
function capture(proc: ChildProcess): () => string {
  let text = '';
  proc.stderr?.on('data', (chunk: Buffer) => (text += chunk.toString()));
  return () => text;
}

/** A run marker, the stubborn relay script and the two stubborn upstream entries (mcpServers shape). */
function stubbornSetup() {
  const dir = tempDir();
  const marker = randomBytes(8).toString('hex');
  const relay = join(dir, 'stubborn.mjs');
  writeFileSync(relay, STUBBORN);
  const env = { ORPHAN_TEST_RUN: marker, MEMORY_FILE_PATH: join(dir, 'memory.jsonl') };
  const servers = {
    // Ignores stdin EOF and SIGTERM itself.
    stubborn: { command: process.execPath, args: [relay, 'stubborn', MEMORY], cwd: ROOT, env },
    // A wrapper whose grandchild, in a session of its own, ignores them.
    wrapped: {
      command: 'sh',
      args: ['-c', `setsid "${process.execPath}" "${relay}" wrapped "${MEMORY}"; true`],
      cwd: ROOT,
      env,
    },
  };
  return { dir, marker, relay, servers };
}

describe.skipIf(process.platform !== 'linux')('no orphans', () => {
  it('the stubborn upstream really ignores stdin EOF and SIGTERM (else the tests below prove nothing)', async () => {
    const { dir, relay } = stubbornSetup();
    const proc = spawn(process.execPath, [relay, 'probe', MEMORY], {
      cwd: ROOT,
      env: { ...process.env, MEMORY_FILE_PATH: join(dir, 'memory.jsonl') },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const logs = capture(proc);
    let out = '';
    proc.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const [relayPid, serverPid] = (
      await waitFor(() => /relay pid (\d+), server pid (\d+)/.exec(logs()), 20_000, 'the relay to start')
    )
      .slice(1)
      .map(Number) as [number, number];
    killOnCleanup([relayPid, serverPid]);
    const params = { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } };
    proc.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params })}\n`);
    await waitFor(() => out.includes('"id":1'), 20_000, 'the initialize answer through the relay');
    proc.stdin.end();
    await waitFor(() => logs().includes('ignored stdin EOF'), 10_000, 'the relay to see EOF');
    proc.kill('SIGTERM');
    await waitFor(() => logs().includes('ignored SIGTERM'), 10_000, 'the relay to see SIGTERM');
    expect(running(relayPid)).toBe(true);
    expect(running(serverPid)).toBe(true);
  });

  it('SIGTERM to the `npm start` process leaves no process of its tree', async () => {
    const dir = tempDir();
    const npm = spawn('npm', ['start'], {
      cwd: ROOT,
      env: { ...process.env, SWITCHBOARD_PORT: '0', SWITCHBOARD_DB: join(dir, 'switchboard.db') },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const logs = capture(npm);
    const npmPid = npm.pid!;
    onCleanup(() => {
      for (const pid of tree(npmPid)) if (running(pid)) process.kill(pid, 'SIGKILL');
    });
    const url = await waitFor(() => /"url":"(http:\/\/[^"]+)\/mcp"/.exec(logs())?.[1], 30_000, 'the hub to listen');
    await waitFor(async () => (await fetch(`${url}/readyz`)).status === 200, 30_000, 'readiness');
    const servers = ((await (await fetch(`${url}/v1/servers`)).json()) as { servers: { pid: number | null }[] })
      .servers;
    const pids = tree(npmPid);
    killOnCleanup(pids);
    // npm, the hub, its three upstreams (and helpers such as the child guard): one tree.
    expect(servers).toHaveLength(3);
    for (const { pid } of servers) expect(pids).toContain(pid);

    const exited = new Promise((r) => npm.once('exit', r));
    npm.kill('SIGTERM');
    await exited;
    await allGone(pids, 'SIGTERM to npm');
  });

  for (const mode of ['serve', 'stdio'] as const) {
    const who = mode === 'serve' ? 'hub' : 'sidecar';
    it(`SIGKILL of the ${who} leaves no upstream, EOF-deaf ones and grandchildren included`, async () => {
      const { dir, marker, servers } = stubbornSetup();
      const file = join(dir, 'config.json');
      writeFileSync(
        file,
        JSON.stringify({
          http: { port: 0 },
          store: { path: join(dir, 'switchboard.db') },
          routing: { model: 'none' },
          log: { level: 'info' },
          servers,
        }),
      );
      const gateway = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli.ts'), mode, '--config', file], {
        cwd: ROOT,
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      const logs = capture(gateway);
      const gatewayPid = gateway.pid!;
      onCleanup(() => {
        for (const pid of [...tree(gatewayPid), ...withEnv('ORPHAN_TEST_RUN', marker)])
          if (running(pid)) process.kill(pid, 'SIGKILL');
      });
      if (mode === 'serve') {
        const url = await waitFor(() => /"url":"(http:\/\/[^"]+)\/mcp"/.exec(logs())?.[1], 30_000, 'the hub to listen');
        await waitFor(
          async () => {
            const body = (await (await fetch(`${url}/v1/servers`)).json()) as { servers: { state: string }[] };
            return body.servers.length === 2 && body.servers.every((s) => s.state === 'ready');
          },
          30_000,
          'both upstreams to connect',
        );
      } else {
        await waitFor(() => logs().match(/"msg":"upstream connected"/g)?.length === 2, 30_000, 'both upstreams');
      }
      // Both relays and both fixture servers behind them run (the probe siblings' leftovers may too).
      await waitFor(() => withEnv('ORPHAN_TEST_RUN', marker).length >= 5, 10_000, 'the upstream processes');
      const pids = [...new Set([...tree(gatewayPid), ...withEnv('ORPHAN_TEST_RUN', marker)])];
      killOnCleanup(pids);

      gateway.kill('SIGKILL');
      await allGone(pids, `SIGKILL of the ${mode} gateway`);
      // Nothing started for this run escaped the snapshot either (reparented processes included).
      expect(withEnv('ORPHAN_TEST_RUN', marker).filter(running).map(describeProcess)).toEqual([]);
    });
  }

  it('a graceful close stops upstreams that ignore EOF and SIGTERM, and their grandchildren', async () => {
    const { marker, servers } = stubbornSetup();
    onCleanup(() => {
      for (const pid of withEnv('ORPHAN_TEST_RUN', marker)) if (running(pid)) process.kill(pid, 'SIGKILL');
    });
    const hub = await startTestHub(makeConfig(servers, { routing: { model: 'none' } }));
    const status = hub.gateway.listServers();
    expect(status.map((s) => s.state)).toEqual(['ready', 'ready']);
    const pids = [
      ...new Set([...status.flatMap((s) => (s.pid ? tree(s.pid) : [])), ...withEnv('ORPHAN_TEST_RUN', marker)]),
    ];
    expect(pids.length).toBeGreaterThanOrEqual(5);
    await hub.close();
    await allGone(pids, 'hub.close()');
  });
});

describe('child guard elsewhere', () => {
  it('without Linux /proc it tags nothing, sweeps nothing and says so once, at debug', async () => {
    const lines: string[] = [];
    const sink = new Writable({ write: (chunk: Buffer, _enc, done) => (lines.push(chunk.toString()), done()) });
    const guard = new ChildGuard(createLogger({ level: 'debug', destination: sink }), { platform: 'darwin' });
    expect(guard.active).toBe(false);
    expect(guard.tag().env).toEqual({});
    expect(guard.tag().env[CHILD_TAG_VAR]).toBeUndefined();
    expect(await guard.sweep(guard.tag().id)).toBe(0);
    await guard.close();
    const notes = lines.filter((l) => l.includes('child guard unavailable'));
    expect(notes).toHaveLength(1);
    expect((JSON.parse(notes[0]!) as { level: number }).level).toBe(20); // pino's debug
  });
});
