/**
 * The embedding cache: vectors keyed by model id and a hash of the exact text embedded, so restarts
 * and catalog refreshes re-embed only tools whose text changed (and a model change re-embeds all).
 * A cache is bound to one tenant: no tenant's cache entries (which reveal the texts it embedded) are
 * read by another, at the price of embedding a text shared by two tenants twice.
 */
import { createHash } from 'node:crypto';
import { DEFAULT_TENANT } from '../core/principal.js';
import type { Db } from './db.js';

/** Hash of a text as stored in the cache. */
export function textHash(text: string): string {
  return createHash('sha256').update(text).digest('base64url').slice(0, 32);
}

/** SQLite-backed embedding cache for one tenant (structurally the `EmbeddingCache` port of index/). */
export class SqliteEmbeddingCache {
  /** The tenant whose entries this instance reads and writes. */
  readonly tenant: string;
  readonly #get;
  readonly #put;
  readonly #db: Db;

  constructor(db: Db, tenant: string = DEFAULT_TENANT) {
    this.#db = db;
    this.tenant = tenant;
    this.#get = db.prepare<[string, string, string], { dim: number; vector: Buffer }>(
      'SELECT dim, vector FROM embeddings WHERE tenant = ? AND model = ? AND text_hash = ?',
    );
    this.#put = db.prepare<[string, string, string, number, Buffer]>(
      'INSERT OR REPLACE INTO embeddings (tenant, model, text_hash, dim, vector) VALUES (?, ?, ?, ?, ?)',
    );
  }

  /** Cached vectors for the given texts (missing ones are absent from the map). */
  getMany(model: string, texts: readonly string[]): Map<string, Float32Array> {
    const found = new Map<string, Float32Array>();
    for (const text of texts) {
      const row = this.#get.get(this.tenant, model, textHash(text));
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
          this.tenant,
          model,
          textHash(text),
          vector.length,
          Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength),
        );
    })();
  }
}
