/**
 * The REFERENCE lexical baseline of DESIGN.md §7, which every benchmark compares against: classic
 * BM25 over one bag of words made of the tool name (split), its description and its parameter
 * names; k1 1.2, b 0.75, no stemming, the small stoplist. Keep it plain: its value is being the
 * fixed point the tuned systems are measured from.
 */
import type { Hit, LexicalDocument, LexicalIndex } from '../types.js';
import { FieldedIndex } from './fielded.js';
import { createTokenizer, type StopwordMode } from './tokenize.js';

/** Options of the reference BM25 (defaults are the reference; change them only to experiment). */
export interface Bm25Options {
  readonly k1?: number;
  readonly b?: number;
  readonly stem?: boolean;
  readonly stopwords?: StopwordMode;
}

/** Classic single-field BM25 over name + description + parameter names; incremental. */
export class Bm25Index implements LexicalIndex {
  readonly #engine: FieldedIndex;

  constructor(options: Bm25Options = {}) {
    // One field of weight 1 makes the engine's BM25F exactly classic BM25.
    this.#engine = new FieldedIndex(
      { weights: [1], b: [options.b ?? 0.75], k1: options.k1 ?? 1.2 },
      createTokenizer({ stem: options.stem ?? false, stopwords: options.stopwords ?? 'small' }),
    );
  }

  get size(): number {
    return this.#engine.size;
  }

  upsert(doc: LexicalDocument): void {
    const { name, description, params } = doc.fields;
    this.#engine.upsert(doc.id, [[name, description, params].filter(Boolean).join('\n')]);
  }

  remove(id: string): boolean {
    return this.#engine.remove(id);
  }

  search(query: string, k: number, filter?: (id: string) => boolean): Hit[] {
    return this.#engine.search(query, k, filter);
  }
}
