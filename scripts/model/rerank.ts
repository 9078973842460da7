/**
 * Fits the reranker and the abstainer (src/router/rerank.ts) and writes
 * models/switchboard-rerank-v1.json: `npm run model:rerank`.
 *
 * Data: the dev half of our evaluation set only (data/eval/switchboard, split by query id as the
 * benchmark splits it), so the benchmark's held-out half, the holdout needs and the public sets in
 * ../shared/eval stay unseen. For each mode (hybrid with the shipped embedding model, lexical
 * alone) it builds the routed system (without generated example needs: routing.generateNeeds is
 * off by default), takes the fused pool of every dev need, and fits:
 * - the reranker: a linear model over CANDIDATE_FEATURES by listwise softmax (the loss is minus the
 *   log of the probability mass the pool's softmax puts on the right tools), L2-regularised;
 * - the abstainer: a logistic model over NEED_FEATURES of the reranked list, answerable needs 1 and
 *   needs no tool serves 0, with the threshold that gives the best F1 of "no confident match".
 * Both are cross-validated (5 folds by need) and the fold figures go into the file. Deterministic:
 * full-batch Adam from zeros, a fixed fold assignment, no clock.
 */
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { splitDevTest } from '../../bench/quality/calibrate.js';
import { loadSwitchboard } from '../../bench/quality/loaders.js';
import { buildSystem } from '../../bench/quality/systems.js';
import type { EvalSet } from '../../bench/quality/types.js';
import type { Embedder } from '../../src/index/types.js';
import { openEmbedder } from '../../src/index/embedder/load.js';
import { tokenize } from '../../src/index/lexical/tokenize.js';
import { DEFAULT_DENSE_WEIGHT, DEFAULT_SCORER } from '../../src/router/calibration.js';
import {
  CANDIDATE_FEATURES,
  NEED_FEATURES,
  Reranker,
  type LinearModel,
  type RerankModel,
  type Rescored,
} from '../../src/router/rerank.js';
import { ROOT } from './paths.js';

const POOL = 30;
const FOLDS = 5;

interface Row {
  readonly id: string;
  readonly values: readonly number[];
}
interface Example {
  readonly need: string;
  readonly relevant: ReadonlySet<string>;
  readonly rows: readonly Row[];
  /** Need-level evidence fixed by the fused list (filled after reranking). */
  readonly context: {
    fusedDense: Map<string, number>;
    candidates: Parameters<Reranker['needFeatures']>[2];
    idf: Map<string, number>;
  };
}

/** Full-batch Adam on a differentiable loss over a weight vector (last entry = bias). */
function adam(dim: number, grad: (w: number[]) => number[], steps: number, lr: number): number[] {
  const w = new Array<number>(dim).fill(0);
  const m = new Array<number>(dim).fill(0);
  const v = new Array<number>(dim).fill(0);
  for (let t = 1; t <= steps; t++) {
    const g = grad(w);
    for (let i = 0; i < dim; i++) {
      m[i] = 0.9 * (m[i] ?? 0) + 0.1 * (g[i] ?? 0);
      v[i] = 0.999 * (v[i] ?? 0) + 0.001 * (g[i] ?? 0) ** 2;
      const mh = (m[i] ?? 0) / (1 - 0.9 ** t);
      const vh = (v[i] ?? 0) / (1 - 0.999 ** t);
      w[i] = (w[i] ?? 0) - (lr * mh) / (Math.sqrt(vh) + 1e-8);
    }
  }
  return w;
}

const score = (w: readonly number[], x: readonly number[]) => x.reduce((a, xi, i) => a + (w[i] ?? 0) * xi, 0);

/** Listwise softmax fit of the reranker's weights (no bias: it cannot change an order). */
function fitReranker(examples: readonly Example[], l2 = 1e-3): number[] {
  const usable = examples.filter((e) => e.rows.some((r) => e.relevant.has(r.id)));
  const dim = CANDIDATE_FEATURES.length;
  return adam(
    dim,
    (w) => {
      const g = new Array<number>(dim).fill(0);
      for (const e of usable) {
        const s = e.rows.map((r) => score(w, r.values));
        const max = Math.max(...s);
        const p = s.map((x) => Math.exp(x - max));
        const z = p.reduce((a, b) => a + b, 0);
        const rel = e.rows.reduce((a, r, i) => (e.relevant.has(r.id) ? a + (p[i] ?? 0) : a), 0);
        e.rows.forEach((r, i) => {
          const pi = (p[i] ?? 0) / z;
          const qi = e.relevant.has(r.id) ? (p[i] ?? 0) / rel : 0;
          for (let j = 0; j < dim; j++) g[j] = (g[j] ?? 0) + (pi - qi) * (r.values[j] ?? 0);
        });
      }
      return g.map((x, j) => x / Math.max(1, usable.length) + l2 * (w[j] ?? 0));
    },
    600,
    0.05,
  );
}

