/**
 * Durable tasks (issue 14): 1,000 concurrent tasks of a 2 s fixture tool through one hub, with real
 * components (an in-process hub on loopback with its SQLite file, the stdio fixture server, agents over
 * HTTP of both eras):
 *
 * 1. Cost of creating a task against a plain call: `alpha__echo` as a plain 2026 tools/call, and as a
 *    task (answered with the handle once the row is written), interleaved in blocks; and create until
 *    completed (create, then tasks/get until the result is inlined).
 * 2. 1,000 tasks live at once (a tool that runs until cancelled: 2 s is shorter than creating 1,000
 *    tasks takes on two cores, see 3): the process's heap and RSS (after a GC when `--expose-gc` is
 *    given) before and with all of them running, per task, and the SQLite file's growth per row (the
 *    agents run in this process, so their side of each task is counted too); status reads meanwhile
 *    (2026 tasks/get, get_call), p50/p99; then every one cancelled, until the fixture saw each cancel.
 * 3. 1,000 tasks of a 2 s tool (`alpha__slow {ms: 2000}`), created as fast as the agents can: how many
 *    run at once, and from the moment the registry settled a task (its `updatedAt`, from
 *    /v1/tasks/:id) to the moment its agent saw it: a get_call long poll (`waitMs`), a 2025 session's
 *    `notifications/tasks/status` push, and 2026 polling at the suggested interval (bounded by it).
 *
 * Most tasks go through four 2025 sessions (a 2026 request builds a server per request, the dearer
 * path: issue 17), 50 are call_capability handles and 20 raw 2026 tasks.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client as V1Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as V1Transport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CreateTaskResultSchema, TaskStatusNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { startHub, type Hub } from '../../src/compose.js';
import { buildConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { httpClient } from '../lib/clients.js';
import { fixtureArgs } from '../lib/procs.js';
import { interleaveUs, summarize } from '../lib/stats.js';
import type { BenchOptions, SectionResult } from '../run.js';
import { post2026 } from '../../test/tasks-agents.js';

const LIVE = 1_000;
const SLOW_MS = 2_000;
const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One raw 2026-07-28 request to the hub (the v2 client refuses `resultType: "task"` answers); its result. */
async function post(url: string, method: string, params: Record<string, unknown>, tasks = true) {
  const answer = await post2026(url, method, params, { tasks, agent: 'bench' });
  if (answer.error || !answer.result) throw new Error(`${method}: ${answer.error?.message ?? 'no answer'}`);
  return answer.result;
}

/** An admin API answer (loopback without auth: open). */
async function admin(hub: Hub, path: string): Promise<Record<string, unknown>> {
  return (await (await fetch(`${hub.url}${path}`)).json()) as Record<string, unknown>;
}

/** When the registry settled a task (epoch ms), from the admin API. */
async function settledAt(hub: Hub, id: string): Promise<number> {
  return Date.parse((await admin(hub, `/v1/tasks/${id}`)).updatedAt as string);
}

function memory() {
  (globalThis as { gc?: () => void }).gc?.();
  const m = process.memoryUsage();
  return { heap: m.heapUsed, rss: m.rss };
}

/** Runs `n` jobs with at most `width` at a time. */
async function pooled<T>(n: number, width: number, job: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array<T>(n);
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      for (let i = next++; i < n; i = next++) out[i] = await job(i);
    }),
  );
  return out;
}

/** The agents of the section: four 2025 sessions, a 2025 client for handles, raw 2026 requests. */
interface Agents {
  readonly hub: Hub;
  readonly sessions: V1Client[];
  readonly handles: Awaited<ReturnType<typeof httpClient>>;
}

/** Starts LIVE tasks of `args` (930 on the sessions, 50 handles, 20 raw 2026) and hands each id to `started`. */
async function startMany(
  a: Agents,
  args: Record<string, unknown>,
  started: (id: string, kind: 'session' | 'handle' | 'raw') => void,
) {
  const slow = { name: 'alpha__slow', arguments: args };
  const [onSessions, handles, raw] = await Promise.all([
    pooled(LIVE - 70, 64, async (i) => {
      const r = await a.sessions[i % a.sessions.length]!.request(
        { method: 'tools/call', params: { ...slow, task: {} } },
        CreateTaskResultSchema,
      );
      started(r.task.taskId, 'session');
      return r.task.taskId;
    }),
    pooled(50, 8, async () => {
      const r = await a.handles.callTool({
        name: 'call_capability',
        arguments: { tool: slow.name, arguments: args, async: true },
      });
      const handle = (r.structuredContent as { handle: string }).handle;
      started(handle, 'handle');
      return handle;
    }),
    pooled(20, 4, async () => {
      const taskId = (await post(a.hub.url, 'tools/call', slow)).taskId as string;
      started(taskId, 'raw');
      return taskId;
    }),
  ]);
  return { onSessions, handles, raw, all: [...onSessions, ...handles, ...raw] };
}

