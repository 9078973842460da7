/**
 * `npm run model:build`: builds models/switchboard-static-v1/ from public sources, reproducibly.
 *
 *   corpus (Debian descriptions, WordNet, man pages, npm MCP servers; cached in data/model-build/)
 *   -> vocabulary (stems; surface forms share rows) -> PPMI + randomised SVD initial vectors
 *   -> contrastive training (symmetric InfoNCE, sparse Adam) -> IDF baked into rows -> int8 export
 *   -> verification through onnxruntime and the product's TransformersEmbedder -> evaluation -> README.
 *
 * Flags: --no-eval skips the evaluation (the README then says quality was not measured).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { buildCorpus } from './corpus.js';
import { evaluateModel } from './evaluate.js';
import { dequantize, quantize, writeModelFolder } from './export.js';
import { PATHS } from './paths.js';
import { cooccurrence, randomizedSvd, toPpmi } from './ppmi-svd.js';
import { gaussian, prng } from '../../src/core/prng.js';
import { writeReadme } from './readme.js';
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
  repeat: { mcp: 4, 'mcp-param': 2, man: 2 } as Record<string, number>,
  /** Tool pairs of one server are batched in runs of this length, as each other's hard negatives. */
  groupRun: 32,
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

const corpus = await buildCorpus(log);
lap('corpus');

const { vocab, df, docs } = buildVocab(
  [...corpus.texts, ...corpus.pairs.map((p) => p.b)],
  corpus.toolTexts,
  corpus,
  SETTINGS,
);
const rows = vocab.rows.length;
log(`  vocab: ${rows} rows, ${vocab.surface.size} surface forms`);
const pairs: EncodedPair[] = corpus.pairs
  .map((p) => ({
    a: vocab.encode(p.a),
    b: vocab.encode(p.b),
    source: p.source,
    ...(p.group ? { group: p.group } : {}),
  }))
  .filter((p) => p.a.length > 0 && p.b.length > 0);
const bySource: Record<string, number> = {};
for (const p of pairs) bySource[p.source] = (bySource[p.source] ?? 0) + 1;
log(`  pairs: ${pairs.length} ${JSON.stringify(bySource)}`);
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

const report = {
  svdCached,
  settings: SETTINGS,
  stats: { ...corpus.stats, rows, surfaceForms: vocab.surface.size, pairsBySource: bySource },
  losses,
  timings,
  sizes,
  verification,
  evaluation,
};
mkdirSync(PATHS.work, { recursive: true });
writeFileSync(join(PATHS.work, 'build-report.json'), JSON.stringify(report, null, 2));
writeReadme(report, corpus);
log(
  `done in ${Object.values(timings)
    .reduce((a, b) => a + b, 0)
    .toFixed(1)} s; report in ${join(PATHS.work, 'build-report.json')}`,
);
