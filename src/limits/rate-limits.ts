/**
 * Rate limits: one rate-limiter-flexible limiter per rule, in memory (per process) by default, in Redis
 * (shared by every gateway replica) when `store.redis` is set.
 *
 * `check` takes one point from the bucket of every rule the request matches; all must allow it. When one
 * refuses, the points already taken from the others are given back (`reward`), so a refused call costs
 * nothing and cannot starve a sibling bucket. Each rule is a fixed window of `points` per `intervalMs`;
 * with `burst`, a BurstyRateLimiter lends up to `burst` more points from a second window of
 * `burstIntervalMs`, which approximates a token bucket without a timer per key.
 *
 * Redis outages follow each rule's `failMode`: `open` lets the request through uncounted, `closed` refuses
 * it with LIMITS_UNAVAILABLE. No insurance limiter: a per-process fallback would silently multiply the
 * limit by the number of replicas, which is neither of the two documented behaviours. Every Redis command
 * is bounded by `commandTimeoutMs` and refused at once while disconnected (limits/redis.ts), so a check
 * never hangs; the outage is logged once.
 *
 * Hot path: rules are compiled and sorted by request kind up front; a kind no rule counts returns one
 * resolved promise held by the instance, allocating nothing.
 */
import {
  BurstyRateLimiter,
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
  type RateLimiterAbstract,
} from 'rate-limiter-flexible';
import type { LimitScope, LimitsConfig, RedisConfig } from '../config/limits-schema.js';
import { GatewayError } from '../core/errors.js';
import type { Logger } from '../telemetry/logger.js';
import { LimitStore, MAX_RECONNECT_DELAY_MS } from './redis.js';
import { compileRules, describeRule, formatMs, type Bucket, type CompiledRule, type LimitSubject } from './rules.js';

export type { LimitSubject } from './rules.js';

/** Why a request was refused. */
export interface LimitRefusal {
  /** The rule's name. */
  readonly rule: string;
  readonly per: LimitScope;
  /** The bucket's subject: the user, tool, server, agent or tenant name; `*` for global. Never a secret. */
  readonly key: string;
  /** When a retry may pass (at least 1). */
  readonly retryAfterMs: number;
  /** The rule's points per interval. */
  readonly limit: number;
  readonly intervalMs: number;
  /** `limit`: the bucket is spent; `store`: Redis is unreachable and the rule fails closed. */
  readonly cause: 'limit' | 'store';
  /** The rule in words, e.g. `10 calls per 60 s, per user "ada"`. */
  readonly description: string;
}

/** Where the counters live: in memory, or in Redis (a store this instance opens, or one it is given). */
export interface RateLimitsOptions {
  /** Opens a Redis connection of its own (closed by `close()`). */
  readonly redis?: RedisConfig | undefined;
  /** A connection shared with other parts, connected and closed by its owner; wins over `redis`. */
  readonly store?: LimitStore | undefined;
  readonly log: Logger;
}

/**
 * Redis keys expire with PX: RateLimiterRedis counts durations in whole seconds (it floors ms / 1000 and,
 * under 1 s, sets no expiry at all), so it is handed milliseconds as its "seconds" and this script, which
 * reads ARGV[2] as milliseconds. Every interval is then exact to the millisecond, and `msBeforeNext` (from
 * PTTL) is already in milliseconds.
 */
const INCR_PX_SCRIPT = `redis.call('set', KEYS[1], 0, 'PX', ARGV[2], 'NX')
local consumed = redis.call('incrby', KEYS[1], ARGV[1])
local ttl = redis.call('pttl', KEYS[1])
if ttl == -1 then
  redis.call('pexpire', KEYS[1], ARGV[2])
  ttl = tonumber(ARGV[2])
end
return {consumed, ttl}`;

/** A rule with its limiters. */
interface Runtime {
  readonly rule: CompiledRule;
  /** What `check` consumes from: `main`, or a BurstyRateLimiter over `main` and `burst`. */
  readonly limiter: { consume(key: string): Promise<RateLimiterRes> };
  readonly main: RateLimiterAbstract;
  readonly burst: RateLimiterAbstract | undefined;
}

/** One rule's answer: a point taken (`res`), nothing taken (failed open), or a refusal. */
interface Outcome {
  readonly rt: Runtime;
  readonly bucket: Bucket;
  readonly res?: RateLimiterRes;
  readonly refusal?: LimitRefusal;
}

/** The gateway's rate limits. */
export class RateLimits {
  readonly #call: readonly Runtime[];
  readonly #find: readonly Runtime[];
  readonly #store: LimitStore | undefined;
  readonly #ownsStore: boolean;
  /** The answer of a kind no rule counts (shared, so the fast path allocates nothing). */
  readonly #none: Promise<undefined> = Promise.resolve(undefined);

