/**
 * Tenant quotas: calls or cost per UTC calendar day or month (config `quotas`, usage-schema.ts), checked
 * before each request and charged after it.
 *
 * `check` is synchronous and reads counts kept in memory. A count starts, the first time a tenant is
 * checked or charged in a period (at start-up, and again when the period rolls over), from the store's
 * sums for that period, so usage survives restarts; after that only `charge` moves it. Hence:
 * - Charge what the store meters (every request that gets a usage row, errors included), with the
 *   request's own time (`at`): a call charged with a time in a period already over is left to the store,
 *   which counts it there. Otherwise a restart reads a different count than the one kept in memory.
 * - A call passes while the count is under the limit, so with N calls allowed the N+1th is refused;
 *   calls in flight together all pass the same check (a quota can be overshot by the calls in flight).
 *   A cost is known only after the call: the call that crosses a cost limit completes, the next is refused.
 * - Counts are per process: two gateways over one store each start from the store and then count only
 *   their own calls. A new Quotas over the same store misses the usage rows not yet written (the metering
 *   batch in flight), so build one after a flush where that matters.
 */
import type { QuotaPeriod, QuotasConfig, UsageConfig } from '../config/usage-schema.js';
import { GatewayError } from '../core/errors.js';
import type { UsageReader } from '../store/usage-repo.js';
import { PriceTable } from './prices.js';
import { COST_DECIMALS, roundTo } from './report.js';

/** Why a request is refused: which quota, how much is used, when the period ends. */
export interface QuotaRefusal {
  readonly tenant: string;
  readonly period: QuotaPeriod;
  readonly kind: 'calls' | 'cost';
  readonly limit: number;
  /** Calls, or cost in `currency` (full precision). */
  readonly used: number;
  /** Epoch ms when the period ends and the count starts again from 0. */
  readonly resetsAt: number;
  /** The currency of a cost quota. */
  readonly currency?: string;
}

/** What a call used, to charge: calls (1 per request) and cost ({@link Quotas.costOf}). */
export interface QuotaCharge {
  readonly calls: number;
  readonly cost: number;
}

/** The event fields a call's cost depends on (tool: the exposed tool id). */
export interface CostInput {
  readonly tool?: string | undefined;
  readonly server?: string | undefined;
  readonly durationMs: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
}

/** What Quotas is built from. */
export interface QuotasOptions {
  readonly quotas: QuotasConfig;
  /** The `usage` section: prices (for cost quotas and costOf) and the currency. Absent: no prices. */
  readonly usage?: Pick<UsageConfig, 'currency' | 'prices'> | undefined;
  /** The store's usage, read when a period's count starts. */
  readonly reader: UsageReader;
  /** The clock (epoch ms); tests inject one. */
  readonly now?: () => number;
}

const DAY_MS = 86_400_000;

/** The UTC calendar period containing `now`: [start, end) in epoch ms. */
export function periodBounds(period: QuotaPeriod, now: number): { start: number; end: number } {
  if (period === 'day') {
    const start = Math.floor(now / DAY_MS) * DAY_MS;
    return { start, end: start + DAY_MS };
  }
  const date = new Date(now);
  const year = date.getUTCFullYear();
  const month = date.getUTCMonth();
  return { start: Date.UTC(year, month, 1), end: Date.UTC(year, month + 1, 1) };
}

interface Rule {
  readonly period: QuotaPeriod;
  readonly calls: number | undefined;
  readonly cost: number | undefined;
}

interface Counter {
  start: number;
  end: number;
  calls: number;
  cost: number;
}

interface TenantState {
  readonly rules: readonly Rule[];
  readonly periods: readonly QuotaPeriod[];
  readonly counters: Map<QuotaPeriod, Counter>;
}

/** Tenant quotas over one usage store. */
export class Quotas {
  readonly #quotas: QuotasConfig;
  readonly #reader: UsageReader;
  readonly #now: () => number;
  readonly #tenants = new Map<string, TenantState>();
  /** The price table (also what costOf uses). */
  readonly prices: PriceTable;
  readonly currency: string;

  constructor(options: QuotasOptions) {
    this.#quotas = options.quotas;
    this.#reader = options.reader;
    this.#now = options.now ?? Date.now;
    this.prices = new PriceTable(options.usage?.prices);
    this.currency = options.usage?.currency ?? 'USD';
  }

  /** True when any quota is configured (without one, the pipeline needs no quota stage). */
  get configured(): boolean {
    return this.#quotas.length > 0;
  }

  /** The cost of one call, in full precision. */
  costOf(call: CostInput): number {
    return this.prices.cost({ ...call, tool: call.tool ?? '', server: call.server ?? '', calls: 1 });
  }

