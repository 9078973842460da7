/**
 * The VectorIndex contract: one suite, run against every implementation (exact and HNSW), so the
 * router can swap them without noticing. Data sets are small enough that HNSW is effectively exact.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { VectorIndex } from '../src/index/types.js';
import { ExactIndex } from '../src/index/vector/exact.js';
import { createVectorIndex, loadVectorIndex } from '../src/index/vector/factory.js';
import { HnswIndex } from '../src/index/vector/hnsw.js';
import { prng } from '../src/core/prng.js';

const DIM = 16;

/** A seeded PRNG so every run sees the same vectors. */
const rng = prng;

/** `n` unit vectors; a small test set is where random vectors are fine (every search is near-exact). */
function unitVectors(n: number, seed: number, dim = DIM): Float32Array[] {
  const next = rng(seed);
  return Array.from({ length: n }, () => {
    const v = Float32Array.from({ length: dim }, () => next() * 2 - 1);
    const norm = Math.hypot(...v);
    return v.map((x) => x / norm);
  });
}

/** Each implementation, built with a tiny first capacity so growth is exercised. */
const factories: [string, (dim: number) => VectorIndex][] = [
  ['exact', (dim) => new ExactIndex(dim, 4)],
  ['hnsw', (dim) => new HnswIndex(dim, { initialCapacity: 4 })],
];

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const tempFile = (name: string) => {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-vectors-'));
  dirs.push(dir);
  return join(dir, name);
};