/** Logistic fit (weights then bias), L2 on the weights only. */
function fitLogistic(rows: readonly { x: readonly number[]; y: number }[], l2 = 1e-2): number[] {
  const dim = (rows[0]?.x.length ?? 0) + 1;
  return adam(
    dim,
    (w) => {
      const g = new Array<number>(dim).fill(0);
      for (const { x, y } of rows) {
        const p = 1 / (1 + Math.exp(-(score(w, x) + (w[dim - 1] ?? 0))));
        for (let j = 0; j < dim - 1; j++) g[j] = (g[j] ?? 0) + (p - y) * (x[j] ?? 0);
        g[dim - 1] = (g[dim - 1] ?? 0) + (p - y);
      }
      return g.map((v, j) => v / Math.max(1, rows.length) + (j < dim - 1 ? l2 * (w[j] ?? 0) : 0));
    },
    1500,
    0.05,
  );
}

function rescore(e: Example, w: readonly number[]): Rescored[] {
  return e.rows
    .map((r) => ({ id: r.id, score: score(w, r.values), features: r.values }))
    .sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : 1));
}

function needRow(reranker: Reranker, e: Example, ranked: readonly Rescored[]): number[] {
  const fused = [...e.context.fusedDense].map(([id, dense]) => ({
    id,
    dense,
    lexical: 0,
    zLexical: 0,
    zDense: 0,
    fused: 0,
  }));
  return reranker.needFeatures(e.need, ranked, e.context.candidates, fused, e.context.idf);
}

/**
 * The threshold of "no confident match" (positive = a need no tool serves): the one that rejects
 * most such needs while at least PRECISION of what it rejects is truly unserved (a rejection the
 * agent can trust), else the best F1.
 */
const PRECISION = 0.6;
function bestThreshold(scored: readonly { p: number; answerable: boolean }[]): {
  threshold: number;
  precision: number;
  recall: number;
} {
  let best = { threshold: 0.5, f1: -1, precision: 0, recall: 0 };
  let trusted: typeof best | undefined;
  for (let t = 0.05; t < 0.96; t += 0.01) {
    let tp = 0;
    let fp = 0;
    let fn = 0;
    for (const s of scored) {
      const rejected = s.p < t;
      if (rejected && !s.answerable) tp++;
      else if (rejected) fp++;
      else if (!s.answerable) fn++;
    }
    const f1 = (2 * tp) / Math.max(1, 2 * tp + fp + fn);
    const at = {
      threshold: Math.round(t * 100) / 100,
      f1,
      precision: tp / Math.max(1, tp + fp),
      recall: tp / Math.max(1, tp + fn),
    };
    if (f1 > best.f1) best = at;
    if (tp > 0 && at.precision >= PRECISION && (!trusted || at.recall > trusted.recall)) trusted = at;
  }
  return trusted ?? best;
}

async function examplesOf(
  set: EvalSet,
  mode: 'hybrid' | 'lexical',
  reranker: Reranker,
  embedder: Embedder | undefined,
): Promise<Example[]> {
  const system = await buildSystem(mode, set, {
    ...(embedder ? { embedder } : {}),
    denseWeight: DEFAULT_DENSE_WEIGHT,
    scorer: DEFAULT_SCORER,
    reranker,
  });
  const out: Example[] = [];
  for (const q of set.queries) {
    const { fused, candidates, idf } = await system.evidence(q.query);
    const { rows } = reranker.features(q.query, fused, candidates, idf);
    out.push({
      need: q.query,
      relevant: new Set(q.relevant),
      rows,
      context: { fusedDense: new Map(fused.map((f) => [f.id, f.dense ?? 0])), candidates, idf },
    });
  }
  return out;
}

const top1 = (examples: readonly Example[], order: (e: Example) => readonly { id: string }[]) => {
  const answerable = examples.filter((e) => e.relevant.size > 0);
  return answerable.filter((e) => e.relevant.has(order(e)[0]?.id ?? '')).length / Math.max(1, answerable.length);
};

