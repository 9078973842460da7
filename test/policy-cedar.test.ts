/**
 * Cedar policy (src/policy/cedar.ts, entities.ts, loader.ts) with the real cedar-wasm engine: the
 * shipped examples decide as their comments say, bad files fail with file:line:col, decisions carry
 * the deciding policy's id, the decision cache agrees with Cedar, and policy files hot-reload
 * without ever giving up the last good policy.
 */
import { readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { GatewayError } from '../src/core/errors.js';
import { type Principal, anonymousPrincipal } from '../src/core/principal.js';
import { DecisionCache, PolicyEngine, type PolicyText } from '../src/policy/cedar.js';
import cedar from '@cedar-policy/cedar-wasm/nodejs';
import {
  ACTION_KINDS,
  CEDAR_SCHEMA,
  type PolicyRequest,
  type PolicyResource,
  toCedar,
} from '../src/policy/entities.js';
import { PolicyFiles } from '../src/policy/loader.js';
import { createLogger } from '../src/telemetry/logger.js';
import { ROOT, cleanup, onCleanup, tempDir } from './helpers.js';

const EXAMPLES = join(ROOT, 'examples/policies');
const PERMIT_ALL: PolicyText = {
  id: 'permit-all.cedar',
  text: '@id("permit-all")\npermit (principal, action, resource);',
};

function example(name: string): PolicyText {
  return { id: name, text: readFileSync(join(EXAMPLES, name), 'utf8') };
}

function agent(name: string, extra: Partial<Principal> = {}): Principal {
  return { ...anonymousPrincipal(name), source: 'apiKey', ...extra };
}

function tool(id: string, annotations?: Record<string, boolean>): PolicyResource {
  const [server = id, name = id] = id.split('__');
  return { kind: 'tool', id, server, name, annotations };
}

/** Monday 2024-01-01 is a weekday; the hour is UTC. */
const MONDAY_10 = Date.UTC(2024, 0, 1, 10);
const MONDAY_18 = Date.UTC(2024, 0, 1, 18);
const SATURDAY_10 = Date.UTC(2024, 0, 6, 10);

function configError(run: () => unknown): GatewayError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(GatewayError);
    expect((error as GatewayError).code).toBe('CONFIG_INVALID');
    return error as GatewayError;
  }
  throw new Error('expected CONFIG_INVALID');
}

afterEach(cleanup);

