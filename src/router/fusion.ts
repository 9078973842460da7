/**
 * Fusing lexical and dense evidence by z-scores (measured better than reciprocal-rank fusion in
 * our runs, DESIGN.md §7). Each list is standardised over its own candidate pool, so a BM25 score
 * and a cosine similarity become comparable; a candidate missing from one list gets that list's
 * floor (its lowest z), not zero, so being absent counts against it. Pure.
 */
import type { Hit } from '../index/types.js';

/** Per-candidate evidence after fusion. */
export interface Fused {
  readonly id: string;
  readonly lexical: number | undefined;
  readonly dense: number | undefined;
  readonly zLexical: number;
  readonly zDense: number;
  readonly fused: number;
}

function standardize(hits: readonly Hit[]): { z: Map<string, number>; floor: number } {
  const z = new Map<string, number>();
  if (hits.length === 0) return { z, floor: 0 };
  const mean = hits.reduce((a, h) => a + h.score, 0) / hits.length;
  const variance = hits.reduce((a, h) => a + (h.score - mean) ** 2, 0) / hits.length;
  const sd = Math.sqrt(variance) || 1;
  let floor = Infinity;
  for (const h of hits) {
    const value = (h.score - mean) / sd;
    z.set(h.id, value);
    floor = Math.min(floor, value);
  }
  return { z, floor: floor - 0.5 };
}

/** Fuses two ranked lists: fused = z(lexical) + denseWeight * z(dense). Sorted best first, ties by id. */
export function zFuse(lexical: readonly Hit[], dense: readonly Hit[], denseWeight: number): Fused[] {
  const lex = standardize(lexical);
  const den = standardize(dense);
  const rawLex = new Map(lexical.map((h) => [h.id, h.score]));
  const rawDense = new Map(dense.map((h) => [h.id, h.score]));
  const ids = new Set([...rawLex.keys(), ...rawDense.keys()]);
  const out: Fused[] = [];
  for (const id of ids) {
    const zLexical = lexical.length ? (lex.z.get(id) ?? lex.floor) : 0;
    const zDense = dense.length ? (den.z.get(id) ?? den.floor) : 0;
    out.push({
      id,
      lexical: rawLex.get(id),
      dense: rawDense.get(id),
      zLexical,
      zDense,
      fused: zLexical + denseWeight * zDense,
    });
  }
  return out.sort((a, b) => b.fused - a.fused || (a.id < b.id ? -1 : 1));
}
