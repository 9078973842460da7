/**
 * The statistics experiment reports need, written out so that they have no dependencies and can be
 * checked line by line: Wilson intervals for success rates, a two-proportion z-test, Mann-Whitney U
 * for latencies, a chi-square goodness-of-fit test (the sample-ratio-mismatch check) and percentiles.
 *
 * Every p-value comes from one function, the regularised upper incomplete gamma Q(a, x), computed as
 * in Numerical Recipes (series for x < a + 1, Lentz's continued fraction otherwise) with a Lanczos
 * log-gamma. The normal tail uses it too: 2 * (1 - Phi(|z|)) = erfc(|z| / sqrt 2) = Q(1/2, z^2 / 2),
 * which is accurate to about 1e-14, so no separate erf approximation is needed.
 */

const EPS = 1e-15;
const TINY = 1e-300;
const MAX_ITER = 10_000;

/** Lanczos coefficients (g = 7, n = 9): ln Gamma to about 15 significant digits for x > 0. */
const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

/** ln Gamma(x) for x > 0 (reflection below 1/2). */
export function lnGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - lnGamma(1 - x);
  const y = x - 1;
  let sum = LANCZOS[0]!;
  for (let i = 1; i < LANCZOS.length; i++) sum += LANCZOS[i]! / (y + i);
  const t = y + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (y + 0.5) * Math.log(t) - t + Math.log(sum);
}

/** P(a, x) by its power series; converges fast for x < a + 1. */
function gammaPSeries(a: number, x: number): number {
  let term = 1 / a;
  let sum = term;
  for (let n = 1; n < MAX_ITER; n++) {
    term *= x / (a + n);
    sum += term;
    if (Math.abs(term) < Math.abs(sum) * EPS) break;
  }
  return sum * Math.exp(-x + a * Math.log(x) - lnGamma(a));
}

/** Q(a, x) by its continued fraction (modified Lentz); converges fast for x >= a + 1. */
function gammaQFraction(a: number, x: number): number {
  let b = x + 1 - a;
  let c = 1 / TINY;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < MAX_ITER; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < TINY) d = TINY;
    c = b + an / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < EPS) break;
  }
  return Math.exp(-x + a * Math.log(x) - lnGamma(a)) * h;
}

/** The regularised upper incomplete gamma function Q(a, x) = Gamma(a, x) / Gamma(a), for a > 0, x >= 0. */
export function gammaQ(a: number, x: number): number {
  if (!(a > 0) || !(x >= 0)) return Number.NaN;
  if (x === 0) return 1;
  if (x === Number.POSITIVE_INFINITY) return 0;
  return x < a + 1 ? 1 - gammaPSeries(a, x) : gammaQFraction(a, x);
}

/** Upper tail P(X >= chi2) of a chi-square distribution with `df` degrees of freedom. */
export function chiSquarePValue(chi2: number, df: number): number {
  return gammaQ(df / 2, chi2 / 2);
}

/** Two-sided normal tail 2 * (1 - Phi(|z|)). */
export function twoSidedP(z: number): number {
  return gammaQ(0.5, (z * z) / 2);
}

/** The standard normal CDF Phi(z). */
export function normalCdf(z: number): number {
  const half = twoSidedP(z) / 2;
  return z >= 0 ? 1 - half : half;
}

/** A success rate with its Wilson score interval. */
export interface RateInterval {
  readonly rate: number;
  readonly low: number;
  readonly high: number;
}

/** Wilson score interval for `successes` out of `n` (z = 1.96 for 95%); n = 0 gives rate 0 in [0, 1]. */
export function wilson(successes: number, n: number, z = 1.96): RateInterval {
  if (n <= 0) return { rate: 0, low: 0, high: 1 };
  const p = successes / n;
  const z2 = z * z;
  const denom = 1 + z2 / n;
  const centre = (p + z2 / (2 * n)) / denom;
  const half = (z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / denom;
  return { rate: p, low: Math.max(0, centre - half), high: Math.min(1, centre + half) };
}

/** Result of comparing two success rates. */
export interface ProportionTest {
  /** p2 - p1 (treatment minus control), absolute. */
  readonly lift: number;
  /** (p2 - p1) / p1; null when p1 is 0. */
  readonly relativeLift: number | null;
  readonly z: number;
  /** Two-sided. */
  readonly pValue: number;
}

/**
 * Two-proportion z-test of s1/n1 (control) against s2/n2 (treatment), with the pooled standard error
 * sqrt(p(1-p)(1/n1 + 1/n2)), p = (s1 + s2) / (n1 + n2). Degenerate inputs (an empty arm, or a pooled
 * rate of 0 or 1) give z = 0 and p = 1.
 */
export function twoProportionTest(s1: number, n1: number, s2: number, n2: number): ProportionTest {
  const p1 = n1 > 0 ? s1 / n1 : 0;
  const p2 = n2 > 0 ? s2 / n2 : 0;
  const lift = p2 - p1;
  const relativeLift = p1 > 0 ? lift / p1 : null;
  if (n1 <= 0 || n2 <= 0) return { lift, relativeLift, z: 0, pValue: 1 };
  const pooled = (s1 + s2) / (n1 + n2);
  const se = Math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2));
  if (!(se > 0)) return { lift, relativeLift, z: 0, pValue: 1 };
  const z = lift / se;
  return { lift, relativeLift, z, pValue: twoSidedP(z) };
}

