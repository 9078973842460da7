/**
 * Speed of capability routing at catalog sizes of 2k, 10k and 100k tools (our catalog grown with
 * Smithery crawl tools as distractors, repeated under new server names past 10k): index build
 * time, embedding throughput, memory, find_capability latency p50/p99 through the product's routing
 * path, and HNSW recall@10 against exact search on the same vectors.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { routeNeed } from '../../src/gateway/capabilities.js';
import type { Embedder } from '../../src/index/types.js';
import { ExactIndex } from '../../src/index/vector/exact.js';
import { HnswIndex } from '../../src/index/vector/hnsw.js';
import { DEFAULT_DENSE_WEIGHT, DEFAULT_SCORER } from '../../src/router/calibration.js';
import { loadSmitheryDistractors, loadSwitchboard } from '../quality/loaders.js';
import { buildSystem, evalTools } from '../quality/systems.js';
import type { EvalServer, EvalSet } from '../quality/types.js';
import { summarize } from '../lib/stats.js';
import { ROOT } from '../lib/procs.js';
import type { BenchOptions, SectionResult } from '../run.js';
import { loadDefaultEmbedder, loadDefaultReranker } from './quality.js';

const SIZES = [2_000, 10_000, 100_000];

/** Our catalog plus distractors up to `size` tools (distractor servers repeat under new names past the crawl). */
function grow(base: EvalSet, pool: readonly EvalServer[], size: number): EvalSet {
  const servers: EvalServer[] = [...base.servers];
  let count = servers.reduce((a, s) => a + s.tools.length, 0);
  for (let round = 0; count < size && pool.length > 0; round++) {
    for (const s of pool) {
      if (count >= size) break;
      const tools = s.tools.slice(0, size - count);
      servers.push({ ...s, name: round === 0 ? s.name : `${s.name}#${round}`, tools });
      count += tools.length;
    }
  }
  return { ...base, name: `${count} tools`, servers };
}

async function hnswRecall(
  embedder: Embedder,
  set: EvalSet,
  queries: readonly string[],
): Promise<{ recall10: number; exactMs: number; hnswMs: number }> {
  const texts = evalTools(set).map(({ tool }) => `${tool.name} ${tool.tool.description ?? ''}`);
  const vectors = await embedder.embed(texts);
  const exact = new ExactIndex(embedder.dim, vectors.length);
  const hnsw = new HnswIndex(embedder.dim, { initialCapacity: vectors.length });
  vectors.forEach((v, i) => {
    exact.upsert(String(i), v);
    hnsw.upsert(String(i), v);
  });
  const qv = await embedder.embed(queries);
  let found = 0;
  const exactTimes: number[] = [];
  const hnswTimes: number[] = [];
  for (const q of qv) {
    let t = performance.now();
    const exactHits = exact.search(q, 10);
    exactTimes.push(performance.now() - t);
    const truth = new Set(exactHits.map((h) => h.id));
    // Tie-aware: past 20k the distractors repeat (same text under another server name), so several
    // tools share the 10th-best similarity and which of them exact search lists is arbitrary; a hit
    // as similar as the exact 10th counts as found.
    const tenth = (exactHits.at(-1)?.score ?? Number.POSITIVE_INFINITY) - 1e-5;
    t = performance.now();
    const approx = hnsw.search(q, 10);
    hnswTimes.push(performance.now() - t);
    found += approx.filter((h) => truth.has(h.id) || h.score >= tenth).length;
  }
  return { recall10: found / (10 * qv.length), exactMs: summarize(exactTimes).p50, hnswMs: summarize(hnswTimes).p50 };
}

