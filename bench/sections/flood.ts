/**
 * A notification flood from one upstream, against a quiet run in the same bench run (issue 10, defect 7).
 *
 * Two hubs, one after the other, each with two stdio servers from test/fixtures/hostile-server.js:
 * `calm` (answers `echo`) and `noisy`, quiet in the baseline and run with `--flood` in the flood phase
 * (log messages and real `tools/list_changed` as fast as its stdout drains, plus progress as fast as it
 * can on a `slow` call an agent keeps open). Meanwhile an agent makes sequential control calls of
 * `calm__echo`. Reported per phase: the gateway's event-loop delay (perf_hooks monitorEventLoopDelay,
 * measured inside the gateway process), the control calls' latency, the gateway's CPU share and RSS
 * growth, and how many notifications the server sent against how many reached the agent.
 *
 * The hub runs as a child process (this file with `--flood-hub`), so the bench's own clients do not
 * count against the gateway's event loop.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import type { Client } from '@modelcontextprotocol/client';
import { httpClient } from '../lib/clients.js';
import { ROOT, track, writeGatewayConfig } from '../lib/procs.js';
import { summarize, type Summary } from '../lib/stats.js';
import type { BenchOptions, SectionResult } from '../run.js';

const HOSTILE = join(ROOT, 'test/fixtures/hostile-server.js');
const SELF = join(ROOT, 'bench/sections/flood.ts');

/** What the gateway process measured over one window. */
interface GatewayWindow {
  readonly loopDelayMs: { p50: number; p99: number; max: number; mean: number };
  readonly cpuPercent: number;
  readonly rssGrowthMb: number;
  /** Heap growth after a full GC at both ends of the window (what is retained, not garbage not yet collected). */
  readonly heapGrowthMb: number;
}

/** One phase: quiet or flooded. */
interface Phase {
  readonly gateway: GatewayWindow;
  readonly control: Summary;
  readonly sent: Record<string, number>;
  readonly received: { logs: number; progress: number; listChanged: number };
}

/** The hub child: starts a hub on the config file and answers `reset` / `report` on stdin. */
async function hubChild(configFile: string): Promise<void> {
  const { buildConfig } = await import('../../src/config/load.js');
  const { startHub } = await import('../../src/compose.js');
  const { silentLogger } = await import('../../src/telemetry/logger.js');
  const hub = await startHub(buildConfig(JSON.parse(readFileSync(configFile, 'utf8'))), { log: silentLogger() });
  await hub.ready;
  const histogram = monitorEventLoopDelay({ resolution: 5 });
  histogram.enable();
  let cpu = process.cpuUsage();
  let at = performance.now();
  let rss = process.memoryUsage().rss;
  const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
  const heap = () => (gc(), process.memoryUsage().heapUsed);
  let heapAt = heap();
  process.stdout.write(`READY ${hub.url}\n`);
  const ms = (ns: number) => Math.round(ns / 1e4) / 100;
  createInterface({ input: process.stdin }).on('line', (line) => {
    if (line === 'reset') {
      histogram.reset();
      cpu = process.cpuUsage();
      at = performance.now();
      rss = process.memoryUsage().rss;
      heapAt = heap();
      process.stdout.write('OK\n');
    } else if (line === 'report') {
      const used = process.cpuUsage(cpu);
      const window: GatewayWindow = {
        loopDelayMs: {
          p50: ms(histogram.percentile(50)),
          p99: ms(histogram.percentile(99)),
          max: ms(histogram.max),
          mean: ms(histogram.mean),
        },
        cpuPercent: Math.round(((used.user + used.system) / 1000 / (performance.now() - at)) * 1000) / 10,
        rssGrowthMb: Math.round((process.memoryUsage().rss - rss) / 1e5) / 10,
        heapGrowthMb: Math.round((heap() - heapAt) / 1e5) / 10,
      };
      process.stdout.write(`${JSON.stringify(window)}\n`);
    }
  });
  process.stdin.on('end', () => void hub.close().finally(() => process.exit(0)));
}

/** A running hub child: its URL and its two commands. */
interface HubChild {
  readonly url: string;
  ask(command: 'reset' | 'report'): Promise<string>;
  stop(): Promise<void>;
}

async function startHubChild(configFile: string): Promise<HubChild> {
  const proc = track(
    spawn(process.execPath, ['--expose-gc', '--import', 'tsx', SELF, '--flood-hub', configFile], {
      cwd: ROOT,
      stdio: ['pipe', 'pipe', 'inherit'],
    }),
  );
  const waiting: ((line: string) => void)[] = [];
  let ready: (url: string) => void = () => {};
  const url = new Promise<string>((resolve, reject) => {
    ready = resolve;
    proc.once('exit', (code) => reject(new Error(`the flood hub exited (${code}) before it was ready`)));
  });
  createInterface({ input: proc.stdout! }).on('line', (line) => {
    if (line.startsWith('READY ')) ready(line.slice(6));
    else waiting.shift()?.(line);
  });
  return {
    url: await url,
    ask: (command) =>
      new Promise<string>((resolve) => {
        waiting.push(resolve);
        proc.stdin!.write(`${command}\n`);
      }),
    stop: () =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null) return resolve();
        proc.once('exit', () => resolve());
        proc.stdin!.end();
      }),
  };
}

