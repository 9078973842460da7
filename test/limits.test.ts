/**
 * Rate limits in memory and the per-server concurrency limiter: bursts against per-user, per-tool,
 * per-tenant and global rules pass exactly the allowed number and refuse the rest with a usable
 * retryAfterMs (waiting it lets the next call through); burst points; match filters; a refused call
 * costs nothing in its other buckets; the limiter's FIFO queue, full queue, queue timeout and abort,
 * and its hook in a real ServerPool over a real fixture server. Counts are asserted, never durations.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { concurrencySchema, limitsSchema, redisSchema } from '../src/config/limits-schema.js';
import { GatewayError } from '../src/core/errors.js';
import { ServerPool } from '../src/gateway/pool.js';
import { ConcurrencyLimiter } from '../src/limits/concurrency.js';
import { limitError, RateLimits, type LimitRefusal, type LimitSubject } from '../src/limits/rate-limits.js';
import { silentLogger } from '../src/telemetry/logger.js';
import { call, passed, waitAtLeast } from './fixtures/limits.js';
import { cleanup, fixtureEntry, makeConfig, onCleanup } from './helpers.js';

afterAll(cleanup);

function limits(rules: unknown[], failMode?: 'open' | 'closed'): RateLimits {
  const rl = new RateLimits(limitsSchema.parse({ rules, ...(failMode ? { failMode } : {}) }), { log: silentLogger() });
  onCleanup(() => rl.close());
  return rl;
}

/** Runs `n` checks at once; the refusals, in order (undefined: passed). */
async function burst(
  rl: RateLimits,
  n: number,
  subject: (i: number) => LimitSubject,
): Promise<(LimitRefusal | undefined)[]> {
  return Promise.all(Array.from({ length: n }, (_, i) => rl.check(subject(i))));
}

