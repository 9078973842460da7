/**
 * The alert engine's memory of the recent past, in fixed time buckets: what the signals over a window
 * (error rate, p95 latency, no-match rate, circuit opens, catalog size, dropped audit events) read.
 *
 * - Per request: `AlertWindows.observe` is an audit-stage observer (the same AuditEvent the audit
 *   trail, usage and metrics get), so the alerts count exactly what the rest of the gateway counts.
 *   Tool calls are counted per tenant and server by outcome, with a latency histogram; finds and their
 *   no-matches per tenant. It only increments numbers in typed arrays (no clock read); once a series
 *   exists, what it allocates per window is the series' key and its slot's handle.
 * - Sampled: live counters and gauges (circuit opens, tools in the catalog, audit drops) are sampled
 *   at each evaluation; a bucket keeps the smallest and largest value seen in it.
 *
 * Memory is bounded by construction: each window is BUCKETS buckets of windowMs / BUCKETS, so it never
 * holds more than its own window; a server label is a catalog server's name (a call that resolved to
 * no catalog tool counts as "unknown", as in the metrics); at most MAX_SERIES series per window, and a
 * series with nothing in its window is forgotten at the next evaluation.
 */
import type { AuditEvent } from '../core/audit-event.js';

/** Buckets per window: the window's edge moves in steps of windowMs / BUCKETS. */
export const BUCKETS = 30;
/** Series one window keeps at most (new ones past it are not counted). */
export const MAX_SERIES = 10_000;
/** The server label of a call that did not resolve to a catalog tool. */
export const UNKNOWN_SERVER = 'unknown';
/** Upper bounds (ms) of the latency histogram's buckets (the last one is +Inf), as fine as the alerts need. */
export const LATENCY_BOUNDS_MS = [
  5, 10, 25, 50, 100, 250, 500, 1000, 2000, 2500, 5000, 10_000, 30_000, 60_000, 120_000,
];

const SEP = '\u0000';

/** Per key, BUCKETS slots of `fields` numbers, each slot stamped with the bucket index it holds. */
class BucketSeries {
  readonly #width: number;
  readonly #fields: number;
  readonly #series = new Map<string, { stamps: Float64Array; values: Float64Array; labels: readonly string[] }>();

  constructor(windowMs: number, fields: number) {
    this.#width = Math.max(1, Math.ceil(windowMs / BUCKETS));
    this.#fields = fields;
  }

