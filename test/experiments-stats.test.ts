/**
 * The experiment statistics against values worked out by hand (arithmetic in the comments) and
 * checked independently with Python 3 + scipy 1.17.1 on this machine (the call is named per case).
 */
import { describe, expect, it } from 'vitest';
import {
  chiSquareGoodnessOfFit,
  chiSquarePValue,
  gammaQ,
  lnGamma,
  mannWhitneyU,
  normalCdf,
  percentile,
  sampleRatioMismatch,
  summarize,
  twoProportionTest,
  wilson,
} from '../src/experiments/stats.js';

describe('special functions', () => {
  it('lnGamma matches known values', () => {
    expect(lnGamma(0.5)).toBeCloseTo(Math.log(Math.sqrt(Math.PI)), 13); // Gamma(1/2) = sqrt(pi)
    expect(lnGamma(5)).toBeCloseTo(Math.log(24), 13); // Gamma(5) = 4! = 24
    expect(lnGamma(10.5)).toBeCloseTo(13.940625219403763, 12); // scipy.special.gammaln(10.5)
  });

  it('gammaQ is 1 at 0 and matches the exponential case Q(1, x) = e^-x', () => {
    expect(gammaQ(3, 0)).toBe(1);
    expect(gammaQ(1, 0.3)).toBeCloseTo(Math.exp(-0.3), 14); // series branch
    expect(gammaQ(1, 7)).toBeCloseTo(Math.exp(-7), 14); // continued-fraction branch
  });

  it('normal CDF: Phi(1.96) = 0.9750021, Phi(-3) = 0.0013499, 2(1 - Phi(1)) = 0.3173105', () => {
    // scipy.stats.norm.cdf(1.96) = 0.9750021048517795; norm.cdf(-3) = 0.0013498980316300933
    expect(normalCdf(1.96)).toBeCloseTo(0.9750021048517795, 12);
    expect(normalCdf(-3)).toBeCloseTo(0.0013498980316300933, 14);
    expect(normalCdf(0)).toBe(0.5);
    expect(2 * (1 - normalCdf(1))).toBeCloseTo(0.31731050786291415, 12);
  });

  it('chi-square upper tail: 3.841 on 1 df is p = 0.05', () => {
    // scipy.stats.chi2.sf(3.841, 1) = 0.050013683763956804; the exact 5% point 3.841458820694124 -> 0.05
    expect(chiSquarePValue(3.841, 1)).toBeCloseTo(0.050013683763956804, 12);
    expect(chiSquarePValue(3.841458820694124, 1)).toBeCloseTo(0.05, 12);
    // scipy.stats.chi2.sf(7.815, 3) = 0.049993902974883875; chi2.sf(20, 10) = 0.029252688076961124
    expect(chiSquarePValue(7.815, 3)).toBeCloseTo(0.049993902974883875, 12);
    expect(chiSquarePValue(20, 10)).toBeCloseTo(0.029252688076961124, 12);
  });
});

describe('wilson', () => {
  it('45/50 at z = 1.96 is 0.9 in [0.78640, 0.95652]', () => {
    // p = 0.9, z^2 = 3.8416, denom = 1 + 3.8416/50 = 1.076832
    // centre = (0.9 + 3.8416/100) / 1.076832 = 0.938416 / 1.076832 = 0.8714603
    // half = 1.96 * sqrt(0.9 * 0.1 / 50 + 3.8416 / 10000) / 1.076832
    //      = 1.96 * sqrt(0.0018 + 0.00038416) / 1.076832 = 1.96 * 0.0467350 / 1.076832 = 0.0850652
    // -> [0.7863951, 0.9565249]; the same formula in Python gives 0.7863950966521162, 0.956524876008429
    // (scipy.stats.binomtest(45, 50).proportion_ci(method='wilson') uses z = 1.959964: 0.786398, 0.956524)
    const r = wilson(45, 50);
    expect(r.rate).toBe(0.9);
    expect(r.low).toBeCloseTo(0.7863950966521162, 12);
    expect(r.high).toBeCloseTo(0.956524876008429, 12);
  });

  it('stays inside [0, 1] at the extremes and is uninformative with no data', () => {
    expect(wilson(0, 10).low).toBe(0);
    expect(wilson(10, 10).high).toBe(1);
    expect(wilson(0, 10).high).toBeCloseTo(0.38416 / 1.38416, 12); // p = 0: high = (z^2/n) / (1 + z^2/n) = 0.38416 / 1.38416 = 0.2775402
    expect(wilson(0, 0)).toEqual({ rate: 0, low: 0, high: 1 });
  });
});

