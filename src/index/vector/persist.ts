/**
 * Keeps the vector index on disk between runs, under the store's folder (data/vectors/ by
 * default): the index file of either kind plus a manifest naming the model and dimension that
 * built it and the text hash behind each vector. A restart loads the index instead of rebuilding
 * it (HNSW construction is the slow part at 100k tools); a manifest from another model or
 * dimension, or an unreadable file, is ignored and the index is rebuilt (and then overwritten).
 *
 * Writes go to temporary names first and are renamed into place, so a crash mid-save leaves the
 * previous copy intact.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { VectorIndex } from '../types.js';
import { loadVectorIndex } from './factory.js';

/** A saved index with the text hash behind each id. */
export interface SavedVectors {
  readonly index: VectorIndex;
  readonly keys: ReadonlyMap<string, string>;
}

/** Where the capability index keeps its vectors between runs. */
export interface VectorSnapshotStore {
  /** The index saved for `model` at `dim`, if there is a readable one. */
  load(model: string, dim: number): SavedVectors | undefined;
  /** Saves `index` as the copy for `model`. */
  save(model: string, index: VectorIndex, keys: ReadonlyMap<string, string>): void;
}

interface Manifest {
  readonly version: 1;
  readonly model: string;
  readonly dim: number;
  readonly kind: VectorIndex['kind'];
  readonly size: number;
  readonly savedAt: string;
  readonly keys: Record<string, string>;
}

/** Saves one index per model in a folder. */
export class FileVectorStore implements VectorSnapshotStore {
  readonly #dir: string;
  readonly #onError: (error: Error, what: string) => void;

  constructor(dir: string, onError: (error: Error, what: string) => void = () => {}) {
    this.#dir = dir;
    this.#onError = onError;
  }

  #base(model: string): string {
    return join(this.#dir, model.replace(/[^A-Za-z0-9_.-]/g, '_'));
  }

  load(model: string, dim: number): SavedVectors | undefined {
    const base = this.#base(model);
    if (!existsSync(`${base}.manifest.json`)) return undefined;
    try {
      const manifest = JSON.parse(readFileSync(`${base}.manifest.json`, 'utf8')) as Manifest;
      if (manifest.version !== 1 || manifest.model !== model || manifest.dim !== dim) return undefined;
      const index = loadVectorIndex(`${base}.${manifest.kind}`);
      if (index.dim !== dim || index.kind !== manifest.kind) return undefined;
      return { index, keys: new Map(Object.entries(manifest.keys)) };
    } catch (error) {
      this.#onError(error as Error, `loading ${base}`);
      return undefined;
    }
  }

  save(model: string, index: VectorIndex, keys: ReadonlyMap<string, string>): void {
    const base = this.#base(model);
    try {
      mkdirSync(this.#dir, { recursive: true });
      const file = `${base}.${index.kind}`;
      index.save(`${file}.tmp`);
      renameSync(`${file}.tmp`, file);
      if (existsSync(`${file}.tmp.json`)) renameSync(`${file}.tmp.json`, `${file}.json`);
      const other = `${base}.${index.kind === 'hnsw' ? 'exact' : 'hnsw'}`;
      rmSync(other, { force: true });
      rmSync(`${other}.json`, { force: true });
      const manifest: Manifest = {
        version: 1,
        model,
        dim: index.dim,
        kind: index.kind,
        size: index.size,
        savedAt: new Date().toISOString(),
        keys: Object.fromEntries(keys),
      };
      writeFileSync(`${base}.manifest.json.tmp`, JSON.stringify(manifest));
      renameSync(`${base}.manifest.json.tmp`, `${base}.manifest.json`);
    } catch (error) {
      this.#onError(error as Error, `saving ${base}`);
    }
  }
}
