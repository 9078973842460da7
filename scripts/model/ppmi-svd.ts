/**
 * Initial word vectors from co-occurrence: symmetric window counts (weighted 1/distance) in an
 * open-addressing hash table of typed arrays (tens of millions of pairs; a JS Map would be slow and
 * huge), positive PMI with context-distribution smoothing (alpha 0.75, Levy et al. 2015), then a
 * randomised truncated SVD (Halko et al. 2011) with vectors U * sqrt(S). DESIGN.md §7: PPMI
 * initialisation alone added about 3 MRR to the contrastive model.
 */
import { type Csr, orthonormalize, spmm, spmmT, symmetricEigen } from './linalg.js';
import { gaussian, type Random } from '../../src/core/prng.js';

/** Counts co-occurrences of row ids within `window` positions of each other (both directions). */
export function cooccurrence(docs: readonly Int32Array[], n: number, window: number): Csr {
  if (n >= 65536) throw new Error('cooccurrence keys are 32-bit: at most 65,535 rows');
  let bits = 24;
  let keys = new Uint32Array(1 << bits);
  let vals = new Float32Array(1 << bits);
  let used = 0;
  const insert = (key: number, w: number) => {
    let mask = (1 << bits) - 1;
    let h = Math.imul(key, 0x9e3779b1) >>> (32 - bits);
    while (keys[h] !== 0 && keys[h] !== key) h = (h + 1) & mask;
    if (keys[h] === 0) {
      keys[h] = key;
      used++;
    }
    vals[h]! += w;
    if (used > 0.7 * (1 << bits)) {
      // Grow: rehash everything into a table twice the size.
      const oldK = keys;
      const oldV = vals;
      bits++;
      keys = new Uint32Array(1 << bits);
      vals = new Float32Array(1 << bits);
      mask = (1 << bits) - 1;
      for (let i = 0; i < oldK.length; i++) {
        const k = oldK[i]!;
        if (k === 0) continue;
        let g = Math.imul(k, 0x9e3779b1) >>> (32 - bits);
        while (keys[g] !== 0) g = (g + 1) & mask;
        keys[g] = k;
        vals[g] = oldV[i]!;
      }
    }
  };
  for (const doc of docs) {
    for (let p = 0; p < doc.length; p++) {
      const a = doc[p]!;
      for (let d = 1; d <= window && p + d < doc.length; d++) {
        const b = doc[p + d]!;
        if (a === b) continue;
        insert(a * n + b + 1, 1 / d);
        insert(b * n + a + 1, 1 / d);
      }
    }
  }
  const rowPtr = new Int32Array(n + 1);
  for (let i = 0; i < keys.length; i++) if (keys[i] !== 0) rowPtr[Math.floor((keys[i]! - 1) / n) + 1]!++;
  for (let i = 0; i < n; i++) rowPtr[i + 1]! += rowPtr[i]!;
  const fill = rowPtr.slice(0, n);
  const cols = new Int32Array(used);
  const out = new Float32Array(used);
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    if (k === 0) continue;
    const row = Math.floor((k - 1) / n);
    const at = fill[row]!++;
    cols[at] = (k - 1) % n;
    out[at] = vals[i]!;
  }
  return { n, rowPtr, cols, vals: out };
}

/** Replaces counts by positive PMI in place (negative and zero entries become 0). */
export function toPpmi(m: Csr, alpha = 0.75): void {
  const row = new Float64Array(m.n);
  const col = new Float64Array(m.n);
  let total = 0;
  for (let i = 0; i < m.n; i++) {
    for (let p = m.rowPtr[i]!; p < m.rowPtr[i + 1]!; p++) {
      row[i]! += m.vals[p]!;
      col[m.cols[p]!]! += m.vals[p]!;
      total += m.vals[p]!;
    }
  }
  let smoothed = 0;
  for (let j = 0; j < m.n; j++) smoothed += col[j]! ** alpha;
  for (let i = 0; i < m.n; i++) {
    for (let p = m.rowPtr[i]!; p < m.rowPtr[i + 1]!; p++) {
      const j = m.cols[p]!;
      const pmi = Math.log(m.vals[p]! / total / ((row[i]! / total) * (col[j]! ** alpha / smoothed)));
      m.vals[p] = pmi > 0 ? pmi : 0;
    }
  }
}

/** Rank-`k` vectors U_k sqrt(S_k) of a square sparse matrix (oversampling 16, `iterations` power steps). */
export function randomizedSvd(m: Csr, k: number, iterations: number, random: Random): Float32Array {
  const n = m.n;
  const l = k + 16;
  const omega = new Float64Array(n * l);
  for (let i = 0; i < omega.length; i++) omega[i] = gaussian(random);
  let q = spmm(m, omega, l);
  orthonormalize(q, n, l);
  for (let it = 0; it < iterations; it++) {
    const z = spmmT(m, q, l);
    orthonormalize(z, n, l);
    q = spmm(m, z, l);
    orthonormalize(q, n, l);
  }
  // B = Q^T M, kept as its transpose Bt = M^T Q (n x l); B B^T = Bt^T Bt is l x l.
  const bt = spmmT(m, q, l);
  const bbt = new Float64Array(l * l);
  for (let r = 0; r < n; r++) {
    const o = r * l;
    for (let i = 0; i < l; i++) {
      const x = bt[o + i]!;
      if (x === 0) continue;
      for (let j = 0; j < l; j++) bbt[i * l + j]! += x * bt[o + j]!;
    }
  }
  const { values, vectors } = symmetricEigen(bbt, l);
  // U = Q W; singular values sqrt(eigenvalues); vectors weighted by sqrt(singular value).
  const out = new Float32Array(n * k);
  const weight = Float64Array.from({ length: k }, (_, c) => Math.sqrt(Math.sqrt(Math.max(values[c]!, 0))));
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < k; c++) {
      let s = 0;
      for (let t = 0; t < l; t++) s += q[r * l + t]! * vectors[t * l + c]!;
      out[r * k + c] = s * weight[c]!;
    }
  }
  return out;
}