describe('twoProportionTest', () => {
  it('120/1000 vs 150/1000: lift 0.03, z = 1.96305, p = 0.049640', () => {
    // p1 = 0.12, p2 = 0.15, pooled = 270/2000 = 0.135
    // se = sqrt(0.135 * 0.865 * (1/1000 + 1/1000)) = sqrt(0.116775 * 0.002) = sqrt(0.00023355) = 0.01528234
    // z = 0.03 / 0.01528234 = 1.9630498; two-sided p = 2 * norm.sf(1.9630498) = 0.04964039
    // scipy.stats.chi2_contingency([[120, 880], [150, 850]], correction=False) gives chi2 = 3.8535645 = z^2
    // and p = 0.049640386865368834
    const t = twoProportionTest(120, 1000, 150, 1000);
    expect(t.lift).toBeCloseTo(0.03, 14);
    expect(t.relativeLift).toBeCloseTo(0.25, 12);
    expect(t.z).toBeCloseTo(1.963049807622355, 10);
    expect(t.pValue).toBeCloseTo(0.049640386865368834, 10);
  });

  it('is symmetric and degenerate-safe', () => {
    expect(twoProportionTest(150, 1000, 120, 1000).z).toBeCloseTo(-1.963049807622355, 10);
    expect(twoProportionTest(0, 100, 0, 100)).toEqual({ lift: 0, relativeLift: null, z: 0, pValue: 1 });
    expect(twoProportionTest(5, 0, 5, 10).pValue).toBe(1);
  });
});

describe('mannWhitneyU', () => {
  const a = [1, 2, 2, 3, 5];
  const b = [2, 3, 4, 4, 6, 7];

  it('small samples with ties: U = 6.5, z = -1.48093, p = 0.138626', () => {
    // sorted: 1a 2a 2a 2b 3a 3b 4b 4b 5a 6b 7b; ranks 1; 2,3,4 -> 3; 5,6 -> 5.5; 7,8 -> 7.5; 9; 10; 11
    // R_a = 1 + 3 + 3 + 5.5 + 9 = 21.5, U_a = 21.5 - 5*6/2 = 6.5 (U_b = 30 - 6.5 = 23.5)
    // mean = 5*6/2 = 15; ties t = 3, 2, 2 -> sum(t^3 - t) = 24 + 6 + 6 = 36; N = 11
    // var = 30/12 * (12 - 36/110) = 2.5 * 11.6727273 = 29.1818182, sd = 5.4020199
    // continuity: |6.5 - 15| - 0.5 = 8 -> z = -8 / 5.4020199 = -1.4809275, p = 2 * norm.sf(1.4809275) = 0.1386259
    // scipy.stats.mannwhitneyu(a, b, method='asymptotic', use_continuity=True): U = 6.5, p = 0.13862587987892763
    const t = mannWhitneyU(a, b);
    expect(t.u).toBe(6.5);
    expect(t.z).toBeCloseTo(-8 / Math.sqrt(2.5 * (12 - 36 / 110)), 12);
    expect(t.pValue).toBeCloseTo(0.13862587987892763, 10);
  });

  it('swapping the samples flips z and keeps p', () => {
    const t = mannWhitneyU(b, a);
    expect(t.u).toBe(23.5); // scipy: statistic 23.5 for mannwhitneyu(b, a)
    expect(t.z).toBeCloseTo(-mannWhitneyU(a, b).z, 12);
    expect(t.pValue).toBeCloseTo(0.13862587987892763, 10);
  });

  it('gives p = 1 for identical samples, all-tied data and an empty sample', () => {
    expect(mannWhitneyU([1, 2, 3], [1, 2, 3]).pValue).toBe(1); // U = 4.5 = mean: continuity stops at 0
    expect(mannWhitneyU([5, 5], [5, 5, 5]).pValue).toBe(1); // zero variance
    expect(mannWhitneyU([], [1]).pValue).toBe(1);
  });
});

