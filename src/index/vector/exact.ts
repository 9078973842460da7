/**
 * Exact nearest-neighbour search: dot products over unit vectors stored contiguously. It is the oracle
 * the HNSW index is measured against, and the right choice for small catalogs, where a full scan is
 * both exact and fast (10k x 384 dims in about 6 ms).
 *
 * File format (little-endian): "SBVX" magic, u32 version, u32 dim, u32 count, u32 byte length of a
 * JSON array of ids, the ids, zero padding to a 4-byte boundary, then count x dim float32s in slot order.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { GatewayError } from '../../core/errors.js';
import type { Hit, VectorIndex } from '../types.js';
import { checkDim, TopK } from './topk.js';

/** The first bytes of a saved exact index; `loadVectorIndex` detects the kind by them. */
export const EXACT_MAGIC = 'SBVX';
const VERSION = 1;
const HEADER = 20;

/** Brute-force cosine search over a growable Float32Array, with swap-remove to stay contiguous. */
export class ExactIndex implements VectorIndex {
  readonly kind = 'exact' as const;
  readonly dim: number;
  #data: Float32Array;
  /** slot -> id; slots 0..size-1 are live, so a scan never meets a hole. */
  readonly #ids: string[] = [];
  readonly #slots = new Map<string, number>();

  /** `capacity` is a hint (vectors); the store doubles when it fills. */
  constructor(dim: number, capacity = 1024) {
    if (!Number.isInteger(dim) || dim <= 0)
      throw new GatewayError('INTERNAL', `vector dimension must be a positive integer, got ${dim}`);
    this.dim = dim;
    this.#data = new Float32Array(dim * Math.max(1, Math.ceil(capacity)));
  }

  get size(): number {
    return this.#ids.length;
  }

  has(id: string): boolean {
    return this.#slots.has(id);
  }

  vectorOf(id: string): Float32Array | undefined {
    const slot = this.#slots.get(id);
    return slot === undefined ? undefined : this.#data.slice(slot * this.dim, (slot + 1) * this.dim);
  }

  upsert(id: string, vector: Float32Array): void {
    checkDim(this.dim, vector);
    let slot = this.#slots.get(id);
    if (slot === undefined) {
      slot = this.#ids.length;
      if ((slot + 1) * this.dim > this.#data.length) {
        // Doubling keeps appends amortised O(dim).
        const grown = new Float32Array(this.#data.length * 2);
        grown.set(this.#data);
        this.#data = grown;
      }
      this.#ids.push(id);
      this.#slots.set(id, slot);
    }
    this.#data.set(vector, slot * this.dim);
  }

  remove(id: string): boolean {
    const slot = this.#slots.get(id);
    if (slot === undefined) return false;
    const last = this.#ids.length - 1;
    if (slot !== last) {
      // Swap-remove: the last vector fills the hole, so removal is O(dim) and the scan stays dense.
      const lastId = this.#ids[last] as string;
      this.#data.copyWithin(slot * this.dim, last * this.dim, (last + 1) * this.dim);
      this.#ids[slot] = lastId;
      this.#slots.set(lastId, slot);
    }
    this.#ids.pop();
    this.#slots.delete(id);
    return true;
  }

  search(query: Float32Array, k: number, filter?: (id: string) => boolean): Hit[] {
    checkDim(this.dim, query);
    const n = this.#ids.length;
    if (n === 0 || k <= 0) return [];
    const top = new TopK(Math.min(k, n));
    const { dim } = this;
    const data = this.#data;
    const ids = this.#ids;
    for (let slot = 0, base = 0; slot < n; slot++, base += dim) {
      // A filtered-out vector costs one call, not a dot product: a narrow view searches faster.
      if (filter && !filter(ids[slot] as string)) continue;
      let dot = 0;
      for (let i = 0; i < dim; i++) dot += (data[base + i] as number) * (query[i] as number);
      // Skipping clear losers avoids allocating a Hit per vector; ties still go to the heap for the id rule.
      if (dot >= top.floor) top.push(this.#ids[slot] as string, dot);
    }
    return top.sorted();
  }

  save(path: string): void {
    const ids = Buffer.from(JSON.stringify(this.#ids), 'utf8');
    const padded = Math.ceil(ids.length / 4) * 4;
    const header = Buffer.alloc(HEADER + padded);
    header.write(EXACT_MAGIC, 0, 'latin1');
    header.writeUInt32LE(VERSION, 4);
    header.writeUInt32LE(this.dim, 8);
    header.writeUInt32LE(this.size, 12);
    header.writeUInt32LE(ids.length, 16);
    ids.copy(header, HEADER);
    const body = Buffer.from(this.#data.buffer, this.#data.byteOffset, this.size * this.dim * 4);
    writeFileSync(path, Buffer.concat([header, body]));
  }

  /** Restores an index written by `save`; throws INTERNAL on a file that is not one. */
  static load(path: string): ExactIndex {
    const buf = readFileSync(path);
    if (buf.length < HEADER || buf.toString('latin1', 0, 4) !== EXACT_MAGIC)
      throw new GatewayError('INTERNAL', `${path} is not a saved exact vector index`);
    const version = buf.readUInt32LE(4);
    if (version !== VERSION) throw new GatewayError('INTERNAL', `${path}: unsupported exact index version ${version}`);
    const dim = buf.readUInt32LE(8);
    const count = buf.readUInt32LE(12);
    const idsLength = buf.readUInt32LE(16);
    const ids = JSON.parse(buf.toString('utf8', HEADER, HEADER + idsLength)) as string[];
    const start = HEADER + Math.ceil(idsLength / 4) * 4;
    if (ids.length !== count || buf.length !== start + count * dim * 4)
      throw new GatewayError('INTERNAL', `${path}: truncated or corrupt exact index`);
    const index = new ExactIndex(dim, Math.max(1, count));
    // Copy into the index's own aligned store (a Buffer's offset into Node's pool may not be 4-aligned).
    index.#data.set(new Float32Array(buf.buffer.slice(buf.byteOffset + start, buf.byteOffset + buf.length)));
    ids.forEach((id, slot) => {
      index.#ids.push(id);
      index.#slots.set(id, slot);
    });
    return index;
  }
}
