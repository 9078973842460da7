/**
 * Contrastive training of the static embedding table (DESIGN.md §7): a sentence is the IDF-weighted
 * sum of its rows, L2-normalised; each batch of pairs is scored all-against-all and a symmetric
 * InfoNCE loss (temperature 0.1) pulls each pair together and pushes it from the other pairs in the
 * batch. Only rows that occur in a batch get gradients, so the optimiser is a lazy sparse Adam.
 * Everything is seeded and single-threaded, hence deterministic.
 */
import { prng, shuffle } from '../../src/core/prng.js';
import { axpy2, matmulNT, transpose } from './linalg.js';

/** An encoded hard negative: row ids of a text like the pair's `a`, of one like its `b`, and what they mean. */
export interface EncodedNegative {
  readonly a: Int32Array;
  readonly b: Int32Array;
  readonly meaning: string;
}

/** An encoded pair: row ids of both texts, and the source name (for sampling). */
export interface EncodedPair {
  readonly a: Int32Array;
  readonly b: Int32Array;
  readonly source: string;
  /** Pairs sharing a group are drawn as contiguous runs, so they land in one batch as hard negatives. */
  readonly group?: string;
  /** Further groups (with hardNegatives): the pair's draws take `group` and these in turn. */
  readonly groups?: readonly string[];
  /** Pairs and negatives with the same meaning are never each other's negatives (masked out). */
  readonly meaning?: string;
  /** Explicit hard negatives (with hardNegatives): one per draw joins the batch as extra columns. */
  readonly negatives?: readonly EncodedNegative[];
}