describe('shipped examples', () => {
  it('every example file parses and validates, alone and all together', () => {
    const files = readdirSync(EXAMPLES).filter((f) => f.endsWith('.cedar'));
    expect(files.length).toBeGreaterThanOrEqual(4);
    for (const file of files) expect(new PolicyEngine([example(file)]).size, file).toBeGreaterThan(0);
    const all = new PolicyEngine(files.map(example));
    expect(all.warnings).toEqual([]);
  });

  it('allow-group-server: the data team may list and call warehouse tools, nobody else, nothing else', () => {
    const engine = new PolicyEngine([example('allow-group-server.cedar')]);
    const data = agent('etl', { groups: ['data-team'] });
    const decision = engine.decide({ principal: data, action: 'call', resource: tool('warehouse__query') });
    expect(decision).toEqual({ allow: true, reason: 'permit', policies: ['data-team-warehouse'], errors: [] });
    expect(engine.decide({ principal: data, action: 'list', resource: tool('warehouse__query') }).allow).toBe(true);
    expect(engine.decide({ principal: data, action: 'call', resource: tool('billing__charge') })).toEqual({
      allow: false,
      reason: 'default',
      policies: [],
      errors: [],
    });
    expect(engine.decide({ principal: agent('etl'), action: 'call', resource: tool('warehouse__query') }).allow).toBe(
      false,
    );
  });

  it('deny-destructive-tenant: acme may not call destructive tools (absent hint = destructive)', () => {
    const engine = new PolicyEngine([PERMIT_ALL, example('deny-destructive-tenant.cedar')]);
    const acme = agent('bot', { tenant: 'acme' });
    const denied = engine.decide({ principal: acme, action: 'call', resource: tool('db__drop') });
    expect(denied).toEqual({ allow: false, reason: 'forbid', policies: ['acme-no-destructive'], errors: [] });
    const hinted = tool('db__drop', { destructiveHint: true });
    expect(engine.decide({ principal: acme, action: 'call', resource: hinted }).allow).toBe(false);
    const safe = tool('db__select', { destructiveHint: false });
    expect(engine.decide({ principal: acme, action: 'call', resource: safe }).policies).toEqual(['permit-all']);
    expect(engine.decide({ principal: acme, action: 'list', resource: tool('db__drop') }).allow).toBe(true);
    expect(engine.decide({ principal: agent('bot'), action: 'call', resource: tool('db__drop') }).allow).toBe(true);
  });

  it('read-only-agent: reporter may use read-only tools only, even where another policy permits more', () => {
    const engine = new PolicyEngine([example('read-only-agent.cedar')]);
    const reporter = agent('reporter');
    const read = tool('fs__read_file', { readOnlyHint: true });
    const write = tool('fs__write_file', { readOnlyHint: false });
    expect(engine.decide({ principal: reporter, action: 'call', resource: read }).policies).toEqual([
      'reporter-read-only',
    ]);
    expect(engine.decide({ principal: reporter, action: 'find', resource: read }).allow).toBe(true);
    expect(engine.decide({ principal: reporter, action: 'call', resource: write }).allow).toBe(false);
    expect(engine.decide({ principal: agent('other'), action: 'call', resource: read }).allow).toBe(false);
    expect(
      engine.decide({ principal: agent('reporter', { tenant: 'acme' }), action: 'call', resource: read }).allow,
    ).toBe(false);
    const generous = new PolicyEngine([PERMIT_ALL, example('read-only-agent.cedar')]);
    expect(generous.decide({ principal: reporter, action: 'call', resource: write })).toMatchObject({
      allow: false,
      reason: 'forbid',
      policies: ['reporter-only-read-only'],
    });
    expect(generous.decide({ principal: agent('other'), action: 'call', resource: write }).allow).toBe(true);
  });

  it('business-hours: calls only Monday to Friday 09:00-17:00 UTC; listing unaffected', () => {
    const engine = new PolicyEngine([PERMIT_ALL, example('business-hours.cedar')]);
    const ask = (now: number, action: 'call' | 'list' = 'call') =>
      engine.decide({ principal: agent('bot'), action, resource: tool('a__b'), context: { now } });
    expect(ask(MONDAY_10).allow).toBe(true);
    expect(ask(MONDAY_18)).toMatchObject({ allow: false, policies: ['business-hours'] });
    expect(ask(SATURDAY_10).allow).toBe(false);
    expect(ask(SATURDAY_10, 'list').allow).toBe(true);
  });

  it('argument-guard: warehouse__query with limit over 1000 is refused; other args and tools pass', () => {
    const engine = new PolicyEngine([PERMIT_ALL, example('argument-guard.cedar')]);
    const ask = (id: string, args?: Record<string, unknown>) =>
      engine.decide({ principal: agent('bot'), action: 'call', resource: tool(id), context: { args } });
    expect(ask('warehouse__query', { limit: 5000, sql: 'select 1' })).toMatchObject({
      allow: false,
      policies: ['query-row-limit'],
    });
    expect(ask('warehouse__query', { limit: 10 }).allow).toBe(true);
    expect(ask('warehouse__query', { limit: '5000' }).allow).toBe(true);
    expect(ask('warehouse__query').allow).toBe(true);
    expect(ask('warehouse__export', { limit: 5000 }).allow).toBe(true);
  });
});

