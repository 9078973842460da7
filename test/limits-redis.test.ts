/**
 * Rate limits shared through a real redis-server (test/fixtures/redis.ts): two RateLimits instances,
 * and two real gateway-like child processes, share one limit of N per interval and pass exactly N
 * between them; sub-second intervals and bursts hold in Redis too; killing Redis mid-run lets a
 * fail-open rule through and refuses a fail-closed one with LIMITS_UNAVAILABLE, without hanging, logged
 * once; restarting it makes the limits apply again without a restart of the limiter.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { limitsSchema, redisSchema } from '../src/config/limits-schema.js';
import { limitError, RateLimits, type LimitRefusal } from '../src/limits/rate-limits.js';
import { createLogger, silentLogger } from '../src/telemetry/logger.js';
import { call, passed, waitAtLeast } from './fixtures/limits.js';
import { startRedis, type RedisFixture } from './fixtures/redis.js';
import { cleanup, onCleanup, ROOT, waitFor } from './helpers.js';

let redis: RedisFixture;

beforeAll(async () => {
  redis = await startRedis();
});
afterAll(cleanup);

/** A store config with a key prefix of its own, so tests never share buckets. */
const storeConfig = (prefix = `t-${randomUUID()}:`) => redisSchema.parse({ url: redis.url, keyPrefix: prefix });

async function shared(
  rules: unknown[],
  options: { prefix?: string; failMode?: 'open' | 'closed'; log?: ReturnType<typeof silentLogger> } = {},
): Promise<RateLimits> {
  const rl = new RateLimits(
    limitsSchema.parse({ rules, ...(options.failMode ? { failMode: options.failMode } : {}) }),
    {
      redis: storeConfig(options.prefix),
      log: options.log ?? silentLogger(),
    },
  );
  onCleanup(() => rl.close());
  await waitFor(() => rl.storeReady, 15_000, 'the limit store to connect');
  return rl;
}

/** A logger whose lines can be read back. */
function capturingLogger(): { log: ReturnType<typeof silentLogger>; lines: () => { level: number; msg: string }[] } {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  const log = createLogger({ level: 'info', destination });
  return { log, lines: () => lines.map((l) => JSON.parse(l) as { level: number; msg: string }) };
}

