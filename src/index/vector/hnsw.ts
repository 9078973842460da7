/**
 * Approximate nearest-neighbour search with HNSW (hnswlib-node, inner-product space on unit vectors),
 * for catalogs too large to scan: about 1 ms a query at 100k vectors.
 *
 * hnswlib labels are integers, so string ids map to labels. Replacing a vector updates its label in
 * place; removing marks the label deleted, and since the index is built with `allowReplaceDeleted`,
 * later inserts reuse deleted slots, so memory stays bounded under churn. hnswlib skips deleted elements inside the search (it keeps
 * exploring until it holds `ef` live candidates), so k live hits come back without a JS filter,
 * which would cost ~8 ms a query.
 *
 * Saved as two files: hnswlib's own binary at `path` and a `path.json` sidecar with the id map.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import hnswlib from 'hnswlib-node';
import { GatewayError } from '../../core/errors.js';
import type { Hit, VectorIndex } from '../types.js';
import { byScoreThenId, checkDim } from './topk.js';

/** HNSW parameters: graph degree, build-time and query-time beam widths, and the first capacity. */
export interface HnswOptions {
  readonly M: number;
  readonly efConstruction: number;
  /** Query beam width; 0 = grow with the index (size / 250, from 100 up to 400). */
  readonly efSearch: number;
  readonly initialCapacity: number;
}

const DEFAULTS: HnswOptions = { M: 16, efConstruction: 200, efSearch: 0, initialCapacity: 1024 };

/**
 * The beam a search uses. A fixed ef loses recall as the graph grows: on our catalog grown to 100k
 * tools, ef 100 found 0.79 of the exact top 10, 200 found 0.87, 400 found 0.95 (0.3, 0.4 and
 * 0.8 ms per query); at 10k, 100 already finds 0.99. So ef grows with the size, within [100, 400].
 */
export function autoEf(size: number): number {
  return Math.min(400, Math.max(100, Math.round(size / 250)));
}
/** Fixed so the same inserts build the same graph (deterministic tests and benchmarks). */
const SEED = 100;

/** What the `path.json` sidecar holds. */
interface Sidecar {
  readonly kind: 'hnsw';
  readonly version: 1;
  readonly dim: number;
  readonly options: HnswOptions;
  readonly labels: [string, number][];
  readonly nextLabel: number;
}

/** HNSW over hnswlib-node. */
export class HnswIndex implements VectorIndex {
  readonly kind = 'hnsw' as const;
  readonly dim: number;
  #options: HnswOptions;
  readonly #index: InstanceType<typeof hnswlib.HierarchicalNSW>;
  readonly #labels = new Map<string, number>();
  readonly #ids = new Map<number, string>();
  #nextLabel = 0;
  #ef = 0;
  /** Slots marked deleted and not yet reused; an insert reuses one before the index grows. */
  #vacant = 0;