describe('PolicyEngine', () => {
  it('names a decision by @id, else <file>#<n>', () => {
    const engine = new PolicyEngine([
      {
        id: 'team.cedar',
        text: `permit (principal, action == Switchboard::Action::"list", resource);
@id("calls") permit (principal, action == Switchboard::Action::"call", resource);
forbid (principal, action, resource == Switchboard::Tool::"a__secret");`,
      },
    ]);
    expect(engine.ids).toEqual(['team.cedar#0', 'calls', 'team.cedar#2']);
    const p = agent('bot');
    expect(engine.decide({ principal: p, action: 'list', resource: tool('a__b') }).policies).toEqual(['team.cedar#0']);
    expect(engine.decide({ principal: p, action: 'call', resource: tool('a__b') }).policies).toEqual(['calls']);
    expect(engine.decide({ principal: p, action: 'call', resource: tool('a__secret') })).toMatchObject({
      allow: false,
      reason: 'forbid',
      policies: ['team.cedar#2'],
    });
  });

  it('reports a syntax error and an unknown attribute of every file at once, with file:line:col', () => {
    const error = configError(
      () =>
        new PolicyEngine([
          {
            id: 'syntax.cedar',
            text: '// é comment\npermit (principal, action, resource)\nwhen { resource.readOnly &&',
          },
          {
            id: 'attr.cedar',
            path: 'policies/attr.cedar',
            text: 'permit (principal, action == Switchboard::Action::"call", resource)\n  when { resource.readonly };',
          },
          PERMIT_ALL,
        ]),
    );
    const problems = error.details?.['problems'] as string[];
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatch(/^syntax\.cedar:3:\d+: /);
    expect(problems[1]).toMatch(/^policies\/attr\.cedar:2:10: policy attr\.cedar#0: attribute `readonly`/);
    expect(problems[1]).toContain('did you mean `readOnly`?');
    expect(error.message).toContain('syntax.cedar:3:');
    expect(error.message).toContain('policies/attr.cedar:2:10');
  });

  it('refuses a misspelt entity type, duplicate ids across files and templates', () => {
    const typo = configError(
      () =>
        new PolicyEngine([{ id: 't.cedar', text: 'permit (principal in Switchboard::Grop::"x", action, resource);' }]),
    );
    expect(typo.message).toMatch(/t\.cedar:1:\d+: .*Grop/);
    const dup = configError(
      () =>
        new PolicyEngine([
          { id: 'a.cedar', text: '@id("same") permit (principal, action, resource);' },
          { id: 'b.cedar', text: '\n@id("same") forbid (principal, action, resource);' },
        ]),
    );
    expect(dup.message).toContain('b.cedar:2:5: policy id "same" is already used in a.cedar');
    const template = configError(
      () => new PolicyEngine([{ id: 'tpl.cedar', text: 'permit (principal == ?principal, action, resource);' }]),
    );
    expect(template.message).toContain('tpl.cedar:1:22: templates');
  });

  it('denies everything with no policy, and when no permit matches', () => {
    const empty = new PolicyEngine([]);
    expect(empty.size).toBe(0);
    expect(empty.decide({ principal: agent('x'), action: 'call', resource: tool('a__b') }).allow).toBe(false);
    const onlyComments = new PolicyEngine([{ id: 'c.cedar', text: '// nothing yet\n' }]);
    expect(onlyComments.decide({ principal: agent('x'), action: 'list', resource: tool('a__b') }).reason).toBe(
      'default',
    );
  });

  it('refuses an action on a resource kind it does not apply to (a caller bug)', () => {
    const engine = new PolicyEngine([PERMIT_ALL]);
    expect(() =>
      engine.decide({ principal: agent('x'), action: 'call', resource: { kind: 'prompt', id: 'p', server: 's' } }),
    ).toThrow(/does not apply/);
  });

  it('sees principal attributes, groups, tenants, optional user, prompts, resources, servers and the gateway', () => {
    const engine = new PolicyEngine([
      {
        id: 'mix.cedar',
        text: `@id("alice") permit (principal, action == Switchboard::Action::"getPrompt", resource)
  when { principal has user && principal.user == "alice" && principal.source == "jwt" && principal.groups.contains("ops") };
@id("tenant-res") permit (principal in Switchboard::Tenant::"acme", action == Switchboard::Action::"readResource", resource in Switchboard::Server::"files");
@id("servers") permit (principal, action == Switchboard::Action::"list", resource is Switchboard::Server) when { resource.name like "pub*" };
@id("admins") permit (principal in Switchboard::Group::"ops", action == Switchboard::Action::"admin", resource);`,
      },
    ]);
    const alice = agent('cli', { user: 'alice', source: 'jwt', groups: ['ops'] });
    const promptRes: PolicyResource = { kind: 'prompt', id: 'x__greet', server: 'x' };
    expect(engine.decide({ principal: alice, action: 'getPrompt', resource: promptRes }).policies).toEqual(['alice']);
    expect(
      engine.decide({ principal: agent('cli', { groups: ['ops'] }), action: 'getPrompt', resource: promptRes }).allow,
    ).toBe(false);
    const file: PolicyResource = { kind: 'resource', id: 'file:///a', server: 'files' };
    expect(
      engine.decide({ principal: agent('b', { tenant: 'acme' }), action: 'readResource', resource: file }).allow,
    ).toBe(true);
    expect(engine.decide({ principal: agent('b'), action: 'readResource', resource: file }).allow).toBe(false);
    expect(
      engine.decide({ principal: agent('b'), action: 'list', resource: { kind: 'server', id: 'public' } }).allow,
    ).toBe(true);
    expect(
      engine.decide({ principal: agent('b'), action: 'list', resource: { kind: 'server', id: 'private' } }).allow,
    ).toBe(false);
    expect(engine.decide({ principal: alice, action: 'admin', resource: { kind: 'gateway' } }).policies).toEqual([
      'admins',
    ]);
    expect(engine.decide({ principal: agent('b'), action: 'admin', resource: { kind: 'gateway' } }).allow).toBe(false);
  });

  it('keys decisions by what the policies read: shared across tools unless a policy reads the tool itself', () => {
    const byServer = new PolicyEngine([example('allow-group-server.cedar'), example('deny-destructive-tenant.cedar')]);
    const p = agent('etl', { groups: ['data-team'] });
    const key = (engine: PolicyEngine, r: PolicyResource, now = MONDAY_10) =>
      engine.cacheKey({ principal: p, action: 'call', resource: r }, now);
    expect(key(byServer, tool('warehouse__a'))).toBe(key(byServer, tool('warehouse__b')));
    expect(key(byServer, tool('warehouse__a'))).not.toBe(key(byServer, tool('other__a')));
    expect(key(byServer, tool('warehouse__a'))).not.toBe(
      key(byServer, tool('warehouse__a', { destructiveHint: false })),
    );
    const byId = new PolicyEngine([example('argument-guard.cedar')]);
    expect(key(byId, tool('warehouse__a'))).not.toBe(key(byId, tool('warehouse__b')));
    const byName = new PolicyEngine([
      {
        id: 'n.cedar',
        text: 'permit (principal, action, resource) when { resource has name && resource.name like "read_*" };',
      },
    ]);
    expect(key(byName, tool('s__read_a'))).not.toBe(key(byName, tool('s__read_b')));
    const hours = new PolicyEngine([example('business-hours.cedar')]);
    expect(key(hours, tool('a__b'), MONDAY_10)).not.toBe(key(hours, tool('a__b'), MONDAY_18));
    const clock = new PolicyEngine([
      { id: 't.cedar', text: 'permit (principal, action, resource) when { context.time > 0 };' },
    ]);
    expect(key(clock, tool('a__b'))).toBeUndefined();
    const args = {
      principal: p,
      action: 'call' as const,
      resource: tool('warehouse__query'),
      context: { args: { limit: 1 } },
    };
    expect(byId.cacheKey(args)).toBeUndefined();
    expect(byServer.cacheKey(args)).toBeDefined();
  });

  it('DecisionCache answers exactly what Cedar answers, and stays bounded', () => {
    const engine = new PolicyEngine(
      readdirSync(EXAMPLES)
        .filter((f) => f.endsWith('.cedar'))
        .map(example),
    );
    const cache = new DecisionCache({ max: 10_000 });
    const principals = [
      agent('etl', { groups: ['data-team'] }),
      agent('reporter'),
      agent('etl', { groups: ['data-team'], tenant: 'acme' }),
      agent('x'),
    ];
    const hints = [undefined, { readOnlyHint: true, destructiveHint: false }, { destructiveHint: true }];
    const requests: PolicyRequest[] = [];
    for (const principal of principals)
      for (const server of ['warehouse', 'fs'])
        for (let i = 0; i < 12; i++)
          for (const now of [MONDAY_10, SATURDAY_10])
            requests.push({
              principal,
              action: i % 2 ? 'call' : 'list',
              resource: { kind: 'tool', id: `${server}__t${i}`, server, name: `t${i}`, annotations: hints[i % 3] },
              context: { now, ...(i === 3 ? { args: { limit: 5000 } } : {}) },
            });
    requests.push({
      ...requests[0]!,
      resource: tool('warehouse__query'),
      context: { now: MONDAY_10, args: { limit: 5000 } },
    });
    const keys = requests.map((r) => engine.cacheKey(r)).filter((k) => k !== undefined);
    const distinct = new Set(keys).size;
    expect(distinct).toBeLessThan(keys.length); // tools share decisions where no policy reads the tool itself
    for (let round = 0; round < 2; round++) {
      for (const request of requests)
        expect(cache.decide(engine, request), JSON.stringify(request)).toEqual(engine.decide(request));
      expect(cache.misses).toBe(distinct);
    }
    expect(cache.hits).toBe(2 * keys.length - distinct);
    const small = new DecisionCache({ max: 3 });
    for (const request of requests) small.decide(engine, request);
    expect(small.size).toBeLessThanOrEqual(3);
  });

  it('slicing by action and sending only read attributes decide as Cedar does on the whole set, schema-checked', () => {
    const texts = readdirSync(EXAMPLES)
      .filter((f) => f.endsWith('.cedar'))
      .map((f) => readFileSync(join(EXAMPLES, f), 'utf8'));
    texts.push(
      'permit (principal, action in [Switchboard::Action::"list", Switchboard::Action::"find"], resource);',
      'permit (principal, action == Switchboard::Action::"getPrompt", resource) when { principal has user };',
      'forbid (principal, action, resource is Switchboard::Tool) when { principal.source == "mesh" && !resource.idempotent };',
    );
    const engine = new PolicyEngine(texts.map((text, i) => ({ id: `f${i}.cedar`, text })));
    const all = new Set(['tenant', 'name', 'user', 'groups', 'source', 'server', 'id', 'readOnly', 'destructive']);
    for (const a of ['idempotent', 'openWorld', 'time', 'hour', 'weekday', 'args', 'intArgs']) all.add(a);
    const everything = { principal: all, resource: all, context: all, resourceIdentity: true, contextWhole: true };
    const principals = [
      agent('etl', { groups: ['data-team'], source: 'jwt', user: 'ann' }),
      agent('reporter'),
      agent('bot', { tenant: 'acme', source: 'mesh' }),
    ];
    const resources: PolicyResource[] = [
      tool('warehouse__query'),
      tool('warehouse__drop', { destructiveHint: true, idempotentHint: true }),
      tool('fs__read', { readOnlyHint: true, destructiveHint: false }),
      { kind: 'prompt', id: 'fs__p', server: 'fs' },
      { kind: 'server', id: 'warehouse' },
    ];
    let compared = 0;
    for (const principal of principals)
      for (const resource of resources)
        for (const action of ['list', 'find', 'call', 'getPrompt'] as const)
          for (const now of [MONDAY_10, SATURDAY_10]) {
            if (!ACTION_KINDS[action].includes(resource.kind)) continue;
            const request: PolicyRequest = { principal, action, resource, context: { now, args: { limit: 5000 } } };
            const whole = toCedar(request, everything, now);
            const answer = cedar.isAuthorized({
              ...whole,
              context: whole.context as Record<string, never>,
              policies: { staticPolicies: texts.join('\n') },
              schema: CEDAR_SCHEMA,
              validateRequest: true,
            });
            if (answer.type !== 'success') throw new Error(JSON.stringify(answer.errors));
            const ours = engine.decide(request);
            expect(ours.allow, JSON.stringify(request)).toBe(answer.response.decision === 'allow');
            expect(ours.policies.length).toBe(answer.response.diagnostics.reason.length);
            expect(ours.errors).toEqual([]);
            compared++;
          }
    expect(compared).toBeGreaterThan(50);
  });

  it('decide() with a 50-rule policy set (cost printed, not asserted)', () => {
    const rules: string[] = [];
    for (let i = 0; i < 46; i++)
      rules.push(
        `@id("g${i}") permit (principal in Switchboard::Group::"team${i}", action in [Switchboard::Action::"list", Switchboard::Action::"call"], resource in Switchboard::Server::"s${i}");`,
      );
    rules.push(readFileSync(join(EXAMPLES, 'deny-destructive-tenant.cedar'), 'utf8'));
    rules.push(readFileSync(join(EXAMPLES, 'read-only-agent.cedar'), 'utf8'));
    rules.push(readFileSync(join(EXAMPLES, 'business-hours.cedar'), 'utf8'));
    const engine = new PolicyEngine([{ id: 'fifty.cedar', text: rules.join('\n') }]);
    expect(engine.size).toBe(50);
    const principal = agent('etl', { groups: ['team7', 'team9'] });
    const tools = Array.from({ length: 10_000 }, (_, i) => ({
      kind: 'tool' as const,
      id: `s${i % 50}__tool${i}`,
      server: `s${i % 50}`,
      name: `tool${i}`,
      annotations: { readOnlyHint: i % 2 === 0 },
    }));
    const ask = (i: number): PolicyRequest => ({
      principal,
      action: 'list',
      resource: tools[i % tools.length]!,
      context: { now: MONDAY_10 },
    });
    const n = 2000;
    for (let i = 0; i < 300; i++) engine.decide(ask(i)); // let the wasm tier up
    let start = process.hrtime.bigint();
    let allowed = 0;
    for (let i = 0; i < n; i++) if (engine.decide(ask(i)).allow) allowed++;
    const plain = Number(process.hrtime.bigint() - start) / 1000 / n;
    const cache = new DecisionCache();
    start = process.hrtime.bigint();
    let cachedAllowed = 0;
    for (let i = 0; i < tools.length; i++) if (cache.decide(engine, ask(i)).allow) cachedAllowed++;
    const firstPass = Number(process.hrtime.bigint() - start) / 1000 / tools.length;
    start = process.hrtime.bigint();
    for (let i = 0; i < tools.length; i++) cache.decide(engine, ask(i));
    const warm = Number(process.hrtime.bigint() - start) / 1000 / tools.length;
    console.log(
      `PolicyEngine.decide, 50 rules: ${plain.toFixed(1)} µs plain; DecisionCache over 10k tools: ` +
        `${firstPass.toFixed(2)} µs first pass (${cache.misses} Cedar calls), ${warm.toFixed(2)} µs warm`,
    );
    expect(allowed).toBeGreaterThan(0);
    expect(cachedAllowed).toBe(400); // team7 and team9 servers: 2 of 50
  });
});

describe('PolicyFiles', () => {
  function logger() {
    const lines: Record<string, unknown>[] = [];
    const log = createLogger({
      level: 'debug',
      destination: { write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>) },
    });
    return { log, lines };
  }

  async function open(paths: string[], pollMs = 0) {
    const { log, lines } = logger();
    const files = await PolicyFiles.open({ paths, log, pollMs, debounceMs: 20 });
    onCleanup(() => files.close());
    return { files, lines };
  }

  const nextChange = (files: PolicyFiles) =>
    new Promise<{ engine: PolicyEngine; generation: number }>((resolve) => {
      const off = files.onChange((engine, generation) => {
        off();
        resolve({ engine, generation });
      });
    });
  const nextError = (files: PolicyFiles) =>
    new Promise<GatewayError>((resolve) => {
      const off = files.onError((error) => {
        off();
        resolve(error);
      });
    });

  const call = (engine: PolicyEngine | undefined, id = 'alpha__echo') =>
    engine?.decide({ principal: agent('bot'), action: 'call', resource: tool(id) });

  it('loads the shipped examples folder', async () => {
    const { files } = await open([EXAMPLES]);
    expect(files.generation).toBe(1);
    expect(files.current()?.ids).toContain('data-team-warehouse');
    expect(files.current()?.ids).toContain('business-hours');
  });

  it('no paths: no engine; a missing path or a bad file at start fails with CONFIG_INVALID', async () => {
    const { files } = await open([]);
    expect(files.current()).toBeUndefined();
    const dir = tempDir();
    onCleanup(() => rmSync(dir, { recursive: true, force: true }));
    await expect(open([join(dir, 'nope')])).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
    writeFileSync(join(dir, 'bad.cedar'), 'permit (principal, action, resource) when { resource.nope };');
    await expect(open([dir])).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      message: expect.stringMatching(/bad\.cedar:1:\d+/),
    });
  });

  it('hot-reloads on change; a broken file keeps the last good policy and the generation', async () => {
    const dir = tempDir();
    onCleanup(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'rules.cedar');
    writeFileSync(file, '@id("v1") permit (principal, action, resource == Switchboard::Tool::"alpha__echo");');
    const { files, lines } = await open([dir]);
    expect(call(files.current())?.policies).toEqual(['v1']);
    expect(call(files.current(), 'beta__x')?.allow).toBe(false);

    let changed = nextChange(files);
    writeFileSync(file, '@id("v2") permit (principal, action, resource == Switchboard::Tool::"beta__x");');
    const second = await changed;
    expect(second.generation).toBe(2);
    expect(files.current()).toBe(second.engine);
    expect(call(files.current())?.allow).toBe(false);
    expect(call(files.current(), 'beta__x')?.policies).toEqual(['v2']);

    const failed = nextError(files);
    writeFileSync(file, '@id("v3") permit (principal, action, resource)\nwhen { resource.bogus };');
    const error = await failed;
    expect(error.code).toBe('CONFIG_INVALID');
    expect(files.generation).toBe(2);
    expect(files.current()).toBe(second.engine);
    expect(call(files.current(), 'beta__x')?.policies).toEqual(['v2']);
    const logged = lines.find((l) => l['msg'] === 'policy change not loaded: the last good policy stays in force');
    expect(logged?.['problems']).toEqual([expect.stringMatching(/rules\.cedar:2:8: policy v3: attribute `bogus`/)]);

    changed = nextChange(files);
    writeFileSync(
      join(dir, 'more.cedar'),
      '@id("more") permit (principal, action, resource == Switchboard::Tool::"gamma__y");',
    );
    writeFileSync(file, '@id("v4") permit (principal, action, resource == Switchboard::Tool::"alpha__echo");');
    const fourth = await changed;
    expect(fourth.generation).toBe(3);
    expect(call(files.current())?.policies).toEqual(['v4']);
    expect(call(files.current(), 'gamma__y')?.policies).toEqual(['more']);
  }, 20_000);

  it('reload() with unchanged files changes nothing; removing every file denies everything', async () => {
    const dir = tempDir();
    onCleanup(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'a.cedar'), 'permit (principal, action, resource);');
    writeFileSync(join(dir, 'notes.txt'), 'not a policy');
    const { log } = logger();
    const files = await PolicyFiles.open({ paths: [dir], log, pollMs: 0, debounceMs: 60_000 }); // no watch reloads
    onCleanup(() => files.close());
    expect(files.current()?.ids).toEqual(['a.cedar#0']);
    expect(await files.reload()).toBe(false);
    expect(files.generation).toBe(1);
    rmSync(join(dir, 'a.cedar'));
    expect(await files.reload()).toBe(true);
    expect(files.generation).toBe(2);
    expect(files.current()?.size).toBe(0);
    expect(call(files.current())?.allow).toBe(false);
    files.close();
    files.close();
    expect(await files.reload()).toBe(false);
  });

  it('a file named directly is watched through its folder; the poll alone also picks changes up', async () => {
    const dir = tempDir();
    onCleanup(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'only.cedar');
    writeFileSync(file, '@id("one") permit (principal, action, resource == Switchboard::Tool::"alpha__echo");');
    writeFileSync(join(dir, 'ignored.cedar'), 'this is not read');
    const { files } = await open([file], 50);
    expect(files.current()?.ids).toEqual(['one']);
    const changed = nextChange(files);
    writeFileSync(file, '@id("two") permit (principal, action, resource == Switchboard::Tool::"alpha__echo");');
    expect((await changed).engine.ids).toEqual(['two']);
  }, 20_000);
});

describe('files of more than ten policies', () => {
  it('keep file order: ids, errors and deciding policies name the right rule', () => {
    const rules = Array.from(
      { length: 12 },
      (_, i) => `permit (principal == Switchboard::Agent::"default/a${i}", action, resource);`,
    );
    const engine = new PolicyEngine([{ id: 'many.cedar', text: rules.join('\n') }]);
    expect(engine.ids).toEqual(rules.map((_, i) => `many.cedar#${i}`));
    const decision = engine.decide({
      principal: { tenant: 'default', agent: 'a11', groups: [], scopes: undefined, source: 'apiKey' },
      action: 'call',
      resource: { kind: 'tool', id: 's__t', server: 's' },
    });
    expect(decision.policies).toEqual(['many.cedar#11']);
    const broken = [...rules.slice(0, 11), 'permit (principal, action, resource) when { resource.nope };'];
    expect(() => new PolicyEngine([{ id: 'many.cedar', text: broken.join('\n') }])).toThrow(
      /many\.cedar:12:\d+: policy many\.cedar#11/,
    );
  });
});