describe('rate limits shared through Redis', () => {
  it('two instances share one limit of N per minute: exactly N pass between them', async () => {
    const prefix = `t-${randomUUID()}:`;
    const rule = { name: 'per-user', per: 'user', points: 7, intervalMs: 60_000 };
    const [a, b] = [await shared([rule], { prefix }), await shared([rule], { prefix })];
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).check(call())));
    expect(passed(results)).toBe(7);
    const refusal = results.find((r) => r)!;
    expect(refusal).toMatchObject({ rule: 'per-user', key: 'ada', cause: 'limit', limit: 7 });
    expect(refusal.retryAfterMs).toBeGreaterThanOrEqual(1);
    expect(refusal.retryAfterMs).toBeLessThanOrEqual(60_000);
    expect(await a.check(call({ user: 'bob' }))).toBeUndefined();
  });

  it('a sub-second interval expires on time in Redis, and bursts hold across instances', async () => {
    const prefix = `t-${randomUUID()}:`;
    const rules = [{ name: 'fast', per: 'agent', points: 3, intervalMs: 800, burst: 2, burstIntervalMs: 1500 }];
    const [a, b] = [await shared(rules, { prefix }), await shared(rules, { prefix })];
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).check(call())));
    expect(passed(results)).toBe(5);
    const refusal = (await a.check(call()))!;
    // Under 1 s, RateLimiterRedis alone would set no expiry at all (see INCR_PX_SCRIPT): this would never pass.
    expect(refusal.retryAfterMs).toBeLessThanOrEqual(1500);
    await waitAtLeast(refusal.retryAfterMs);
    expect(await b.check(call())).toBeUndefined();
  });

  it('two gateway processes share one limit: exactly N pass between them', async () => {
    const redisConfig = JSON.stringify(storeConfig());
    const rules = JSON.stringify({ rules: [{ name: 'shared', per: 'tenant', points: 9, intervalMs: 60_000 }] });
    const code = `
      import { createInterface } from 'node:readline';
      const { RateLimits } = await import(${JSON.stringify(`${ROOT}/src/limits/rate-limits.ts`)});
      const { limitsSchema, redisSchema } = await import(${JSON.stringify(`${ROOT}/src/config/limits-schema.ts`)});
      const { silentLogger } = await import(${JSON.stringify(`${ROOT}/src/telemetry/logger.ts`)});
      const rl = new RateLimits(limitsSchema.parse(JSON.parse(process.env.RULES)), {
        redis: redisSchema.parse(JSON.parse(process.env.REDIS)), log: silentLogger() });
      while (!rl.storeReady) await new Promise((r) => setTimeout(r, 20));
      console.log('ready');
      for await (const line of createInterface({ input: process.stdin })) if (line === 'go') break;
      const results = await Promise.all(Array.from({ length: 15 }, (_, i) =>
        rl.check({ kind: 'call', tenant: 'acme', agent: 'a' + i, user: 'u' + i })));
      console.log(JSON.stringify({ passed: results.filter((r) => r === undefined).length }));
      await rl.close();
      process.exit(0);
    `;
    const start = () => {
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
        cwd: ROOT,
        env: { ...process.env, RULES: rules, REDIS: redisConfig },
        stdio: ['pipe', 'pipe', 'inherit'],
      });
      onCleanup(() => child.kill('SIGKILL'));
      const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
      return { child, next: async () => String((await lines.next()).value) };
    };
    const procs = [start(), start()];
    for (const p of procs) expect(await p.next()).toBe('ready');
    for (const p of procs) p.child.stdin.write('go\n');
    const counts = await Promise.all(procs.map(async (p) => (JSON.parse(await p.next()) as { passed: number }).passed));
    expect(counts[0]! + counts[1]!).toBe(9);
  });

  it('Redis killed mid-run: fail-open lets calls through, fail-closed refuses clearly, logged once; back again: limits apply', async () => {
    const { log, lines } = capturingLogger();
    const rl = await shared(
      [
        { name: 'open', per: 'agent', match: { agent: 'open-*' }, points: 3, intervalMs: 60_000, failMode: 'open' },
        {
          name: 'closed',
          per: 'agent',
          match: { agent: 'closed-*' },
          points: 3,
          intervalMs: 60_000,
          failMode: 'closed',
        },
      ],
      { log },
    );
    expect(passed(await Promise.all([1, 2].map(() => rl.check(call({ agent: 'open-a' })))))).toBe(2);
    expect(passed(await Promise.all([1, 2].map(() => rl.check(call({ agent: 'closed-a' })))))).toBe(2);

    // Checks in flight while Redis dies all return, each passed, refused by the limit or by the store.
    const during = Array.from({ length: 30 }, () => rl.check(call({ agent: 'closed-b' })));
    await redis.kill();
    const duringResults = await Promise.all(during);
    expect(duringResults).toHaveLength(30);
    expect(passed(duringResults)).toBeLessThanOrEqual(3);
    for (const r of duringResults) if (r) expect(['limit', 'store']).toContain(r.cause);
    // Each check returns (no hang): the command is refused while disconnected or times out.
    const open: (LimitRefusal | undefined)[] = [];
    const closed: (LimitRefusal | undefined)[] = [];
    for (let i = 0; i < 10; i++) {
      open.push(await rl.check(call({ agent: 'open-a' })));
      closed.push(await rl.check(call({ agent: 'closed-a' })));
    }
    expect(passed(open)).toBe(10);
    expect(passed(closed)).toBe(0);
    const error = limitError(closed[9]!);
    expect(error.code).toBe('LIMITS_UNAVAILABLE');
    expect(error.retryable).toBe(true);
    expect(error.httpStatus).toBe(503);
    expect(error.message).toMatch(
      /limit store \(Redis\) is unreachable and rate limit "closed" .* fail closed; retry in/,
    );
    expect(rl.storeReady).toBe(false);
    const warnings = lines().filter((l) => l.msg.startsWith('limit store unreachable'));
    expect(warnings).toHaveLength(1);

    await redis.start();
    await waitFor(() => rl.storeReady, 15_000, 'the limit store to reconnect');
    // A fresh Redis (no persistence) starts every bucket empty: the limit of 3 applies again.
    expect(passed(await Promise.all([1, 2, 3, 4, 5].map(() => rl.check(call({ agent: 'open-a' })))))).toBe(3);
    expect(passed(await Promise.all([1, 2, 3, 4, 5].map(() => rl.check(call({ agent: 'closed-a' })))))).toBe(3);
    expect(lines().filter((l) => l.msg.startsWith('limit store reachable again'))).toHaveLength(1);
  });

  it('a hung Redis (SIGSTOP): checks return after the command timeout in their fail mode; thawed: limits apply', async () => {
    const rl = await shared([
      { name: 'open', per: 'agent', match: { agent: 'open-*' }, points: 2, intervalMs: 60_000, failMode: 'open' },
      { name: 'closed', per: 'agent', match: { agent: 'closed-*' }, points: 2, intervalMs: 60_000, failMode: 'closed' },
    ]);
    expect(await rl.check(call({ agent: 'closed-a' }))).toBeUndefined();
    redis.pause();
    try {
      const open = await Promise.all([1, 2, 3, 4].map(() => rl.check(call({ agent: 'open-a' }))));
      expect(passed(open)).toBe(4);
      const closed = await rl.check(call({ agent: 'closed-a' }));
      expect(closed?.cause).toBe('store');
      expect(rl.storeReady).toBe(false);
    } finally {
      redis.resume();
    }
    // The connection never dropped: the next answered command ends the outage.
    await waitFor(async () => (await rl.check(call({ agent: 'closed-x' }))) === undefined, 15_000, 'Redis to answer');
    expect(rl.storeReady).toBe(true);
    expect(passed(await Promise.all([1, 2, 3].map(() => rl.check(call({ agent: 'closed-y' })))))).toBe(2);
  });

  it('check latency with Redis against in memory (printed, not asserted)', async () => {
    const rules = [{ name: 'user', per: 'user', points: 1e9, intervalMs: 60_000 }];
    const viaRedis = await shared(rules);
    const inMemory = new RateLimits(limitsSchema.parse({ rules }), { log: silentLogger() });
    const time = async (rl: RateLimits, n: number) => {
      for (let i = 0; i < 2000; i++) await rl.check(call({ user: `u${i % 50}` }));
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < n; i++) await rl.check(call({ user: `u${i % 50}` }));
      return Number(process.hrtime.bigint() - t0) / n / 1000;
    };
    const memoryUs = await time(inMemory, 50_000);
    const redisUs = await time(viaRedis, 3000);
    const t0 = process.hrtime.bigint();
    await Promise.all(Array.from({ length: 3000 }, (_, i) => viaRedis.check(call({ user: `u${i % 50}` }))));
    const pipelinedUs = Number(process.hrtime.bigint() - t0) / 3000 / 1000;
    process.stdout.write(
      `limit check, one rule: in memory ${memoryUs.toFixed(2)} µs; Redis on loopback ${redisUs.toFixed(1)} µs sequential, ${pipelinedUs.toFixed(1)} µs each with 3000 concurrent\n`,
    );
  });
});
