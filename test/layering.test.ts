/**
 * The layering of docs/architecture.md, enforced: imports point down only, and each third-party
 * library has one owner folder. Walks every import in src/.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './helpers.js';

/** Rank of each top-level folder (higher may import lower, never the reverse). */
const RANK: Record<string, number> = {
  core: 0,
  telemetry: 0,
  config: 1,
  store: 2,
  upstream: 2,
  index: 2,
  auth: 2,
  alerts: 2,
  catalog: 3,
  router: 3,
  experiments: 3,
  compat: 3,
  policy: 3,
  resilience: 3,
  limits: 3,
  usage: 3,
  audit: 3,
  gateway: 4,
  mcp: 5,
  http: 6,
  entry: 7,
};

/** Runtime imports of these packages are allowed only from these folders. */
const OWNERS: Record<string, string[]> = {
  'better-sqlite3': ['store'],
  fastify: ['http'],
  '@modelcontextprotocol/client': ['upstream'],
  '@modelcontextprotocol/server': ['mcp', 'http'],
  '@modelcontextprotocol/node': ['http'],
  'hnswlib-node': ['index'],
  '@huggingface/transformers': ['index'],
  pino: ['telemetry'],
  undici: ['upstream'],
  jose: ['auth'],
  '@cedar-policy/cedar-wasm': ['policy'],
  'rate-limiter-flexible': ['limits'],
  ioredis: ['limits'],
  'prom-client': ['telemetry'],
  // The dashboard's bundler runs in the hub (ui-assets.ts); tsx's own use of it is not an import of src/.
  esbuild: ['http'],
  // Browser libraries: only the dashboard's own folder (ui/, outside src/) imports them.
  preact: [],
  'chart.js': [],
  // Spans are made where the work is (the pipeline, the pools); the SDK and exporter are set up in telemetry/ only.
  '@opentelemetry/api': ['telemetry', 'gateway', 'mcp'],
  '@opentelemetry/sdk-trace-base': ['telemetry'],
  '@opentelemetry/exporter-trace-otlp-http': ['telemetry'],
  '@opentelemetry/resources': ['telemetry'],
  '@opentelemetry/semantic-conventions': ['telemetry'],
};

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

function layerOf(file: string): string {
  const rel = relative(join(ROOT, 'src'), file).split('/');
  return rel.length === 1 ? 'entry' : (rel[0] ?? 'entry');
}

describe('layering', () => {
  const sources = files(join(ROOT, 'src'));
  const imports = sources.flatMap((file) => {
    const text = readFileSync(file, 'utf8');
    return [...text.matchAll(/^(import|export)\s+(type\s+)?[^'"]*?from\s+'([^']+)'/gm)].map((m) => ({
      file,
      typeOnly: Boolean(m[2]),
      spec: m[3] ?? '',
    }));
  });

  it('every folder has a rank', () => {
    for (const file of sources) expect(RANK, relative(ROOT, file)).toHaveProperty(layerOf(file));
  });

  it('imports point down only', () => {
    const violations = imports
      .filter((i) => i.spec.startsWith('.'))
      .map((i) => ({ ...i, target: layerOf(join(i.file, '..', i.spec)) }))
      .filter((i) => layerOf(i.file) !== i.target && (RANK[i.target] ?? 99) >= (RANK[layerOf(i.file)] ?? -1))
      .map((i) => `${relative(ROOT, i.file)} -> ${i.spec}`);
    expect(violations).toEqual([]);
  });

  it('each library is imported at run time only by its owner', () => {
    const violations = imports
      .filter((i) => !i.typeOnly)
      .flatMap((i) => {
        const pkg = Object.keys(OWNERS).find((p) => i.spec === p || i.spec.startsWith(`${p}/`));
        if (!pkg) return [];
        return OWNERS[pkg]?.includes(layerOf(i.file)) ? [] : [`${relative(ROOT, i.file)} imports ${i.spec}`];
      });
    expect(violations).toEqual([]);
  });
});
