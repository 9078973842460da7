/**
 * The experiment report against hand-computed values on a fixed data set (the arithmetic is in
 * the comments; checked with scipy 1.17 on this machine: proportions_ztest-equivalent pooled z,
 * mannwhitneyu(method='asymptotic', use_continuity=True), chisquare).
 */
import { describe, expect, it } from 'vitest';
import { buildReport, renderReport, type ArmCounts } from '../src/experiments/report.js';

const arm = (name: string, units: number, calls: number, successes: number, latencies: number[]): ArmCounts => ({
  arm: name,
  exposures: calls,
  units,
  calls,
  successes,
  errors: calls - successes,
  feedbackSuccesses: 0,
  feedbackFailures: 0,
  latencies,
});

describe('experiment report', () => {
  // control 180/200 successes, treatment 80/100.
  // pooled p = 260/300 = 0.86667; se = sqrt(0.86667 * 0.13333 * (1/200 + 1/100)) = 0.041633
  // z = (0.8 - 0.9) / 0.041633 = -2.4019; two-sided p = 0.016309
  // Wilson 95%: 180/200 -> [0.85059, 0.93433]; 80/100 -> [0.71117, 0.86663]
  // Mann-Whitney: control [10,12,14,16,18] vs treatment [11,13,30,40,50]: U = 7, p = 0.29627
  const control = arm('control', 355, 200, 180, [10, 12, 14, 16, 18]);
  const treatment = arm('treatment', 45, 100, 80, [11, 13, 30, 40, 50]);
  const report = buildReport(
    'fixed',
    [
      { name: 'control', weight: 90 },
      { name: 'treatment', weight: 10 },
    ],
    [control, treatment],
  );

  it('gives rates with Wilson intervals', () => {
    expect(report.arms[0]?.successRate.rate).toBeCloseTo(0.9, 6);
    expect(report.arms[0]?.successRate.low).toBeCloseTo(0.85059, 4);
    expect(report.arms[0]?.successRate.high).toBeCloseTo(0.93433, 4);
    expect(report.arms[1]?.successRate.low).toBeCloseTo(0.71117, 4);
    expect(report.arms[1]?.successRate.high).toBeCloseTo(0.86663, 4);
    expect(report.arms[1]?.errorRate.rate).toBeCloseTo(0.2, 6);
  });

  it('gives the lift over the control with p-values', () => {
    expect(report.arms[0]?.vsControl).toBeUndefined();
    expect(report.arms[1]?.vsControl?.successLift).toBeCloseTo(-0.1, 6);
    expect(report.arms[1]?.vsControl?.successRelativeLift).toBeCloseTo(-0.1111, 4);
    expect(report.arms[1]?.vsControl?.successP).toBeCloseTo(0.016309, 5);
    expect(report.arms[1]?.vsControl?.latencyP).toBeCloseTo(0.29627, 4);
  });

  it('gives latency percentiles (linear interpolation)', () => {
    // [11,13,30,40,50]: p50 = 30; p95 at h = 3.8 -> 40 + 0.8 * 10 = 48
    expect(report.arms[1]?.latencyMs).toEqual({ p50: 30, p95: 48 });
  });

  it('passes the sample ratio check on units that match the weights and fails a skewed split', () => {
    // 355/45 against 360/40: chi2 = 25/360 + 25/40 = 0.69444, df 1, p = 0.40466
    expect(report.srm.chi2).toBeCloseTo(0.69444, 4);
    expect(report.srm.pValue).toBeCloseTo(0.40466, 4);
    expect(report.srm.mismatch).toBe(false);
    // 300/100 against 360/40: chi2 = 3600/360 + 3600/40 = 100, p = 1.5e-23
    const skewed = buildReport(
      'skewed',
      [
        { name: 'control', weight: 90 },
        { name: 'treatment', weight: 10 },
      ],
      [arm('control', 300, 300, 300, []), arm('treatment', 100, 100, 100, [])],
    );
    expect(skewed.srm.chi2).toBeCloseTo(100, 6);
    expect(skewed.srm.mismatch).toBe(true);
    expect(renderReport(skewed)).toMatch(/MISMATCH/);
  });

  it('leaves a stopped arm out of the sample ratio check and says why it stopped', () => {
    const stopped = buildReport(
      's',
      [
        { name: 'control', weight: 50 },
        { name: 'b', weight: 50 },
      ],
      [arm('control', 90, 90, 90, []), arm('b', 10, 10, 2, [])],
      new Map([['b', 'error rate 80%']]),
    );
    expect(stopped.srm.df).toBe(0);
    expect(stopped.arms[1]?.stopped).toBe('error rate 80%');
    expect(renderReport(stopped)).toMatch(/stopped b: error rate 80%/);
  });
});
