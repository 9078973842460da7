/**
 * `npm run bench`: runs every benchmark section, each against its baseline in the same run, and
 * writes bench/results/<section>.json plus a markdown summary, bench/results/README.md.
 *
 *   npm run bench                               all sections
 *   npm run bench -- --section overhead-stdio   one section (repeatable)
 *   npm run bench -- --calls 500 --duration-ms 2000   shorter runs
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT, stopAll } from './lib/procs.js';
import type { Summary } from './lib/stats.js';

/** Knobs every section receives. */
export interface BenchOptions {
  readonly calls: number;
  readonly durationMs: number;
  /** Quality: a custom data set in the agreed format. */
  readonly catalog?: string;
  readonly queries?: string;
  /** Quality: where the public sets are (default ../shared/eval). */
  readonly evalDir?: string;
  /** Quality: fit the scorer on the dev half of our set and report the held-out half. */
  readonly calibrate?: boolean;
}

/** A latency comparison row for the markdown table. */
export type Row = [
  label: string,
  pair: { direct: Summary; gateway: Summary; overheadP50Ms: number; overheadP99Ms: number; ratioP50: number },
];

/** What a section returns. */
export interface SectionResult {
  readonly results: unknown;
  readonly rows: Row[];
  readonly notes: string[];
  /** Extra markdown (tables of their own). */
  readonly markdown?: string[];
}

type Section = (options: BenchOptions) => Promise<SectionResult>;

/** Sections load on demand: running one never imports (or breaks on) the others' dependencies. */
const SECTIONS: Record<string, () => Promise<Section>> = {
  'overhead-stdio': async () => (await import('./sections/overhead.js')).overheadStdio,
  'overhead-http': async () => (await import('./sections/overhead.js')).overheadHttp,
  'throughput-http': async () => (await import('./sections/throughput.js')).throughputHttp,
  'cpu-per-call': async () => (await import('./sections/cpu.js')).cpuPerCall,
  quality: async () => (await import('./sections/quality.js')).quality,
  'routing-speed': async () => (await import('./sections/routing-speed.js')).routingSpeed,
  resilience: async () => (await import('./sections/resilience.js')).resilience,
  experiments: async () => (await import('./sections/experiments.js')).experimentsOverhead,
  startup: async () => (await import('./sections/startup.js')).startup,
  flood: async () => (await import('./sections/flood.js')).flood,
  identity: async () => (await import('./sections/identity.js')).identity,
  operations: async () => (await import('./sections/operations.js')).operations,
  tracing: async () => (await import('./sections/tracing.js')).tracing,
  metrics: async () => (await import('./sections/metrics.js')).metrics,
  alerts: async () => (await import('./sections/alerts.js')).alerts,
  tasks: async () => (await import('./sections/tasks.js')).tasks,
};

const cell = (s: Summary) => `${s.p50} / ${s.p90} / ${s.p99} / ${s.mean}`;

function table(rows: Row[]): string {
  const head =
    '| path | direct ms (p50 / p90 / p99 / mean) | gateway ms (p50 / p90 / p99 / mean) | overhead p50 | overhead p99 | ratio p50 |\n|---|---|---|---|---|---|';
  const body = rows.map(
    ([label, r]) =>
      `| ${label} | ${cell(r.direct)} | ${cell(r.gateway)} | ${r.overheadP50Ms} ms | ${r.overheadP99Ms} ms | ${r.ratioP50} |`,
  );
  return [head, ...body].join('\n');
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      calls: { type: 'string', default: '2000' },
      'duration-ms': { type: 'string', default: '5000' },
      section: { type: 'string', multiple: true },
      catalog: { type: 'string' },
      queries: { type: 'string' },
      'eval-dir': { type: 'string' },
      calibrate: { type: 'boolean', default: false },
    },
  });
  const options: BenchOptions = {
    calls: Number(values.calls),
    durationMs: Number(values['duration-ms']),
    ...(values.catalog ? { catalog: values.catalog } : {}),
    ...(values.queries ? { queries: values.queries } : {}),
    ...(values['eval-dir'] ? { evalDir: values['eval-dir'] } : {}),
    calibrate: values.calibrate === true,
  };
  if ((options.catalog === undefined) !== (options.queries === undefined))
    throw new Error('--catalog and --queries go together');
  // `npm run bench -- quality ...` runs one section by name.
  const chosen = positionals.length ? positionals : (values.section ?? Object.keys(SECTIONS));
  const unknown = chosen.filter((s) => !SECTIONS[s]);
  if (unknown.length)
    throw new Error(`unknown section(s): ${unknown.join(', ')}; known: ${Object.keys(SECTIONS).join(', ')}`);
  const outDir = join(ROOT, 'bench/results');
  mkdirSync(outDir, { recursive: true });
  const meta = {
    date: new Date().toISOString(),
    node: process.version,
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    calls: options.calls,
  };
  const rows: Row[] = [];
  const notes: string[] = [];
  const extra: string[] = [];
  for (const name of chosen) {
    process.stderr.write(`bench: ${name} ...\n`);
    const section = await (await SECTIONS[name]!())(options);
    await stopAll();
    writeFileSync(
      join(outDir, `${name}.json`),
      `${JSON.stringify({ section: name, ...meta, results: section.results }, null, 2)}\n`,
    );
    rows.push(...section.rows);
    notes.push(...section.notes.map((n) => `${name}: ${n}`));
    extra.push(...(section.markdown ?? []));
  }
  const markdown = [
    '# Benchmark results',
    '',
    `${meta.date}, Node ${meta.node}, ${meta.cpu} (${meta.cores} cores), ${meta.calls} sequential calls per latency row after warm-up. Generated by \`npm run bench\`; each gateway figure is measured against a direct connection to the same upstream in the same run.`,
    '',
    ...(rows.length ? [table(rows), ''] : []),
    ...notes.map((n) => `- ${n}`),
    ...extra,
    '',
  ].join('\n');
  // A partial run (chosen sections) writes its own summary file and leaves the full one alone.
  writeFileSync(
    join(outDir, chosen.length === Object.keys(SECTIONS).length ? 'README.md' : `README.${chosen.join('+')}.md`),
    markdown,
  );
  process.stdout.write(`${markdown}\n`);
}

// One line per kind of process warning, not thousands: the SDK's HTTP client hands one
// transport-wide AbortSignal to every fetch and undici releases each listener only at GC, so a
// long sequential run trips MaxListenersExceededWarning in this (client) process, not the gateway.
const warned = new Map<string, number>();
process.removeAllListeners('warning');
process.on('warning', (warning) => {
  const key = `${warning.name}: ${warning.message.replace(/\d+/g, 'N')}`;
  const seen = warned.get(key) ?? 0;
  warned.set(key, seen + 1);
  if (seen === 0)
    process.stderr.write(
      `bench: (client process) ${warning.name}: ${warning.message} (repeats are counted, not printed)\n`,
    );
});
process.once('exit', () => {
  for (const [key, count] of warned) if (count > 1) process.stderr.write(`bench: ${count}x ${key}\n`);
});

// Ctrl-C or a kill mid-run must not leave fixtures, hubs or sidecars behind.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    process.stderr.write(`bench: ${signal}, stopping children\n`);
    void stopAll().finally(() => process.exit(130));
  });
}

main()
  .catch((error: unknown) => {
    process.stderr.write(`bench failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exitCode = 1;
  })
  .finally(() => stopAll());
