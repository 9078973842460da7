/**
 * The pure parts of resilient routing: the circuit breaker's state machine (with an injected
 * clock), the balancer's choices, the retry-safety rule and backoff, and the fan-out strategies
 * over branches that succeed, fail, hang and get cancelled.
 */
import { describe, expect, it } from 'vitest';
import { GatewayError } from '../src/core/errors.js';
import { prng } from '../src/core/prng.js';
import type { CallToolResult } from '../src/core/protocol.js';
import { Balancer, LATENCY_HALF_LIFE_MS } from '../src/resilience/balancer.js';
import { CircuitBreaker, type CircuitTransition } from '../src/resilience/breaker.js';
import { fanOut, type FanoutBranch } from '../src/resilience/fanout.js';
import { backoffMs, retrySafe } from '../src/resilience/retry.js';

const SETTINGS = { failures: 3, failureRate: 0.5, window: 10, minCalls: 6, openMs: 1_000, halfOpenProbes: 2 };

function breaker() {
  let now = 0;
  const transitions: CircuitTransition[] = [];
  const b = new CircuitBreaker(
    SETTINGS,
    (t) => transitions.push(t),
    () => now,
  );
  return { b, transitions, advance: (ms: number) => (now += ms) };
}

describe('circuit breaker', () => {
  it('opens after a run of consecutive failures and refuses calls while open', () => {
    const { b } = breaker();
    b.onFailure('x');
    b.onFailure('x');
    expect(b.state).toBe('closed');
    b.onFailure('x');
    expect(b.state).toBe('open');
    expect(b.tryPass()).toBe(false);
  });

  it('opens on the failure rate over the window once it has enough calls', () => {
    const { b } = breaker();
    for (const failed of [true, false, true, false, true, false]) failed ? b.onFailure('x') : b.onSuccess();
    expect(b.state).toBe('open');
    expect(b.view().opens).toBe(1);
  });

  it('stays closed below the minimum number of calls', () => {
    const { b } = breaker();
    for (const failed of [true, false, true, false]) failed ? b.onFailure('x') : b.onSuccess();
    expect(b.state).toBe('closed');
  });

  it('goes half-open after openMs, lets only the probes through, closes when they succeed', () => {
    const { b, advance, transitions } = breaker();
    b.trip('connection lost');
    advance(999);
    expect(b.state).toBe('open');
    advance(1);
    expect(b.state).toBe('half-open');
    expect(b.tryPass()).toBe(true);
    expect(b.tryPass()).toBe(true);
    expect(b.tryPass()).toBe(false); // two probes only
    b.onSuccess();
    expect(b.state).toBe('half-open');
    b.onSuccess();
    expect(b.state).toBe('closed');
    expect(transitions.map((t) => t.to)).toEqual(['open', 'half-open', 'closed']);
  });

  it('reopens when a probe fails, and gives back the pass of a cancelled probe', () => {
    const { b, advance } = breaker();
    b.trip('x');
    advance(1_000);
    expect(b.tryPass()).toBe(true);
    b.release();
    expect(b.tryPass()).toBe(true);
    expect(b.tryPass()).toBe(true);
    b.onFailure('still broken');
    expect(b.state).toBe('open');
  });

  it('recovered() skips the rest of the open period', () => {
    const { b } = breaker();
    b.trip('x');
    b.recovered('reconnected');
    expect(b.state).toBe('half-open');
  });
});

