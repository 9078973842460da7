/**
 * Contrastive training of the static embedding table (DESIGN.md §7): a sentence is the IDF-weighted
 * sum of its rows, L2-normalised; each batch of pairs is scored all-against-all and a symmetric
 * InfoNCE loss (temperature 0.1) pulls each pair together and pushes it from the other pairs in the
 * batch. Only rows that occur in a batch get gradients, so the optimiser is a lazy sparse Adam.
 * Everything is seeded and single-threaded, hence deterministic.
 */
import { prng, shuffle } from '../../src/core/prng.js';

/** An encoded pair: row ids of both texts, and the source name (for sampling). */
export interface EncodedPair {
  readonly a: Int32Array;
  readonly b: Int32Array;
  readonly source: string;
  /** Pairs sharing a group are drawn as contiguous runs, so they land in one batch as hard negatives. */
  readonly group?: string;
}

/** Training settings. */
export interface TrainOptions {
  readonly dim: number;
  readonly epochs: number;
  readonly batch: number;
  readonly lr: number;
  readonly temperature: number;
  readonly seed: number;
  /** Pairs drawn per epoch from a source (default: all of it, once). */
  readonly perEpoch?: Readonly<Record<string, number>>;
  /** How many times a source's pairs are drawn per epoch (default 1; ignored where perEpoch is set). */
  readonly repeat?: Readonly<Record<string, number>>;
  /** Length of the same-group runs (0: no grouping). */
  readonly groupRun?: number;
}

/** Sentence vector: s = sum_t w_t E_t over `ids`, returned unnormalised with its norm. */
function sentence(
  ids: Int32Array,
  e: Float32Array,
  w: Float32Array,
  dim: number,
  out: Float32Array,
  o: number,
): number {
  for (let c = 0; c < dim; c++) out[o + c] = 0;
  for (let k = 0; k < ids.length; k++) {
    const t = ids[k]!;
    const wt = w[t]!;
    const eo = t * dim;
    for (let c = 0; c < dim; c++) out[o + c]! += wt * e[eo + c]!;
  }
  let n = 0;
  for (let c = 0; c < dim; c++) n += out[o + c]! ** 2;
  n = Math.sqrt(n);
  for (let c = 0; c < dim; c++) out[o + c]! /= n || 1;
  return n;
}

/** out[i, j] = scale * dot(a[i, :], b[j, :]) for a (m x k) and b (n x k); k a multiple of 4. */
function matmulNT(
  a: Float32Array,
  b: Float32Array,
  m: number,
  n: number,
  k: number,
  scale: number,
  out: Float32Array,
): void {
  for (let i = 0; i < m; i++) {
    const io = i * k;
    for (let j = 0; j < n; j++) {
      // Four accumulators: about twice as fast as one in V8.
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      const jo = j * k;
      for (let c = 0; c < k; c += 4) {
        s0 += a[io + c]! * b[jo + c]!;
        s1 += a[io + c + 1]! * b[jo + c + 1]!;
        s2 += a[io + c + 2]! * b[jo + c + 2]!;
        s3 += a[io + c + 3]! * b[jo + c + 3]!;
      }
      out[i * n + j] = (s0 + s1 + s2 + s3) * scale;
    }
  }
}

/** out (cols x rows) = a (rows x cols) transposed. */
function transpose(a: Float32Array, rows: number, cols: number, out: Float32Array): void {
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = a[r * cols + c]!;
}

/**
 * The draw of pairs for one epoch: each source sampled (or repeated) to its per-epoch count, then
 * shuffled as units, where a unit is one ungrouped pair or a run of up to `groupRun` pairs of one
 * group (tools of one server tell apart siblings such as create_issue and update_issue).
 */
function epochPairs(pairs: readonly EncodedPair[], options: TrainOptions, random: () => number): EncodedPair[] {
  const bySource = new Map<string, EncodedPair[]>();
  for (const p of pairs) {
    const list = bySource.get(p.source);
    if (list) list.push(p);
    else bySource.set(p.source, [p]);
  }
  const drawn: EncodedPair[] = [];
  for (const [source, list] of [...bySource].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    const want = options.perEpoch?.[source] ?? Math.round(list.length * (options.repeat?.[source] ?? 1));
    const pool = shuffle([...list], random);
    for (let i = 0; i < want; i++) drawn.push(pool[i % pool.length]!);
  }
  const run = options.groupRun ?? 0;
  const units: EncodedPair[][] = [];
  const groups = new Map<string, EncodedPair[]>();
  for (const p of shuffle(drawn, random)) {
    if (!run || p.group === undefined) units.push([p]);
    else groups.set(p.group, [...(groups.get(p.group) ?? []), p]);
  }
  // A run never holds the same pair twice (repeated sources draw a pair several times per epoch):
  // a pair would then be its own in-batch negative.
  for (const [, list] of [...groups].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    let current: EncodedPair[] = [];
    for (const p of list) {
      if (current.length === run || current.includes(p)) {
        units.push(current);
        current = [];
      }
      current.push(p);
    }
    if (current.length) units.push(current);
  }
  return shuffle(units, random).flat();
}