/** Tasks per status now. */
async function counts(hub: Hub): Promise<Record<string, number>> {
  return (await admin(hub, '/v1/tasks?limit=1')).counts as Record<string, number>;
}

/** Phase 2: 1,000 live at once, memory and status reads, then all cancelled. */
async function liveAtOnce(a: Agents, store: string, reads: number) {
  const before = memory();
  const bytesBefore = statSync(store).size;
  const t0 = performance.now();
  const started = await startMany(a, { ms: 600_000, steps: 600 }, () => {});
  const createMs = performance.now() - t0;
  const running = (await counts(a.hub)).working ?? 0;
  const during = memory();
  const bytesAfter = statSync(store).size;
  const [tasksGet, getCall] = await interleaveUs(
    [
      (i) => post(a.hub.url, 'tasks/get', { taskId: started.all[i % started.all.length] }),
      (i) =>
        a.handles.callTool({ name: 'get_call', arguments: { handle: started.handles[i % started.handles.length] } }),
    ],
    reads,
    10,
  );
  const cancelStart = performance.now();
  await pooled(started.all.length, 32, (i) => post(a.hub.url, 'tasks/cancel', { taskId: started.all[i] }));
  const cancelMs = performance.now() - cancelStart;
  const stats = async () =>
    (await a.handles.callTool({ name: 'alpha__stats', arguments: {} })).structuredContent as { cancelled: number };
  for (let i = 0; i < 300 && (await stats()).cancelled < LIVE; i++) await sleep(100);
  return {
    tasks: LIVE,
    running,
    createMs: round(createMs, 0),
    createPerSecond: round((LIVE * 1000) / createMs, 0),
    heapBytesPerTask: Math.round((during.heap - before.heap) / LIVE),
    rssBytesPerTask: Math.round((during.rss - before.rss) / LIVE),
    sqliteBytesPerTask: Math.round((bytesAfter - bytesBefore) / LIVE),
    gcExposed: typeof (globalThis as { gc?: unknown }).gc === 'function',
    statusReadUs: { tasksGet2026: tasksGet!, getCall: getCall! },
    cancelAllMs: round(cancelMs, 0),
    cancelledUpstream: (await stats()).cancelled,
    cancelledUpstreamWithinMs: round(performance.now() - cancelStart, 0),
  };
}

/** Phase 3: 1,000 tasks of the 2 s tool: concurrency reached, and completion-to-agent lag per surface. */
async function twoSecondTool(a: Agents) {
  const pushed = new Map<string, number>();
  for (const session of a.sessions)
    session.setNotificationHandler(TaskStatusNotificationSchema, (n) => {
      if (n.params.status === 'completed') pushed.set(n.params.taskId, Date.now());
    });
  const seen: Promise<{ id: string; at: number }>[] = [];
  const longPoll = async (handle: string) => {
    for (;;) {
      const r = await a.handles.callTool({ name: 'get_call', arguments: { handle, waitMs: 30_000 } });
      if ((r.structuredContent as { status: string }).status === 'completed') return { id: handle, at: Date.now() };
    }
  };
  const poll = async (taskId: string) => {
    for (;;) {
      const got = await post(a.hub.url, 'tasks/get', { taskId });
      if (got.status === 'completed') return { id: taskId, at: Date.now() };
      await sleep(got.pollIntervalMs as number);
    }
  };
  const polls: Promise<{ id: string; at: number }>[] = [];
  let peak = 0;
  const sampler = setInterval(() => void counts(a.hub).then((c) => (peak = Math.max(peak, c.working ?? 0))), 250);
  const t0 = performance.now();
  const started = await startMany(a, { ms: SLOW_MS, steps: 4 }, (id, kind) => {
    if (kind === 'handle') seen.push(longPoll(id));
    if (kind === 'raw') polls.push(poll(id));
  });
  const createMs = performance.now() - t0;
  const longAt = await Promise.all(seen);
  const pollAt = await Promise.all(polls);
  for (let left = 1; left > 0; await sleep(100)) left = (await counts(a.hub)).working ?? 0;
  clearInterval(sampler);
  const allDoneMs = performance.now() - t0;
  const lag = async (at: readonly { id: string; at: number }[]) =>
    summarize(await Promise.all(at.map(async ({ id, at: t }) => t - (await settledAt(a.hub, id)))));
  const pushedAt = started.onSessions.filter((id) => pushed.has(id)).map((id) => ({ id, at: pushed.get(id)! }));
  return {
    tasks: LIVE,
    toolMs: SLOW_MS,
    createMs: round(createMs, 0),
    allCompletedMs: round(allDoneMs, 0),
    peakRunning: peak,
    completionToAgentMs: {
      getCallLongPoll: await lag(longAt),
      push2025: await lag(pushedAt),
      poll2026: await lag(pollAt),
      pushSeen: pushedAt.length,
      pushExpected: started.onSessions.length,
    },
  };
}

