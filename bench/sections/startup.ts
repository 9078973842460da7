/**
 * Start-up: process start to the first `tools/list` that shows every upstream of the embedded
 * default (`examples/default.yaml`: everything__*, memory__*, filesystem__*), for the sidecar
 * (stdio) and the hub (`serve`), run through tsx as `npm start` does and, when `npm run build` has
 * been run, through the built CLI that `npx switchboard` and a global install use.
 *
 * Baseline, in the same run: the same three servers started directly by three MCP clients, time
 * until all three have answered initialize and tools/list. The variants take turns run by run so a
 * change in background load lands on all of them alike. Each run gets a fresh temp store
 * (SWITCHBOARD_DB), so nothing is warm: no saved vector index, no embedding cache.
 *
 * Also reported: how long the embedding model takes alone in a fresh process (library import and
 * model load). The gateway loads it after agents' first answers (see compose.ts), so only the
 * import, where something imports the library at start (cli.ts does, for `model pull`), still
 * lies on the way to the first tools/list.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import type { Stream } from 'node:stream';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { loadConfigFile } from '../../src/config/load.js';
import { freePort, ROOT, track } from '../lib/procs.js';
import type { BenchOptions, SectionResult } from '../run.js';

const DEFAULT_CONFIG = join(ROOT, 'examples/default.yaml');
const PREFIXES = ['everything__', 'memory__', 'filesystem__'] as const;
const BUILT_CLI = join(ROOT, 'dist/src/cli.js');
const TIMEOUT_MS = 30_000;

/** One timed start. */
interface Sample {
  /** Process start to the first tools/list with every upstream's tools. */
  readonly fullMs: number;
  /** Process start to the answer to initialize (held until start-up is over). */
  readonly firstAnswerMs: number;
  /** tools/list calls it took; 1 means the first list was already complete. */
  readonly lists: number;
  /** Hub only: process start to the first 200 from /healthz. */
  readonly liveMs?: number;
}

/** p50 / min / max of a list of samples, in ms. */
interface Spread {
  readonly n: number;
  readonly p50: number;
  readonly min: number;
  readonly max: number;
}

const round = (x: number) => Math.round(x * 10) / 10;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function spread(values: readonly number[]): Spread {
  const sorted = [...values].sort((a, b) => a - b);
  const p50 = sorted[Math.max(0, Math.ceil(sorted.length / 2) - 1)] ?? Number.NaN;
  return {
    n: sorted.length,
    p50: round(p50),
    min: round(sorted[0] ?? Number.NaN),
    max: round(sorted.at(-1) ?? Number.NaN),
  };
}

/** Every tool name a client sees (all pages). */
async function toolNames(client: Client): Promise<string[]> {
  const names: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await client.listTools(cursor ? { cursor } : undefined);
    names.push(...page.tools.map((t) => t.name));
    cursor = page.nextCursor;
  } while (cursor);
  return names;
}

const complete = (names: readonly string[]) => PREFIXES.every((p) => names.some((n) => n.startsWith(p)));

