/**
 * The shipped static embedding model, run in TypeScript: the model folder's own tokenizer.json
 * (WordLevel vocabulary, NFKD + strip accents + lowercase, "Whitespace" words, [CLS] first) and
 * the int8 table with its per-row scales read straight from onnx/model.onnx. The vector is what
 * the transformers.js feature-extraction pipeline computes from the same files (mean of the rows,
 * L2-normalised; test/static-embedder.test.ts holds the two side by side), without loading
 * transformers.js and onnxruntime or building a tensor per query: the table stays int8 (12.8 MB
 * for 50k rows of 256) and one need embeds in microseconds instead of a millisecond.
 *
 * Only a folder that is exactly this shape opens here (`StaticEmbedder.open` returns undefined
 * otherwise, and the caller loads it through transformers.js): the graph the build exports
 * (scripts/model/onnx.ts), a WordLevel tokenizer with that normaliser chain, pre-tokenizer and
 * post-processor.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Embedder } from '../types.js';
import { normalizeForEmbedding } from './text.js';

/** The graph name scripts/model/onnx.ts writes. */
const STATIC_GRAPH = 'switchboard_static_embedding';
/** ONNX TensorProto.DataType values read here. */
const INT8 = 3;
const FLOAT = 1;
/** A model file larger than this is not a static table of ours (the shipped one is 13 MB). */
const MAX_MODEL_BYTES = 512 * 1024 * 1024;

interface Field {
  readonly field: number;
  readonly wire: number;
  /** Varint value (wire 0). */
  readonly value: number;
  /** Payload (wire 2). */
  readonly bytes: Uint8Array;
}

/** The fields of one protobuf message (varints above 2^53 lose precision; none here come near). */
function fields(buf: Uint8Array): Field[] {
  const out: Field[] = [];
  let at = 0;
  const varint = (): number => {
    let value = 0;
    let scale = 1;
    for (;;) {
      if (at >= buf.length) throw new Error('truncated protobuf varint');
      const byte = buf[at++]!;
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value;
      scale *= 128;
    }
  };
  const empty = new Uint8Array(0);
  while (at < buf.length) {
    const tag = varint();
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (wire === 0) out.push({ field, wire, value: varint(), bytes: empty });
    else if (wire === 2) {
      const length = varint();
      if (at + length > buf.length) throw new Error('truncated protobuf field');
      out.push({ field, wire, value: 0, bytes: buf.subarray(at, at + length) });
      at += length;
    } else if (wire === 5) at += 4;
    else if (wire === 1) at += 8;
    else throw new Error(`unsupported protobuf wire type ${wire}`);
  }
  return out;
}

const text = (b: Uint8Array) => new TextDecoder().decode(b);

interface Initializer {
  readonly dims: number[];
  readonly dataType: number;
  readonly raw: Uint8Array;
}

/** The named initializers of an ONNX model, if its graph is the one the build exports. */
function staticInitializers(model: Uint8Array): Map<string, Initializer> | undefined {
  const graph = fields(model).find((f) => f.field === 7 && f.wire === 2);
  if (!graph) return undefined;
  const parts = fields(graph.bytes);
  const name = parts.find((f) => f.field === 2 && f.wire === 2);
  if (!name || text(name.bytes) !== STATIC_GRAPH) return undefined;
  const out = new Map<string, Initializer>();
  for (const init of parts.filter((f) => f.field === 5 && f.wire === 2)) {
    const dims: number[] = [];
    let dataType = 0;
    let tensorName = '';
    let raw: Uint8Array = new Uint8Array(0);
    for (const f of fields(init.bytes)) {
      if (f.field === 1 && f.wire === 0) dims.push(f.value);
      else if (f.field === 1 && f.wire === 2) for (const d of packedVarints(f.bytes)) dims.push(d);
      else if (f.field === 2 && f.wire === 0) dataType = f.value;
      else if (f.field === 8 && f.wire === 2) tensorName = text(f.bytes);
      else if (f.field === 9 && f.wire === 2) raw = f.bytes;
    }
    out.set(tensorName, { dims, dataType, raw });
  }
  return out;
}

function packedVarints(bytes: Uint8Array): number[] {
  // A packed repeated varint is a run of bare varints: read them as field-less values.
  const out: number[] = [];
  let value = 0;
  let scale = 1;
  for (const byte of bytes) {
    value += (byte & 0x7f) * scale;
    scale *= 128;
    if (byte < 0x80) {
      out.push(value);
      value = 0;
      scale = 1;
    }
  }
  return out;
}

/** A JSON file's value, or undefined when the file is absent. */
function readJson(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new Error(`${path} is not valid JSON: ${(error as Error).message}`);
  }
}

/** config.json says the model has no layers (a static table): anything else is not read here at all. */
function declaresNoLayers(dir: string): boolean {
  const config = readJson(join(dir, 'config.json')) as { num_hidden_layers?: unknown } | undefined;
  return config?.num_hidden_layers === 0;
}

interface TokenizerSpec {
  /** Word -> row id: the parsed JSON object itself, without a prototype (a Map of 87k words costs 100 ms to build). */
  readonly vocab: Readonly<Record<string, unknown>>;
  readonly unk: number;
  readonly cls: number;
  readonly maxLength: number;
}