  /** The slot of `time` for `labels` (undefined: too old for the window, or the series cap is reached). */
  slot(labels: readonly string[], time: number): { values: Float64Array; offset: number } | undefined {
    const key = sampleKey(labels);
    let series = this.#series.get(key);
    if (!series) {
      if (this.#series.size >= MAX_SERIES) return undefined;
      series = {
        stamps: new Float64Array(BUCKETS).fill(-1),
        values: new Float64Array(BUCKETS * this.#fields),
        labels,
      };
      this.#series.set(key, series);
    }
    const index = Math.floor(time / this.#width);
    const at = index % BUCKETS;
    const stamp = series.stamps[at]!;
    if (stamp > index) return undefined; // a late event whose bucket has already moved on
    const offset = at * this.#fields;
    if (stamp < index) {
      series.stamps[at] = index;
      series.values.fill(0, offset, offset + this.#fields);
    }
    return { values: series.values, offset };
  }

  /** Every series with the slots inside the window ending at `now`; series with none are forgotten. */
  *read(now: number): Generator<{ labels: readonly string[]; slots: { values: Float64Array; offset: number }[] }> {
    const current = Math.floor(now / this.#width);
    for (const [key, series] of this.#series) {
      const slots: { values: Float64Array; offset: number }[] = [];
      for (let at = 0; at < BUCKETS; at++) {
        const stamp = series.stamps[at]!;
        if (stamp > current - BUCKETS && stamp <= current)
          slots.push({ values: series.values, offset: at * this.#fields });
      }
      if (slots.length === 0) this.#series.delete(key);
      else yield { labels: series.labels, slots };
    }
  }
}

/** Tool calls over one window, per tenant and server. */
export interface CallTotals {
  readonly tenant: string;
  readonly server: string;
  /** Calls not refused (outcome success, isError or error). */
  readonly calls: number;
  /** Of those, failures (isError results, upstream and protocol errors). */
  readonly errors: number;
  /** Calls that reached an instance, by latency bucket (LATENCY_BOUNDS_MS, then +Inf). */
  readonly latency: readonly number[];
}

const CALL_FIELDS = 2 + LATENCY_BOUNDS_MS.length + 1;

/** Calls per tenant and server over a window. */
export class CallWindow {
  readonly #buckets: BucketSeries;
  constructor(readonly windowMs: number) {
    this.#buckets = new BucketSeries(windowMs, CALL_FIELDS);
  }

  record(tenant: string, server: string, end: number, failed: boolean, latencyMs: number | undefined): void {
    const slot = this.#buckets.slot([tenant, server], end);
    if (!slot) return;
    const { values, offset } = slot;
    values[offset] = values[offset]! + 1;
    if (failed) values[offset + 1] = values[offset + 1]! + 1;
    if (latencyMs !== undefined) {
      let b = 0;
      while (b < LATENCY_BOUNDS_MS.length && latencyMs > LATENCY_BOUNDS_MS[b]!) b++;
      values[offset + 2 + b] = values[offset + 2 + b]! + 1;
    }
  }

  /** Totals of every tenant and server with calls in the window ending at `now`. */
  totals(now: number): CallTotals[] {
    const out: CallTotals[] = [];
    for (const { labels, slots } of this.#buckets.read(now)) {
      const sums = new Array<number>(CALL_FIELDS).fill(0);
      for (const { values, offset } of slots) for (let f = 0; f < CALL_FIELDS; f++) sums[f]! += values[offset + f]!;
      out.push({
        tenant: labels[0]!,
        server: labels[1]!,
        calls: sums[0]!,
        errors: sums[1]!,
        latency: sums.slice(2),
      });
    }
    return out;
  }
}

/** find_capability searches per tenant over a window. */
export class FindWindow {
  readonly #buckets: BucketSeries;
  constructor(readonly windowMs: number) {
    this.#buckets = new BucketSeries(windowMs, 2);
  }

  record(tenant: string, end: number, noMatch: boolean): void {
    const slot = this.#buckets.slot([tenant], end);
    if (!slot) return;
    slot.values[slot.offset] = slot.values[slot.offset]! + 1;
    if (noMatch) slot.values[slot.offset + 1] = slot.values[slot.offset + 1]! + 1;
  }

  /** Searches that ran and those with no confident match, per tenant, in the window ending at `now`. */
  totals(now: number): { tenant: string; finds: number; noMatch: number }[] {
    const out: { tenant: string; finds: number; noMatch: number }[] = [];
    for (const { labels, slots } of this.#buckets.read(now)) {
      let finds = 0;
      let noMatch = 0;
      for (const { values, offset } of slots) {
        finds += values[offset]!;
        noMatch += values[offset + 1]!;
      }
      out.push({ tenant: labels[0]!, finds, noMatch });
    }
    return out;
  }
}

/** A sampled value per key over a window: the smallest and largest seen in it. */
export class SampleWindow {
  readonly #buckets: BucketSeries;
  constructor(readonly windowMs: number) {
    this.#buckets = new BucketSeries(windowMs, 3); // samples, min, max
  }

  record(labels: readonly string[], now: number, value: number): void {
    const slot = this.#buckets.slot(labels, now);
    if (!slot) return;
    const { values, offset } = slot;
    const fresh = values[offset] === 0;
    values[offset] = values[offset]! + 1;
    values[offset + 1] = fresh ? value : Math.min(values[offset + 1]!, value);
    values[offset + 2] = fresh ? value : Math.max(values[offset + 2]!, value);
  }

  /** The smallest and largest sample of every key in the window ending at `now` (joined labels as key). */
  range(now: number): Map<string, { min: number; max: number }> {
    const out = new Map<string, { min: number; max: number }>();
    for (const { labels, slots } of this.#buckets.read(now)) {
      let min = Infinity;
      let max = -Infinity;
      for (const { values, offset } of slots) {
        if (values[offset] === 0) continue;
        min = Math.min(min, values[offset + 1]!);
        max = Math.max(max, values[offset + 2]!);
      }
      if (min === Infinity) continue;
      out.set(sampleKey(labels), { min, max });
    }
    return out;
  }
}

/** The key SampleWindow.range uses for `labels`. */
export function sampleKey(labels: readonly string[]): string {
  return labels.join(SEP);
}

/**
 * The 95th (or `q`) percentile of a latency histogram, interpolated within its bucket as Prometheus'
 * histogram_quantile does; past the last finite bound, that bound. Undefined without observations.
 */
export function quantileMs(latency: readonly number[], q = 0.95): number | undefined {
  const total = latency.reduce((a, b) => a + b, 0);
  if (total === 0) return undefined;
  const rank = q * total;
  let seen = 0;
  for (let b = 0; b < latency.length; b++) {
    const count = latency[b]!;
    if (seen + count >= rank && count > 0) {
      if (b >= LATENCY_BOUNDS_MS.length) return LATENCY_BOUNDS_MS[LATENCY_BOUNDS_MS.length - 1];
      const lower = b === 0 ? 0 : LATENCY_BOUNDS_MS[b - 1]!;
      const upper = LATENCY_BOUNDS_MS[b]!;
      return lower + (upper - lower) * ((rank - seen) / count);
    }
    seen += count;
  }
  return LATENCY_BOUNDS_MS[LATENCY_BOUNDS_MS.length - 1];
}

/**
 * The windows the configured rules read, made before the first event (`calls`, `finds`, `samples`),
 * and the observer that feeds the per-request ones.
 */
export class AlertWindows {
  readonly #calls = new Map<number, CallWindow>();
  readonly #finds = new Map<number, FindWindow>();
  readonly #samples = new Map<string, SampleWindow>();

  /** The call window of this length (made once). */
  calls(windowMs: number): CallWindow {
    let w = this.#calls.get(windowMs);
    if (!w) this.#calls.set(windowMs, (w = new CallWindow(windowMs)));
    return w;
  }

  /** The find window of this length (made once). */
  finds(windowMs: number): FindWindow {
    let w = this.#finds.get(windowMs);
    if (!w) this.#finds.set(windowMs, (w = new FindWindow(windowMs)));
    return w;
  }

  /** The sample window of `what` (circuit opens, tools, drops) and this length (made once). */
  samples(what: string, windowMs: number): SampleWindow {
    const key = `${what}/${windowMs}`;
    let w = this.#samples.get(key);
    if (!w) this.#samples.set(key, (w = new SampleWindow(windowMs)));
    return w;
  }

  /** Counts one finished request (an audit-stage observer: returns at once). */
  observe(event: AuditEvent): void {
    const method = event.method;
    const end = event.time + event.latencyMs;
    if (method === 'tools/call' || method === 'call_capability') {
      if (this.#calls.size === 0) return;
      const outcome = event.outcome;
      if (outcome === 'denied' || outcome === 'limited') return; // refusals are not the server's doing
      // As in the metrics: a server is named only when the call resolved to a catalog tool.
      const server = event.server !== undefined && event.tool !== undefined ? event.server : UNKNOWN_SERVER;
      const failed = outcome === 'isError' || outcome === 'error';
      // Latency only of calls that reached an instance (as the metrics' histograms).
      const latency = event.instance !== undefined ? event.latencyMs : undefined;
      for (const w of this.#calls.values()) w.record(event.tenant, server, end, failed, latency);
    } else if (method === 'find_capability') {
      if (this.#finds.size === 0) return;
      // Only searches that ran say whether they were confident (see mcp/pipeline/meta.ts).
      const confident = event.detail?.confident;
      if (event.outcome !== 'success' || typeof confident !== 'boolean') return;
      for (const w of this.#finds.values()) w.record(event.tenant, end, !confident);
    }
  }
}
