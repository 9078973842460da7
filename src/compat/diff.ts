/**
 * Schema diff: is a candidate tool schema compatible with the version a client pinned?
 *
 * Both schemas are canonicalised first (annotations dropped, see canonical.ts), then compared
 * keyword by keyword, recursing through `properties`, `items` and `additionalProperties`. Each
 * difference is a loosening or a tightening of what validates; which of the two breaks a pinned
 * client depends on the direction data flows:
 * - input (the client writes arguments): loosening is additive, tightening is breaking;
 * - output (the client reads results): tightening is additive, loosening is breaking (a pinned
 *   client may not handle a value its version never produced).
 * Some changes break in both directions: a removed property (an input the server now ignores, an
 * output field the client read), a type changed to an unrelated one, a changed `pattern`/`format`.
 * A new property is additive in both directions unless it is a required input. Keywords this module
 * does not analyse (`anyOf`, `$ref`, `not`, ...) are compared whole, and any difference is breaking:
 * when unsure, the diff errs towards making the operator look.
 */
import { canonicalJson, canonicalSchema } from './canonical.js';

/** Whether one change keeps pinned clients working. */
export type ChangeKind = 'additive' | 'breaking';

/** Overall verdict: the most severe change, or `none`. */
export type DiffKind = 'none' | ChangeKind;

/** Which way data flows through the schema (see the file comment). */
export type SchemaRole = 'input' | 'output';

/** One difference, located by a dotted path (`filter.since`, `tags[]`; `""` is the root). */
export interface SchemaChange {
  readonly path: string;
  readonly kind: ChangeKind;
  readonly role: SchemaRole;
  readonly message: string;
}

/** The result of a diff. */
export interface SchemaDiff {
  readonly kind: DiffKind;
  readonly changes: readonly SchemaChange[];
}

/** A tool's schemas as listed by tools/list. */
export interface ToolSchemas {
  readonly inputSchema: unknown;
  readonly outputSchema?: unknown;
}

type Obj = Record<string, unknown>;

const UPPER = ['maxLength', 'maximum', 'exclusiveMaximum', 'maxItems', 'maxProperties'] as const;
const LOWER = ['minLength', 'minimum', 'exclusiveMinimum', 'minItems', 'minProperties'] as const;
const EXACT = ['pattern', 'format', 'const', 'multipleOf'] as const;
const HANDLED = new Set<string>([
  'type',
  'enum',
  'uniqueItems',
  'properties',
  'required',
  'additionalProperties',
  'items',
  ...EXACT,
]);

function asObj(schema: unknown): Obj | null {
  if (schema === false) return null;
  return typeof schema === 'object' && schema !== null && !Array.isArray(schema) ? (schema as Obj) : {};
}

function typeSet(schema: Obj): string[] | null {
  const t = schema.type;
  if (t === undefined) return null;
  // A JSON Schema `type` holds names; anything else stringifies to a name that matches no type, as it should.
  // eslint-disable-next-line @typescript-eslint/no-base-to-string
  return Array.isArray(t) ? t.map(String) : [String(t)];
}

/** True when every type in `inner` is accepted by `outer` (null = any type). */
function covers(outer: string[] | null, inner: string[] | null): boolean {
  if (outer === null) return true;
  if (inner === null) return false;
  return inner.every((t) => outer.includes(t) || (t === 'integer' && outer.includes('number')));
}

const showType = (t: string[] | null): string => (t === null ? 'any' : t.join(' | '));
const join = (path: string, name: string): string => (path ? `${path}.${name}` : name);

class Differ {
  readonly changes: SchemaChange[] = [];
  readonly #role: SchemaRole;

  constructor(role: SchemaRole) {
    this.#role = role;
  }

  #label(path: string): string {
    if (this.#role === 'output') return path ? `output "${path}"` : 'the output schema';
    return path ? `"${path}"` : 'the input schema';
  }

  #add(path: string, kind: ChangeKind, message: string): void {
    this.changes.push({ path, kind, role: this.#role, message });
  }

  /** A change that accepts more than before. */
  #loosen(path: string, message: string): void {
    this.#add(path, this.#role === 'input' ? 'additive' : 'breaking', message);
  }

