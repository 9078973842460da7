/**
 * Schema compatibility: one table row per diff rule (input and output direction), plus the
 * canonicalisation that decides when two schemas are "the same version".
 */
import { describe, expect, it } from 'vitest';
import { canonicalSchema, fingerprint } from '../src/compat/canonical.js';
import { compatible, diffSchemas, diffTool, type SchemaRole } from '../src/compat/diff.js';

const obj = (properties: Record<string, unknown>, required: string[] = [], extra: Record<string, unknown> = {}) => ({
  type: 'object',
  properties,
  required,
  ...extra,
});
const str = (extra: Record<string, unknown> = {}) => ({ type: 'string', ...extra });

interface Row {
  readonly rule: string;
  readonly from: unknown;
  readonly to: unknown;
  readonly role?: SchemaRole;
  readonly kind: 'none' | 'additive' | 'breaking';
  /** The path the (first) change must name, and a phrase its message must contain. */
  readonly path: string;
  readonly says: string;
}

const ROWS: Row[] = [
  // additive (input)
  {
    rule: 'new optional property',
    from: obj({ q: str() }),
    to: obj({ q: str(), lang: str() }),
    kind: 'additive',
    path: 'lang',
    says: 'new optional property "lang"',
  },
  {
    rule: 'widened enum',
    from: obj({ unit: str({ enum: ['c', 'f'] }) }),
    to: obj({ unit: str({ enum: ['c', 'f', 'kelvin'] }) }),
    kind: 'additive',
    path: 'unit',
    says: 'enum of "unit" gained "kelvin"',
  },
  {
    rule: 'enum removed entirely',
    from: obj({ unit: str({ enum: ['c'] }) }),
    to: obj({ unit: str() }),
    kind: 'additive',
    path: 'unit',
    says: 'enum of "unit" was removed',
  },
  {
    rule: 'maxLength raised',
    from: obj({ title: str({ maxLength: 100 }) }),
    to: obj({ title: str({ maxLength: 200 }) }),
    kind: 'additive',
    path: 'title',
    says: 'maxLength of "title" loosened from 100 to 200',
  },
  {
    rule: 'maximum removed',
    from: obj({ n: { type: 'number', maximum: 10 } }),
    to: obj({ n: { type: 'number' } }),
    kind: 'additive',
    path: 'n',
    says: 'maximum of "n" removed',
  },
  {
    rule: 'maxItems removed',
    from: obj({ tags: { type: 'array', maxItems: 3 } }),
    to: obj({ tags: { type: 'array' } }),
    kind: 'additive',
    path: 'tags',
    says: 'maxItems of "tags" removed',
  },
  {
    rule: 'minLength lowered',
    from: obj({ q: str({ minLength: 3 }) }),
    to: obj({ q: str({ minLength: 1 }) }),
    kind: 'additive',
    path: 'q',
    says: 'minLength of "q" loosened from 3 to 1',
  },
  {
    rule: 'minimum removed',
    from: obj({ n: { type: 'integer', minimum: 1 } }),
    to: obj({ n: { type: 'integer' } }),
    kind: 'additive',
    path: 'n',
    says: 'minimum of "n" removed',
  },
  {
    rule: 'minItems lowered',
    from: obj({ ids: { type: 'array', minItems: 2 } }),
    to: obj({ ids: { type: 'array', minItems: 1 } }),
    kind: 'additive',
    path: 'ids',
    says: 'minItems of "ids" loosened',
  },
  {
    rule: 'pattern removed',
    from: obj({ id: str({ pattern: '^[a-z]+$' }) }),
    to: obj({ id: str() }),
    kind: 'additive',
    path: 'id',
    says: 'pattern of "id" removed',
  },
  {
    rule: 'additionalProperties false -> true',
    from: obj({ q: str() }, [], { additionalProperties: false }),
    to: obj({ q: str() }, [], { additionalProperties: true }),
    kind: 'additive',
    path: '',
    says: 'additional properties of the input schema are now allowed',
  },
  {
    rule: 'additionalProperties false -> removed',
    from: obj({ f: obj({}, [], { additionalProperties: false }) }),
    to: obj({ f: obj({}) }),
    kind: 'additive',
    path: 'f',
    says: 'additional properties of "f" are now allowed',
  },
  {
    rule: 'required becomes optional',
    from: obj({ limit: { type: 'integer' } }, ['limit']),
    to: obj({ limit: { type: 'integer' } }),
    kind: 'additive',
    path: 'limit',
    says: '"limit" is now optional',
  },
  {
    rule: 'type widened integer -> number',
    from: obj({ n: { type: 'integer' } }),
    to: obj({ n: { type: 'number' } }),
    kind: 'additive',
    path: 'n',
    says: 'type of "n" widened from integer to number',
  },
  {
    rule: 'type widened to nullable',
    from: obj({ since: str() }),
    to: obj({ since: { type: ['string', 'null'] } }),
    kind: 'additive',
    path: 'since',
    says: 'widened from string to null | string',
  },
  {
    rule: 'new output property',
    role: 'output',
    from: obj({ total: { type: 'integer' } }),
    to: obj({ total: { type: 'integer' }, next: str() }),
    kind: 'additive',
    path: 'next',
    says: 'new output property "next"',
  },
  {
    rule: 'nested new optional property',
    from: obj({ filter: obj({ a: str() }) }),
    to: obj({ filter: obj({ a: str(), b: str() }) }),
    kind: 'additive',
    path: 'filter.b',
    says: 'new optional property "filter.b"',
  },
  // breaking (input)
  {
    rule: 'removed property',
    from: obj({ query: str(), k: { type: 'integer' } }),
    to: obj({ k: { type: 'integer' } }),
    kind: 'breaking',
    path: 'query',
    says: 'property "query" was removed',
  },
  {
    rule: 'new required property',
    from: obj({ q: str() }, ['q']),
    to: obj({ q: str(), lang: str() }, ['q', 'lang']),
    kind: 'breaking',
    path: 'lang',
    says: 'new required property "lang"',
  },
  {
    rule: 'optional becomes required',
    from: obj({ limit: { type: 'integer' } }),
    to: obj({ limit: { type: 'integer' } }, ['limit']),
    kind: 'breaking',
    path: 'limit',
    says: '"limit" is now required',
  },
  {
    rule: 'type changed',
    from: obj({ id: str() }),
    to: obj({ id: { type: 'number' } }),
    kind: 'breaking',
    path: 'id',
    says: 'type of "id" changed from string to number',
  },
  {
    rule: 'type narrowed number -> integer',
    from: obj({ n: { type: 'number' } }),
    to: obj({ n: { type: 'integer' } }),
    kind: 'breaking',
    path: 'n',
    says: 'narrowed from number to integer',
  },
  {
    rule: 'type narrowed: null no longer accepted',
    from: obj({ s: { type: ['string', 'null'] } }),
    to: obj({ s: str() }),
    kind: 'breaking',
    path: 's',
    says: 'narrowed from null | string to string',
  },
  {
    rule: 'enum value removed',
    from: obj({ unit: str({ enum: ['c', 'f', 'kelvin'] }) }),
    to: obj({ unit: str({ enum: ['c', 'f'] }) }),
    kind: 'breaking',
    path: 'unit',
    says: 'enum of "unit" lost "kelvin"',
  },
  {
    rule: 'enum added',
    from: obj({ unit: str() }),
    to: obj({ unit: str({ enum: ['c', 'f'] }) }),
    kind: 'breaking',
    path: 'unit',
    says: 'enum added to "unit"',
  },
  {
    rule: 'maxLength lowered',
    from: obj({ title: str({ maxLength: 200 }) }),
    to: obj({ title: str({ maxLength: 100 }) }),
    kind: 'breaking',
    path: 'title',
    says: 'maxLength of "title" tightened from 200 to 100',
  },
  {
    rule: 'maximum added',
    from: obj({ k: { type: 'integer' } }),
    to: obj({ k: { type: 'integer', maximum: 50 } }),
    kind: 'breaking',
    path: 'k',
    says: 'maximum of "k" added (50)',
  },
  {
    rule: 'minimum raised',
    from: obj({ k: { type: 'integer', minimum: 0 } }),
    to: obj({ k: { type: 'integer', minimum: 1 } }),
    kind: 'breaking',
    path: 'k',
    says: 'minimum of "k" tightened from 0 to 1',
  },
  {
    rule: 'minItems added',
    from: obj({ ids: { type: 'array' } }),
    to: obj({ ids: { type: 'array', minItems: 1 } }),
    kind: 'breaking',
    path: 'ids',
    says: 'minItems of "ids" added',
  },
  {
    rule: 'pattern added',
    from: obj({ id: str() }),
    to: obj({ id: str({ pattern: '^x' }) }),
    kind: 'breaking',
    path: 'id',
    says: 'pattern of "id" added',
  },
  {
    rule: 'pattern changed',
    from: obj({ id: str({ pattern: '^x' }) }),
    to: obj({ id: str({ pattern: '^y' }) }),
    kind: 'breaking',
    path: 'id',
    says: 'pattern of "id" changed',
  },
  {
    rule: 'additionalProperties true -> false',
    from: obj({ q: str() }),
    to: obj({ q: str() }, [], { additionalProperties: false }),
    kind: 'breaking',
    path: '',
    says: 'additional properties of the input schema are now forbidden',
  },
  {
    rule: 'array item type changed',
    from: obj({ tags: { type: 'array', items: str() } }),
    to: obj({ tags: { type: 'array', items: { type: 'integer' } } }),
    kind: 'breaking',
    path: 'tags[]',
    says: 'type of "tags[]" changed',
  },
  {
    rule: 'nested property removed',
    from: obj({ filter: obj({ since: str(), until: str() }) }),
    to: obj({ filter: obj({ since: str() }) }),
    kind: 'breaking',
    path: 'filter.until',
    says: 'property "filter.until" was removed',
  },
  {
    rule: 'unanalysed keyword changed (anyOf)',
    from: obj({ v: { anyOf: [str(), { type: 'number' }] } }),
    to: obj({ v: { anyOf: [str()] } }),
    kind: 'breaking',
    path: 'v',
    says: 'anyOf of "v" changed',
  },
  // breaking / additive (output: the client reads, so the verdicts flip)
  {
    rule: 'output property removed',
    role: 'output',
    from: obj({ total: { type: 'integer' }, items: { type: 'array' } }),
    to: obj({ items: { type: 'array' } }),
    kind: 'breaking',
    path: 'total',
    says: 'output property "total" was removed',
  },
  {
    rule: 'output type changed',
    role: 'output',
    from: obj({ total: { type: 'integer' } }),
    to: obj({ total: str() }),
    kind: 'breaking',
    path: 'total',
    says: 'type of output "total" changed from integer to string',
  },
  {
    rule: 'output type widened',
    role: 'output',
    from: obj({ total: { type: 'integer' } }),
    to: obj({ total: { type: 'number' } }),
    kind: 'breaking',
    path: 'total',
    says: 'widened from integer to number',
  },
  {
    rule: 'output enum widened',
    role: 'output',
    from: obj({ state: str({ enum: ['ok'] }) }),
    to: obj({ state: str({ enum: ['ok', 'partial'] }) }),
    kind: 'breaking',
    path: 'state',
    says: 'enum of output "state" gained "partial"',
  },
  {
    rule: 'output field may now be absent',
    role: 'output',
    from: obj({ total: { type: 'integer' } }, ['total']),
    to: obj({ total: { type: 'integer' } }),
    kind: 'breaking',
    path: 'total',
    says: 'output "total" may now be absent',
  },
  {
    rule: 'output constraint tightened',
    role: 'output',
    from: obj({ s: str({ maxLength: 200 }) }),
    to: obj({ s: str({ maxLength: 100 }) }),
    kind: 'additive',
    path: 's',
    says: 'maxLength of output "s" tightened',
  },
  // none
  {
    rule: 'annotations and key order only',
    from: { type: 'object', properties: { q: { type: 'string', description: 'a' } } },
    to: { properties: { q: { description: 'b', title: 'Q', type: ['string'] } }, type: 'object' },
    kind: 'none',
    path: '',
    says: '',
  },
];

