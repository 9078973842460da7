/**
 * Helpers shared by the vector indexes: the dimension check and a bounded min-heap that keeps the
 * k best hits. Ties break by id so results are deterministic across runs and implementations.
 */
import { GatewayError } from '../../core/errors.js';
import type { Hit } from '../types.js';

/**
 * Throws when a vector has the wrong dimension. A mismatch means the embedder and the index disagree
 * (a model changed under a saved index), a gateway fault rather than the caller's, hence INTERNAL.
 */
export function checkDim(dim: number, vector: Float32Array | readonly number[]): void {
  if (vector.length !== dim) {
    throw new GatewayError('INTERNAL', `vector has ${vector.length} dimensions; this index holds ${dim}`, {
      expected: dim,
      got: vector.length,
    });
  }
}

/** True when `a` ranks below `b`: lower score, or equal score and a later id. */
const worse = (a: Hit, b: Hit): boolean => a.score < b.score || (a.score === b.score && a.id > b.id);

/** Keeps the k best hits pushed into it; O(log k) a push. */
export class TopK {
  readonly #k: number;
  /** Min-heap on `worse`: the root is the weakest hit kept, the one a better hit evicts. */
  readonly #heap: Hit[] = [];

  constructor(k: number) {
    this.#k = Math.max(0, Math.floor(k));
  }

  /** The weakest score kept once full (a caller may skip work below it); -Infinity until then. */
  get floor(): number {
    return this.#heap.length < this.#k ? -Infinity : (this.#heap[0]?.score ?? -Infinity);
  }

  push(id: string, score: number): void {
    const heap = this.#heap;
    const hit = { id, score };
    if (heap.length < this.#k) {
      heap.push(hit);
      let i = heap.length - 1;
      while (i > 0) {
        const parent = (i - 1) >> 1;
        if (!worse(heap[i] as Hit, heap[parent] as Hit)) break;
        [heap[i], heap[parent]] = [heap[parent] as Hit, heap[i] as Hit];
        i = parent;
      }
      return;
    }
    if (this.#k === 0 || !worse(heap[0] as Hit, hit)) return;
    heap[0] = hit;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < heap.length && worse(heap[l] as Hit, heap[m] as Hit)) m = l;
      if (r < heap.length && worse(heap[r] as Hit, heap[m] as Hit)) m = r;
      if (m === i) break;
      [heap[i], heap[m]] = [heap[m] as Hit, heap[i] as Hit];
      i = m;
    }
  }

  /** The kept hits, best first. */
  sorted(): Hit[] {
    return [...this.#heap].sort(byScoreThenId);
  }
}

/** Best score first; equal scores by id, so every index orders ties the same way. */
export function byScoreThenId(a: Hit, b: Hit): number {
  return b.score - a.score || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}
