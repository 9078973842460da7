/**
 * Prices into cost: the price table of the `usage` config section (config/usage-schema.ts) applied to
 * metered usage, one call or an hour's sums alike.
 *
 * A row's price is the first of the tool's (by exposed tool id), the server's, the default; the chosen
 * price is used whole, its missing fields 0; no price costs 0. Cost = perCall x calls + perSecond x
 * durationMs / 1000 + perMb x (bytesIn + bytesOut) / 1,000,000. Computed in full double precision:
 * rounding is for display only (usage/report.ts).
 */
import type { Price, PriceTableConfig } from '../config/usage-schema.js';

/** What a cost is computed from: one call (calls 1) or sums of many. */
export interface Priced {
  readonly tool: string;
  readonly server: string;
  readonly calls: number;
  readonly durationMs: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
}

/** One MB, in bytes (decimal). */
export const BYTES_PER_MB = 1_000_000;

/** A price with every field filled in. */
interface Rate {
  readonly perCall: number;
  readonly perSecond: number;
  readonly perMb: number;
}

const FREE: Rate = { perCall: 0, perSecond: 0, perMb: 0 };

function rate(price: Price | undefined): Rate {
  if (!price) return FREE;
  return { perCall: price.perCall ?? 0, perSecond: price.perSecond ?? 0, perMb: price.perMb ?? 0 };
}

/**
 * The price table, looked up in Maps built once (config records are plain objects, where a tool named
 * `constructor` would find Object's own property).
 */
export class PriceTable {
  readonly #tools: ReadonlyMap<string, Rate>;
  readonly #servers: ReadonlyMap<string, Rate>;
  readonly #default: Rate;
  /** True when no price is set: every cost is 0, and callers may skip computing it. */
  readonly free: boolean;

  constructor(prices: Partial<PriceTableConfig> = {}) {
    this.#tools = new Map(Object.entries(prices.tools ?? {}).map(([id, p]) => [id, rate(p)]));
    this.#servers = new Map(Object.entries(prices.servers ?? {}).map(([name, p]) => [name, rate(p)]));
    this.#default = rate(prices.default);
    const all = [...this.#tools.values(), ...this.#servers.values(), this.#default];
    this.free = all.every((r) => r.perCall === 0 && r.perSecond === 0 && r.perMb === 0);
  }

  /** The rate that applies to a tool (exposed id) on a server: tool, then server, then default. */
  rateOf(tool: string, server: string): Rate {
    return this.#tools.get(tool) ?? this.#servers.get(server) ?? this.#default;
  }

  /** The cost of a call or of a line's sums, in full precision. */
  cost(usage: Priced): number {
    const r = this.rateOf(usage.tool, usage.server);
    return (
      r.perCall * usage.calls +
      (r.perSecond * usage.durationMs) / 1000 +
      (r.perMb * (usage.bytesIn + usage.bytesOut)) / BYTES_PER_MB
    );
  }
}
