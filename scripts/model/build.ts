/**
 * `npm run model:build`: builds models/switchboard-static-v2/ (MODEL_ID, paths.ts) from public
 * sources, reproducibly. v1 (models/switchboard-static-v1/) is frozen as shipped and never written.
 *
 *   corpus (Debian descriptions, WordNet, man pages, npm MCP servers; cached in data/model-build/)
 *   -> vocabulary (stems; surface forms share rows) -> PPMI + randomised SVD initial vectors
 *   -> contrastive training (symmetric InfoNCE, sparse Adam) -> IDF baked into rows -> int8 export
 *   -> verification through onnxruntime and the product's TransformersEmbedder -> evaluation -> README.
 *
 * Flags: --no-eval skips the evaluation (the README then says quality was not measured);
 * --no-baseline skips measuring the shipped v1 beside it; --no-hard-negatives and --no-action-pairs
 * turn off v2's training changes one by one (ablations: with SWITCHBOARD_MODELS_DIR pointing to a
 * temp folder and --model naming the variant); --model <id> names the model folder; --readme-only
 * rewrites the README from the last report.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { actionPairs, readTools } from './corpus-actions.js';
import { buildCorpus } from './corpus.js';
import { evaluateModel, probeModel } from './evaluate.js';
import { dequantize, quantize, writeModelFolder } from './export.js';
import { FROZEN_MODEL_IDS, MODEL_ID, PATHS } from './paths.js';
import { cooccurrence, randomizedSvd, toPpmi } from './ppmi-svd.js';
import { gaussian, prng } from '../../src/core/prng.js';
import { type BuildReport, writeReadme } from './readme.js';
import { type EncodedPair, train } from './train.js';
import { buildVocab, SPECIALS } from './vocab.js';
import { verifyModel } from './verify.js';

/** Every knob of the build, recorded in the README. */
export const SETTINGS = {
  seed: 20251124,
  dim: 256,
  maxRows: 50_000,
  minDf: 3,
  window: 5,
  svdIterations: 2,
  epochs: 5,
  batch: 512,
  lr: 3e-3,
  temperature: 0.1,
  /**
   * Pairs drawn per epoch by source. WordNet has ~105k usable synsets: 40k per epoch keeps general
   * English from drowning the rest; the tool pairs (closest to what the router sees, but few) are
   * drawn several times over.
   */
  perEpoch: { wordnet: 40_000 } as Record<string, number>,
  repeat: { mcp: 4, 'mcp-param': 2, man: 2, action: 1 } as Record<string, number>,
  /** Tool pairs of one server are batched in runs of this length, as each other's hard negatives. */
  groupRun: 32,
  /**
   * v2: each tool pair's draws alternate between its server's run and a run of every server's tools
   * sharing its object, and each draw brings one explicit hard negative (a tool with the same object
   * and another action, own server first) into the InfoNCE denominator.
   */
  hardNegatives: !process.argv.includes('--no-hard-negatives'),
  /**
   * v2: action pairs from the product's action lexicon over the tool names' objects ("add the
   * record" / "insert the record", negatives "delete the record"); per (object, action) pairs and
   * negatives per pair. Never derived from data/eval or ../shared/eval.
   */
  actionPairs: process.argv.includes('--no-action-pairs') ? null : { perAction: 2, negatives: 4 },
  /** The shipped model measured beside this one (evaluation only). */
  baseline: process.argv.includes('--no-baseline') ? null : 'switchboard-static-v1',
  maxLength: 1024,
  /** Norm of the [CLS] row (see export.ts): tiny next to real rows (IDF ~ 1..11). */
  clsNorm: 1e-3,
};

const timings: Record<string, number> = {};
let last = performance.now();
const log = (line: string) => console.log(line);
const lap = (name: string) => {
  const now = performance.now();
  timings[name] = Math.round((now - last) / 100) / 10;
  last = now;
  log(`[${name}] ${timings[name]} s`);
};