describe('balancer', () => {
  const c = (id: string, tier: number, inFlight: number, latencyMs: number | undefined, errorRate = 0) => ({
    id,
    tier,
    inFlight,
    latencyMs,
    errorRate,
  });

  it('uses only the best tier present', () => {
    const b = new Balancer('p2c', prng(1));
    for (let i = 0; i < 50; i++)
      expect(b.pick([c('backup', 1, 0, 1), c('p1', 0, 5, 100), c('p2', 0, 5, 100)])?.id).toMatch(/^p/);
    expect(b.pick([c('backup', 1, 0, 1)])?.id).toBe('backup');
    expect(b.pick([])).toBeUndefined();
  });

  it('p2c forgives an old slow sample: an instance priced out by one slow call is tried again', () => {
    const b = new Balancer('p2c', prng(3));
    const pickOf = (age: number) =>
      b.pick([
        { ...c('unlucky', 0, 0, 500), latencyAgeMs: age },
        { ...c('steady', 0, 1, 5), latencyAgeMs: 0 },
      ])!.id;
    // Just measured: 500 ms against 2 x 5 ms, the steady one takes the call.
    expect(pickOf(0)).toBe('steady');
    // Ten half-lives later its excess over the best is gone: the unlucky one is cheaper (it is idle).
    expect(pickOf(10 * LATENCY_HALF_LIFE_MS)).toBe('unlucky');
  });

  it('p2c prefers the faster, less loaded instance', () => {
    const b = new Balancer('p2c', prng(2));
    const counts = new Map<string, number>();
    for (let i = 0; i < 1_000; i++) {
      const id = b.pick([c('fast', 0, 0, 5), c('slow', 0, 0, 50), c('busy', 0, 8, 5)])!.id;
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    expect(counts.get('fast')!).toBeGreaterThan(600);
    expect(counts.get('slow') ?? 0).toBeLessThan(counts.get('fast')!);
  });

  it('round-robin takes each in turn', () => {
    const b = new Balancer('round-robin');
    const all = [c('a', 0, 0, 1), c('b', 0, 0, 1), c('c', 0, 0, 1)];
    expect(Array.from({ length: 6 }, () => b.pick(all)?.id)).toEqual(['a', 'b', 'c', 'a', 'b', 'c']);
  });
});

describe('retry safety and backoff', () => {
  it('repeats only read-only, idempotent or configured tools', () => {
    expect(retrySafe('get', { readOnlyHint: true }, false)).toBe(true);
    expect(retrySafe('put', { idempotentHint: true }, false)).toBe(true);
    expect(retrySafe('charge', { readOnlyHint: false }, false)).toBe(false);
    expect(retrySafe('charge', undefined, ['charge'])).toBe(true);
    expect(retrySafe('charge', undefined, ['refund'])).toBe(false);
    expect(retrySafe('charge', undefined, true)).toBe(true);
  });

  it('backs off exponentially with jitter, capped', () => {
    const random = prng(3);
    for (let attempt = 1; attempt <= 8; attempt++) {
      const base = Math.min(400, 25 * 2 ** (attempt - 1));
      const ms = backoffMs(attempt, 25, 400, random);
      expect(ms).toBeGreaterThanOrEqual(Math.floor(base / 2));
      expect(ms).toBeLessThanOrEqual(base);
    }
  });
});

describe('fan-out strategies', () => {
  const ok =
    (text: string, ms: number): FanoutBranch['run'] =>
    (signal) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => resolve({ content: [{ type: 'text', text }] }), ms);
        signal.addEventListener('abort', () => (clearTimeout(timer), reject(signal.reason)), { once: true });
      });
  const failing: FanoutBranch['run'] = async () => {
    throw new GatewayError('UPSTREAM_FAILED', 'boom');
  };
  const toolError: FanoutBranch['run'] = async (): Promise<CallToolResult> => ({
    content: [{ type: 'text', text: 'nope' }],
    isError: true,
  });
  const hanging =
    (seen: { cancelled: number }): FanoutBranch['run'] =>
    (signal) =>
      new Promise((_, reject) =>
        signal.addEventListener('abort', () => (seen.cancelled++, reject(signal.reason)), { once: true }),
      );
  const branch = (tool: string, run: FanoutBranch['run']): FanoutBranch => ({
    tool,
    server: tool.split('__')[0]!,
    run,
  });

  it('merge keeps every answer, labelled, and reports failures', async () => {
    const { result, outcomes } = await fanOut(
      'v',
      [branch('a__t', ok('A', 5)), branch('b__t', failing), branch('c__t', toolError)],
      { strategy: 'merge' },
    );
    expect(result.isError).toBeUndefined();
    expect(outcomes.map((o) => o.status)).toEqual(['ok', 'failed', 'is_error']);
    const text = result.content.map((c) => (c as { text: string }).text).join('\n');
    expect(text).toMatch(/--- a__t \(server a\): ok/);
    expect(text).toMatch(/--- c__t \(server c\): tool error/);
    expect(text).toMatch(/b__t: failed \(boom\)/);
  });

  it('merge is an error only when every branch failed', async () => {
    const { result } = await fanOut('v', [branch('a__t', failing), branch('b__t', toolError)], { strategy: 'merge' });
    expect(result.isError).toBe(true);
  });

  it('first returns the first success and cancels the rest', async () => {
    const seen = { cancelled: 0 };
    const { result, outcomes } = await fanOut(
      'v',
      [branch('a__t', hanging(seen)), branch('b__t', ok('B', 5)), branch('c__t', hanging(seen))],
      { strategy: 'first' },
    );
    expect(result.isError).toBeUndefined();
    expect(outcomes.map((o) => o.status)).toEqual(['cancelled', 'ok', 'cancelled']);
    expect(seen.cancelled).toBe(2);
  });

  it('quorum fails as soon as it cannot be reached, cancelling the rest', async () => {
    const seen = { cancelled: 0 };
    const { result, outcomes } = await fanOut(
      'v',
      [branch('a__t', failing), branch('b__t', failing), branch('c__t', hanging(seen))],
      { strategy: 'quorum', quorum: 2 },
    );
    expect(result.isError).toBe(true);
    expect(outcomes[2]?.status).toBe('cancelled');
    expect(seen.cancelled).toBe(1);
  });

  it("the caller's cancellation cancels every branch and rejects", async () => {
    const seen = { cancelled: 0 };
    const abort = new AbortController();
    const call = fanOut('v', [branch('a__t', hanging(seen)), branch('b__t', hanging(seen))], {
      strategy: 'merge',
      signal: abort.signal,
    });
    abort.abort(new Error('agent cancelled'));
    await expect(call).rejects.toThrow('agent cancelled');
    expect(seen.cancelled).toBe(2);
  });
});
