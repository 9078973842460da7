/**
 * Catalog federation rules, on plain data: naming under each prefix mode, conflicts, untouched
 * definitions, immutability, and pagination of the agent-facing lists.
 */
import { describe, expect, it } from 'vitest';
import { buildSnapshot } from '../src/catalog/snapshot.js';
import { Federation } from '../src/catalog/federation.js';
import { emptyPart, type ServerPart, type Tool } from '../src/core/protocol.js';
import { paginate } from '../src/mcp/paginate.js';
import { suggest } from '../src/gateway/suggest.js';

const tool = (name: string, extra: Partial<Tool> = {}): Tool => ({ name, inputSchema: { type: 'object' }, ...extra });
const part = (...tools: Tool[]): ServerPart => ({ ...emptyPart(), tools });

const parts = new Map<string, ServerPart>([
  [
    'a',
    part(
      tool('search', { annotations: { readOnlyHint: true }, title: 'Search A', outputSchema: { type: 'object' } }),
      tool('only_a'),
    ),
  ],
  ['b', part(tool('search'), tool('only_b'))],
]);

describe('catalog snapshot', () => {
  it('always: every tool is server__tool', () => {
    const s = buildSnapshot(parts, { prefix: 'always', separator: '__' }, 1);
    expect(s.tools.map((t) => t.id)).toEqual(['a__search', 'a__only_a', 'b__search', 'b__only_b']);
    expect(s.conflicts).toEqual([]);
  });

  it('on-conflict: only the shared name is prefixed', () => {
    const s = buildSnapshot(parts, { prefix: 'on-conflict', separator: '__' }, 1);
    expect(s.tools.map((t) => t.id)).toEqual(['a__search', 'only_a', 'b__search', 'only_b']);
  });

  it('never: the conflict is reported naming both servers, the first keeps the name', () => {
    const s = buildSnapshot(parts, { prefix: 'never', separator: '__' }, 1);
    expect(s.tools.map((t) => t.id)).toEqual(['search', 'only_a', 'only_b']);
    expect(s.toolById.get('search')?.server).toBe('a');
    expect(s.conflicts).toHaveLength(1);
    expect(s.conflicts[0]?.message).toMatch(/"search" is offered by servers "a" and "b"/);
  });

  it('passes annotations, titles and schemas through untouched and freezes the snapshot', () => {
    const s = buildSnapshot(parts, { prefix: 'always', separator: '.' }, 7);
    const t = s.toolById.get('a.search');
    expect(t?.tool).toEqual({ ...parts.get('a')?.tools[0], name: 'a.search' });
    expect(s.version).toBe(7);
    expect(Object.isFrozen(s.tools)).toBe(true);
    expect(Object.isFrozen(t?.tool)).toBe(true);
  });

  it('federation publishes a new version only when something changed, and readers keep their snapshot', () => {
    const f = new Federation({ prefix: 'always', separator: '__' });
    const changes: number[] = [];
    f.onChange((c) => changes.push(c.snapshot.version));
    f.update('a', part(tool('x')));
    const held = f.current;
    f.update('a', part(tool('x')));
    f.update('a', part(tool('x'), tool('y')));
    expect(changes).toEqual([1, 2]);
    expect(held.tools.map((t) => t.id)).toEqual(['a__x']);
    expect(f.current.tools.map((t) => t.id)).toEqual(['a__x', 'a__y']);
  });

  it('paginates with version-bound cursors', () => {
    const items = Array.from({ length: 5 }, (_, i) => i);
    const first = paginate(items, 3, undefined, 2);
    expect(first.items).toEqual([0, 1]);
    const second = paginate(items, 3, first.nextCursor, 2);
    expect(second.items).toEqual([2, 3]);
    const last = paginate(items, 3, second.nextCursor, 2);
    expect(last).toEqual({ items: [4], nextCursor: undefined });
    expect(paginate(items, 4, second.nextCursor, 2).items).toEqual([0, 1]);
    expect(() => paginate(items, 3, 'garbage', 2)).toThrow(/invalid cursor/);
  });

  it('suggests close names for unknown tools', () => {
    expect(suggest('echo', ['srv__echo', 'srv__add', 'other__echoes'])[0]).toBe('srv__echo');
    expect(suggest('srv__ecko', ['srv__echo', 'srv__add'])).toEqual(['srv__echo']);
    expect(suggest('zzzzzz', ['srv__echo'])).toEqual([]);
  });
});
