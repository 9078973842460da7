/**
 * The `limits` section (rate limits on calls and find_capability), `store.redis` (where limits are
 * shared between gateway replicas) and a server entry's `concurrency` (calls in flight per upstream).
 *
 * A rule is a bucket of `points` per `intervalMs` (plus an optional `burst` refilled over
 * `burstIntervalMs`), one bucket per value of `per`: per user each user of a tenant has its own, per
 * tool each tool of a tenant, per tenant each tenant, `global` one for everything the rule matches (across
 * tenants). Every matching rule must allow a request. What happens while Redis is unreachable is the
 * rule's `failMode` (default `limits.failMode`): `open` lets requests through uncounted, `closed`
 * refuses them. See limits/rate-limits.ts.
 */
import { z } from 'zod';
import { strictObject as strict } from './keys.js';

/**
 * Longest interval: in-memory buckets expire on a Node timer, which cannot wait longer than 2^31-1 ms
 * (about 24.8 days); daily and monthly caps are quotas, not rate limits.
 */
export const MAX_LIMIT_INTERVAL_MS = 24 * 86_400_000;

const interval = (what: string) =>
  z
    .number()
    .int(`${what} is a whole number of milliseconds`)
    .min(1, `${what} is at least 1 (milliseconds)`)
    .max(
      MAX_LIMIT_INTERVAL_MS,
      `${what} is at most ${MAX_LIMIT_INTERVAL_MS} (24 days); for daily or monthly caps use quotas`,
    );

/** A glob over names: `*` matches any run of characters, nothing else is special. */
const glob = z.string().min(1, 'give a name or a pattern ("*" matches any run of characters)').max(200);

/** What to do while the shared limit store (Redis) is unreachable. */
export const failModes = ['open', 'closed'] as const;
export type FailMode = (typeof failModes)[number];

/** What one bucket is keyed by. */
export const limitScopes = ['tool', 'server', 'user', 'agent', 'tenant', 'global'] as const;
export type LimitScope = (typeof limitScopes)[number];

/** One rate limit. */
export const limitRuleSchema = strict({
  /** Unique; names the limit in refusals and logs, and its keys in Redis. */
  name: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'use 1 to 64 letters, digits, ".", "_" or "-"'),
  /** What it counts: tools/call (and call_capability), find_capability, or both in one bucket. */
  on: z.enum(['call', 'find', 'both']).default('call'),
  /** One bucket per tool, server, user, agent or tenant (all within a tenant), or one global bucket. */
  per: z.enum(limitScopes, { error: `per is one of ${limitScopes.join(', ')}` }),
  /** Which requests the rule applies to (every field given must match; absent fields match nothing). */
  match: strict({
    tenant: glob.optional(),
    agent: glob.optional(),
    user: glob.optional(),
    /** The tool's exposed id, as in scopes. */
    tool: glob.optional(),
    server: glob.optional(),
  }).optional(),
  points: z.number().int('points is a whole number').min(1, 'points is at least 1'),
  intervalMs: interval('intervalMs'),
  /** Extra points on top of `points` for a burst, refilled over `burstIntervalMs`. */
  burst: z.number().int('burst is a whole number').min(0, 'burst is 0 or more').optional(),
  burstIntervalMs: interval('burstIntervalMs').optional(),
  /** Overrides `limits.failMode` for this rule. */
  failMode: z.enum(failModes).optional(),
});

/** A rule as written in the config (defaults applied). */
export type LimitRule = z.infer<typeof limitRuleSchema>;

/** The `limits` section. */
export const limitsSchema = strict({
  /** While Redis is unreachable: `open` lets requests through uncounted, `closed` refuses them. */
  failMode: z.enum(failModes).default('open'),
  rules: z.array(limitRuleSchema).default([]),
})
  .superRefine((limits, ctx) => {
    const seen = new Map<string, number>();
    limits.rules.forEach((rule, i) => {
      const first = seen.get(rule.name);
      if (first !== undefined)
        ctx.addIssue({
          code: 'custom',
          path: ['rules', i, 'name'],
          message: `rule name "${rule.name}" is already used by rules[${first}]: give each rule its own name`,
        });
      else seen.set(rule.name, i);
      if (rule.on !== 'call' && (rule.per === 'tool' || rule.per === 'server'))
        ctx.addIssue({
          code: 'custom',
          path: ['rules', i, 'per'],
          message: `per "${rule.per}" needs a tool, and find_capability has none: use on "call", or another per`,
        });
      for (const field of ['tool', 'server'] as const)
        if (rule.on !== 'call' && rule.match?.[field] !== undefined)
          ctx.addIssue({
            code: 'custom',
            path: ['rules', i, 'match', field],
            message: `match.${field} never matches find_capability, which has no tool: use on "call"`,
          });
      if (rule.burstIntervalMs !== undefined && !rule.burst)
        ctx.addIssue({
          code: 'custom',
          path: ['rules', i, 'burstIntervalMs'],
          message: 'burstIntervalMs needs a burst of 1 or more',
        });
    });
  })
  .prefault({});

/** The `limits` section, validated. */
export type LimitsConfig = z.infer<typeof limitsSchema>;

const redisUrl = z
  .string()
  .regex(/^rediss?:\/\/\S+$/, 'give a redis:// or rediss:// URL, e.g. redis://127.0.0.1:6379')
  .refine((url) => URL.canParse(url), 'not a valid URL: e.g. redis://user:password@host:6379/0');

/**
 * `store.redis`: the Redis that rate limits share between gateway replicas. A URL, or an object with the URL
 * and tuning. Absent: limits are counted in memory, per process.
 */
export const redisSchema = z.preprocess(
  (value) => (typeof value === 'string' ? { url: value } : value),
  strict({
    url: redisUrl,
    /** Prepended to every key the gateway writes. */
    keyPrefix: z.string().max(100).default('switchboard:'),
    connectTimeoutMs: z.number().int().min(1).max(60_000).default(1000),
    /** Longest a limit check waits for Redis before the rule's fail mode applies. */
    commandTimeoutMs: z.number().int().min(1).max(10_000).default(200),
  }),
);

/** `store.redis`, validated (always the object form). */
export type RedisConfig = z.infer<typeof redisSchema>;

/** A server entry's `concurrency`: calls in flight at once to this server, and the queue behind them. */
export const concurrencySchema = strict({
  maxInFlight: z.number().int('maxInFlight is a whole number').min(1, 'maxInFlight is at least 1'),
  /** Calls that may wait for a slot (0: refuse at once when every slot is taken). */
  maxQueue: z.number().int().min(0).default(0),
  /** Longest a call waits in the queue before it is refused. */
  queueTimeoutMs: z.number().int().min(1).default(5000),
});

/** A server's concurrency limit, validated. */
export type ConcurrencySettings = z.infer<typeof concurrencySchema>;