/** Result of a Mann-Whitney U test. */
export interface RankTest {
  /** U of the first sample: how many (a, b) pairs have a > b, ties counting one half. */
  readonly u: number;
  /** Positive when the first sample tends to be larger. */
  readonly z: number;
  /** Two-sided. */
  readonly pValue: number;
}

/**
 * Mann-Whitney U (Wilcoxon rank-sum) with the normal approximation: tied values get their average
 * rank, the variance is corrected for ties, n1 n2 / 12 * ((N + 1) - sum(t^3 - t) / (N (N - 1))), and a
 * continuity correction of 1/2 moves |U - n1 n2 / 2| towards zero (never past it). This matches
 * scipy.stats.mannwhitneyu(a, b, method='asymptotic', use_continuity=True). Fine for the sample sizes
 * experiments reach; for a handful of values per arm the exact distribution would be better.
 */
export function mannWhitneyU(a: readonly number[], b: readonly number[]): RankTest {
  const n1 = a.length;
  const n2 = b.length;
  if (n1 === 0 || n2 === 0) return { u: 0, z: 0, pValue: 1 };
  const all = [...a.map((v) => ({ v, first: true })), ...b.map((v) => ({ v, first: false }))].sort((x, y) => x.v - y.v);
  const total = all.length;
  let rankSumA = 0;
  let tieTerm = 0;
  for (let i = 0; i < total;) {
    let j = i;
    while (j + 1 < total && all[j + 1]!.v === all[i]!.v) j++;
    const rank = (i + j) / 2 + 1; // average of 1-based ranks i+1 .. j+1
    const t = j - i + 1;
    tieTerm += t * t * t - t;
    for (let k = i; k <= j; k++) if (all[k]!.first) rankSumA += rank;
    i = j + 1;
  }
  const u = rankSumA - (n1 * (n1 + 1)) / 2;
  const mean = (n1 * n2) / 2;
  const variance = ((n1 * n2) / 12) * (total + 1 - tieTerm / (total * (total - 1)));
  if (!(variance > 0)) return { u, z: 0, pValue: 1 };
  const d = u - mean;
  const z = (Math.sign(d) * Math.max(0, Math.abs(d) - 0.5)) / Math.sqrt(variance);
  return { u, z, pValue: twoSidedP(z) };
}

/** Result of a chi-square test. */
export interface ChiSquareTest {
  readonly chi2: number;
  readonly df: number;
  readonly pValue: number;
}

/**
 * Chi-square goodness of fit of `observed` counts against the split `expectedWeights` (any positive
 * scale), with k - 1 degrees of freedom. A category with zero weight and a positive count gives
 * chi2 = Infinity and p = 0.
 */
export function chiSquareGoodnessOfFit(observed: readonly number[], expectedWeights: readonly number[]): ChiSquareTest {
  if (observed.length !== expectedWeights.length || observed.length < 2) {
    throw new RangeError('chi-square needs at least two categories and one weight per category');
  }
  const n = observed.reduce((s, v) => s + v, 0);
  const w = expectedWeights.reduce((s, v) => s + v, 0);
  const df = observed.length - 1;
  if (n === 0 || !(w > 0)) return { chi2: 0, df, pValue: 1 };
  let chi2 = 0;
  observed.forEach((o, i) => {
    const e = (n * expectedWeights[i]!) / w;
    if (e > 0) chi2 += ((o - e) * (o - e)) / e;
    else if (o > 0) chi2 = Number.POSITIVE_INFINITY;
  });
  return { chi2, df, pValue: chiSquarePValue(chi2, df) };
}

/** Sample ratio mismatch: the chi-square test plus its verdict at `alpha` (0.001 is the usual bar). */
export function sampleRatioMismatch(
  observed: readonly number[],
  expectedWeights: readonly number[],
  alpha = 0.001,
): ChiSquareTest & { readonly mismatch: boolean } {
  const test = chiSquareGoodnessOfFit(observed, expectedWeights);
  return { ...test, mismatch: test.pValue < alpha };
}

/**
 * The p-th percentile (p in [0, 100]) of ascending `sorted` values by linear interpolation between
 * closest ranks: position h = (n - 1) p / 100, value x[floor h] + (h - floor h)(x[floor h + 1] - x[floor h]).
 * This is Hyndman-Fan type 7, numpy's default and Excel's PERCENTILE.INC. NaN for no values.
 */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const h = ((sorted.length - 1) * Math.min(100, Math.max(0, p))) / 100;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo]! + (h - lo) * (sorted[hi]! - sorted[lo]!);
}

/** Latency summary (input need not be sorted and is not modified); percentiles are null for no values. */
export interface LatencySummary {
  readonly n: number;
  readonly p50: number | null;
  readonly p95: number | null;
}

/** Median and 95th percentile of `latencies` (see {@link percentile}). */
export function summarize(latencies: readonly number[]): LatencySummary {
  if (latencies.length === 0) return { n: 0, p50: null, p95: null };
  const sorted = [...latencies].sort((x, y) => x - y);
  return { n: sorted.length, p50: percentile(sorted, 50), p95: percentile(sorted, 95) };
}