/** Trains `e` (rows x dim, in place) with fixed per-row weights `w`; returns the mean loss per epoch. */
export function train(
  pairs: readonly EncodedPair[],
  e: Float32Array,
  w: Float32Array,
  options: TrainOptions,
  log: (line: string) => void = console.log,
): number[] {
  const { dim, batch, temperature: tau, lr } = options;
  const rows = e.length / dim;
  const m = new Float32Array(e.length);
  const v = new Float32Array(e.length);
  const grad = new Float32Array(e.length);
  const touched = new Uint8Array(rows);
  const random = prng(options.seed);
  const ua = new Float32Array(batch * dim);
  const ub = new Float32Array(batch * dim);
  const dua = new Float32Array(batch * dim);
  const dub = new Float32Array(batch * dim);
  const na = new Float32Array(batch);
  const nb = new Float32Array(batch);
  const logits = new Float32Array(batch * batch);
  const uaT = new Float32Array(batch * dim);
  const ubT = new Float32Array(batch * dim);
  const dlT = new Float32Array(batch * batch);
  if (dim % 4 !== 0 || batch % 4 !== 0) throw new Error('dim and batch must be multiples of 4');
  const beta1 = 0.9;
  const beta2 = 0.999;
  let step = 0;
  const losses: number[] = [];
  for (let epoch = 0; epoch < options.epochs; epoch++) {
    const order = epochPairs(pairs, options, random);
    let lossSum = 0;
    let batches = 0;
    for (let start = 0; start + batch <= order.length; start += batch) {
      const B = batch;
      for (let i = 0; i < B; i++) {
        na[i] = sentence(order[start + i]!.a, e, w, dim, ua, i * dim);
        nb[i] = sentence(order[start + i]!.b, e, w, dim, ub, i * dim);
      }
      // Logits and the symmetric InfoNCE gradient dL = (softmax_rows - I + softmax_cols - I) / 2B.
      matmulNT(ua, ub, B, B, dim, 1 / tau, logits);
      const dl = new Float32Array(B * B);
      let loss = 0;
      for (let i = 0; i < B; i++) {
        let max = -Infinity;
        for (let j = 0; j < B; j++) max = Math.max(max, logits[i * B + j]!);
        let z = 0;
        for (let j = 0; j < B; j++) z += Math.exp(logits[i * B + j]! - max);
        loss += Math.log(z) + max - logits[i * B + i]!;
        for (let j = 0; j < B; j++)
          dl[i * B + j]! += (Math.exp(logits[i * B + j]! - max) / z - (i === j ? 1 : 0)) / (2 * B);
      }
      for (let j = 0; j < B; j++) {
        let max = -Infinity;
        for (let i = 0; i < B; i++) max = Math.max(max, logits[i * B + j]!);
        let z = 0;
        for (let i = 0; i < B; i++) z += Math.exp(logits[i * B + j]! - max);
        loss += Math.log(z) + max - logits[j * B + j]!;
        for (let i = 0; i < B; i++)
          dl[i * B + j]! += (Math.exp(logits[i * B + j]! - max) / z - (i === j ? 1 : 0)) / (2 * B);
      }
      lossSum += loss / (2 * B);
      batches++;
      // d u_a = dL u_b / tau and d u_b = dL^T u_a / tau, as row-by-row dot products over transposes.
      transpose(ub, B, dim, ubT);
      transpose(ua, B, dim, uaT);
      transpose(dl, B, B, dlT);
      matmulNT(dl, ubT, B, dim, B, 1 / tau, dua);
      matmulNT(dlT, uaT, B, dim, B, 1 / tau, dub);
      // Through the normalisation (ds = (du - u (u.du)) / |s|), then scattered to the rows.
      const scatter = (ids: Int32Array, u: Float32Array, du: Float32Array, o: number, norm: number) => {
        let dot = 0;
        for (let c = 0; c < dim; c++) dot += u[o + c]! * du[o + c]!;
        for (let c = 0; c < dim; c++) du[o + c] = (du[o + c]! - u[o + c]! * dot) / (norm || 1);
        for (let k = 0; k < ids.length; k++) {
          const t = ids[k]!;
          const wt = w[t]!;
          touched[t] = 1;
          const go = t * dim;
          for (let c = 0; c < dim; c++) grad[go + c]! += wt * du[o + c]!;
        }
      };
      for (let i = 0; i < B; i++) {
        scatter(order[start + i]!.a, ua, dua, i * dim, na[i]!);
        scatter(order[start + i]!.b, ub, dub, i * dim, nb[i]!);
      }
      // Lazy Adam on touched rows only (bias correction by the global step, as torch's SparseAdam).
      step++;
      const c1 = 1 - beta1 ** step;
      const c2 = 1 - beta2 ** step;
      for (let t = 0; t < rows; t++) {
        if (!touched[t]) continue;
        touched[t] = 0;
        const o = t * dim;
        for (let c = 0; c < dim; c++) {
          const g = grad[o + c]!;
          grad[o + c] = 0;
          m[o + c] = beta1 * m[o + c]! + (1 - beta1) * g;
          v[o + c] = beta2 * v[o + c]! + (1 - beta2) * g * g;
          e[o + c]! -= (lr * (m[o + c]! / c1)) / (Math.sqrt(v[o + c]! / c2) + 1e-8);
        }
      }
    }
    losses.push(lossSum / Math.max(1, batches));
    log(`  epoch ${epoch + 1}/${options.epochs}: ${batches} batches, loss ${losses.at(-1)!.toFixed(4)}`);
  }
  return losses;
}