describe('diffSchemas: one row per rule', () => {
  it.each(ROWS)('$rule -> $kind', (row) => {
    const diff = diffSchemas(row.from, row.to, row.role ?? 'input');
    expect(diff.kind).toBe(row.kind);
    expect(compatible(row.from, row.to, row.role ?? 'input')).toBe(row.kind !== 'breaking');
    if (row.kind === 'none') {
      expect(diff.changes).toEqual([]);
      return;
    }
    const change = diff.changes.find((c) => c.kind === row.kind && c.path === row.path);
    expect(change, JSON.stringify(diff.changes)).toBeDefined();
    expect(change?.message).toContain(row.says);
    if (row.path) expect(change?.message).toContain(row.path);
  });

  it('has at least 16 rules and covers both verdicts', () => {
    expect(ROWS.length).toBeGreaterThanOrEqual(16);
    expect(new Set(ROWS.map((r) => r.rule)).size).toBe(ROWS.length);
  });

  it('takes the most severe change as the verdict', () => {
    const diff = diffSchemas(obj({ a: str(), b: str() }), obj({ a: str(), c: str() }));
    expect(diff.changes.map((c) => c.kind).sort()).toEqual(['additive', 'breaking']);
    expect(diff.kind).toBe('breaking');
  });

  it('reports a removed required property once', () => {
    const diff = diffSchemas(obj({ q: str(), k: str() }, ['q']), obj({ k: str() }));
    expect(diff.changes).toHaveLength(1);
    expect(diff.changes[0]?.message).toBe('property "q" was removed');
  });

  it('does not descend into a property whose type changed', () => {
    const diff = diffSchemas(obj({ f: obj({ a: str() }) }), obj({ f: str() }));
    expect(diff.changes.map((c) => c.path)).toEqual(['f']);
  });
});