/** The routing speed section. */
export async function routingSpeed(options: BenchOptions): Promise<SectionResult> {
  const ours = join(ROOT, 'data/eval/switchboard');
  const smithery = join(resolve(options.evalDir ?? join(ROOT, '../shared/eval')), 'toolgym-smithery/smithery_metadata');
  if (!existsSync(ours)) return { results: {}, rows: [], notes: ['data/eval/switchboard missing: section skipped'] };
  const base = loadSwitchboard(ours);
  const pool = existsSync(smithery)
    ? loadSmitheryDistractors(smithery, 20_000)
    : base.servers.map((s) => ({ ...s, name: `${s.name}-copy` }));
  const embedder = await loadDefaultEmbedder();
  const reranker = loadDefaultReranker();
  const queries = base.queries.map((q) => q.query);
  const results: Record<string, unknown>[] = [];
  const lines = [
    '',
    `**Routing speed** (find_capability through the product path, reranked and fusion only; queries = our ${queries.length} needs)`,
    '',
    '| tools | index | build | embed texts/s | heap MB | find p50 | find p99 | fusion-only p50 / p99 | HNSW recall@10 | exact p50 | HNSW p50 |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const size of SIZES) {
    const set = grow(base, pool, size);
    const before = process.memoryUsage().heapUsed;
    const name = embedder ? 'hybrid' : 'bm25f';
    const system = await buildSystem(name, set, {
      ...(embedder ? { embedder } : {}),
      denseWeight: DEFAULT_DENSE_WEIGHT,
      scorer: DEFAULT_SCORER,
    });
    const heapMb = Math.round((process.memoryUsage().heapUsed - before) / 1e6);
    // Today's routing (reranked) and fusion only, alternating per need so drift hits both alike.
    const times: number[] = [];
    const fusionTimes: number[] = [];
    for (const [i, q] of queries.entries()) {
      for (const reranked of i % 2 ? [true, false] : [false, true]) {
        const t = performance.now();
        await routeNeed(system.index, q, {
          k: 5,
          denseWeight: DEFAULT_DENSE_WEIGHT,
          scorer: DEFAULT_SCORER,
          signals: new Map(),
          ...(reranked && reranker ? { reranker } : {}),
        });
        (reranked ? times : fusionTimes).push(performance.now() - t);
      }
    }
    const find = summarize(times);
    const fusionOnly = summarize(fusionTimes);
    let embedRate: number | undefined;
    let recall: Awaited<ReturnType<typeof hnswRecall>> | undefined;
    if (embedder) {
      const sample = evalTools(set)
        .slice(0, 5_000)
        .map(({ tool }) => `${tool.name} ${tool.tool.description ?? ''}`);
      const t = performance.now();
      await embedder.embed(sample);
      embedRate = Math.round(sample.length / ((performance.now() - t) / 1000));
      recall = await hnswRecall(embedder, set, queries);
    }
    const kind = embedder ? (size >= 5_000 ? 'BM25F + HNSW' : 'BM25F + exact') : 'BM25F only';
    results.push({
      tools: size,
      index: kind,
      buildMs: Math.round(system.buildMs),
      embedPerSecond: embedRate,
      heapMb,
      find,
      fusionOnly,
      hnsw: recall,
    });
    lines.push(
      `| ${size} | ${kind} | ${(system.buildMs / 1000).toFixed(1)} s | ${embedRate ?? 'n/a'} | ${heapMb} | ${find.p50} ms | ${find.p99} ms | ${fusionOnly.p50} / ${fusionOnly.p99} ms | ${recall ? recall.recall10.toFixed(3) : 'n/a'} | ${recall ? `${recall.exactMs} ms` : 'n/a'} | ${recall ? `${recall.hnswMs} ms` : 'n/a'} |`,
    );
    process.stderr.write(`bench: routing-speed ${size} tools done\n`);
  }
  const notes = [
    embedder
      ? `dense model ${embedder.id}`
      : 'no embedding model: lexical routing only; dense rows and HNSW recall skipped',
    `distractors: ${existsSync(smithery) ? 'Smithery crawl tools (repeated under new server names past the crawl)' : 'copies of our own catalog'}`,
  ];
  return { results: { sizes: results }, rows: [], notes, markdown: lines };
}