describe.each(factories)('VectorIndex contract: %s', (kind, make) => {
  const filled = (n: number, seed = 1) => {
    const index = make(DIM);
    const vectors = unitVectors(n, seed);
    vectors.forEach((v, i) => index.upsert(`t${i}`, v));
    return { index, vectors };
  };

  it('reports its kind and dimension', () => {
    const index = make(DIM);
    expect(index.kind).toBe(kind);
    expect(index.dim).toBe(DIM);
  });

  it('finds an inserted vector first, with score ~1', () => {
    const { index, vectors } = filled(200);
    for (const i of [0, 57, 199]) {
      const [best] = index.search(vectors[i] as Float32Array, 5);
      expect(best?.id).toBe(`t${i}`);
      expect(best?.score).toBeCloseTo(1, 5);
    }
  });

  it('returns at most k hits, best first, scores in [-1, 1]', () => {
    const { index, vectors } = filled(100);
    const hits = index.search(vectors[3] as Float32Array, 10);
    expect(hits).toHaveLength(10);
    const scores = hits.map((h) => h.score);
    expect(scores).toEqual([...scores].sort((a, b) => b - a));
    for (const h of hits) expect(Math.abs(h.score)).toBeLessThanOrEqual(1 + 1e-5);
    expect(index.search(vectors[3] as Float32Array, 1000)).toHaveLength(100);
    expect(index.search(vectors[3] as Float32Array, 0)).toEqual([]);
  });

  it('with a filter, returns the k best of the accepted ids (not the k best, filtered)', () => {
    const { index, vectors } = filled(400);
    const accepted = (id: string) => Number(id.slice(1)) % 10 === 3; // 40 of 400
    const query = vectors[7] as Float32Array;
    const hits = index.search(query, 10, accepted);
    expect(hits).toHaveLength(10);
    expect(hits.every((h) => accepted(h.id))).toBe(true);
    // The same ids an exact scan of only the accepted vectors ranks first.
    const exact = vectors
      .map((v, i) => ({ id: `t${i}`, score: v.reduce((a, x, d) => a + x * (query[d] as number), 0) }))
      .filter((h) => accepted(h.id))
      .sort((a, b) => b.score - a.score)
      .slice(0, 10)
      .map((h) => h.id);
    expect(hits.map((h) => h.id)).toEqual(exact);
    expect(index.search(query, 100, accepted)).toHaveLength(40);
    expect(index.search(query, 5, () => false)).toEqual([]);
  });

  it('vectorOf returns a copy of the stored vector, undefined for an unknown id', () => {
    const { index, vectors } = filled(20);
    const stored = index.vectorOf('t5');
    expect(stored).toBeDefined();
    for (let i = 0; i < DIM; i++) expect(stored![i]).toBeCloseTo((vectors[5] as Float32Array)[i] as number, 5);
    stored![0] = 42; // a copy: the index is not changed through it
    expect(index.vectorOf('t5')![0]).not.toBe(42);
    expect(index.vectorOf('nope')).toBeUndefined();
  });

  it('upsert replaces the vector of an existing id', () => {
    const { index, vectors } = filled(50);
    const other = unitVectors(1, 99)[0] as Float32Array;
    index.upsert('t7', other);
    expect(index.size).toBe(50);
    expect(index.search(other, 1)[0]).toMatchObject({ id: 't7' });
    const old = index.search(vectors[7] as Float32Array, 3);
    expect(old[0]?.score ?? 0).toBeLessThan(0.999);
    expect(old.find((h) => h.id === 't7')?.score ?? -1).toBeLessThan(0.999);
  });

  it('remove drops the id from size, has and results', () => {
    const { index, vectors } = filled(60);
    expect(index.remove('t10')).toBe(true);
    expect(index.remove('t10')).toBe(false);
    expect(index.remove('never')).toBe(false);
    expect(index.size).toBe(59);
    expect(index.has('t10')).toBe(false);
    expect(index.has('t11')).toBe(true);
    expect(index.search(vectors[10] as Float32Array, 59).map((h) => h.id)).not.toContain('t10');
  });

  it('returns every live vector when k covers them, after many removals', () => {
    const { index, vectors } = filled(100);
    for (let i = 0; i < 100; i += 2) index.remove(`t${i}`);
    const hits = index.search(vectors[0] as Float32Array, 100);
    expect(hits).toHaveLength(50);
    expect(new Set(hits.map((h) => h.id))).toEqual(new Set(Array.from({ length: 50 }, (_, i) => `t${2 * i + 1}`)));
  });

  it('grows past its first capacity and survives churn', () => {
    const index = make(DIM);
    const vectors = unitVectors(300, 3);
    vectors.forEach((v, i) => index.upsert(`t${i}`, v));
    for (let i = 0; i < 300; i += 3) index.remove(`t${i}`);
    vectors.forEach((v, i) => index.upsert(`t${i}`, v)); // re-adds removed ids, updates the rest
    expect(index.size).toBe(300);
    for (const i of [0, 1, 150, 299]) expect(index.search(vectors[i] as Float32Array, 1)[0]?.id).toBe(`t${i}`);
  });

  it('an empty index returns no hits', () => {
    const index = make(DIM);
    expect(index.size).toBe(0);
    expect(index.search(unitVectors(1, 5)[0] as Float32Array, 10)).toEqual([]);
    const { index: emptied } = filled(3);
    ['t0', 't1', 't2'].forEach((id) => emptied.remove(id));
    expect(emptied.search(unitVectors(1, 5)[0] as Float32Array, 10)).toEqual([]);
  });

  it('save then load gives identical results, and the loaded index keeps working', () => {
    const { index, vectors } = filled(150);
    index.remove('t4');
    const path = tempFile(`${kind}.idx`);
    index.save(path);
    const loaded = loadVectorIndex(path);
    expect(loaded.kind).toBe(kind);
    expect(loaded.dim).toBe(DIM);
    expect(loaded.size).toBe(149);
    expect(loaded.has('t4')).toBe(false);
    for (const q of [...vectors.slice(0, 5), ...unitVectors(5, 77)])
      expect(loaded.search(q, 10)).toEqual(index.search(q, 10));
    const fresh = unitVectors(1, 123)[0] as Float32Array;
    loaded.upsert('new', fresh);
    expect(loaded.search(fresh, 1)[0]?.id).toBe('new');
  });

  it('rejects vectors of the wrong dimension with a clear error', () => {
    const index = make(DIM);
    expect(() => index.upsert('x', new Float32Array(DIM + 1))).toThrow(/17 dimensions; this index holds 16/);
    index.upsert('ok', unitVectors(1, 8)[0] as Float32Array);
    expect(() => index.search(new Float32Array(3), 1)).toThrow(/3 dimensions; this index holds 16/);
  });
});

describe('createVectorIndex', () => {
  it("'auto' picks exact below the threshold and HNSW at or above it", () => {
    expect(createVectorIndex({ dim: 8, kind: 'auto', expectedSize: 4_999 }).kind).toBe('exact');
    expect(createVectorIndex({ dim: 8, kind: 'auto', expectedSize: 5_000 }).kind).toBe('hnsw');
    expect(createVectorIndex({ dim: 8, kind: 'auto', expectedSize: 10, hnswThreshold: 10 }).kind).toBe('hnsw');
  });

  it('honours a forced kind', () => {
    expect(createVectorIndex({ dim: 8, kind: 'hnsw', expectedSize: 1 }).kind).toBe('hnsw');
    expect(createVectorIndex({ dim: 8, kind: 'exact', expectedSize: 1e6 }).kind).toBe('exact');
  });

  it('refuses a file that is no saved index', () => {
    const path = tempFile('junk.idx');
    writeFileSync(path, 'not an index');
    expect(() => loadVectorIndex(path)).toThrow(/not a saved vector index/);
  });
});