/** The section. */
export async function tasks(options: BenchOptions): Promise<SectionResult> {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-bench-tasks-'));
  const store = join(dir, 'hub.db');
  const hub = await startHub(
    buildConfig({
      http: { port: 0 },
      store: { path: store },
      routing: { model: 'none', exposure: 'both' },
      log: { level: 'silent' },
      tasks: { maxPerOwner: 5_000, maxActive: 20_000, minRetentionMs: 600_000 },
      servers: { alpha: { command: process.execPath, args: fixtureArgs('alpha') } },
    }),
    { log: silentLogger() },
  );
  await hub.ready;
  const handles = await httpClient(`${hub.url}/mcp`);
  // Agents named alike share an owner (no auth): each reads the others' tasks, as one agent would.
  const sessions = await Promise.all(
    [0, 1, 2, 3].map(async () => {
      const session = new V1Client({ name: 'bench', version: '1' }, { capabilities: {} });
      await session.connect(new V1Transport(new URL(`${hub.url}/mcp`)));
      return session;
    }),
  );
  const agents: Agents = { hub, sessions, handles };
  try {
    // 1. Creation cost.
    const n = Math.min(options.calls, 1_000);
    const echo = { name: 'alpha__echo', arguments: { text: 'hi' } };
    const [plain, created] = await interleaveUs(
      [() => post(hub.url, 'tools/call', echo, false), () => post(hub.url, 'tools/call', echo)],
      n,
    );
    const roundTrips: number[] = [];
    for (let i = 0; i < Math.min(200, n); i++) {
      const t0 = performance.now();
      const task = await post(hub.url, 'tools/call', echo);
      for (let got = task; got.status !== 'completed'; await sleep(1))
        got = await post(hub.url, 'tasks/get', { taskId: task.taskId });
      roundTrips.push((performance.now() - t0) * 1000);
    }
    const createToDone = summarize(roundTrips);
    await sleep(200);
    const live = await liveAtOnce(agents, store, Math.min(300, n));
    const two = await twoSecondTool(agents);
    const results = {
      creation: {
        plainUs: plain!,
        taskCreateUs: created!,
        createOverPlainP50: round(created!.p50 / plain!.p50),
        createToCompletedUs: createToDone,
      },
      live,
      twoSecondTool: two,
    };
    const ms = (s: { p50: number; p99: number }) => `${round(s.p50 / 1000, 2)} / ${round(s.p99 / 1000, 2)} ms`;
    const lagCell = (s: { p50: number; p99: number }) => `${s.p50} / ${s.p99} ms`;
    const { completionToAgentMs: lag } = two;
    const markdown = [
      '',
      `## Tasks (${LIVE} tasks through one hub)`,
      '',
      '| measure | value |',
      '|---|---|',
      `| plain tools/call (2026, p50 / p99) | ${ms(plain!)} |`,
      `| task created, handle returned (p50 / p99) | ${ms(created!)} (${results.creation.createOverPlainP50}× plain at p50) |`,
      `| task created until its result is read (p50 / p99) | ${ms(createToDone)} |`,
      `| ${LIVE} tasks created (all running at once: ${live.running}) | ${live.createMs} ms (${live.createPerSecond} per second) |`,
      `| heap per live task | ${live.heapBytesPerTask} bytes${live.gcExposed ? '' : ' (no --expose-gc: noisy)'} |`,
      `| RSS per live task | ${live.rssBytesPerTask} bytes |`,
      `| SQLite file per task row | ${live.sqliteBytesPerTask} bytes |`,
      `| tasks/get while ${LIVE} run (p50 / p99) | ${ms(live.statusReadUs.tasksGet2026)} |`,
      `| get_call while ${LIVE} run (p50 / p99) | ${ms(live.statusReadUs.getCall)} |`,
      `| cancel all ${LIVE} (tasks/cancel) / every upstream call stopped | ${live.cancelAllMs} ms / ${live.cancelledUpstreamWithinMs} ms (${live.cancelledUpstream} cancels seen by the fixture) |`,
      `| ${LIVE} tasks of a ${SLOW_MS / 1000} s tool: created / all completed | ${two.createMs} ms / ${two.allCompletedMs} ms (at most ${two.peakRunning} running at once) |`,
      `| completion to agent, get_call long poll (p50 / p99) | ${lagCell(lag.getCallLongPoll)} |`,
      `| completion to agent, 2025 status notification (p50 / p99) | ${lagCell(lag.push2025)} (${lag.pushSeen} of ${lag.pushExpected} seen) |`,
      `| completion to agent, 2026 polling every 1 s (p50 / p99) | ${lagCell(lag.poll2026)} |`,
    ];
    return {
      results,
      rows: [],
      notes: [
        `creating a task costs ${results.creation.createOverPlainP50}× a plain call at p50 (the row is written before the handle is returned); ${LIVE} live tasks take ${live.heapBytesPerTask} bytes of heap each`,
      ],
      markdown,
    };
  } finally {
    for (const session of sessions) await session.close().catch(() => {});
    await handles.close().catch(() => {});
    await hub.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