if (FROZEN_MODEL_IDS.includes(MODEL_ID) && PATHS.modelsDir === PATHS.shippedModelsDir)
  throw new Error(`${MODEL_ID} is frozen as shipped; build another id (--model) or into SWITCHBOARD_MODELS_DIR`);
log(`building ${MODEL_ID} into ${PATHS.model}`);

const corpus = await buildCorpus(log);
// Action pairs stay out of the vocabulary and IDF counts (their words all come from tool names and
// the lexicon): the vocabulary, the SVD and its cache are then the same with and without them.
const actions = SETTINGS.actionPairs
  ? actionPairs(readTools(corpus.mcp), { ...SETTINGS.actionPairs, seed: SETTINGS.seed + 3 })
  : [];
log(`  action pairs: ${actions.length}`);
lap('corpus');
const reportFile = join(PATHS.work, `build-report-${MODEL_ID}.json`);
/** The action probe (evaluate.ts) of this model and of the baseline, when measured. */
const probes = async (): Promise<BuildReport['probe']> => ({
  model: await probeModel(),
  ...(SETTINGS.baseline ? { baseline: await probeModel(SETTINGS.baseline, PATHS.shippedModelsDir) } : {}),
});
if (process.argv.includes('--readme-only')) {
  // Rewrites the README from the last build's report (after a change to readme.ts), training nothing.
  const last = JSON.parse(readFileSync(reportFile, 'utf8')) as BuildReport;
  const report = last.probe ? last : { ...last, probe: await probes() };
  writeFileSync(reportFile, JSON.stringify(report, null, 2));
  writeReadme(report, corpus);
  log(`README rewritten from ${reportFile}`);
  process.exit(0);
}

const { vocab, df, docs } = buildVocab(
  [...corpus.texts, ...corpus.pairs.map((p) => p.b)],
  corpus.toolTexts,
  corpus,
  SETTINGS,
);
const rows = vocab.rows.length;
log(`  vocab: ${rows} rows, ${vocab.surface.size} surface forms`);
const pairs: EncodedPair[] = [...corpus.pairs, ...actions]
  .map((p) => {
    const negatives = (p.negatives ?? [])
      .map((n) => ({ a: vocab.encode(n.a), b: vocab.encode(n.b), meaning: n.meaning }))
      .filter((n) => n.a.length > 0 && n.b.length > 0);
    return {
      a: vocab.encode(p.a),
      b: vocab.encode(p.b),
      source: p.source,
      ...(p.group ? { group: p.group } : {}),
      ...(p.groups ? { groups: p.groups } : {}),
      ...(p.meaning ? { meaning: p.meaning } : {}),
      ...(negatives.length ? { negatives } : {}),
    };
  })
  .filter((p) => p.a.length > 0 && p.b.length > 0);
const bySource: Record<string, number> = {};
for (const p of pairs) bySource[p.source] = (bySource[p.source] ?? 0) + 1;
const withNegatives = pairs.filter((p) => p.negatives).length;
log(`  pairs: ${pairs.length} ${JSON.stringify(bySource)}; ${withNegatives} with explicit hard negatives`);
lap('vocabulary');

// The SVD is the slowest step and depends only on the texts, vocabulary and settings: cache it.
const cooccurrenceTexts = [...corpus.texts, ...corpus.toolTexts];
const svdHash = createHash('sha256').update(
  JSON.stringify([vocab.rows, SETTINGS.window, SETTINGS.dim, SETTINGS.svdIterations, SETTINGS.seed]),
);
for (const t of cooccurrenceTexts) svdHash.update(t).update('\u0000');
const svdKey = svdHash.digest('hex').slice(0, 16);
const svdFile = join(PATHS.work, 'cache', `svd-${svdKey}.f32`);
let svd: Float32Array;
const svdCached = existsSync(svdFile);
if (svdCached) {
  const buf = readFileSync(svdFile);
  svd = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
  log('  svd: from cache');
} else {
  const cooc = cooccurrence(
    cooccurrenceTexts.map((t) => vocab.encode(t)),
    rows,
    SETTINGS.window,
  );
  log(`  co-occurrence: ${cooc.vals.length} non-zero pairs`);
  toPpmi(cooc);
  svd = randomizedSvd(cooc, SETTINGS.dim, SETTINGS.svdIterations, prng(SETTINGS.seed));
  mkdirSync(dirname(svdFile), { recursive: true });
  writeFileSync(svdFile, svd);
}
lap('ppmi-svd');

