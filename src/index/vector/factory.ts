/**
 * Choosing a vector index, and loading a saved one of either kind.
 *
 * 'auto' picks exact search below `hnswThreshold` vectors and HNSW at or above it. Below a few
 * thousand tools a full scan costs well under a few milliseconds, gives exact answers, and has no build
 * cost or native graph to keep in step; HNSW pays off only when the scan itself becomes the cost.
 */
import { closeSync, existsSync, openSync, readSync } from 'node:fs';
import { GatewayError } from '../../core/errors.js';
import type { VectorIndex } from '../types.js';
import { EXACT_MAGIC, ExactIndex } from './exact.js';
import { HnswIndex } from './hnsw.js';

/** Options for {@link createVectorIndex}. */
export interface VectorIndexOptions {
  readonly dim: number;
  readonly kind: 'auto' | 'exact' | 'hnsw';
  /** Vectors expected; sizes the first allocation and drives the 'auto' choice. */
  readonly expectedSize: number;
  /** Size from which 'auto' picks HNSW (default 5,000). */
  readonly hnswThreshold?: number;
}

/** The kind of index the options call for. */
export function vectorKindFor(options: VectorIndexOptions): VectorIndex['kind'] {
  const threshold = options.hnswThreshold ?? 5_000;
  return options.kind === 'auto' ? (options.expectedSize >= threshold ? 'hnsw' : 'exact') : options.kind;
}

/** A fresh, empty index of the configured kind (or, for 'auto', the kind that suits `expectedSize`). */
export function createVectorIndex(options: VectorIndexOptions): VectorIndex {
  const kind = vectorKindFor(options);
  // Headroom so a catalog that grows a little does not reallocate at once.
  const capacity = Math.max(1024, Math.ceil(options.expectedSize * 1.25));
  return kind === 'hnsw'
    ? new HnswIndex(options.dim, { initialCapacity: capacity })
    : new ExactIndex(options.dim, capacity);
}

/**
 * Loads an index written by `save`. An exact index starts with its magic bytes; hnswlib's format has
 * no magic, so anything else is HNSW if its `path.json` sidecar exists.
 */
export function loadVectorIndex(path: string): VectorIndex {
  const head = Buffer.alloc(4);
  const fd = openSync(path, 'r');
  try {
    readSync(fd, head, 0, 4, 0);
  } finally {
    closeSync(fd);
  }
  if (head.toString('latin1') === EXACT_MAGIC) return ExactIndex.load(path);
  if (existsSync(`${path}.json`)) return HnswIndex.load(path);
  throw new GatewayError('INTERNAL', `${path} is not a saved vector index (no exact header, no HNSW sidecar)`);
}