/** The tokenizer, if tokenizer.json is the WordLevel shape the build writes (anything else: undefined). */
function staticTokenizer(dir: string): TokenizerSpec | undefined {
  const spec = (readJson(join(dir, 'tokenizer.json')) ?? {}) as {
    normalizer?: { type?: string; normalizers?: { type?: string }[] };
    pre_tokenizer?: { type?: string };
    post_processor?: { type?: string; single?: unknown[]; special_tokens?: Record<string, { ids?: number[] }> };
    truncation?: unknown;
    model?: { type?: string; vocab?: Record<string, number>; unk_token?: string };
  };
  const chain = spec.normalizer?.normalizers?.map((n) => n.type).join(',');
  if (spec.normalizer?.type !== 'Sequence' || chain !== 'NFKD,StripAccents,Lowercase') return undefined;
  if (spec.pre_tokenizer?.type !== 'Whitespace' || spec.truncation != null) return undefined;
  const words = spec.model?.vocab;
  if (spec.model?.type !== 'WordLevel' || typeof words !== 'object' || words === null || Array.isArray(words))
    return undefined;
  const single = JSON.stringify(spec.post_processor?.single ?? []);
  if (spec.post_processor?.type !== 'TemplateProcessing') return undefined;
  if (single !== JSON.stringify([{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }]))
    return undefined;
  const cls = spec.post_processor.special_tokens?.['[CLS]']?.ids?.[0];
  const vocab = Object.setPrototypeOf(words, null) as Record<string, unknown>;
  const unk = vocab[spec.model.unk_token ?? '[UNK]'];
  if (typeof cls !== 'number' || typeof unk !== 'number') return undefined;
  const config = (readJson(join(dir, 'tokenizer_config.json')) ?? {}) as { model_max_length?: number };
  return {
    vocab,
    unk,
    cls,
    maxLength: config.model_max_length ?? Number.POSITIVE_INFINITY,
  };
}

/** The shipped static model as an {@link Embedder}, computed in TypeScript from the folder's files. */
export class StaticEmbedder implements Embedder {
  readonly id: string;
  readonly dim: number;
  readonly engine = 'static';
  readonly #table: Int8Array;
  readonly #scales: Float32Array;
  readonly #tokenizer: TokenizerSpec;

  private constructor(id: string, table: Int8Array, scales: Float32Array, tokenizer: TokenizerSpec) {
    this.id = id;
    this.#table = table;
    this.#scales = scales;
    this.dim = table.length / scales.length;
    this.#tokenizer = tokenizer;
  }

  /** Opens `modelsDir/<model>/` if it is a static model this class computes exactly; otherwise undefined. */
  static open(options: { model: string; modelsDir: string }): StaticEmbedder | undefined {
    const dir = join(options.modelsDir, options.model);
    const file = join(dir, 'onnx', 'model.onnx');
    let size: number;
    try {
      size = statSync(file).size;
    } catch {
      return undefined;
    }
    if (size > MAX_MODEL_BYTES || !declaresNoLayers(dir)) return undefined;
    let inits: Map<string, Initializer> | undefined;
    try {
      inits = staticInitializers(readFileSync(file));
    } catch (error) {
      throw new Error(`${file} is not a readable ONNX model: ${(error as Error).message}`);
    }
    const table = inits?.get('embedding.int8');
    const scale = inits?.get('embedding.scale');
    if (!table || !scale || table.dataType !== INT8 || scale.dataType !== FLOAT) return undefined;
    const [rows, dim] = table.dims;
    if (!rows || !dim || table.raw.length !== rows * dim || scale.raw.length !== rows * 4) return undefined;
    const tokenizer = staticTokenizer(dir);
    if (!tokenizer) return undefined;
    for (const id of [tokenizer.unk, tokenizer.cls])
      if (!Number.isInteger(id) || id < 0 || id >= rows) return undefined;
    // The table is a view into the file's buffer (no second copy: it is nearly all of the file);
    // the scales are copied, as a Float32Array needs 4-byte alignment.
    const int8 = new Int8Array(table.raw.buffer, table.raw.byteOffset, table.raw.length);
    const scales = new Float32Array(rows);
    new Uint8Array(scales.buffer).set(scale.raw);
    return new StaticEmbedder(options.model, int8, scales, tokenizer);
  }

  /** Row ids as the transformers.js tokenizer gives them: [CLS], then each word or [UNK], truncated. */
  #ids(input: string): number[] {
    const { vocab, unk, cls, maxLength } = this.#tokenizer;
    const normalized = (normalizeForEmbedding(input) || ' ').normalize('NFKD').replace(/\p{M}/gu, '').toLowerCase();
    const ids = [cls];
    for (const word of normalized.match(/\w+|[^\w\s]+/g) ?? []) {
      if (ids.length >= maxLength) break;
      const id = vocab[word];
      // Each word's id is checked where it is used, not all 87k at load (a bad id reads as unknown).
      ids.push(typeof id === 'number' && Number.isInteger(id) && id >= 0 && id < this.#scales.length ? id : unk);
    }
    return ids;
  }

  #embedOne(input: string): Float32Array {
    const { dim } = this;
    const table = this.#table;
    const scales = this.#scales;
    const ids = this.#ids(input);
    // The pipeline's arithmetic: rows dequantised in float32, mean over tokens in double, stored in
    // float32, divided by the float32 L2 norm.
    const sums = new Float64Array(dim);
    for (const id of ids) {
      const scale = scales[id]!;
      const base = id * dim;
      for (let c = 0; c < dim; c++) sums[c]! += Math.fround(table[base + c]! * scale);
    }
    const out = new Float32Array(dim);
    let squares = 0;
    for (let c = 0; c < dim; c++) {
      out[c] = sums[c]! / ids.length;
      squares += out[c]! * out[c]!;
    }
    const norm = Math.fround(Math.sqrt(squares));
    if (norm > 0) for (let c = 0; c < dim; c++) out[c] = out[c]! / norm;
    return out;
  }

  embed(texts: readonly string[]): Promise<Float32Array[]> {
    return Promise.resolve(texts.map((t) => this.#embedOne(t)));
  }
}
