/**
 * Retrieval metrics over ranked lists of "server/tool" ids, and a paired bootstrap for the
 * difference between two systems on the same queries.
 */
import { prng } from '../../src/core/prng.js';
import type { EvalQuery } from './types.js';

/** Per-query outcome of one system. */
export interface QueryOutcome {
  readonly ranked: readonly string[];
  /** The system said "no confident match". */
  readonly rejected: boolean;
}

/** Metrics of one system on one data set (answerable queries only for the ranking metrics). */
export interface Metrics {
  readonly top1: number;
  readonly recall5: number;
  readonly mrr10: number;
  readonly ndcg10: number;
  /** Precision and recall of "no confident match" (undefined when the set has no unanswerable query, or precision when nothing was rejected). */
  readonly noMatchPrecision: number | undefined;
  readonly noMatchRecall: number | undefined;
  readonly answerable: number;
  readonly unanswerable: number;
}

/** Per-query scores, so systems can be compared pairwise. */
export interface PerQuery {
  readonly top1: number;
  readonly recall5: number;
  readonly mrr10: number;
  readonly ndcg10: number;
}

/** Scores one query (relevant must be non-empty). */
export function scoreQuery(ranked: readonly string[], relevant: readonly string[]): PerQuery {
  const rel = new Set(relevant);
  const first = ranked.findIndex((id) => rel.has(id));
  const found5 = new Set(ranked.slice(0, 5).filter((id) => rel.has(id))).size;
  let dcg = 0;
  ranked.slice(0, 10).forEach((id, i) => {
    if (rel.has(id)) dcg += 1 / Math.log2(i + 2);
  });
  let ideal = 0;
  for (let i = 0; i < Math.min(10, rel.size); i++) ideal += 1 / Math.log2(i + 2);
  return {
    top1: first === 0 ? 1 : 0,
    // Recall@5 counts a query as found when any acceptable tool is in the top 5 (most needs have one answer).
    recall5: found5 > 0 ? 1 : 0,
    mrr10: first >= 0 && first < 10 ? 1 / (first + 1) : 0,
    ndcg10: ideal > 0 ? dcg / ideal : 0,
  };
}

/** Aggregates a system's outcomes over a set of queries. */
export function evaluate(
  queries: readonly EvalQuery[],
  outcomes: ReadonlyMap<string, QueryOutcome>,
): { metrics: Metrics; perQuery: Map<string, PerQuery> } {
  const perQuery = new Map<string, PerQuery>();
  let rejectedRight = 0;
  let rejected = 0;
  let unanswerable = 0;
  for (const q of queries) {
    const outcome = outcomes.get(q.id);
    if (!outcome) continue;
    if (outcome.rejected) rejected++;
    if (q.relevant.length === 0) {
      unanswerable++;
      if (outcome.rejected) rejectedRight++;
      continue;
    }
    perQuery.set(q.id, scoreQuery(outcome.ranked, q.relevant));
  }
  const mean = (key: keyof PerQuery) =>
    [...perQuery.values()].reduce((a, p) => a + p[key], 0) / Math.max(1, perQuery.size);
  return {
    metrics: {
      top1: mean('top1'),
      recall5: mean('recall5'),
      mrr10: mean('mrr10'),
      ndcg10: mean('ndcg10'),
      noMatchPrecision: unanswerable === 0 || rejected === 0 ? undefined : rejectedRight / rejected,
      noMatchRecall: unanswerable === 0 ? undefined : rejectedRight / unanswerable,
      answerable: perQuery.size,
      unanswerable,
    },
    perQuery,
  };
}

/** Paired bootstrap 95% interval of mean(system - baseline) for one metric, in points (x100). */
export function pairedBootstrap(
  system: ReadonlyMap<string, PerQuery>,
  baseline: ReadonlyMap<string, PerQuery>,
  key: keyof PerQuery,
  rounds = 2000,
  seed = 7,
): { delta: number; low: number; high: number } {
  const ids = [...system.keys()].filter((id) => baseline.has(id));
  const diffs = ids.map((id) => (system.get(id)?.[key] ?? 0) - (baseline.get(id)?.[key] ?? 0));
  const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  const random = prng(seed);
  const samples: number[] = [];
  for (let r = 0; r < rounds; r++) {
    let sum = 0;
    for (let i = 0; i < diffs.length; i++) sum += diffs[Math.floor(random() * diffs.length)] ?? 0;
    samples.push(sum / Math.max(1, diffs.length));
  }
  samples.sort((a, b) => a - b);
  const pct = (p: number) => (samples[Math.min(samples.length - 1, Math.floor(p * samples.length))] ?? 0) * 100;
  return { delta: mean(diffs) * 100, low: pct(0.025), high: pct(0.975) };
}