  /** A change that accepts less than before. */
  #tighten(path: string, message: string): void {
    this.#add(path, this.#role === 'input' ? 'breaking' : 'additive', message);
  }

  compare(fromSchema: unknown, toSchema: unknown, path: string): void {
    const from = asObj(fromSchema);
    const to = asObj(toSchema);
    const label = this.#label(path);
    if (from === null || to === null) {
      if (from === null && to !== null) this.#loosen(path, `${label} accepted nothing and now accepts values`);
      if (to === null && from !== null) this.#tighten(path, `${label} now accepts nothing`);
      return;
    }
    if (!this.#types(from, to, path)) return;
    this.#enum(from, to, path);
    this.#bounds(from, to, path);
    this.#exact(from, to, path);
    if (Boolean(from.uniqueItems) !== Boolean(to.uniqueItems)) {
      if (to.uniqueItems) this.#tighten(path, `items of ${label} must now be unique`);
      else this.#loosen(path, `items of ${label} may now repeat`);
    }
    this.#properties(from, to, path);
    this.#additional(from, to, path);
    this.#items(from, to, path);
    this.#others(from, to, path);
  }

  /** Returns false when the type changed to an unrelated one (children are then not compared). */
  #types(from: Obj, to: Obj, path: string): boolean {
    const f = typeSet(from);
    const t = typeSet(to);
    const label = this.#label(path);
    if (covers(t, f) && covers(f, t)) return true;
    if (covers(t, f)) this.#loosen(path, `type of ${label} widened from ${showType(f)} to ${showType(t)}`);
    else if (covers(f, t)) this.#tighten(path, `type of ${label} narrowed from ${showType(f)} to ${showType(t)}`);
    else {
      this.#add(path, 'breaking', `type of ${label} changed from ${showType(f)} to ${showType(t)}`);
      return false;
    }
    return true;
  }

  #enum(from: Obj, to: Obj, path: string): void {
    const f = Array.isArray(from.enum) ? from.enum : undefined;
    const t = Array.isArray(to.enum) ? to.enum : undefined;
    const label = this.#label(path);
    if (f && t) {
      const fText = new Set(f.map(canonicalJson));
      const tText = new Set(t.map(canonicalJson));
      const lost = [...fText].filter((v) => !tText.has(v));
      const gained = [...tText].filter((v) => !fText.has(v));
      if (lost.length) this.#tighten(path, `enum of ${label} lost ${lost.join(', ')}`);
      if (gained.length) this.#loosen(path, `enum of ${label} gained ${gained.join(', ')}`);
    } else if (f) this.#loosen(path, `enum of ${label} was removed (any value of its type is now accepted)`);
    else if (t) this.#tighten(path, `enum added to ${label} (${t.map(canonicalJson).join(', ')})`);
  }

  #bounds(from: Obj, to: Obj, path: string): void {
    const label = this.#label(path);
    for (const [keywords, upper] of [
      [UPPER, true],
      [LOWER, false],
    ] as const) {
      for (const kw of keywords) {
        const a = from[kw];
        const b = to[kw];
        if (a === b || (a !== undefined && typeof a !== 'number') || (b !== undefined && typeof b !== 'number'))
          continue;
        if (a === undefined) this.#tighten(path, `${kw} of ${label} added (${b})`);
        else if (b === undefined) this.#loosen(path, `${kw} of ${label} removed (was ${a})`);
        else if (b > a === upper) this.#loosen(path, `${kw} of ${label} loosened from ${a} to ${b}`);
        else this.#tighten(path, `${kw} of ${label} tightened from ${a} to ${b}`);
      }
    }
  }

  /** Keywords where only equality can be judged: added tightens, removed loosens, changed breaks. */
  #exact(from: Obj, to: Obj, path: string): void {
    const label = this.#label(path);
    for (const kw of EXACT) {
      const a = from[kw];
      const b = to[kw];
      if (canonicalJson(a) === canonicalJson(b)) continue;
      if (a === undefined) this.#tighten(path, `${kw} of ${label} added (${canonicalJson(b)})`);
      else if (b === undefined) this.#loosen(path, `${kw} of ${label} removed (was ${canonicalJson(a)})`);
      else this.#add(path, 'breaking', `${kw} of ${label} changed from ${canonicalJson(a)} to ${canonicalJson(b)}`);
    }
  }

  #properties(from: Obj, to: Obj, path: string): void {
    const fp = asObj(from.properties) ?? {};
    const tp = asObj(to.properties) ?? {};
    const fr = new Set(Array.isArray(from.required) ? from.required.map(String) : []);
    const tr = new Set(Array.isArray(to.required) ? to.required.map(String) : []);
    const noun = this.#role === 'output' ? 'output property' : 'property';
    for (const name of Object.keys(fp)) {
      const p = join(path, name);
      if (!(name in tp)) this.#add(p, 'breaking', `${noun} "${p}" was removed`);
      else this.compare(fp[name], tp[name], p);
    }
    for (const name of Object.keys(tp)) {
      if (name in fp) continue;
      const p = join(path, name);
      if (this.#role === 'output') this.#add(p, 'additive', `new output property "${p}"`);
      else if (tr.has(name)) this.#add(p, 'breaking', `new required property "${p}"`);
      else this.#add(p, 'additive', `new optional property "${p}"`);
    }
    const reported = (name: string): boolean => name in fp !== name in tp;
    for (const name of [...new Set([...fr, ...tr])].sort()) {
      if (reported(name) || fr.has(name) === tr.has(name)) continue;
      const p = join(path, name);
      const label = this.#label(p);
      if (tr.has(name))
        this.#tighten(p, this.#role === 'input' ? `${label} is now required` : `${label} is now always present`);
      else this.#loosen(p, this.#role === 'input' ? `${label} is now optional` : `${label} may now be absent`);
    }
  }

  #additional(from: Obj, to: Obj, path: string): void {
    const state = (v: unknown): 'any' | 'none' | 'schema' =>
      v === undefined || v === true || canonicalJson(v) === '{}' ? 'any' : v === false ? 'none' : 'schema';
    const f = state(from.additionalProperties);
    const t = state(to.additionalProperties);
    const label = this.#label(path);
    if (f === 'schema' && t === 'schema')
      return this.compare(from.additionalProperties, to.additionalProperties, join(path, '*'));
    if (f === t) return;
    if (t === 'any' || f === 'none')
      this.#loosen(
        path,
        `additional properties of ${label} are now ${t === 'any' ? 'allowed' : 'constrained instead of forbidden'}`,
      );
    else this.#tighten(path, `additional properties of ${label} are now ${t === 'none' ? 'forbidden' : 'constrained'}`);
  }

  #items(from: Obj, to: Obj, path: string): void {
    const f = from.items;
    const t = to.items;
    if (f === undefined && t === undefined) return;
    if (Array.isArray(f) || Array.isArray(t)) {
      if (canonicalJson(f) !== canonicalJson(t))
        this.#add(path, 'breaking', `tuple items of ${this.#label(path)} changed`);
      return;
    }
    this.compare(f ?? true, t ?? true, `${path}[]`);
  }

  #others(from: Obj, to: Obj, path: string): void {
    const numeric = new Set<string>(
      [...UPPER, ...LOWER].filter(
        (kw) =>
          (from[kw] === undefined || typeof from[kw] === 'number') &&
          (to[kw] === undefined || typeof to[kw] === 'number'),
      ),
    );
    for (const kw of [...new Set([...Object.keys(from), ...Object.keys(to)])].sort()) {
      if (HANDLED.has(kw) || numeric.has(kw)) continue;
      if (canonicalJson(from[kw]) !== canonicalJson(to[kw])) {
        this.#add(path, 'breaking', `${kw} of ${this.#label(path)} changed (not analysed, so treated as breaking)`);
      }
    }
  }
}

