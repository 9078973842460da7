/**
 * Small statistics helpers for the benchmarks: percentiles over samples in milliseconds.
 */

/** Summary of a latency sample, in milliseconds. */
export interface Summary {
  readonly n: number;
  readonly mean: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
}

/** Nearest-rank percentile of sorted samples. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] ?? Number.NaN;
}

/** Summarises samples (ms), rounded to microseconds. */
export function summarize(samples: readonly number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  const round = (x: number) => Math.round(x * 1000) / 1000;
  const mean = sorted.reduce((a, b) => a + b, 0) / Math.max(1, sorted.length);
  return {
    n: sorted.length,
    mean: round(mean),
    p50: round(percentile(sorted, 50)),
    p90: round(percentile(sorted, 90)),
    p99: round(percentile(sorted, 99)),
    max: round(sorted.at(-1) ?? Number.NaN),
  };
}

/**
 * Per-call µs of each variant (called with the call's index), interleaved in `blocks` rounds
 * (A B C A B C ...) after a tenth of the calls each as warm-up, so background load lands on all alike.
 */
export async function interleaveUs(
  variants: readonly ((i: number) => Promise<unknown>)[],
  n: number,
  blocks = 20,
): Promise<Summary[]> {
  for (const run of variants) for (let i = 0; i < Math.ceil(n / 10); i++) await run(i);
  const samples = variants.map(() => [] as number[]);
  const size = Math.ceil(n / blocks);
  for (let b = 0; b < blocks; b++)
    for (const [k, run] of variants.entries())
      for (let i = b * size; i < Math.min(n, (b + 1) * size); i++) {
        const t0 = performance.now();
        await run(i);
        samples[k]!.push((performance.now() - t0) * 1000);
      }
  return samples.map((s) => summarize(s));
}