function server(...flags: string[]) {
  return { command: process.execPath, args: [HOSTILE, ...flags], protocol: 'legacy' };
}

async function phase(flood: boolean, durationMs: number): Promise<Phase> {
  const config = writeGatewayConfig({ calm: server(), noisy: server(...(flood ? ['--flood'] : [])) });
  const hub = await startHubChild(config);
  const agents: Client[] = [];
  try {
    const control = await httpClient(`${hub.url}/mcp`);
    const listener = await httpClient(`${hub.url}/mcp`);
    agents.push(control, listener);
    const received = { logs: 0, progress: 0, listChanged: 0 };
    listener.setNotificationHandler('notifications/message', () => void received.logs++);
    listener.setNotificationHandler('notifications/tools/list_changed', () => void received.listChanged++);
    await listener.setLoggingLevel('info');
    // Warm both paths, then measure one window.
    for (let i = 0; i < 50; i++) await control.callTool({ name: 'calm__echo', arguments: { text: 'warm' } });
    await hub.ask('reset');
    // Under the flood, an open call whose progress comes as fast as the server can send it.
    const slow = flood
      ? listener.callTool(
          { name: 'noisy__slow', arguments: { ms: durationMs } },
          { timeout: durationMs + 30_000, onprogress: () => void received.progress++ },
        )
      : undefined;
    const samples: number[] = [];
    const end = performance.now() + durationMs;
    while (performance.now() < end) {
      const started = performance.now();
      await control.callTool({ name: 'calm__echo', arguments: { text: 'ping' } });
      samples.push(performance.now() - started);
    }
    await slow;
    const gateway = JSON.parse(await hub.ask('report')) as GatewayWindow;
    const stats = await control.callTool({ name: 'noisy__stats', arguments: {} });
    const text = (stats.content as { type: string; text: string }[])[0]?.text ?? '{}';
    return { gateway, control: summarize(samples), sent: JSON.parse(text) as Record<string, number>, received };
  } finally {
    await Promise.all(agents.map((a) => a.close().catch(() => {})));
    await hub.stop();
  }
}

/** The section: a quiet phase, then a flooded one. */
export async function flood(options: BenchOptions): Promise<SectionResult> {
  const durationMs = Math.max(2_000, options.durationMs);
  const quiet = await phase(false, durationMs);
  const flooded = await phase(true, durationMs);
  const row = (name: string, p: Phase) =>
    `| ${name} | ${p.gateway.loopDelayMs.p50} / ${p.gateway.loopDelayMs.p99} / ${p.gateway.loopDelayMs.max} | ${p.control.p50} / ${p.control.p99} / ${p.control.max} (${p.control.n} calls) | ${p.gateway.cpuPercent}% | ${p.gateway.rssGrowthMb} / ${p.gateway.heapGrowthMb} MB | ${p.sent.log ?? 0} → ${p.received.logs} | ${p.sent.progress ?? 0} → ${p.received.progress} | ${p.sent.listChanged ?? 0} → ${p.received.listChanged} |`;
  return {
    results: { durationMs, quiet, flooded },
    rows: [],
    notes: [
      `event-loop delay p99 ${quiet.gateway.loopDelayMs.p99} ms quiet, ${flooded.gateway.loopDelayMs.p99} ms under the flood; control call p50 ${quiet.control.p50} → ${flooded.control.p50} ms, p99 ${quiet.control.p99} → ${flooded.control.p99} ms`,
    ],
    markdown: [
      '',
      `## Notification flood (${durationMs} ms per phase)`,
      '',
      'One upstream floods log messages, `tools/list_changed` (each a real change) and progress; another serves sequential control calls. Loop delay is measured inside the gateway process. Notification columns: sent by the server → reached the agent.',
      '',
      '| phase | loop delay ms (p50 / p99 / max) | control call ms (p50 / p99 / max) | gateway CPU | RSS / heap-after-GC growth | logs | progress | list_changed |',
      '|---|---|---|---|---|---|---|---|',
      row('quiet', quiet),
      row('flood', flooded),
    ],
  };
}

const at = process.argv.indexOf('--flood-hub');
if (at !== -1) {
  const file = process.argv[at + 1];
  if (!file) throw new Error('--flood-hub needs a config file');
  void hubChild(file);
}
