/**
 * Bounded selection of the best k hits: a binary min-heap whose root is the worst hit kept, so
 * ranking n scored documents costs O(n log k) instead of sorting all n (catalogs reach 100k tools).
 * Order is total and deterministic: higher score first, then smaller id.
 */
import type { Hit } from '../types.js';

/** True when `a` ranks before `b`. */
export function ranksBefore(a: Hit, b: Hit): boolean {
  return a.score > b.score || (a.score === b.score && a.id < b.id);
}

/** Keeps the k best hits offered to it. */
export class TopK {
  readonly #k: number;
  readonly #heap: Hit[] = [];

  constructor(k: number) {
    this.#k = Math.max(0, Math.floor(k));
  }

  /** Offers a hit; kept only while it is among the best k so far. */
  offer(id: string, score: number): void {
    const heap = this.#heap;
    if (heap.length < this.#k) {
      heap.push({ id, score });
      this.#up(heap.length - 1);
      return;
    }
    const worst = heap[0];
    // Compared inline: most offers are rejected, and they should not allocate.
    if (!worst || !(score > worst.score || (score === worst.score && id < worst.id))) return;
    heap[0] = { id, score };
    this.#down(0);
  }

  /** The kept hits, best first. */
  sorted(): Hit[] {
    return [...this.#heap].sort((a, b) => (ranksBefore(a, b) ? -1 : ranksBefore(b, a) ? 1 : 0));
  }

  // Heap order: a parent ranks AFTER its children (the root is the worst kept hit).
  #up(i: number): void {
    const heap = this.#heap;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const a = heap[i]!;
      const p = heap[parent]!;
      if (!ranksBefore(p, a)) break;
      heap[i] = p;
      heap[parent] = a;
      i = parent;
    }
  }

  #down(i: number): void {
    const heap = this.#heap;
    for (;;) {
      let worst = i;
      for (const child of [2 * i + 1, 2 * i + 2]) {
        if (child < heap.length && ranksBefore(heap[worst]!, heap[child]!)) worst = child;
      }
      if (worst === i) return;
      const tmp = heap[i]!;
      heap[i] = heap[worst]!;
      heap[worst] = tmp;
      i = worst;
    }
  }
}