  constructor(config: LimitsConfig, options: RateLimitsOptions) {
    const rules = compileRules(config.rules, config.failMode);
    const any = rules.call.length + rules.find.length > 0;
    this.#ownsStore = any && !options.store && options.redis !== undefined;
    this.#store = any
      ? (options.store ?? (options.redis ? new LimitStore(options.redis, options.log) : undefined))
      : undefined;
    if (this.#ownsStore) this.#store?.connect();
    const runtimes = new Map<CompiledRule, Runtime>();
    const runtimeOf = (rule: CompiledRule): Runtime => {
      let rt = runtimes.get(rule);
      if (!rt) runtimes.set(rule, (rt = this.#runtime(rule)));
      return rt;
    };
    this.#call = rules.call.map(runtimeOf);
    this.#find = rules.find.map(runtimeOf);
  }

  /** True when some rule is configured (no rules: the pipeline can leave the limit stage out). */
  get active(): boolean {
    return this.#call.length + this.#find.length > 0;
  }

  /** True when limits are shared through Redis. */
  get shared(): boolean {
    return this.#store !== undefined;
  }

  /** False while the shared store is not connected (checks then follow each rule's fail mode); true in memory. */
  get storeReady(): boolean {
    return this.#store?.ready ?? true;
  }

  /**
   * Takes one point from every matching rule's bucket. Resolves with the refusal (the one with the
   * longest wait when several refuse), or undefined when the request may go on. Never rejects.
   */
  check(subject: LimitSubject): Promise<LimitRefusal | undefined> {
    const rules = subject.kind === 'call' ? this.#call : this.#find;
    if (rules.length === 0) return this.#none;
    return this.#check(rules, subject);
  }

  async #check(rules: readonly Runtime[], subject: LimitSubject): Promise<LimitRefusal | undefined> {
    if (rules.length === 1) {
      const rt = rules[0]!;
      const bucket = rt.rule.bucket(subject);
      return bucket ? (await this.#consume(rt, bucket)).refusal : undefined;
    }
    const pending: Promise<Outcome>[] = [];
    for (const rt of rules) {
      const bucket = rt.rule.bucket(subject);
      if (bucket) pending.push(this.#consume(rt, bucket));
    }
    if (pending.length === 0) return undefined;
    const outcomes = await Promise.all(pending);
    let refusal: LimitRefusal | undefined;
    for (const o of outcomes)
      if (o.refusal && (!refusal || o.refusal.retryAfterMs > refusal.retryAfterMs)) refusal = o.refusal;
    if (refusal) await Promise.all(outcomes.flatMap((o) => (o.res ? [this.#giveBack(o.rt, o.bucket, o.res)] : [])));
    return refusal;
  }

  async #consume(rt: Runtime, bucket: Bucket): Promise<Outcome> {
    try {
      const res = await rt.limiter.consume(bucket.key);
      this.#store?.succeeded();
      return { rt, bucket, res };
    } catch (error) {
      if (error instanceof RateLimiterRes) {
        this.#store?.succeeded();
        const retryAfterMs = Math.max(1, Math.ceil(error.msBeforeNext));
        return { rt, bucket, refusal: this.#refusal(rt.rule, bucket, 'limit', retryAfterMs) };
      }
      this.#store?.failed(error);
      if (rt.rule.failMode === 'open') return { rt, bucket };
      // The store reconnects within MAX_RECONNECT_DELAY_MS of coming back.
      return { rt, bucket, refusal: this.#refusal(rt.rule, bucket, 'store', MAX_RECONNECT_DELAY_MS) };
    }
  }

  /** Returns a point taken for a request another rule refused (from the burst window too, if it came from there). */
  async #giveBack(rt: Runtime, bucket: Bucket, res: RateLimiterRes): Promise<void> {
    try {
      await rt.main.reward(bucket.key);
      if (rt.burst && res.consumedPoints > rt.rule.points) await rt.burst.reward(bucket.key);
    } catch (error) {
      this.#store?.failed(error);
    }
  }

  #refusal(rule: CompiledRule, bucket: Bucket, cause: LimitRefusal['cause'], retryAfterMs: number): LimitRefusal {
    return {
      rule: rule.name,
      per: rule.per,
      key: bucket.subject,
      retryAfterMs,
      limit: rule.points,
      intervalMs: rule.intervalMs,
      cause,
      description: describeRule(rule, bucket),
    };
  }

  #runtime(rule: CompiledRule): Runtime {
    const main = this.#limiter(rule.name, rule.points, rule.intervalMs, false);
    if (rule.burst === 0) return { rule, limiter: main, main, burst: undefined };
    const burst = this.#limiter(rule.name, rule.burst, rule.burstIntervalMs, true);
    return { rule, limiter: new BurstyRateLimiter(main, burst), main, burst };
  }

  #limiter(name: string, points: number, intervalMs: number, burst: boolean): RateLimiterAbstract {
    const store = this.#store;
    if (!store) return new RateLimiterMemory({ points, duration: intervalMs / 1000, keyPrefix: '' });
    return new RateLimiterRedis({
      storeClient: store.client,
      points,
      duration: intervalMs, // milliseconds, see INCR_PX_SCRIPT
      keyPrefix: `${store.keyPrefix}${burst ? 'limit-burst' : 'limit'}:${name}`,
      customIncrTtlLuaScript: INCR_PX_SCRIPT,
      rejectIfRedisNotReady: true,
    });
  }

  /** Disconnects from Redis when this instance opened the connection (idempotent). */
  async close(): Promise<void> {
    if (this.#ownsStore) await this.#store?.close();
  }
}

/** The error a refusal is reported as: RATE_LIMITED, or LIMITS_UNAVAILABLE when Redis is unreachable. */
export function limitError(refusal: LimitRefusal): GatewayError {
  const details = { retryAfterMs: refusal.retryAfterMs, rule: refusal.rule };
  if (refusal.cause === 'store')
    return new GatewayError(
      'LIMITS_UNAVAILABLE',
      `the limit store (Redis) is unreachable and rate limit "${refusal.rule}" (${refusal.description}) is set to fail closed; retry in ${formatMs(refusal.retryAfterMs)}`,
      details,
    );
  return new GatewayError(
    'RATE_LIMITED',
    `rate limit "${refusal.rule}" (${refusal.description}) reached; retry in ${formatMs(refusal.retryAfterMs)}`,
    details,
  );
}