describe('chiSquareGoodnessOfFit', () => {
  it('[9100, 900] against 90/10 is chi2 = 11.111 (a mismatch at 0.001)', () => {
    // expected 9000 and 1000: (100^2)/9000 + (100^2)/1000 = 1.1111 + 10 = 11.1111, df = 1
    // scipy.stats.chisquare([9100, 900], [9000, 1000]): statistic 11.11111111111111, p = 0.0008581206663936758
    const t = chiSquareGoodnessOfFit([9100, 900], [90, 10]);
    expect(t.chi2).toBeCloseTo(10 / 9 + 10, 10);
    expect(t.df).toBe(1);
    expect(t.pValue).toBeCloseTo(0.0008581206663936758, 13);
  });

  it('[9030, 970] against 90/10 is chi2 = 1.0, p = 0.3173 (no mismatch)', () => {
    // (30^2)/9000 + (30^2)/1000 = 0.1 + 0.9 = 1.0; chi2.sf(1, 1) = 2 * norm.sf(1) = 0.31731050786291415
    const t = sampleRatioMismatch([9030, 970], [90, 10]);
    expect(t.chi2).toBeCloseTo(1, 12);
    expect(t.pValue).toBeCloseTo(0.31731050786291415, 12);
    expect(t.mismatch).toBe(false);
  });

  it('[8800, 1200] against 90/10 is a clear mismatch', () => {
    // 200^2/9000 + 200^2/1000 = 4.4444 + 40 = 44.4444; scipy p = 2.6167849372106072e-11
    const t = sampleRatioMismatch([8800, 1200], [90, 10]);
    expect(t.chi2).toBeCloseTo(40 / 9 + 40, 10);
    expect(t.pValue / 2.6167849372106072e-11).toBeCloseTo(1, 8);
    expect(t.mismatch).toBe(true);
  });

  it('handles zero weights and rejects malformed input', () => {
    expect(chiSquareGoodnessOfFit([10, 1], [1, 0])).toMatchObject({ chi2: Number.POSITIVE_INFINITY, pValue: 0 });
    expect(chiSquareGoodnessOfFit([0, 0], [1, 1]).pValue).toBe(1);
    expect(() => chiSquareGoodnessOfFit([1], [1])).toThrow(RangeError);
    expect(() => chiSquareGoodnessOfFit([1, 2], [1])).toThrow(RangeError);
  });
});

describe('percentile and summarize', () => {
  it('interpolates linearly between closest ranks (numpy default)', () => {
    // [1, 2, 3, 4, 10]: p50 at h = 4 * 0.5 = 2 -> 3; p95 at h = 3.8 -> 4 + 0.8 * (10 - 4) = 8.8
    // numpy.percentile([1, 2, 3, 4, 10], [50, 95]) = [3, 8.8]
    expect(percentile([1, 2, 3, 4, 10], 50)).toBe(3);
    expect(percentile([1, 2, 3, 4, 10], 95)).toBeCloseTo(8.8, 12);
    expect(percentile([1, 2, 3, 4, 10], 0)).toBe(1);
    expect(percentile([1, 2, 3, 4, 10], 100)).toBe(10);
    expect(percentile([7], 95)).toBe(7);
    expect(percentile([], 50)).toBeNaN();
  });

  it('summarize sorts a copy', () => {
    // sorted [1, 3, 5, 9]: p50 at h = 1.5 -> 4; p95 at h = 2.85 -> 5 + 0.85 * 4 = 8.4 (numpy: [4, 8.4])
    const latencies = [5, 1, 9, 3];
    const s = summarize(latencies);
    expect(s.n).toBe(4);
    expect(s.p50).toBe(4);
    expect(s.p95).toBeCloseTo(8.4, 12);
    expect(latencies).toEqual([5, 1, 9, 3]);
    expect(summarize([])).toEqual({ n: 0, p50: null, p95: null });
  });
});