function verdict(changes: readonly SchemaChange[]): DiffKind {
  if (changes.some((c) => c.kind === 'breaking')) return 'breaking';
  return changes.length ? 'additive' : 'none';
}

/**
 * Differences from `from` (the version a client pinned) to `to` (the candidate). `role` says whether
 * these are tool arguments (default) or tool results, which flips the verdict on loosening vs tightening.
 */
export function diffSchemas(from: unknown, to: unknown, role: SchemaRole = 'input'): SchemaDiff {
  const differ = new Differ(role);
  differ.compare(canonicalSchema(from ?? {}), canonicalSchema(to ?? {}), '');
  return { kind: verdict(differ.changes), changes: differ.changes };
}

/** True when a client pinned to `from` keeps working against `to` (no breaking change). */
export function compatible(from: unknown, to: unknown, role: SchemaRole = 'input'): boolean {
  return diffSchemas(from, to, role).kind !== 'breaking';
}

/**
 * Both schemas of a tool: the input diff followed by the output diff. A dropped output schema is
 * breaking (clients lose the structured-result guarantee); a newly declared one is additive.
 */
export function diffTool(from: ToolSchemas, to: ToolSchemas): SchemaDiff {
  const changes: SchemaChange[] = [...diffSchemas(from.inputSchema, to.inputSchema, 'input').changes];
  if (from.outputSchema !== undefined && to.outputSchema === undefined) {
    changes.push({ path: '', kind: 'breaking', role: 'output', message: 'the output schema was removed' });
  } else if (from.outputSchema === undefined && to.outputSchema !== undefined) {
    changes.push({ path: '', kind: 'additive', role: 'output', message: 'an output schema was added' });
  } else if (from.outputSchema !== undefined) {
    changes.push(...diffSchemas(from.outputSchema, to.outputSchema, 'output').changes);
  }
  return { kind: verdict(changes), changes };
}
