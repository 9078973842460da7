/**
 * Fitting the scorer on data: the dense weight by a grid search on dev MRR, then a logistic
 * confidence model over [coverage, dense, margin] and the threshold that best separates needs no
 * tool fits from needs the top matches serve. Dev and test halves are split by query id, so the
 * figures reported on the test half were never seen by the fit.
 */
import type { Embedder } from '../../src/index/types.js';
import { DEFAULT_DENSE_WEIGHT, DEFAULT_SCORER } from '../../src/router/calibration.js';
import type { ConfidenceFeatures, ScorerSettings } from '../../src/router/scorer.js';
import { evaluate, type QueryOutcome } from './metrics.js';
import { buildSystem } from './systems.js';
import type { EvalSet } from './types.js';

/** Alternating split of the queries sorted by id: even positions dev, odd test. */
export function splitDevTest(set: EvalSet): { dev: EvalSet; test: EvalSet } {
  const sorted = [...set.queries].sort((a, b) => (a.id < b.id ? -1 : 1));
  return {
    dev: { ...set, queries: sorted.filter((_, i) => i % 2 === 0) },
    test: { ...set, queries: sorted.filter((_, i) => i % 2 === 1) },
  };
}

function fitLogistic(rows: readonly { x: ConfidenceFeatures; y: number }[]): ScorerSettings['confidence'] {
  let w = { bias: 0, coverage: 0, dense: 0, margin: 0 };
  const lr = 0.1;
  for (let epoch = 0; epoch < 3000; epoch++) {
    const g = { bias: 0, coverage: 0, dense: 0, margin: 0 };
    for (const { x, y } of rows) {
      const p = 1 / (1 + Math.exp(-(w.bias + w.coverage * x.coverage + w.dense * x.dense + w.margin * x.margin)));
      const e = p - y;
      g.bias += e;
      g.coverage += e * x.coverage;
      g.dense += e * x.dense;
      g.margin += e * x.margin;
    }
    const n = rows.length || 1;
    w = {
      bias: w.bias - (lr * g.bias) / n,
      coverage: w.coverage - lr * (g.coverage / n + 1e-3 * w.coverage),
      dense: w.dense - lr * (g.dense / n + 1e-3 * w.dense),
      margin: w.margin - lr * (g.margin / n + 1e-3 * w.margin),
    };
  }
  const round = (v: number) => Math.round(v * 100) / 100;
  return { bias: round(w.bias), coverage: round(w.coverage), dense: round(w.dense), margin: round(w.margin) };
}

/** Fits the dense weight, the confidence model and the threshold on `dev`. */
export async function calibrate(
  dev: EvalSet,
  embedder: Embedder | undefined,
): Promise<{ denseWeight: number; scorer: ScorerSettings }> {
  const name = embedder ? 'hybrid' : 'bm25f';
  let best = { weight: DEFAULT_DENSE_WEIGHT, mrr: -1 };
  for (const weight of embedder ? [0.1, 0.25, 0.5, 0.75, 1, 1.5, 2] : [DEFAULT_DENSE_WEIGHT]) {
    const system = await buildSystem(name, dev, {
      ...(embedder ? { embedder } : {}),
      denseWeight: weight,
      scorer: DEFAULT_SCORER,
    });
    const outcomes = new Map<string, QueryOutcome>();
    for (const q of dev.queries) outcomes.set(q.id, await system.answer(q.query));
    const { metrics } = evaluate(dev.queries, outcomes);
    if (metrics.mrr10 > best.mrr) best = { weight, mrr: metrics.mrr10 };
  }
  const system = await buildSystem(name, dev, {
    ...(embedder ? { embedder } : {}),
    denseWeight: best.weight,
    scorer: DEFAULT_SCORER,
  });
  const rows: { x: ConfidenceFeatures; y: number; answerable: boolean }[] = [];
  for (const q of dev.queries) {
    const answer = await system.answer(q.query);
    if (!answer.features) continue;
    const hit = answer.ranked.slice(0, 3).some((id) => q.relevant.includes(id));
    rows.push({ x: answer.features, y: hit ? 1 : 0, answerable: q.relevant.length > 0 });
  }
  const confidence = fitLogistic(rows);
  const scorer = { ...DEFAULT_SCORER, confidence };
  // Threshold: the best F1 for detecting needs no tool fits.
  let threshold = { t: 0.5, f1: -1 };
  for (let t = 0.05; t < 0.95; t += 0.05) {
    let tp = 0;
    let fp = 0;
    let fn = 0;
    for (const r of rows) {
      const p =
        1 /
        (1 +
          Math.exp(
            -(
              confidence.bias +
              confidence.coverage * r.x.coverage +
              confidence.dense * r.x.dense +
              confidence.margin * r.x.margin
            ),
          ));
      const rejected = p < t;
      if (rejected && !r.answerable) tp++;
      else if (rejected && r.answerable) fp++;
      else if (!rejected && !r.answerable) fn++;
    }
    const f1 = (2 * tp) / Math.max(1, 2 * tp + fp + fn);
    if (f1 > threshold.f1) threshold = { t: Math.round(t * 100) / 100, f1 };
  }
  return { denseWeight: best.weight, scorer: { ...scorer, threshold: threshold.t } };
}