// Initial rows: unit PPMI vectors (random unit vectors for rows that never co-occurred).
// Each use of randomness has its own seeded stream, so a cached SVD changes nothing downstream.
const random = prng(SETTINGS.seed + 2);
const dim = SETTINGS.dim;
const e = new Float32Array(rows * dim);
for (let r = 0; r < rows; r++) {
  let n = 0;
  for (let c = 0; c < dim; c++) n += svd[r * dim + c]! ** 2;
  const useSvd = n > 1e-12;
  let m = 0;
  for (let c = 0; c < dim; c++) {
    e[r * dim + c] = useSvd ? svd[r * dim + c]! : gaussian(random);
    m += e[r * dim + c]! ** 2;
  }
  for (let c = 0; c < dim; c++) e[r * dim + c]! /= Math.sqrt(m);
}
// BM25-style IDF over all texts; specials weigh nothing.
const w = new Float32Array(rows);
for (let r = SPECIALS.length; r < rows; r++) w[r] = Math.log(1 + (docs - df[r]! + 0.5) / (df[r]! + 0.5));
const losses = train(pairs, e, w, { ...SETTINGS, seed: SETTINGS.seed + 1 }, log);
lap('training');

// Bake the IDF weights into the rows: mean pooling + normalisation then yields the weighted direction.
const baked = new Float32Array(rows * dim);
for (let r = 0; r < rows; r++) for (let c = 0; c < dim; c++) baked[r * dim + c] = w[r]! * e[r * dim + c]!;
const cls = SPECIALS.indexOf('[CLS]');
for (let c = 0; c < dim; c++) baked[cls * dim + c] = (SETTINGS.clsNorm * gaussian(random)) / Math.sqrt(dim);
const table = quantize(baked, dim);
mkdirSync(PATHS.model, { recursive: true });
const sizes = writeModelFolder(PATHS.model, vocab, table, SETTINGS.maxLength);
lap('export');

const verification = await verifyModel(vocab, dequantize(table), dim, log);
lap('verify');

const evaluation = process.argv.includes('--no-eval') ? undefined : await evaluateModel(log);
if (evaluation) lap('evaluate');
const baseline =
  evaluation && SETTINGS.baseline ? await evaluateModel(log, SETTINGS.baseline, PATHS.shippedModelsDir) : undefined;
if (baseline) lap('evaluate-baseline');
const probe = evaluation ? await probes() : undefined;
if (probe) log(`  action probe: ${JSON.stringify(probe)}`);

const report = {
  svdCached,
  settings: SETTINGS,
  modelId: MODEL_ID,
  stats: {
    ...corpus.stats,
    actionPairs: actions.length,
    pairsWithNegatives: withNegatives,
    rows,
    surfaceForms: vocab.surface.size,
    pairsBySource: bySource,
  },
  losses,
  timings,
  sizes,
  verification,
  evaluation,
  baseline: baseline && SETTINGS.baseline ? { model: SETTINGS.baseline, results: baseline } : undefined,
  probe,
};
mkdirSync(PATHS.work, { recursive: true });
writeFileSync(reportFile, JSON.stringify(report, null, 2));
writeReadme(report, corpus);
log(
  `done in ${Object.values(timings)
    .reduce((a, b) => a + b, 0)
    .toFixed(1)} s; report in ${reportFile}`,
);