/** One use of a pair in an epoch, with the hard negative drawn for it. */
interface Draw {
  readonly p: EncodedPair;
  readonly group: string | undefined;
  readonly neg: EncodedNegative | undefined;
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
  /**
   * Use the pairs' explicit negatives and extra groups: each draw of a pair with negatives brings
   * one into the batch, scored against every anchor of the other side in the InfoNCE denominator.
   */
  readonly hardNegatives?: boolean;
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

/**
 * The draw of pairs for one epoch: each source sampled (or repeated) to its per-epoch count, then
 * shuffled as units, where a unit is one ungrouped pair or a run of up to `groupRun` pairs of one
 * group (tools of one server tell apart siblings such as create_issue and update_issue). With hard
 * negatives, a pair's successive draws take its groups in turn (its server, then its object across
 * servers) and each draw gets one of its negatives from a separate stream, so that the v1 recipe
 * (no negatives) consumes `random` exactly as before.
 */
function epochPairs(
  pairs: readonly EncodedPair[],
  options: TrainOptions,
  random: () => number,
  negRandom: () => number,
): Draw[] {
  const hard = options.hardNegatives ?? false;
  const bySource = new Map<string, EncodedPair[]>();
  for (const p of pairs) {
    const list = bySource.get(p.source);
    if (list) list.push(p);
    else bySource.set(p.source, [p]);
  }
  const drawn: Draw[] = [];
  for (const [source, list] of [...bySource].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    const want = options.perEpoch?.[source] ?? Math.round(list.length * (options.repeat?.[source] ?? 1));
    const pool = shuffle([...list], random);
    for (let i = 0; i < want; i++) {
      const p = pool[i % pool.length]!;
      const groups = [p.group, ...(hard ? (p.groups ?? []) : [])].filter((g) => g !== undefined);
      const group = groups.length ? groups[Math.floor(i / pool.length) % groups.length] : undefined;
      const neg = hard && p.negatives?.length ? p.negatives[Math.floor(negRandom() * p.negatives.length)] : undefined;
      drawn.push({ p, group, neg });
    }
  }
  const run = options.groupRun ?? 0;
  const units: Draw[][] = [];
  const groups = new Map<string, Draw[]>();
  for (const d of shuffle(drawn, random)) {
    if (!run || d.group === undefined) units.push([d]);
    else groups.set(d.group, [...(groups.get(d.group) ?? []), d]);
  }
  // A run never holds the same pair twice (repeated sources draw a pair several times per epoch):
  // a pair would then be its own in-batch negative.
  for (const [, list] of [...groups].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    let current: Draw[] = [];
    for (const d of list) {
      if (current.length === run || current.some((c) => c.p === d.p)) {
        units.push(current);
        current = [];
      }
      current.push(d);
    }
    if (current.length) units.push(current);
  }
  return shuffle(units, random).flat();
}

/**
 * Symmetric InfoNCE over a batch of B pairs plus K hard negatives: row i scores a_i against every
 * b_j and every negative like b (lnb, B x K); column j scores b_j against every a_i and every
 * negative like a (lna, K x B). An entry whose two sides mean the same thing (two pairs for one
 * action on one object, or a pair and a negative that is that very tool) is left out: it would be a
 * false negative. Writes the gradients of the mean loss into dl, dlnb and dlna; returns the summed loss.
 */
function infoNce(
  meanings: readonly (string | undefined)[],
  negMeanings: readonly string[],
  logits: Float32Array,
  lnb: Float32Array,
  lna: Float32Array,
  dl: Float32Array,
  dlnb: Float32Array,
  dlna: Float32Array,
): number {
  const B = meanings.length;
  const K = negMeanings.length;
  // Only pairs with a meaning that recurs in the batch need a mask; none do in the v1 recipe.
  const count = new Map<string, number>();
  for (const m of meanings) if (m !== undefined) count.set(m, (count.get(m) ?? 0) + 1);
  const clash = meanings.map((m) => m !== undefined && (count.get(m) ?? 0) > 1);
  const same = (i: number, j: number) => i !== j && clash[i]! && meanings[i] === meanings[j];
  const negOk = (i: number, k: number) => meanings[i] === undefined || meanings[i] !== negMeanings[k];
  let loss = 0;
  for (let i = 0; i < B; i++) {
    let max = -Infinity;
    for (let j = 0; j < B; j++) if (!same(i, j)) max = Math.max(max, logits[i * B + j]!);
    for (let k = 0; k < K; k++) if (negOk(i, k)) max = Math.max(max, lnb[i * K + k]!);
    let z = 0;
    for (let j = 0; j < B; j++) if (!same(i, j)) z += Math.exp(logits[i * B + j]! - max);
    for (let k = 0; k < K; k++) if (negOk(i, k)) z += Math.exp(lnb[i * K + k]! - max);
    loss += Math.log(z) + max - logits[i * B + i]!;
    for (let j = 0; j < B; j++)
      if (!same(i, j)) dl[i * B + j]! += (Math.exp(logits[i * B + j]! - max) / z - (i === j ? 1 : 0)) / (2 * B);
    for (let k = 0; k < K; k++) if (negOk(i, k)) dlnb[i * K + k] = Math.exp(lnb[i * K + k]! - max) / z / (2 * B);
  }
  for (let j = 0; j < B; j++) {
    let max = -Infinity;
    for (let i = 0; i < B; i++) if (!same(i, j)) max = Math.max(max, logits[i * B + j]!);
    for (let k = 0; k < K; k++) if (negOk(j, k)) max = Math.max(max, lna[k * B + j]!);
    let z = 0;
    for (let i = 0; i < B; i++) if (!same(i, j)) z += Math.exp(logits[i * B + j]! - max);
    for (let k = 0; k < K; k++) if (negOk(j, k)) z += Math.exp(lna[k * B + j]! - max);
    loss += Math.log(z) + max - logits[j * B + j]!;
    for (let i = 0; i < B; i++)
      if (!same(i, j)) dl[i * B + j]! += (Math.exp(logits[i * B + j]! - max) / z - (i === j ? 1 : 0)) / (2 * B);
    for (let k = 0; k < K; k++) if (negOk(j, k)) dlna[k * B + j] = Math.exp(lna[k * B + j]! - max) / z / (2 * B);
  }
  return loss;
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
  // At most one hard negative per draw: K <= batch.
  const vna = new Float32Array(batch * dim);
  const vnb = new Float32Array(batch * dim);
  const dvna = new Float32Array(batch * dim);
  const dvnb = new Float32Array(batch * dim);
  const nna = new Float32Array(batch);
  const nnb = new Float32Array(batch);
  const lna = new Float32Array(batch * batch);
  const lnb = new Float32Array(batch * batch);
  const dlna = new Float32Array(batch * batch);
  const dlnb = new Float32Array(batch * batch);
  const negRandom = prng(options.seed + 7919);
  if (dim % 4 !== 0 || batch % 4 !== 0) throw new Error('dim and batch must be multiples of 4');
  const beta1 = 0.9;
  const beta2 = 0.999;
  let step = 0;
  const losses: number[] = [];
  for (let epoch = 0; epoch < options.epochs; epoch++) {
    const order = epochPairs(pairs, options, random, negRandom);
    let lossSum = 0;
    let batches = 0;
    for (let start = 0; start + batch <= order.length; start += batch) {
      const B = batch;
      const draws = order.slice(start, start + B);
      for (let i = 0; i < B; i++) {
        na[i] = sentence(draws[i]!.p.a, e, w, dim, ua, i * dim);
        nb[i] = sentence(draws[i]!.p.b, e, w, dim, ub, i * dim);
      }
      // This batch's hard negatives: extra columns for the a side (texts like b) and rows for the b side.
      const negs = draws.flatMap((d) => (d.neg ? [d.neg] : []));
      const K = negs.length;
      for (let k = 0; k < K; k++) {
        nnb[k] = sentence(negs[k]!.b, e, w, dim, vnb, k * dim);
        nna[k] = sentence(negs[k]!.a, e, w, dim, vna, k * dim);
      }
      // Logits and the symmetric InfoNCE gradient dL = (softmax_rows - I + softmax_cols - I) / 2B.
      matmulNT(ua, ub, B, B, dim, 1 / tau, logits);
      if (K) {
        matmulNT(ua, vnb, B, K, dim, 1 / tau, lnb);
        matmulNT(vna, ub, K, B, dim, 1 / tau, lna);
      }
      const dl = new Float32Array(B * B);
      dlnb.fill(0, 0, B * K);
      dlna.fill(0, 0, B * K);
      const loss = infoNce(
        draws.map((d) => d.p.meaning),
        negs.map((n) => n.meaning),
        logits,
        lnb,
        lna,
        dl,
        dlnb,
        dlna,
      );
      lossSum += loss / (2 * B);
      batches++;
      // d u_a = dL u_b / tau and d u_b = dL^T u_a / tau, as row-by-row dot products over transposes.
      transpose(ub, B, dim, ubT);
      transpose(ua, B, dim, uaT);
      transpose(dl, B, B, dlT);
      matmulNT(dl, ubT, B, dim, B, 1 / tau, dua);
      matmulNT(dlT, uaT, B, dim, B, 1 / tau, dub);
      if (K) {
        // The negatives' share: d u_a += dLnb v_nb / tau, d v_nb = dLnb^T u_a / tau (and the same for the b side).
        dvnb.fill(0, 0, K * dim);
        dvna.fill(0, 0, K * dim);
        for (let i = 0; i < B; i++)
          for (let k = 0; k < K; k++) {
            const g = dlnb[i * K + k]! / tau;
            if (g !== 0) axpy2(g, vnb, k * dim, dua, i * dim, ua, i * dim, dvnb, k * dim, dim);
            const h = dlna[k * B + i]! / tau;
            if (h !== 0) axpy2(h, vna, k * dim, dub, i * dim, ub, i * dim, dvna, k * dim, dim);
          }
      }
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
        scatter(draws[i]!.p.a, ua, dua, i * dim, na[i]!);
        scatter(draws[i]!.p.b, ub, dub, i * dim, nb[i]!);
      }
      for (let k = 0; k < K; k++) {
        scatter(negs[k]!.b, vnb, dvnb, k * dim, nnb[k]!);
        scatter(negs[k]!.a, vna, dvna, k * dim, nna[k]!);
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