  /** The refusal when a quota of the tenant is spent (the one resetting last, if several), else undefined. */
  check(tenant: string, now: number = this.#now()): QuotaRefusal | undefined {
    const state = this.#state(tenant);
    if (state.rules.length === 0) return undefined;
    let refusal: QuotaRefusal | undefined;
    for (const rule of state.rules) {
      const counter = this.#counter(tenant, state, rule.period, now);
      const spent: QuotaRefusal | undefined =
        rule.calls !== undefined && counter.calls >= rule.calls
          ? {
              tenant,
              period: rule.period,
              kind: 'calls',
              limit: rule.calls,
              used: counter.calls,
              resetsAt: counter.end,
            }
          : rule.cost !== undefined && counter.cost >= rule.cost
            ? {
                tenant,
                period: rule.period,
                kind: 'cost',
                limit: rule.cost,
                used: counter.cost,
                resetsAt: counter.end,
                currency: this.currency,
              }
            : undefined;
      if (spent && (!refusal || spent.resetsAt > refusal.resetsAt)) refusal = spent;
    }
    return refusal;
  }

  /** Adds a finished request to the tenant's counts; `at` is the request's time (default: now). */
  charge(tenant: string, used: QuotaCharge, at: number = this.#now()): void {
    const state = this.#state(tenant);
    for (const period of state.periods) {
      const current = state.counters.get(period);
      // A request of a period already over is counted by the store in that period, not in this one.
      if (current && at < current.start) continue;
      const counter = this.#counter(tenant, state, period, at);
      counter.calls += used.calls;
      counter.cost += used.cost;
    }
  }

  /** The tenant's quota rules (per period: its own entries, else the `*` ones), resolved once. */
  #state(tenant: string): TenantState {
    let state = this.#tenants.get(tenant);
    if (!state) {
      const rules: Rule[] = [];
      const periods: QuotaPeriod[] = [];
      for (const period of ['day', 'month'] as const) {
        const own = this.#quotas.filter((q) => q.tenant === tenant && q.period === period);
        const chosen = own.length > 0 ? own : this.#quotas.filter((q) => q.tenant === '*' && q.period === period);
        for (const q of chosen) rules.push({ period, calls: q.calls, cost: q.cost });
        if (chosen.length > 0) periods.push(period);
      }
      state = { rules, periods, counters: new Map() };
      this.#tenants.set(tenant, state);
    }
    return state;
  }

  /** The count of the period containing `now`, started from the store when the period is new to us. */
  #counter(tenant: string, state: TenantState, period: QuotaPeriod, now: number): Counter {
    const counter = state.counters.get(period);
    if (counter && now >= counter.start && now < counter.end) return counter;
    const { start, end } = periodBounds(period, now);
    let calls = 0;
    let cost = 0;
    for (const line of this.#reader.lines({ tenant, from: start, to: end }, 'tool')) {
      calls += line.calls;
      cost += this.prices.cost(line);
    }
    const next = { start, end, calls, cost };
    state.counters.set(period, next);
    return next;
  }
}

function iso(ms: number): string {
  return new Date(ms).toISOString().replace('.000Z', 'Z');
}

/** "3h 20m", "45s": how long until a time. */
function span(ms: number): string {
  const seconds = Math.max(0, Math.ceil(ms / 1000));
  const d = Math.floor(seconds / 86_400);
  const h = Math.floor((seconds % 86_400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  if (d > 0) return `${d}d ${h}h`;
  if (h > 0) return `${h}h ${m}m`;
  return m > 0 ? `${m}m` : `${seconds}s`;
}

/**
 * The error of a refused request: QUOTA_EXCEEDED (HTTP 429), naming the quota, what is used of it and
 * when it resets; details carry the refusal and `retryAfterMs` (until the reset).
 */
export function quotaError(refusal: QuotaRefusal, now: number = Date.now()): GatewayError {
  const retryAfterMs = Math.max(0, refusal.resetsAt - now);
  const amount = (value: number) =>
    refusal.kind === 'calls'
      ? `${value} call${value === 1 ? '' : 's'}`
      : `${roundTo(value, COST_DECIMALS)} ${refusal.currency ?? ''}`.trimEnd();
  return new GatewayError(
    'QUOTA_EXCEEDED',
    `quota exceeded: tenant "${refusal.tenant}" has used ${amount(refusal.used)} of its ${amount(refusal.limit)} per ${refusal.period} (UTC); ` +
      `it resets at ${iso(refusal.resetsAt)} (in ${span(retryAfterMs)})`,
    { ...refusal, retryAfterMs },
  );
}