/** Lists tools until every upstream is there; returns how many lists it took. */
async function listUntilComplete(client: Client, t0: number): Promise<number> {
  for (let lists = 1; ; lists++) {
    if (complete(await toolNames(client))) return lists;
    if (performance.now() - t0 > TIMEOUT_MS) throw new Error(`no complete tools/list within ${TIMEOUT_MS} ms`);
    await sleep(10);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Waits (bounded) until a process is gone, so the next run does not share the CPU with this one's shutdown. */
async function gone(pid: number | null | undefined): Promise<void> {
  for (let i = 0; pid && i < 200 && alive(pid); i++) await sleep(25);
}

/** The last lines a stream wrote (for the error when a start fails). */
function tail(stream: Stream | null): () => string {
  const lines: string[] = [];
  stream?.on('data', (chunk: Buffer) => {
    lines.push(chunk.toString());
    if (lines.length > 20) lines.shift();
  });
  return () => lines.join('');
}

/** A store folder for a run: fresh per run, or kept across runs (a restart: era verdicts, vectors, caches warm). */
interface Store {
  readonly env: Record<string, string>;
  done(): void;
}

/** A fresh temp store for one run. */
function freshStore(): Store {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-bench-startup-'));
  return {
    env: { SWITCHBOARD_DB: join(dir, 'switchboard.db') },
    done: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Sidecar: spawn, initialize, list until complete. */
async function sidecarRun(cliArgs: readonly string[], kept?: Store): Promise<Sample> {
  const store = kept ?? freshStore();
  const client = new Client({ name: 'bench-startup', version: '1.0.0' });
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [...cliArgs, 'stdio', '--config', DEFAULT_CONFIG],
    cwd: ROOT,
    env: store.env,
    stderr: 'pipe',
  });
  const stderr = tail(transport.stderr);
  const t0 = performance.now();
  try {
    await client.connect(transport);
    const firstAnswerMs = performance.now() - t0;
    const lists = await listUntilComplete(client, t0);
    return { fullMs: performance.now() - t0, firstAnswerMs, lists };
  } catch (error) {
    throw new Error(`sidecar ${cliArgs.join(' ')}: ${String(error)}\n${stderr()}`);
  } finally {
    const pid = transport.pid;
    await client.close().catch(() => {});
    await gone(pid);
    store.done();
  }
}

/** Hub: spawn `serve`, connect as soon as it accepts (2025-era session), list until complete. */
async function hubRun(cliArgs: readonly string[], kept?: Store): Promise<Sample> {
  const store = kept ?? freshStore();
  const port = await freePort();
  const t0 = performance.now();
  const proc: ChildProcess = track(
    spawn(
      process.execPath,
      [...cliArgs, 'serve', '--config', DEFAULT_CONFIG, '--host', '127.0.0.1', '--port', String(port)],
      { cwd: ROOT, env: { ...process.env, ...store.env }, stdio: ['ignore', 'ignore', 'pipe'] },
    ),
  );
  const stderr = tail(proc.stderr);
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const base = `http://127.0.0.1:${port}`;
  let client: Client | undefined;
  try {
    // Liveness first (a plain GET, cheap to repeat), then one session: its initialize is held
    // until start-up is over, so the session opens before /readyz is ready, as a host's would.
    while (
      !(await fetch(`${base}/healthz`).then(
        (r) => r.ok,
        () => false,
      ))
    ) {
      if (proc.exitCode !== null) throw new Error(`the hub exited with ${proc.exitCode}:\n${stderr()}`);
      if (performance.now() - t0 > TIMEOUT_MS) throw new Error(`the hub did not listen within ${TIMEOUT_MS} ms`);
      await sleep(10);
    }
    const liveMs = performance.now() - t0;
    client = new Client({ name: 'bench-startup', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${base}/mcp`)));
    const firstAnswerMs = performance.now() - t0;
    const lists = await listUntilComplete(client, t0);
    return { fullMs: performance.now() - t0, firstAnswerMs, lists, liveMs };
  } catch (error) {
    throw new Error(`hub ${cliArgs.join(' ')}: ${String(error)}\n${stderr()}`);
  } finally {
    await client?.close().catch(() => {});
    proc.kill('SIGTERM');
    await exited;
    await gone(proc.pid);
    store.done();
  }
}

/** Baseline: the default config's three servers, each started directly by its own client, in parallel. */
async function directRun(): Promise<Sample> {
  const config = loadConfigFile(DEFAULT_CONFIG);
  const t0 = performance.now();
  const clients: { client: Client; transport: StdioClientTransport }[] = [];
  try {
    await Promise.all(
      config.servers.map(async (server) => {
        const spec = server.instances[0];
        if (spec?.kind !== 'stdio') throw new Error(`${server.name}: the baseline expects a stdio server`);
        const client = new Client({ name: 'bench-startup', version: '1.0.0' });
        const transport = new StdioClientTransport({
          command: spec.command,
          args: [...spec.args],
          env: { ...spec.env },
          cwd: spec.cwd ?? ROOT,
          stderr: 'ignore',
        });
        clients.push({ client, transport });
        await client.connect(transport);
        if ((await toolNames(client)).length === 0) throw new Error(`${server.name} listed no tools`);
      }),
    );
    const fullMs = performance.now() - t0;
    return { fullMs, firstAnswerMs: fullMs, lists: 1 };
  } finally {
    const pids = clients.map((c) => c.transport.pid);
    await Promise.all(clients.map((c) => c.client.close().catch(() => {})));
    for (const pid of pids) await gone(pid);
  }
}

/** The embedding model alone, in a fresh process: import of the product's loader, then the load it does. */
async function modelRun(built: boolean): Promise<{ importMs: number; loadMs: number }> {
  const module = built ? join(ROOT, 'dist/src/index/embedder/load.js') : join(ROOT, 'src/index/embedder/load.ts');
  const script = [
    'const t0 = performance.now();',
    `const { openEmbedder } = await import(${JSON.stringify(module)});`,
    'const t1 = performance.now();',
    `await openEmbedder({ model: 'switchboard-static-v1', modelsDir: ${JSON.stringify(join(ROOT, 'models'))} });`,
    'process.stdout.write(JSON.stringify({ importMs: t1 - t0, loadMs: performance.now() - t1 }));',
  ].join('\n');
  const args = [...(built ? [] : ['--import', 'tsx']), '--input-type=module', '-e', script];
  const proc = track(spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] }));
  let out = '';
  proc.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const code = await new Promise<number | null>((r) => proc.once('exit', r));
  if (code !== 0) throw new Error(`model probe exited with ${code}`);
  return JSON.parse(out) as { importMs: number; loadMs: number };
}

/** One variant's figures in the results file. */
interface VariantResult {
  readonly label: string;
  readonly fullToolsListMs: Spread;
  readonly firstAnswerMs: Spread;
  readonly healthzMs?: Spread;
  /** Runs whose first tools/list already showed every upstream. */
  readonly firstListComplete: number;
  readonly ratioP50VsDirect: number;
}

interface Variant {
  readonly key: string;
  readonly label: string;
  readonly run: () => Promise<Sample>;
}

/** The start-up section. */
export async function startup(options: BenchOptions): Promise<SectionResult> {
  const runs = Math.max(3, Math.min(10, Math.round(options.calls / 200)));
  const built = existsSync(BUILT_CLI);
  const tsxCli = ['--import', 'tsx', join(ROOT, 'src/cli.ts')];
  // Restarts share one store each (removed at the end), so the second start onwards finds what the first kept.
  const keptStores = [freshStore(), freshStore()];
  const keep = (store: Store): Store => ({ env: store.env, done: () => {} });
  const variants: Variant[] = [
    { key: 'direct', label: 'direct: 3 clients start the 3 servers (baseline)', run: directRun },
    { key: 'sidecarTsx', label: 'sidecar, `node --import tsx src/cli.ts stdio`', run: () => sidecarRun(tsxCli) },
    { key: 'hubTsx', label: 'hub, `node --import tsx src/cli.ts serve`', run: () => hubRun(tsxCli) },
    ...(built
      ? [
          {
            key: 'sidecarBuilt',
            label: 'sidecar, built `node dist/src/cli.js stdio`',
            run: () => sidecarRun([BUILT_CLI]),
          },
          { key: 'hubBuilt', label: 'hub, built `node dist/src/cli.js serve`', run: () => hubRun([BUILT_CLI]) },
          {
            key: 'sidecarBuiltRestart',
            label: 'sidecar, built, restart (same store: remembered protocol eras, saved index)',
            run: () => sidecarRun([BUILT_CLI], keep(keptStores[0]!)),
          },
          {
            key: 'hubBuiltRestart',
            label: 'hub, built, restart (same store)',
            run: () => hubRun([BUILT_CLI], keep(keptStores[1]!)),
          },
        ]
      : []),
  ];
  // One untimed start of each warms the OS file cache and tsx's transpile cache.
  for (const v of variants) await v.run();
  const samples = new Map<string, Sample[]>(variants.map((v) => [v.key, []]));
  const model: Record<'tsx' | 'built', { importMs: number[]; loadMs: number[] }> = {
    tsx: { importMs: [], loadMs: [] },
    built: { importMs: [], loadMs: [] },
  };
  for (let i = 0; i < runs; i++) {
    for (const v of variants) samples.get(v.key)!.push(await v.run());
    for (const kind of built ? (['tsx', 'built'] as const) : (['tsx'] as const)) {
      const m = await modelRun(kind === 'built');
      model[kind].importMs.push(m.importMs);
      model[kind].loadMs.push(m.loadMs);
    }
  }
  const direct = spread(samples.get('direct')!.map((s) => s.fullMs));
  const results: Record<string, VariantResult> = {};
  for (const v of variants) {
    const s = samples.get(v.key)!;
    const full = spread(s.map((x) => x.fullMs));
    const live = s.flatMap((x) => (x.liveMs === undefined ? [] : [x.liveMs]));
    results[v.key] = {
      label: v.label,
      fullToolsListMs: full,
      firstAnswerMs: spread(s.map((x) => x.firstAnswerMs)),
      ...(live.length ? { healthzMs: spread(live) } : {}),
      firstListComplete: s.filter((x) => x.lists === 1).length,
      ratioP50VsDirect: Math.round((full.p50 / direct.p50) * 100) / 100,
    };
  }
  const modelSpread = {
    tsx: { importMs: spread(model.tsx.importMs), loadMs: spread(model.tsx.loadMs) },
    ...(built ? { built: { importMs: spread(model.built.importMs), loadMs: spread(model.built.loadMs) } } : {}),
  };
  const cell = (s: Spread) => `${s.p50} (${s.min} .. ${s.max})`;
  const markdown = [
    '',
    `Start-up of the embedded default (\`examples/default.yaml\`), ${runs} runs each, fresh temp store per run (restart rows: one store kept across runs): process start to the first \`tools/list\` showing every upstream (everything__*, memory__*, filesystem__*). Goal: under 1 s.`,
    '',
    '| path | first full tools/list ms, p50 (min .. max) | ratio p50 vs direct | initialize answered ms, p50 | /healthz ms, p50 | first list complete |',
    '|---|---|---|---|---|---|',
    ...variants.map((v) => {
      const r = results[v.key]!;
      const init = v.key === 'direct' ? '-' : r.firstAnswerMs.p50;
      return `| ${v.label} | ${cell(r.fullToolsListMs)} | ${r.ratioP50VsDirect} | ${init} | ${r.healthzMs?.p50 ?? '-'} | ${r.firstListComplete}/${runs} |`;
    }),
    '',
    `Embedding model alone, fresh process: tsx import ${cell(modelSpread.tsx.importMs)} ms, load ${cell(modelSpread.tsx.loadMs)} ms` +
      (modelSpread.built
        ? `; built import ${cell(modelSpread.built.importMs)} ms, load ${cell(modelSpread.built.loadMs)} ms.`
        : '.'),
    built
      ? "Users of `npx switchboard`, a global install or the sidecar JSON after `npm run build` run the built CLI; `npm start` and the README's tsx sidecar line run through tsx."
      : 'No built CLI (run `npm run build` to measure `dist/src/cli.js`, which `npx switchboard` and a global install run).',
  ];
  for (const store of keptStores) store.done();
  return { results: { runs, variants: results, model: modelSpread }, rows: [], notes: [], markdown };
}