async function fitMode(mode: 'hybrid' | 'lexical', dev: EvalSet, embedder: Embedder | undefined) {
  const reranker = new Reranker(undefined, (t) => tokenize(t));
  const examples = await examplesOf(dev, mode, reranker, mode === 'hybrid' ? embedder : undefined);
  // Cross-validation: folds by position in id order (the set is already shuffled by id).
  const folds = examples.map((_, i) => i % FOLDS);
  const cv = { fusedTop1: top1(examples, (e) => e.rows), rerankTop1: 0, noMatch: { precision: 0, recall: 0 } };
  const held: { p: number; answerable: boolean }[] = [];
  let right = 0;
  let answerable = 0;
  for (let f = 0; f < FOLDS; f++) {
    const train = examples.filter((_, i) => folds[i] !== f);
    const test = examples.filter((_, i) => folds[i] === f);
    const w = fitReranker(train);
    const abstainRows = train.map((e) => ({ x: needRow(reranker, e, rescore(e, w)), y: e.relevant.size ? 1 : 0 }));
    const a = fitLogistic(abstainRows);
    for (const e of test) {
      const ranked = rescore(e, w);
      if (e.relevant.size) {
        answerable++;
        if (e.relevant.has(ranked[0]?.id ?? '')) right++;
      }
      const x = needRow(reranker, e, ranked);
      held.push({ p: 1 / (1 + Math.exp(-(score(a, x) + (a[a.length - 1] ?? 0)))), answerable: e.relevant.size > 0 });
    }
  }
  cv.rerankTop1 = right / Math.max(1, answerable);
  const cvThreshold = bestThreshold(held);
  cv.noMatch = { precision: cvThreshold.precision, recall: cvThreshold.recall };
  // The shipped weights: fitted on all of dev.
  const w = fitReranker(examples);
  const abstainRows = examples.map((e) => ({ x: needRow(reranker, e, rescore(e, w)), y: e.relevant.size ? 1 : 0 }));
  const a = fitLogistic(abstainRows);
  const scored = examples.map((e, i) => ({
    p: 1 / (1 + Math.exp(-(score(a, abstainRows[i]?.x ?? []) + (a[a.length - 1] ?? 0)))),
    answerable: e.relevant.size > 0,
  }));
  const threshold = bestThreshold(scored);
  const round = (x: number) => Math.round(x * 10_000) / 10_000;
  const rerank: LinearModel = { features: [...CANDIDATE_FEATURES], weights: w.map(round), bias: 0 };
  const abstain = {
    features: [...NEED_FEATURES],
    weights: a.slice(0, -1).map(round),
    bias: round(a[a.length - 1] ?? 0),
    threshold: threshold.threshold,
  };
  const pct = (x: number) => Math.round(x * 1000) / 10;
  const figures = {
    needs: examples.length,
    answerable: examples.filter((e) => e.relevant.size).length,
    inSampleTop1: pct(top1(examples, (e) => rescore(e, w))),
    cv: {
      fusedTop1: pct(cv.fusedTop1),
      rerankTop1: pct(cv.rerankTop1),
      noMatchPrecision: pct(cv.noMatch.precision),
      noMatchRecall: pct(cv.noMatch.recall),
      threshold: cvThreshold.threshold,
    },
  };
  return { rerank, abstain, figures };
}

/** `--model <id>` (default switchboard-static-v1) and `--out <file>` (default models/switchboard-rerank-v1.json). */
function flag(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 && process.argv[at + 1] ? (process.argv[at + 1] as string) : fallback;
}

async function main(): Promise<void> {
  const modelId = flag('model', 'switchboard-static-v1');
  const { dev } = splitDevTest(loadSwitchboard(join(ROOT, 'data/eval/switchboard')));
  const embedder = await openEmbedder({ model: modelId, modelsDir: join(ROOT, 'models') });
  const hybrid = await fitMode('hybrid', dev, embedder);
  const lexical = await fitMode('lexical', dev, undefined);
  const model: RerankModel = {
    version: 1,
    pool: POOL,
    rerank: { hybrid: hybrid.rerank, lexical: lexical.rerank },
    abstain: { hybrid: hybrid.abstain, lexical: lexical.abstain },
    trained: {
      by: 'npm run model:rerank (scripts/model/rerank.ts)',
      data: 'dev half of data/eval/switchboard (queries sorted by id, even positions), nothing else',
      embeddingModel: `${modelId} (hybrid); none (lexical)`,
      folds: FOLDS,
      hybrid: hybrid.figures,
      lexical: lexical.figures,
    },
  };
  const path = resolve(flag('out', join(ROOT, 'models/switchboard-rerank-v1.json')));
  writeFileSync(path, `${JSON.stringify(model, null, 2)}\n`);
  process.stdout.write(`${path}\n${JSON.stringify(model.trained, null, 2)}\n`);
}

await main();