describe('limits config', () => {
  it('defaults to no rules, failing open', () => {
    expect(limitsSchema.parse(undefined)).toEqual({ failMode: 'open', rules: [] });
    const rule = limitsSchema.parse({ rules: [{ name: 'r', per: 'user', points: 1, intervalMs: 10 }] }).rules[0];
    expect(rule?.on).toBe('call');
  });

  it('refuses a duplicate rule name with its path, and a per-tool find rule', () => {
    const dup = limitsSchema.safeParse({
      rules: [
        { name: 'r', per: 'user', points: 1, intervalMs: 10 },
        { name: 'r', per: 'tool', points: 1, intervalMs: 10 },
      ],
    });
    expect(dup.success).toBe(false);
    expect(dup.error?.issues[0]?.path).toEqual(['rules', 1, 'name']);
    expect(dup.error?.issues[0]?.message).toMatch(/already used by rules\[0\]/);
    const find = limitsSchema.safeParse({ rules: [{ name: 'f', on: 'find', per: 'tool', points: 1, intervalMs: 10 }] });
    expect(find.error?.issues[0]?.path).toEqual(['rules', 0, 'per']);
    const unknown = limitsSchema.safeParse({
      rules: [{ name: 'x', per: 'user', points: 1, intervalMs: 10, pionts: 2 }],
    });
    expect(unknown.error?.issues[0]?.message).toMatch(/points/);
  });

  it('reads store.redis as a URL or an object, and server concurrency with defaults', () => {
    expect(redisSchema.parse('redis://127.0.0.1:6379')).toEqual({
      url: 'redis://127.0.0.1:6379',
      keyPrefix: 'switchboard:',
      connectTimeoutMs: 1000,
      commandTimeoutMs: 200,
    });
    expect(redisSchema.parse({ url: 'rediss://h:1', commandTimeoutMs: 50 }).commandTimeoutMs).toBe(50);
    expect(redisSchema.safeParse('http://x').error?.issues[0]?.message).toMatch(/redis:\/\//);
    expect(concurrencySchema.parse({ maxInFlight: 2 })).toEqual({ maxInFlight: 2, maxQueue: 0, queueTimeoutMs: 5000 });
    expect(concurrencySchema.safeParse({ maxInFlight: 0 }).success).toBe(false);
  });
});

describe('rate limits in memory', () => {
  it('with no rules answers every check with one shared resolved promise', async () => {
    const rl = limits([]);
    expect(rl.active).toBe(false);
    const a = rl.check(call());
    expect(rl.check(call())).toBe(a);
    expect(await a).toBeUndefined();
  });

  it('per user: exactly the allowed number passes, each user and tenant has its own bucket, waiting retryAfterMs lets the next through', async () => {
    const rl = limits([{ name: 'per-user', per: 'user', points: 5, intervalMs: 300 }]);
    const ada = await burst(rl, 8, () => call());
    expect(passed(ada)).toBe(5);
    const refusal = ada.find((r) => r !== undefined)!;
    expect(refusal).toMatchObject({
      rule: 'per-user',
      per: 'user',
      key: 'ada',
      limit: 5,
      intervalMs: 300,
      cause: 'limit',
    });
    expect(refusal.retryAfterMs).toBeGreaterThanOrEqual(1);
    expect(refusal.retryAfterMs).toBeLessThanOrEqual(300);
    expect(passed(await burst(rl, 8, () => call({ user: 'bob' })))).toBe(5);
    expect(passed(await burst(rl, 8, () => call({ tenant: 'other' })))).toBe(5);
    const again = (await rl.check(call()))!;
    await waitAtLeast(again.retryAfterMs);
    expect(passed(await burst(rl, 8, () => call()))).toBe(5);
  });

  it('per user without a user: the agent has a bucket of its own', async () => {
    const rl = limits([{ name: 'u', per: 'user', points: 2, intervalMs: 300 }]);
    const bot = await burst(rl, 4, () => call({ user: undefined, agent: 'ci-bot' }));
    expect(passed(bot)).toBe(2);
    expect(bot[3]?.key).toBe('ci-bot');
    expect(limitError(bot[3]!).message).toMatch(/agent "ci-bot", which calls without a user/);
    expect(passed(await burst(rl, 4, () => call({ user: 'ci-bot', agent: 'ci-bot' })))).toBe(2);
  });

  it('per tool: each tool has its own bucket', async () => {
    const rl = limits([{ name: 'per-tool', per: 'tool', points: 3, intervalMs: 300 }]);
    const results = await burst(rl, 12, (i) => call({ tool: i % 2 ? 'fs__read' : 'fs__write', user: `u${i}` }));
    expect(passed(results.filter((_, i) => i % 2 === 1))).toBe(3);
    expect(passed(results.filter((_, i) => i % 2 === 0))).toBe(3);
    expect(results.find((r) => r)?.per).toBe('tool');
    const later = (await rl.check(call({ tool: 'fs__read' })))!;
    expect(later.key).toBe('fs__read');
    await waitAtLeast(later.retryAfterMs);
    expect(await rl.check(call({ tool: 'fs__read' }))).toBeUndefined();
  });

  it('per tenant and global: a tenant shares one bucket; global spans tenants', async () => {
    const tenant = limits([{ name: 't', per: 'tenant', points: 4, intervalMs: 300 }]);
    expect(passed(await burst(tenant, 10, (i) => call({ user: `u${i}`, agent: `a${i}` })))).toBe(4);
    expect(passed(await burst(tenant, 10, (i) => call({ tenant: 'b', user: `u${i}` })))).toBe(4);
    const global = limits([{ name: 'g', per: 'global', points: 6, intervalMs: 300 }]);
    const results = await burst(global, 12, (i) => call({ tenant: `t${i % 3}`, user: `u${i}` }));
    expect(passed(results)).toBe(6);
    const refusal = results.find((r) => r)!;
    expect(refusal.key).toBe('*');
    await waitAtLeast(refusal.retryAfterMs);
    expect(passed(await burst(global, 12, (i) => call({ tenant: `t${i % 3}` })))).toBe(6);
  });

  it('burst: points plus burst pass at once, then the rest are refused', async () => {
    const rl = limits([{ name: 'b', per: 'user', points: 2, intervalMs: 300, burst: 3, burstIntervalMs: 600 }]);
    const results = await burst(rl, 9, () => call());
    expect(passed(results)).toBe(5);
    expect(limitError(results[8]!).message).toMatch(/2 calls per 300 ms, burst 3 per 600 ms, per user "ada"/);
  });

  it('match filters: only matching requests count, an absent field matches nothing', async () => {
    const rl = limits([
      { name: 'ci-fs', per: 'agent', match: { agent: 'ci-*', tool: 'fs__*' }, points: 1, intervalMs: 300 },
      { name: 'users', per: 'global', match: { user: '*' }, points: 100, intervalMs: 300 },
    ]);
    expect(passed(await burst(rl, 3, () => call({ agent: 'ci-1' })))).toBe(1);
    expect(passed(await burst(rl, 3, () => call({ agent: 'ci-2' })))).toBe(1);
    expect(passed(await burst(rl, 3, () => call({ agent: 'claude' })))).toBe(3);
    expect(passed(await burst(rl, 3, () => call({ agent: 'ci-1', tool: 'web__get' })))).toBe(3);
    const userless = limits([{ name: 'only-users', per: 'global', match: { user: '*' }, points: 1, intervalMs: 300 }]);
    expect(passed(await burst(userless, 3, () => call({ user: undefined })))).toBe(3);
    expect(passed(await burst(userless, 3, () => call()))).toBe(1);
  });

  it('on: find rules do not count calls, both counts calls and finds in one bucket', async () => {
    const rl = limits([
      { name: 'finds', on: 'find', per: 'user', points: 2, intervalMs: 300 },
      { name: 'all', on: 'both', per: 'agent', points: 5, intervalMs: 300 },
    ]);
    expect(passed(await burst(rl, 3, () => call({ kind: 'find' })))).toBe(2);
    expect(passed(await burst(rl, 5, () => call()))).toBe(3);
    const refusal = (await rl.check(call()))!;
    expect(refusal.rule).toBe('all');
    expect(limitError(refusal).message).toMatch(/5 requests per 300 ms, per agent "claude"/);
  });

  it('a refused call costs nothing in its other buckets (burst points included)', async () => {
    const rl = limits([
      { name: 'user', per: 'user', points: 10, intervalMs: 5000 },
      { name: 'tool', per: 'tool', points: 2, intervalMs: 5000 },
    ]);
    expect(passed(await burst(rl, 5, () => call({ tool: 'x' })))).toBe(2);
    // Had the 3 refused calls spent per-user points, only 5 of these would pass.
    expect(passed(await burst(rl, 9, (i) => call({ tool: `t${i}` })))).toBe(8);
    const bursty = limits([
      { name: 'user', per: 'user', points: 1, intervalMs: 5000, burst: 1 },
      { name: 'tool', per: 'tool', points: 1, intervalMs: 5000 },
    ]);
    expect(await bursty.check(call({ tool: 't1' }))).toBeUndefined();
    expect((await bursty.check(call({ tool: 't1' })))?.rule).toBe('tool'); // took the burst point, given back
    expect(await bursty.check(call({ tool: 't2' }))).toBeUndefined(); // so the burst point is still there
    expect((await bursty.check(call({ tool: 't3' })))?.rule).toBe('user');
  });

  it('names the refusal with the longest wait when several rules refuse', async () => {
    const rl = limits([
      { name: 'short', per: 'user', points: 1, intervalMs: 200 },
      { name: 'long', per: 'user', points: 1, intervalMs: 5000 },
    ]);
    await rl.check(call());
    const refusal = (await rl.check(call()))!;
    expect(refusal.rule).toBe('long');
    expect(refusal.retryAfterMs).toBeGreaterThan(200);
  });

  it('limitError: RATE_LIMITED, 429, retryable, with retryAfterMs and the rule', async () => {
    const rl = limits([{ name: 'per-user', per: 'user', points: 10, intervalMs: 60_000 }]);
    await burst(rl, 10, () => call());
    const error = limitError((await rl.check(call()))!);
    expect(error).toBeInstanceOf(GatewayError);
    expect(error.code).toBe('RATE_LIMITED');
    expect(error.httpStatus).toBe(429);
    expect(error.retryable).toBe(true);
    expect(error.details).toEqual({ retryAfterMs: expect.any(Number), rule: 'per-user' });
    expect(error.message).toMatch(
      /^rate limit "per-user" \(10 calls per 60 s, per user "ada"\) reached; retry in \d+(\.\d)? s$/,
    );
  });

  it('check latency in memory (printed, not asserted)', async () => {
    const rl = limits([
      { name: 'user', per: 'user', points: 1e9, intervalMs: 60_000 },
      { name: 'tool', per: 'tool', points: 1e9, intervalMs: 60_000, burst: 10 },
    ]);
    const none = limits([]);
    const one = limits([{ name: 'user', per: 'user', points: 1e9, intervalMs: 60_000 }]);
    const time = async (r: RateLimits, n: number) => {
      for (let i = 0; i < 2000; i++) await r.check(call({ user: `u${i % 50}` }));
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < n; i++) await r.check(call({ user: `u${i % 50}` }));
      return Number(process.hrtime.bigint() - t0) / n / 1000;
    };
    const [n0, n1, n2] = [await time(none, 50_000), await time(one, 50_000), await time(rl, 50_000)];
    process.stdout.write(
      `limit check in memory: no rules ${n0.toFixed(2)} µs, one rule ${n1.toFixed(2)} µs, two rules (one bursty) ${n2.toFixed(2)} µs\n`,
    );
  });
});

