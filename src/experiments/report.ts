/**
 * An experiment's results: per arm, exposures, units, calls, error and success rates with 95%
 * Wilson intervals, latency p50/p95, and each arm's lift over the control (the first arm) with a
 * p-value: a two-proportion z-test for the success rate and a Mann-Whitney U test for latency.
 * A sample-ratio-mismatch check compares the units per arm with the configured weights
 * (chi-square; a mismatch below p 0.001 means the split itself is broken and the comparison is
 * not to be trusted). Pure: arm counts in, report out; `renderReport` makes the CLI's text.
 */
import { mannWhitneyU, sampleRatioMismatch, summarize, twoProportionTest, wilson } from './stats.js';

/** What the report needs per arm (the store's aggregate). */
export interface ArmCounts {
  readonly arm: string;
  readonly exposures: number;
  readonly units: number;
  readonly calls: number;
  readonly successes: number;
  readonly errors: number;
  readonly feedbackSuccesses: number;
  readonly feedbackFailures: number;
  readonly latencies: readonly number[];
}

/** One arm's line in the report. */
export interface ArmReport {
  readonly arm: string;
  readonly weight: number;
  readonly stopped: string | undefined;
  readonly exposures: number;
  readonly units: number;
  readonly calls: number;
  readonly errorRate: { rate: number; low: number; high: number };
  readonly successRate: { rate: number; low: number; high: number };
  readonly feedback: { successes: number; failures: number };
  readonly latencyMs: { p50: number | null; p95: number | null };
  /** Against the control (absent on the control itself). */
  readonly vsControl?: {
    readonly successLift: number;
    readonly successRelativeLift: number | null;
    readonly successP: number;
    readonly latencyP: number;
  };
}

/** The whole report. */
export interface ExperimentReport {
  readonly experiment: string;
  readonly control: string;
  readonly arms: readonly ArmReport[];
  readonly srm: { chi2: number; df: number; pValue: number; mismatch: boolean };
}

const round = (x: number, digits = 4) => Math.round(x * 10 ** digits) / 10 ** digits;

/** Builds the report of an experiment from its configured arms and the recorded counts. */
export function buildReport(
  experiment: string,
  arms: readonly { name: string; weight: number }[],
  counts: readonly ArmCounts[],
  stopped: ReadonlyMap<string, string> = new Map(),
): ExperimentReport {
  const byArm = new Map(counts.map((c) => [c.arm, c]));
  const empty = (arm: string): ArmCounts => ({
    arm,
    exposures: 0,
    units: 0,
    calls: 0,
    successes: 0,
    errors: 0,
    feedbackSuccesses: 0,
    feedbackFailures: 0,
    latencies: [],
  });
  const rows = arms.map((a) => byArm.get(a.name) ?? empty(a.name));
  const control = rows[0] ?? empty('control');
  const interval = (k: number, n: number) => {
    const w = wilson(k, n);
    return { rate: round(w.rate), low: round(w.low), high: round(w.high) };
  };
  const report: ArmReport[] = rows.map((r, i) => {
    const latency = summarize(r.latencies);
    const line: ArmReport = {
      arm: r.arm,
      weight: arms[i]?.weight ?? 0,
      stopped: stopped.get(r.arm),
      exposures: r.exposures,
      units: r.units,
      calls: r.calls,
      errorRate: interval(r.errors, r.calls),
      successRate: interval(r.successes, r.calls),
      feedback: { successes: r.feedbackSuccesses, failures: r.feedbackFailures },
      latencyMs: {
        p50: latency.p50 === null ? null : round(latency.p50, 2),
        p95: latency.p95 === null ? null : round(latency.p95, 2),
      },
    };
    if (i === 0) return line;
    const test = twoProportionTest(control.successes, control.calls, r.successes, r.calls);
    const latencyTest =
      control.latencies.length && r.latencies.length ? mannWhitneyU(control.latencies, r.latencies).pValue : 1;
    return {
      ...line,
      vsControl: {
        successLift: round(test.lift),
        successRelativeLift: test.relativeLift === null ? null : round(test.relativeLift),
        successP: round(test.pValue, 6),
        latencyP: round(latencyTest, 6),
      },
    };
  });
  // SRM over the arms that take traffic (weight > 0); a stopped arm's units flow to the control.
  const live = arms.map((a, i) => ({ a, r: rows[i]! })).filter(({ a }) => a.weight > 0 && !stopped.has(a.name));
  const srm =
    live.length >= 2 && live.some(({ r }) => r.units > 0)
      ? sampleRatioMismatch(
          live.map(({ r }) => r.units),
          live.map(({ a }) => a.weight),
        )
      : { chi2: 0, df: 0, pValue: 1, mismatch: false };
  return {
    experiment,
    control: control.arm,
    arms: report,
    srm: { chi2: round(srm.chi2), df: srm.df, pValue: round(srm.pValue, 6), mismatch: srm.mismatch },
  };
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

/** The report as a plain-text table for the CLI. */
export function renderReport(r: ExperimentReport): string {
  const lines = [`experiment ${r.experiment} (control: ${r.control})`, ''];
  lines.push(
    'arm | weight | exposures | units | calls | error rate [95% CI] | success rate [95% CI] | p50 ms | p95 ms | success lift vs control (p) | latency p',
  );
  for (const a of r.arms) {
    const lift = a.vsControl
      ? `${a.vsControl.successLift >= 0 ? '+' : ''}${(a.vsControl.successLift * 100).toFixed(1)} pts (p ${a.vsControl.successP})`
      : 'control';
    lines.push(
      `${a.arm}${a.stopped ? ' [stopped]' : ''} | ${a.weight} | ${a.exposures} | ${a.units} | ${a.calls} | ${pct(a.errorRate.rate)} [${pct(a.errorRate.low)}, ${pct(a.errorRate.high)}] | ${pct(a.successRate.rate)} [${pct(a.successRate.low)}, ${pct(a.successRate.high)}] | ${a.latencyMs.p50 ?? '-'} | ${a.latencyMs.p95 ?? '-'} | ${lift} | ${a.vsControl ? a.vsControl.latencyP : '-'}`,
    );
  }
  for (const a of r.arms) if (a.stopped) lines.push(`stopped ${a.arm}: ${a.stopped}`);
  lines.push(
    '',
    `sample ratio check: chi2 ${r.srm.chi2}, df ${r.srm.df}, p ${r.srm.pValue}${r.srm.mismatch ? ' -> MISMATCH: the split does not match the weights; do not trust the comparison' : ' (ok)'}`,
  );
  return lines.join('\n');
}
