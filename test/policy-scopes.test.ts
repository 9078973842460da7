/**
 * Capability claims (src/policy/scopes.ts): the scope grammar, globbing over exposed ids, and the
 * denial message, which names the missing scope and never another tool.
 */
import { describe, expect, it } from 'vitest';
import { ScopeSet, type ScopeTarget } from '../src/policy/scopes.js';

const tool = (id: string, server = id.split('__')[0] ?? id): ScopeTarget => ({ kind: 'tool', id, server });
const prompt = (id: string, server = id.split('__')[0] ?? id): ScopeTarget => ({ kind: 'prompt', id, server });
const resource = (id: string, server: string): ScopeTarget => ({ kind: 'resource', id, server });

describe('ScopeSet', () => {
  it('no scope claim is unrestricted, including admin', () => {
    const set = ScopeSet.parse(undefined);
    expect(set.unrestricted).toBe(true);
    expect(set.admin).toBe(true);
    expect(set.allows('call', tool('alpha__echo'))).toBe(true);
    expect(set.allows('list', resource('file:///x', 'fs'))).toBe(true);
  });

  it('an empty scope list allows nothing', () => {
    const set = ScopeSet.parse([]);
    expect(set.unrestricted).toBe(false);
    expect(set.admin).toBe(false);
    expect(set.allows('list', tool('alpha__echo'))).toBe(false);
    expect(set.allows('call', prompt('alpha__greet'))).toBe(false);
  });

  it('tools:<id> allows listing and calling exactly that tool', () => {
    const set = ScopeSet.parse(['tools:alpha__echo']);
    expect(set.allows('list', tool('alpha__echo'))).toBe(true);
    expect(set.allows('call', tool('alpha__echo'))).toBe(true);
    expect(set.allows('call', tool('alpha__echo2'))).toBe(false);
    expect(set.allows('call', tool('beta__alpha__echo'))).toBe(false);
    expect(set.allows('call', prompt('alpha__echo'))).toBe(false);
  });

  it(':list and :call narrow a tool scope to one action', () => {
    const set = ScopeSet.parse(['tools:github__*:list', 'tools:*__read_*:call']);
    expect(set.allows('list', tool('github__create_issue'))).toBe(true);
    expect(set.allows('call', tool('github__create_issue'))).toBe(false);
    expect(set.allows('call', tool('fs__read_file'))).toBe(true);
    expect(set.allows('list', tool('fs__read_file'))).toBe(false);
    expect(set.allows('call', tool('fs__write_file'))).toBe(false);
    expect(set.allows('list', tool('gitlab__x'))).toBe(false);
  });

  it('* in a pattern matches any run of characters, including none; nothing else is special', () => {
    const set = ScopeSet.parse(['tools:a*b', 'tools:x.y', 'tools:p+(q)[r]']);
    expect(set.allows('call', tool('ab'))).toBe(true);
    expect(set.allows('call', tool('a__long__b'))).toBe(true);
    expect(set.allows('call', tool('a__b__c'))).toBe(false);
    expect(set.allows('call', tool('x.y'))).toBe(true);
    expect(set.allows('call', tool('xzy'))).toBe(false);
    expect(set.allows('call', tool('p+(q)[r]'))).toBe(true);
    expect(set.allows('call', tool('ppq'))).toBe(false);
  });

  it('servers:<name> allows every tool, prompt and resource of that server only', () => {
    const set = ScopeSet.parse(['servers:warehouse']);
    expect(set.allows('call', tool('warehouse__query'))).toBe(true);
    expect(set.allows('list', prompt('warehouse__report'))).toBe(true);
    expect(set.allows('call', resource('db://tables/x', 'warehouse'))).toBe(true);
    expect(set.allows('call', tool('warehouse2__query'))).toBe(false);
    expect(set.allows('call', tool('other__query', 'other'))).toBe(false);
  });

  it('prompts: and resources: patterns cover their kind only; resource URIs keep their colons', () => {
    const set = ScopeSet.parse(['prompts:alpha__*', 'resources:file:///tmp/*']);
    expect(set.allows('list', prompt('alpha__greet'))).toBe(true);
    expect(set.allows('call', prompt('alpha__greet'))).toBe(true);
    expect(set.allows('call', tool('alpha__greet'))).toBe(false);
    expect(set.allows('call', resource('file:///tmp/a.txt', 'fs'))).toBe(true);
    expect(set.allows('call', resource('file:///etc/passwd', 'fs'))).toBe(false);
  });

  it('* and tools:* grant capabilities but never admin', () => {
    const all = ScopeSet.parse(['*']);
    expect(all.allows('call', tool('any__thing'))).toBe(true);
    expect(all.allows('call', prompt('any__p'))).toBe(true);
    expect(all.allows('list', resource('mem://x', 'mem'))).toBe(true);
    expect(all.admin).toBe(false);
    const tools = ScopeSet.parse(['tools:*']);
    expect(tools.allows('call', tool('any__thing'))).toBe(true);
    expect(tools.allows('call', prompt('any__p'))).toBe(false);
    expect(ScopeSet.parse(['admin']).admin).toBe(true);
    expect(ScopeSet.parse(['admin']).allows('list', tool('a__b'))).toBe(false);
  });

  it('ignores scopes it does not know (OIDC scopes, empty patterns, other prefixes)', () => {
    const set = ScopeSet.parse([
      'openid',
      'profile',
      'offline_access',
      'email',
      'tools:',
      'tools::call',
      'foo:bar',
      ' ',
    ]);
    expect(set.unrestricted).toBe(false);
    expect(set.admin).toBe(false);
    expect(set.allows('call', tool('foo__bar'))).toBe(false);
    expect(set.allows('list', tool('bar', 'foo'))).toBe(false);
    expect(ScopeSet.parse(['openid', 'tools:alpha__echo']).allows('call', tool('alpha__echo'))).toBe(true);
  });

  it('missing() names the narrowest scope for the asked target', () => {
    const set = ScopeSet.parse(['openid']);
    expect(set.missing('call', tool('alpha__echo'))).toBe('tools:alpha__echo:call');
    expect(set.missing('list', tool('alpha__echo'))).toBe('tools:alpha__echo:list');
    expect(set.missing('call', prompt('alpha__greet'))).toBe('prompts:alpha__greet');
    expect(set.missing('call', resource('file:///a', 'fs'))).toBe('resources:file:///a');
  });

  it('the denial names the missing scope and the asked tool, never the tools the token may use', () => {
    const set = ScopeSet.parse(['tools:beta__secret_admin_tool', 'servers:gamma']);
    const error = set.denied('call', tool('alpha__echo'));
    expect(error.code).toBe('FORBIDDEN');
    expect(error.httpStatus).toBe(403);
    expect(error.details).toEqual({ scope: 'tools:alpha__echo:call' });
    expect(error.message).toContain('tools:alpha__echo:call');
    expect(error.message).toContain('alpha__echo');
    expect(error.message).not.toContain('beta__secret_admin_tool');
    expect(error.message).not.toContain('gamma');
  });

  it('allows() over a 10k-tool catalog (cost printed, not asserted)', () => {
    const set = ScopeSet.parse(['tools:s1__*', 'tools:*__read_*:call', 'tools:s7__exact', 'servers:s3']);
    const targets = Array.from({ length: 10_000 }, (_, i) => tool(`s${i % 10}__${i % 3 ? 'read_' : 'write_'}${i}`));
    let allowed = 0;
    let ns = Infinity;
    for (let round = 0; round < 5; round++) {
      allowed = 0;
      const start = process.hrtime.bigint();
      for (const t of targets) if (set.allows('call', t)) allowed++;
      ns = Math.min(ns, Number(process.hrtime.bigint() - start) / targets.length);
    }
    console.log(`ScopeSet.allows: ${ns.toFixed(0)} ns per check over 10k tools (${allowed} allowed)`);
    expect(allowed).toBeGreaterThan(0);
    expect(allowed).toBeLessThan(targets.length);
  });
});

describe('everything', () => {
  it('is true without a claim and with `*`, false for any narrower set', () => {
    expect(ScopeSet.parse(undefined).everything).toBe(true);
    expect(ScopeSet.parse(['*']).everything).toBe(true);
    expect(ScopeSet.parse(['openid', '*']).everything).toBe(true);
    expect(ScopeSet.parse(['tools:*']).everything).toBe(false); // prompts and resources are not covered
    expect(ScopeSet.parse(['servers:pub']).everything).toBe(false);
    expect(ScopeSet.parse([]).everything).toBe(false);
    expect(ScopeSet.parse(['*']).admin).toBe(false); // admin is always explicit
  });
});
