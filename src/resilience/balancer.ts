/**
 * Choosing an instance for a call. Only instances that can take a call now are offered (connected,
 * circuit closed or with a probe slot); among them the lowest tier wins, so a backup tier is used
 * only while every primary is unavailable. Within the tier:
 *
 * - `p2c` (default): power of two choices. Two distinct instances are drawn at random and the one
 *   with the lower cost takes the call; cost = (in-flight calls + 1) x moving average of latency,
 *   inflated by the recent error rate. A latency above the tier's best is forgiven as it ages (the
 *   excess halves every LATENCY_HALF_LIFE_MS without a new sample): otherwise one slow call (a cold start, a
 *   GC pause) would price an instance out for good, since an instance that is never picked never
 *   gets the sample that would correct it. Two random draws keep the choice cheap and avoid the herd
 *   behaviour of always picking the single best, while steering most calls to the faster and
 *   less loaded instance.
 * - `round-robin`: each instance in turn.
 *
 * Pure apart from the injected random source.
 */

/** What the balancer sees of an instance. */
export interface BalancerCandidate {
  readonly id: string;
  readonly tier: number;
  readonly inFlight: number;
  /** Moving average of call latency (ms); undefined before the first call. */
  readonly latencyMs: number | undefined;
  /** Recent share of failed calls, 0..1. */
  readonly errorRate: number;
  /** How long ago the latency was last sampled (ms); undefined: just now, or never. */
  readonly latencyAgeMs?: number | undefined;
}

/** Time after which an instance's excess latency over the tier's best counts half. */
export const LATENCY_HALF_LIFE_MS = 1_000;

/**
 * The latency a candidate is costed at: its own (`unknown` before its first call), with its excess
 * over the tier's `best` decaying with the sample's age.
 */
function agedLatency(c: BalancerCandidate, unknown: number, best: number): number {
  const latency = c.latencyMs ?? unknown;
  if (latency <= best || !c.latencyAgeMs) return latency;
  return best + (latency - best) * 2 ** (-c.latencyAgeMs / LATENCY_HALF_LIFE_MS);
}

/** How calls spread over instances. */
export type BalanceMode = 'p2c' | 'round-robin';

function cost(c: BalancerCandidate, averageLatency: number, bestLatency: number): number {
  return (c.inFlight + 1) * agedLatency(c, averageLatency, bestLatency) * (1 + 4 * c.errorRate);
}

/** Picks instances for calls; keeps the round-robin position. */
export class Balancer {
  readonly #mode: BalanceMode;
  readonly #random: () => number;
  #next = 0;

  constructor(mode: BalanceMode, random: () => number = Math.random) {
    this.#mode = mode;
    this.#random = random;
  }

  get mode(): BalanceMode {
    return this.#mode;
  }

  /** The candidates of the best (lowest) tier present. */
  static bestTier<T extends BalancerCandidate>(candidates: readonly T[]): T[] {
    if (candidates.length === 0) return [];
    const tier = Math.min(...candidates.map((c) => c.tier));
    return candidates.filter((c) => c.tier === tier);
  }

  /** Picks one of `candidates` (all able to take a call), or undefined when there are none. */
  pick<T extends BalancerCandidate>(candidates: readonly T[]): T | undefined {
    const tier = Balancer.bestTier(candidates);
    if (tier.length <= 1) return tier[0];
    if (this.#mode === 'round-robin') {
      const chosen = tier[this.#next % tier.length];
      this.#next = (this.#next + 1) % 1_000_000_007;
      return chosen;
    }
    const i = Math.floor(this.#random() * tier.length);
    let j = Math.floor(this.#random() * (tier.length - 1));
    if (j >= i) j++;
    const a = tier[i]!;
    const b = tier[j]!;
    // An instance with no latency yet is costed at the known average, so it gets tried.
    const known = tier.map((c) => c.latencyMs).filter((l): l is number => l !== undefined);
    const fallback = known.length ? known.reduce((x, y) => x + y, 0) / known.length : 1;
    const best = known.length ? Math.min(...known) : fallback;
    const ca = cost(a, fallback, best);
    const cb = cost(b, fallback, best);
    if (ca === cb) return this.#random() < 0.5 ? a : b;
    return ca < cb ? a : b;
  }
}