  constructor(dim: number, options: Partial<HnswOptions> = {}, restoreFrom?: string) {
    if (!Number.isInteger(dim) || dim <= 0)
      throw new GatewayError('INTERNAL', `vector dimension must be a positive integer, got ${dim}`);
    this.dim = dim;
    this.#options = { ...DEFAULTS, ...options };
    this.#index = new hnswlib.HierarchicalNSW('ip', dim);
    if (restoreFrom !== undefined) {
      this.#index.readIndexSync(restoreFrom, true);
    } else {
      const { M, efConstruction, initialCapacity } = this.#options;
      this.#index.initIndex({
        maxElements: Math.max(1, Math.ceil(initialCapacity)),
        m: M,
        efConstruction,
        randomSeed: SEED,
        allowReplaceDeleted: true,
      });
    }
    this.#applyEf(this.#options.efSearch || autoEf(0));
  }

  #applyEf(ef: number): void {
    if (ef === this.#ef) return;
    this.#ef = ef;
    this.#index.setEf(ef);
  }

  get size(): number {
    return this.#labels.size;
  }

  has(id: string): boolean {
    return this.#labels.has(id);
  }

  vectorOf(id: string): Float32Array | undefined {
    const label = this.#labels.get(id);
    return label === undefined ? undefined : Float32Array.from(this.#index.getPoint(label));
  }

  upsert(id: string, vector: Float32Array): void {
    checkDim(this.dim, vector);
    const point = Array.from(vector);
    const existing = this.#labels.get(id);
    if (existing !== undefined) {
      // hnswlib updates a live label in place (updatePoint re-links its neighbours), so a replacement
      // neither grows the index nor leaves a deleted node behind.
      this.#index.addPoint(point, existing);
      return;
    }
    if (this.#vacant === 0 && this.#index.getCurrentCount() >= this.#index.getMaxElements()) {
      this.#index.resizeIndex(this.#index.getMaxElements() * 2);
    }
    const label = this.#nextLabel++;
    // With a vacant slot, hnswlib reuses a deleted element's storage for the new label.
    this.#index.addPoint(point, label, this.#vacant > 0);
    if (this.#vacant > 0) this.#vacant--;
    this.#labels.set(id, label);
    this.#ids.set(label, id);
  }

  remove(id: string): boolean {
    const label = this.#labels.get(id);
    if (label === undefined) return false;
    this.#index.markDelete(label);
    this.#labels.delete(id);
    this.#ids.delete(label);
    this.#vacant++;
    return true;
  }

  /** Fixes the search beam width (higher: better recall, slower search); 0 returns to growing with the size. */
  setEfSearch(ef: number): void {
    this.#options = { ...this.#options, efSearch: Math.max(0, Math.floor(ef)) };
    this.#applyEf(this.#options.efSearch || autoEf(this.size));
  }

  search(query: Float32Array, k: number, filter?: (id: string) => boolean): Hit[] {
    checkDim(this.dim, query);
    const want = Math.min(this.size, Math.floor(k));
    if (!(want > 0)) return []; // also covers a NaN k
    if (filter) return this.#filtered(query, want, filter);
    return this.#knn(query, want);
  }

  /**
   * The k best of the ids `filter` accepts. hnswlib's own filter calls back into JS for every node it
   * visits (milliseconds a query), so the graph is searched wider instead, 4x then 16x ..., until k
   * accepted ids are found or the whole index was returned.
   */
  #filtered(query: Float32Array, k: number, filter: (id: string) => boolean): Hit[] {
    for (let wide = Math.min(this.size, k * 4); ; wide = Math.min(this.size, wide * 4)) {
      const kept = this.#knn(query, wide).filter((h) => filter(h.id));
      if (kept.length >= k || wide >= this.size) return kept.slice(0, k);
    }
  }

  #knn(query: Float32Array, want: number): Hit[] {
    this.#applyEf(this.#options.efSearch || autoEf(this.size));
    // hnswlib searches with max(ef, k), so a large k widens the beam on its own.
    const result = this.#index.searchKnn(Array.from(query), want);
    const hits: Hit[] = [];
    result.neighbors.forEach((label, i) => {
      const id = this.#ids.get(label);
      // The 'ip' space returns distance = 1 - dot (space_ip.h), so similarity = 1 - distance.
      if (id !== undefined) hits.push({ id, score: 1 - (result.distances[i] ?? 1) });
    });
    return hits.sort(byScoreThenId);
  }

  save(path: string): void {
    this.#index.writeIndexSync(path);
    const sidecar: Sidecar = {
      kind: 'hnsw',
      version: 1,
      dim: this.dim,
      options: this.#options,
      labels: [...this.#labels],
      nextLabel: this.#nextLabel,
    };
    writeFileSync(`${path}.json`, JSON.stringify(sidecar));
  }

  /** Restores an index written by `save` (reads `path` and `path.json`). */
  static load(path: string): HnswIndex {
    const meta = JSON.parse(readFileSync(`${path}.json`, 'utf8')) as Sidecar;
    if (meta.kind !== 'hnsw' || meta.version !== 1)
      throw new GatewayError('INTERNAL', `${path}.json is not an HNSW index sidecar`);
    const index = new HnswIndex(meta.dim, meta.options, path);
    index.#restore(meta);
    return index;
  }

  #restore(meta: Sidecar): void {
    for (const [id, label] of meta.labels) {
      this.#labels.set(id, label);
      this.#ids.set(label, id);
    }
    this.#nextLabel = meta.nextLabel;
    // Deleted marks are saved in hnswlib's file and re-collected on read (with replacement on).
    this.#vacant = this.#index.getCurrentCount() - this.#labels.size;
    if (this.#index.getNumDimensions() !== this.dim || this.#vacant < 0)
      throw new GatewayError('INTERNAL', 'HNSW index file and its sidecar disagree');
  }
}
