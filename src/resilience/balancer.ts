/**
 * Choosing an instance for a call. Only instances that can take a call now are offered (connected,
 * circuit closed or with a probe slot); among them the lowest tier wins, so a backup tier is used
 * only while every primary is unavailable. Within the tier:
 *
 * - `p2c` (default): power of two choices. Two distinct instances are drawn at random and the one
 *   with the lower cost takes the call; cost = (in-flight calls + 1) x moving average of latency,
 *   inflated by the recent error rate. Two random draws keep the choice cheap and avoid the herd
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
}

/** How calls spread over instances. */
export type BalanceMode = 'p2c' | 'round-robin';

function cost(c: BalancerCandidate, fallbackLatency: number): number {
  return (c.inFlight + 1) * (c.latencyMs ?? fallbackLatency) * (1 + 4 * c.errorRate);
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
    const ca = cost(a, fallback);
    const cb = cost(b, fallback);
    if (ca === cb) return this.#random() < 0.5 ? a : b;
    return ca < cb ? a : b;
  }
}
