/**
 * Canonical JSON Schemas and schema fingerprints.
 *
 * Two schemas that validate the same arguments should get the same fingerprint, so that a server
 * which merely reorders keys, rewords a description or upgrades its schema generator does not mint a
 * new version that clients must re-pin. Canonicalisation is schema-aware: it only drops annotation
 * keywords where a schema is expected, never a property that happens to be called "description".
 *
 * Dropped (annotations that never change which instances validate): `title`, `description`,
 * `examples`, `$comment`, `default`, `deprecated`, `readOnly`, `writeOnly`, and `$schema` (the
 * gateway reads every tool schema with one dialect, and generators change this line on upgrade).
 * A changed `default` therefore does not make a new version: the fingerprint tracks the validation
 * contract, not server behaviour for omitted arguments.
 *
 * Normalised: object keys sorted; `required` sorted and de-duplicated (dropped when empty); `enum`
 * sorted by canonical JSON and de-duplicated; `type: ["x"]` becomes `"x"`, longer type arrays are
 * sorted; `allOf`/`anyOf`/`oneOf` members sorted (their order never changes validation).
 */
import { createHash } from 'node:crypto';

/** Annotation keywords removed from every schema position. */
export const ANNOTATIONS: ReadonlySet<string> = new Set([
  'title',
  'description',
  'examples',
  '$comment',
  'default',
  'deprecated',
  'readOnly',
  'writeOnly',
  '$schema',
]);

/** Keywords whose value is a map of name -> schema. */
const SCHEMA_MAPS = new Set(['properties', 'patternProperties', '$defs', 'definitions', 'dependentSchemas']);
/** Keywords whose value is one schema. */
const SCHEMA_ONE = new Set([
  'additionalProperties',
  'additionalItems',
  'not',
  'if',
  'then',
  'else',
  'contains',
  'propertyNames',
  'unevaluatedProperties',
  'unevaluatedItems',
]);
/** Keywords whose value is a list of schemas where order does not matter. */
const SCHEMA_SETS = new Set(['allOf', 'anyOf', 'oneOf']);

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Any JSON value with object keys sorted recursively (no keyword is dropped: use for `const`, `enum` values). */
export function sortedValue(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortedValue);
  if (!isRecord(value)) return value;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) {
    if (value[key] !== undefined) out[key] = sortedValue(value[key]);
  }
  return out;
}

/** JSON text with object keys sorted, so equal values give equal strings. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortedValue(value)) ?? 'null';
}

function sortedUnique(values: readonly unknown[]): unknown[] {
  const byText = new Map<string, unknown>();
  for (const v of values) byText.set(canonicalJson(v), sortedValue(v));
  return [...byText.keys()].sort().map((k) => byText.get(k));
}

function canonicalKeyword(key: string, value: unknown): unknown {
  if (SCHEMA_MAPS.has(key) && isRecord(value)) {
    const out: Record<string, unknown> = {};
    for (const name of Object.keys(value).sort()) out[name] = canonicalSchema(value[name]);
    return out;
  }
  if (SCHEMA_ONE.has(key)) return canonicalSchema(value);
  if (key === 'items' || key === 'prefixItems')
    return Array.isArray(value) ? value.map(canonicalSchema) : canonicalSchema(value);
  if (SCHEMA_SETS.has(key) && Array.isArray(value)) {
    const members = value.map((member) => {
      const schema = canonicalSchema(member);
      return { schema, text: canonicalJson(schema) };
    });
    return members.sort((a, b) => (a.text < b.text ? -1 : a.text > b.text ? 1 : 0)).map((m) => m.schema);
  }
  if (key === 'required' && Array.isArray(value)) return [...new Set(value.map(String))].sort();
  if (key === 'enum' && Array.isArray(value)) return sortedUnique(value);
  if (key === 'type' && Array.isArray(value)) {
    const types = [...new Set(value.map(String))].sort();
    return types.length === 1 ? types[0] : types;
  }
  return sortedValue(value);
}

/**
 * The canonical form of a JSON Schema (see the file comment for what is dropped and normalised).
 * Non-object schemas (`true`, `false`) are returned as they are.
 */
export function canonicalSchema(schema: unknown): unknown {
  if (!isRecord(schema)) return sortedValue(schema);
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(schema).sort()) {
    const value = schema[key];
    if (value === undefined || ANNOTATIONS.has(key)) continue;
    if (key === 'required' && Array.isArray(value) && value.length === 0) continue;
    out[key] = canonicalKeyword(key, value);
  }
  return out;
}

/**
 * A short fingerprint of a tool's contract: the first 16 hex characters (64 bits) of the sha256 of
 * the canonical JSON of `{input, output}` (output `null` when the tool declares no output schema).
 */
export function fingerprint(input: unknown, output?: unknown): string {
  const text = canonicalJson({
    input: canonicalSchema(input ?? {}),
    output: output === undefined ? null : canonicalSchema(output),
  });
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}
