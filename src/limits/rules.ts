/**
 * Rate-limit rules compiled once for the hot path: which rules a request kind can meet, a match
 * predicate per rule (exact names compared as strings, `*` globs as one anchored regex), and the bucket
 * key a request falls in. Pure: no I/O, no state; `RateLimits` owns the counters.
 *
 * Buckets live within a tenant (a tenant's burst never spends another's budget), except `global`, which
 * is one bucket for everything the rule matches: to cap a tool across tenants, write `per: global` with
 * `match.tool`. A per-user rule counts calls without a user (service agents) per agent, in a bucket of
 * their own, so a userless caller is limited too, never lumped with everyone else.
 */
import type { FailMode, LimitRule, LimitScope } from '../config/limits-schema.js';
import { compileGlob, type GlobTest } from '../core/glob.js';

/** What one limit check is about (the shape of the pipeline's AdmissionSubject). */
export interface LimitSubject {
  readonly kind: 'call' | 'find';
  readonly tenant: string;
  readonly agent: string;
  readonly user?: string | undefined;
  /** The tool's exposed id (calls only). */
  readonly tool?: string | undefined;
  readonly server?: string | undefined;
}

/** Where a request falls under one rule: the stored bucket key and the subject named in refusals. */
export interface Bucket {
  /** Unique within the rule (tenant-qualified except for `global`). */
  readonly key: string;
  /** What the refusal names: the user, tool, server, agent or tenant; `*` for global. Never a secret. */
  readonly subject: string;
  /** A per-user bucket of an agent calling without a user (`subject` is then the agent). */
  readonly userless?: true;
}

/** A rule ready for matching. */
export interface CompiledRule {
  readonly name: string;
  readonly per: LimitScope;
  readonly on: LimitRule['on'];
  readonly points: number;
  readonly intervalMs: number;
  /** Extra burst points (0: none) and their refill interval. */
  readonly burst: number;
  readonly burstIntervalMs: number;
  readonly failMode: FailMode;
  /** The bucket `subject` falls in, or undefined when the rule does not apply to it. */
  bucket(subject: LimitSubject): Bucket | undefined;
}

type Field = 'tenant' | 'agent' | 'user' | 'tool' | 'server';
type Test = GlobTest;

const GLOBAL: Bucket = { key: '*', subject: '*' };

/** The bucket function of a scope; undefined when the subject lacks what the scope counts by. */
function bucketOf(per: LimitScope): (s: LimitSubject) => Bucket | undefined {
  switch (per) {
    case 'global':
      return () => GLOBAL;
    case 'tenant':
      return (s) => ({ key: s.tenant, subject: s.tenant });
    case 'agent':
      return (s) => ({ key: `${s.tenant}:${s.agent}`, subject: s.agent });
    case 'user':
      // `u:` and `a:` keep a user named like an agent out of that agent's bucket.
      return (s) =>
        s.user !== undefined
          ? { key: `${s.tenant}:u:${s.user}`, subject: s.user }
          : { key: `${s.tenant}:a:${s.agent}`, subject: s.agent, userless: true };
    case 'tool':
      return (s) => (s.tool !== undefined ? { key: `${s.tenant}:${s.tool}`, subject: s.tool } : undefined);
    case 'server':
      return (s) => (s.server !== undefined ? { key: `${s.tenant}:${s.server}`, subject: s.server } : undefined);
  }
}

/** Compiles one validated rule; `failMode` is the section's default where the rule has none. */
export function compileRule(rule: LimitRule, failMode: FailMode): CompiledRule {
  const tests: [Field, Test][] = [];
  for (const field of ['tenant', 'agent', 'user', 'tool', 'server'] as const) {
    const pattern = rule.match?.[field];
    if (pattern !== undefined) tests.push([field, compileGlob(pattern)]);
  }
  const keyOf = bucketOf(rule.per);
  const bucket =
    tests.length === 0
      ? keyOf
      : (s: LimitSubject): Bucket | undefined => {
          for (const [field, test] of tests) {
            const value = s[field];
            if (value === undefined || !test(value)) return undefined;
          }
          return keyOf(s);
        };
  const burst = rule.burst ?? 0;
  return {
    name: rule.name,
    per: rule.per,
    on: rule.on,
    points: rule.points,
    intervalMs: rule.intervalMs,
    burst,
    burstIntervalMs: rule.burstIntervalMs ?? rule.intervalMs,
    failMode: rule.failMode ?? failMode,
    bucket,
  };
}

/** The rules that apply to each request kind, in config order. */
export interface RuleSet {
  readonly call: readonly CompiledRule[];
  readonly find: readonly CompiledRule[];
}

/** Compiles every rule and sorts them by the request kind they count. */
export function compileRules(rules: readonly LimitRule[], failMode: FailMode): RuleSet {
  const compiled = rules.map((r) => compileRule(r, failMode));
  return {
    call: compiled.filter((r) => r.on !== 'find'),
    find: compiled.filter((r) => r.on !== 'call'),
  };
}

/** A duration for people: `300 ms`, `1.2 s`, `60 s`, `5 min`. */
export function formatMs(ms: number): string {
  if (ms < 1000) return `${Math.max(1, Math.round(ms))} ms`;
  if (ms < 120_000 || ms % 60_000 !== 0) return `${Number((ms / 1000).toFixed(1))} s`;
  return ms % 3_600_000 === 0 ? `${ms / 3_600_000} h` : `${ms / 60_000} min`;
}

/** What a rule counts, in words: `10 calls per 60 s, burst 5 per 10 s, per user "ada"`. */
export function describeRule(rule: CompiledRule, bucket: Bucket): string {
  const what = rule.on === 'call' ? 'calls' : rule.on === 'find' ? 'find_capability requests' : 'requests';
  const burst =
    rule.burst > 0
      ? `, burst ${rule.burst}${rule.burstIntervalMs !== rule.intervalMs ? ` per ${formatMs(rule.burstIntervalMs)}` : ''}`
      : '';
  const who =
    rule.per === 'global'
      ? 'in all'
      : bucket.userless
        ? `per user (agent "${bucket.subject}", which calls without a user)`
        : `per ${rule.per} "${bucket.subject}"`;
  return `${rule.points} ${what} per ${formatMs(rule.intervalMs)}${burst}, ${who}`;
}
