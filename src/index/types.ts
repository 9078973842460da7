/**
 * The capability index's ports: an embedder, a vector index and a lexical index. Each has several
 * implementations behind the same interface, tested by one shared contract suite per interface.
 */

/** A hit from any index: a document id and a score (higher is better). */
export interface Hit {
  readonly id: string;
  readonly score: number;
}

/** Turns texts into L2-normalised vectors of a fixed dimension. */
export interface Embedder {
  /** The model id (e.g. "switchboard-static-v1" or "Xenova/all-MiniLM-L6-v2"); part of every cache key. */
  readonly id: string;
  readonly dim: number;
  /** What computes the vectors ("static" or "transformers.js"), for logs and reports. */
  readonly engine?: string;
  /** Embeds a batch; every returned vector has length `dim` and unit norm (text with no known word: zeros or a fixed vector, by model). */
  embed(texts: readonly string[]): Promise<Float32Array[]>;
  close?(): Promise<void>;
}

/** Nearest-neighbour search over unit vectors by cosine similarity (= dot product). */
export interface VectorIndex {
  readonly kind: 'exact' | 'hnsw';
  readonly dim: number;
  readonly size: number;
  /** Adds or replaces the vector of `id`. */
  upsert(id: string, vector: Float32Array): void;
  /** Removes `id`; false when it was not there. */
  remove(id: string): boolean;
  has(id: string): boolean;
  /** The stored vector of `id` (a copy), or undefined. */
  vectorOf(id: string): Float32Array | undefined;
  /**
   * Up to `k` nearest ids, best first; score = cosine similarity in [-1, 1]. With `filter`, only ids it
   * accepts: the k best of those (a caller's view), not the k best filtered afterwards.
   */
  search(query: Float32Array, k: number, filter?: (id: string) => boolean): Hit[];
  /** Writes the index to a file (an implementation-specific format) so `load` can restore it. */
  save(path: string): void;
}

/** The text fields of a tool that the lexical index weighs separately. */
export type LexicalField = 'name' | 'title' | 'description' | 'params' | 'paramDescriptions' | 'server' | 'examples';

/** The fields in one fixed order (BM25F's weight arrays and the capability index's field masks use it). */
export const LEXICAL_FIELDS: readonly LexicalField[] = [
  'name',
  'title',
  'description',
  'params',
  'paramDescriptions',
  'server',
  'examples',
];

/** A document for the lexical index. */
export interface LexicalDocument {
  readonly id: string;
  readonly fields: Partial<Record<LexicalField, string>>;
}

/** BM25F-style ranked retrieval over fielded documents. */
export interface LexicalIndex {
  readonly size: number;
  upsert(doc: LexicalDocument): void;
  remove(id: string): boolean;
  /**
   * Up to `k` best documents for a free-text query, best first; no hits for a query of only stopwords.
   * With `filter`, only documents it accepts (the k best of those).
   */
  search(query: string, k: number, filter?: (id: string) => boolean): Hit[];
}