describe('concurrency limiter', () => {
  const settings = (over: Partial<{ maxInFlight: number; maxQueue: number; queueTimeoutMs: number }> = {}) =>
    concurrencySchema.parse({ maxInFlight: 2, maxQueue: 3, queueTimeoutMs: 60_000, ...over });

  it('takes slots at once up to maxInFlight, then queues in FIFO order', async () => {
    const limiter = new ConcurrencyLimiter(settings(), 'slow');
    const first = [await limiter.acquire(), await limiter.acquire()];
    const order: number[] = [];
    const waiting = [0, 1, 2].map((i) => limiter.acquire().then((release) => (order.push(i), release)));
    expect(limiter.inFlight).toBe(2);
    expect(limiter.queued).toBe(3);
    first[0]!();
    const r0 = await waiting[0]!;
    first[1]!();
    first[1]!(); // a second release of the same slot frees nothing more
    const r1 = await waiting[1]!;
    expect(limiter.inFlight).toBe(2);
    expect(limiter.queued).toBe(1);
    r0();
    const r2 = await waiting[2]!;
    expect(order).toEqual([0, 1, 2]);
    r1();
    r2();
    expect(limiter.inFlight).toBe(0);
  });

  it('refuses at once when the queue is full (and with no queue), with a retryable UPSTREAM_BUSY', async () => {
    const limiter = new ConcurrencyLimiter(settings({ maxInFlight: 1, maxQueue: 1 }), 'slow');
    const release = await limiter.acquire();
    const queued = limiter.acquire();
    const error = await limiter.acquire().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GatewayError);
    expect((error as GatewayError).code).toBe('UPSTREAM_BUSY');
    expect((error as GatewayError).retryable).toBe(true);
    expect((error as GatewayError).httpStatus).toBe(503);
    expect((error as GatewayError).message).toMatch(
      /server "slow" is at its concurrency limit \(1 call\(s\) in flight; 1 call\(s\) already waiting\)/,
    );
    release();
    (await queued)();
    const none = new ConcurrencyLimiter(settings({ maxInFlight: 1, maxQueue: 0 }), 'x');
    const held = await none.acquire();
    await expect(none.acquire()).rejects.toThrow(/no queue is configured/);
    held();
    expect(none.inFlight).toBe(0);
  });

  it('a wait past queueTimeoutMs fails and leaves the queue', async () => {
    const limiter = new ConcurrencyLimiter(settings({ maxInFlight: 1, queueTimeoutMs: 30 }), 'slow');
    const release = await limiter.acquire();
    await expect(limiter.acquire()).rejects.toMatchObject({ code: 'UPSTREAM_BUSY', details: { reason: 'timeout' } });
    expect(limiter.queued).toBe(0);
    release();
    expect(limiter.inFlight).toBe(0);
  });

  it('an aborted wait leaves the queue and never gets the slot', async () => {
    const limiter = new ConcurrencyLimiter(settings({ maxInFlight: 1 }), 'slow');
    const release = await limiter.acquire();
    const abort = new AbortController();
    const aborted = limiter.acquire(abort.signal).catch((e: unknown) => e);
    const next = limiter.acquire();
    abort.abort(new Error('agent cancelled'));
    expect(((await aborted) as Error).message).toBe('agent cancelled');
    expect(limiter.queued).toBe(1);
    release();
    (await next)();
    expect(limiter.inFlight).toBe(0);
    const pre = new AbortController();
    pre.abort(new Error('already gone'));
    await expect(limiter.acquire(pre.signal)).rejects.toThrow('already gone');
  });

  it('in a ServerPool: a burst of tools/call past maxInFlight + maxQueue never reaches the server', async () => {
    const config = makeConfig({ srv: fixtureEntry('srv') });
    const spec = { ...config.servers[0]!, concurrency: { maxInFlight: 1, maxQueue: 1, queueTimeoutMs: 60_000 } };
    const g = config.gateway;
    const pool = new ServerPool(
      spec,
      silentLogger(),
      {
        connectTimeoutMs: g.connectTimeoutMs,
        healthIntervalMs: g.healthIntervalMs,
        healthTimeoutMs: g.healthTimeoutMs,
        callTimeoutMs: g.callTimeoutMs,
        balance: g.balance,
        circuit: g.circuit,
        retry: g.retry,
      },
      () => {},
    );
    onCleanup(() => pool.drain(2000));
    await pool.start();
    const slow = () => pool.callTool('slow', { ms: 300 }, undefined, false, {});
    const results = await Promise.allSettled([slow(), slow(), slow(), slow()]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'rejected']);
    expect((results[2] as PromiseRejectedResult).reason).toMatchObject({ code: 'UPSTREAM_BUSY' });
    const stats = await pool.callTool('stats', {}, undefined, true, {});
    expect(stats.structuredContent).toMatchObject({ calls: 2 });
  });
});
