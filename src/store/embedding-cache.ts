/**
 * The embedding cache: vectors keyed by model id and a hash of the exact text embedded, so restarts
 * and catalog refreshes re-embed only tools whose text changed (and a model change re-embeds all).
 */
import { createHash } from 'node:crypto';
import type { Db } from './db.js';

/** Hash of a text as stored in the cache. */
export function textHash(text: string): string {
  return createHash('sha256').update(text).digest('base64url').slice(0, 32);
}

/** SQLite-backed embedding cache (structurally the `EmbeddingCache` port of index/). */
export class SqliteEmbeddingCache {
  readonly #get;
  readonly #put;
  readonly #db: Db;

  constructor(db: Db) {
    this.#db = db;
    this.#get = db.prepare<[string, string], { dim: number; vector: Buffer }>(
      'SELECT dim, vector FROM embeddings WHERE model = ? AND text_hash = ?',
    );
    this.#put = db.prepare<[string, string, number, Buffer]>(
      'INSERT OR REPLACE INTO embeddings (model, text_hash, dim, vector) VALUES (?, ?, ?, ?)',
    );
  }

  /** Cached vectors for the given texts (missing ones are absent from the map). */
  getMany(model: string, texts: readonly string[]): Map<string, Float32Array> {
    const found = new Map<string, Float32Array>();
    for (const text of texts) {
      const row = this.#get.get(model, textHash(text));
      if (row)
        found.set(
          text,
          new Float32Array(row.vector.buffer.slice(row.vector.byteOffset, row.vector.byteOffset + row.dim * 4)),
        );
    }
    return found;
  }

  /** Stores vectors in one transaction. */
  putMany(model: string, entries: ReadonlyMap<string, Float32Array>): void {
    this.#db.transaction(() => {
      for (const [text, vector] of entries)
        this.#put.run(
          model,
          textHash(text),
          vector.length,
          Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength),
        );
    })();
  }
}
