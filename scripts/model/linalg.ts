/**
 * The few dense and sparse linear-algebra kernels the randomised SVD needs, on row-major
 * Float64Arrays: sparse x dense products (both orientations), CholeskyQR2 orthonormalisation
 * (two Gram/Cholesky passes: cheap on tall-skinny matrices and stable enough in float64), and a
 * cyclic Jacobi eigensolver for the small symmetric matrix at the end; and the float32 kernels of
 * the contrastive training (train.ts): A B^T with four accumulators, transpose, and the two-sided
 * update of one logit's gradient.
 */

/** A square sparse matrix in compressed sparse row form. */
export interface Csr {
  readonly n: number;
  readonly rowPtr: Int32Array;
  readonly cols: Int32Array;
  readonly vals: Float32Array;
}

/** Y (n x l) = A X, X (n x l). */
export function spmm(a: Csr, x: Float64Array, l: number): Float64Array {
  const y = new Float64Array(a.n * l);
  for (let i = 0; i < a.n; i++) {
    const yo = i * l;
    for (let p = a.rowPtr[i]!; p < a.rowPtr[i + 1]!; p++) {
      const v = a.vals[p]!;
      const xo = a.cols[p]! * l;
      for (let c = 0; c < l; c++) y[yo + c]! += v * x[xo + c]!;
    }
  }
  return y;
}

/** Y (n x l) = A^T X. */
export function spmmT(a: Csr, x: Float64Array, l: number): Float64Array {
  const y = new Float64Array(a.n * l);
  for (let i = 0; i < a.n; i++) {
    const xo = i * l;
    for (let p = a.rowPtr[i]!; p < a.rowPtr[i + 1]!; p++) {
      const v = a.vals[p]!;
      const yo = a.cols[p]! * l;
      for (let c = 0; c < l; c++) y[yo + c]! += v * x[xo + c]!;
    }
  }
  return y;
}

/** G (l x l) = Y^T Y for Y (n x l). */
function gram(y: Float64Array, n: number, l: number): Float64Array {
  const g = new Float64Array(l * l);
  for (let r = 0; r < n; r++) {
    const o = r * l;
    for (let i = 0; i < l; i++) {
      const yi = y[o + i]!;
      if (yi === 0) continue;
      const gi = i * l;
      for (let j = i; j < l; j++) g[gi + j]! += yi * y[o + j]!;
    }
  }
  for (let i = 0; i < l; i++) for (let j = 0; j < i; j++) g[i * l + j] = g[j * l + i]!;
  return g;
}

/** Upper-triangular R with R^T R = G (a tiny ridge keeps rank-deficient columns finite). */
function cholesky(g: Float64Array, l: number): Float64Array {
  const r = new Float64Array(l * l);
  let trace = 0;
  for (let i = 0; i < l; i++) trace += g[i * l + i]!;
  const ridge = (trace / l) * 1e-12 + 1e-300;
  for (let j = 0; j < l; j++) {
    let s = g[j * l + j]! + ridge;
    for (let k = 0; k < j; k++) s -= r[k * l + j]! ** 2;
    const d = Math.sqrt(Math.max(s, ridge));
    r[j * l + j] = d;
    for (let i = j + 1; i < l; i++) {
      let t = g[j * l + i]!;
      for (let k = 0; k < j; k++) t -= r[k * l + j]! * r[k * l + i]!;
      r[j * l + i] = t / d;
    }
  }
  return r;
}

/** Y <- Y R^{-1} in place (row by row forward substitution). */
function solveRight(y: Float64Array, n: number, l: number, r: Float64Array): void {
  for (let row = 0; row < n; row++) {
    const o = row * l;
    for (let j = 0; j < l; j++) {
      let s = y[o + j]!;
      for (let k = 0; k < j; k++) s -= y[o + k]! * r[k * l + j]!;
      y[o + j] = s / r[j * l + j]!;
    }
  }
}

/** Orthonormalises the columns of Y (n x l) in place with CholeskyQR2. */
export function orthonormalize(y: Float64Array, n: number, l: number): void {
  for (let pass = 0; pass < 2; pass++) solveRight(y, n, l, cholesky(gram(y, n, l), l));
}

/** Eigen-decomposition of a symmetric l x l matrix: values descending, vectors as columns of `vectors`. */
export function symmetricEigen(m: Float64Array, l: number): { values: Float64Array; vectors: Float64Array } {
  const a = Float64Array.from(m);
  const v = new Float64Array(l * l);
  for (let i = 0; i < l; i++) v[i * l + i] = 1;
  for (let sweep = 0; sweep < 60; sweep++) {
    let off = 0;
    for (let p = 0; p < l; p++) for (let q = p + 1; q < l; q++) off += a[p * l + q]! ** 2;
    if (off < 1e-22) break;
    for (let p = 0; p < l; p++) {
      for (let q = p + 1; q < l; q++) {
        const apq = a[p * l + q]!;
        if (Math.abs(apq) < 1e-300) continue;
        const theta = (a[q * l + q]! - a[p * l + p]!) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < l; k++) {
          const akp = a[k * l + p]!;
          const akq = a[k * l + q]!;
          a[k * l + p] = c * akp - s * akq;
          a[k * l + q] = s * akp + c * akq;
        }
        for (let k = 0; k < l; k++) {
          const apk = a[p * l + k]!;
          const aqk = a[q * l + k]!;
          a[p * l + k] = c * apk - s * aqk;
          a[q * l + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < l; k++) {
          const vkp = v[k * l + p]!;
          const vkq = v[k * l + q]!;
          v[k * l + p] = c * vkp - s * vkq;
          v[k * l + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const order = Array.from({ length: l }, (_, i) => i).sort((x, y) => a[y * l + y]! - a[x * l + x]!);
  const values = Float64Array.from(order, (i) => a[i * l + i]!);
  const vectors = new Float64Array(l * l);
  order.forEach((src, dst) => {
    for (let k = 0; k < l; k++) vectors[k * l + dst] = v[k * l + src]!;
  });
  return { values, vectors };
}

/** Training kernels (train.ts), float32: out[i, j] = scale * dot(a[i, :], b[j, :]) for a (m x k) and b (n x k); k a multiple of 4. */
export function matmulNT(
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
export function transpose(a: Float32Array, rows: number, cols: number, out: Float32Array): void {
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = a[r * cols + c]!;
}

/** d[do..] += g * x[xo..] and dx[dxo..] += g * y[yo..]: one logit's gradient to both of its vectors. */
export function axpy2(
  g: number,
  x: Float32Array,
  xo: number,
  d: Float32Array,
  dO: number,
  y: Float32Array,
  yo: number,
  dx: Float32Array,
  dxo: number,
  dim: number,
): void {
  for (let c = 0; c < dim; c++) {
    d[dO + c]! += g * x[xo + c]!;
    dx[dxo + c]! += g * y[yo + c]!;
  }
}