describe('diffTool', () => {
  const input = obj({ q: str() }, ['q']);
  it('diffs input and output with their own direction', () => {
    const diff = diffTool(
      { inputSchema: input, outputSchema: obj({ n: { type: 'integer' } }) },
      { inputSchema: obj({ q: str(), k: { type: 'integer' } }, ['q']), outputSchema: obj({}) },
    );
    expect(diff.kind).toBe('breaking');
    expect(diff.changes.map((c) => [c.role, c.kind, c.path])).toEqual([
      ['input', 'additive', 'k'],
      ['output', 'breaking', 'n'],
    ]);
  });
  it('treats a dropped output schema as breaking and a new one as additive', () => {
    expect(diffTool({ inputSchema: input, outputSchema: obj({}) }, { inputSchema: input }).kind).toBe('breaking');
    expect(diffTool({ inputSchema: input }, { inputSchema: input, outputSchema: obj({}) }).kind).toBe('additive');
    expect(diffTool({ inputSchema: input }, { inputSchema: input }).kind).toBe('none');
  });
});

describe('canonicalisation and fingerprints', () => {
  const base = {
    type: 'object',
    properties: { query: { type: 'string', description: 'What to search for' }, unit: { enum: ['c', 'f'] } },
    required: ['unit', 'query'],
  };

  it('is a 16-hex-character fingerprint', () => {
    expect(fingerprint(base)).toMatch(/^[0-9a-f]{16}$/);
  });

  it('ignores key order, annotations, required/enum order and one-element type arrays', () => {
    const same = {
      $schema: 'http://json-schema.org/draft-07/schema#',
      required: ['query', 'unit'],
      title: 'Search',
      properties: {
        unit: { enum: ['f', 'c'], default: 'c' },
        query: { description: 'Different words', examples: ['x'], type: ['string'] },
      },
      type: 'object',
    };
    expect(fingerprint(same)).toBe(fingerprint(base));
    expect(canonicalSchema(same)).toEqual(canonicalSchema(base));
  });

  it('keeps a property that is named like an annotation', () => {
    const withDescriptionArg = { type: 'object', properties: { description: { type: 'string' } } };
    expect(canonicalSchema(withDescriptionArg)).toEqual({
      type: 'object',
      properties: { description: { type: 'string' } },
    });
    expect(fingerprint(withDescriptionArg)).not.toBe(fingerprint({ type: 'object', properties: {} }));
  });

  it('changes when validation changes', () => {
    const changed = { ...base, properties: { ...base.properties, query: { type: 'number' } } };
    expect(fingerprint(changed)).not.toBe(fingerprint(base));
    expect(fingerprint({ ...base, required: ['query'] })).not.toBe(fingerprint(base));
  });

  it('includes the output schema', () => {
    expect(fingerprint(base, { type: 'object' })).not.toBe(fingerprint(base));
    expect(fingerprint(base, { type: 'object', description: 'x' })).toBe(fingerprint(base, { type: 'object' }));
  });

  it('treats an empty required list as absent', () => {
    expect(fingerprint({ type: 'object', required: [] })).toBe(fingerprint({ type: 'object' }));
  });
});
