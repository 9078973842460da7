/**
 * Text to words exactly as the shipped tokenizer will see them, so training and run time agree:
 * the product's own pre-normalisation (identifiers split, lowercased), then what tokenizer.json
 * declares (NFKD, accents stripped, lowercase; words = /\w+|[^\w\s]+/ as transformers.js's
 * "Whitespace" pre-tokenizer). Words map to Porter2 stems, as in the lexical index, so
 * "creates", "creating" and "created" share one row; stopwords get no row at all.
 */
import { stem as porter2 } from 'porter2';
import { normalizeForEmbedding } from '../../src/index/embedder/text.js';
import { STOPWORDS } from '../../src/index/lexical/stopwords.js';

/** The normaliser chain tokenizer.json declares, as a function. */
export function tokenizerNormalize(text: string): string {
  return text.normalize('NFKD').replace(/\p{M}/gu, '').toLowerCase();
}

/** Words of a text as the shipped tokenizer splits it (punctuation runs included). */
export function surfaceWords(text: string): string[] {
  return tokenizerNormalize(normalizeForEmbedding(text)).match(/\w+|[^\w\s]+/g) ?? [];
}

/** A word worth a row: letters/digits only, not too long, not a lone digit run longer than 4. */
export function isWordLike(word: string): boolean {
  return /^[a-z0-9]+$/.test(word) && word.length <= 30 && !/^\d{5,}$/.test(word) && word.length > 1;
}

// The product's embedded tool text always says "parameters: ..." (capabilityDoc), so the word tells
// tools apart no better than a stopword and would only pull every tool towards one direction.
const TEMPLATE_WORDS = new Set(['parameters', 'parameter']);

/** The lexical index's conversational stoplist (DESIGN.md §7) plus template words: rows never made for them. */
export function isStopword(word: string): boolean {
  return STOPWORDS.conversational.has(word) || TEMPLATE_WORDS.has(word);
}

const stems = new Map<string, string>();
/** The stem a word's row is shared under: Porter2 for purely alphabetic words, as the lexical index does. */
export function stemOf(word: string): string {
  let s = stems.get(word);
  if (s === undefined) {
    s = /^[a-z]+$/.test(word) ? porter2(word) : word;
    stems.set(word, s);
  }
  return s;
}

/** Surface word -> row id; what tokenizer.json's vocab holds. */
export class Vocab {
  readonly surface: Map<string, number>;
  /** Row names (the stem each row stands for), index = id. */
  readonly rows: readonly string[];

  constructor(rows: readonly string[], surface: Map<string, number>) {
    this.rows = rows;
    this.surface = surface;
  }

  /** Row ids of a text's known words (unknown words and stopwords drop out, as their rows are zero). */
  encode(text: string): Int32Array {
    const out: number[] = [];
    for (const w of surfaceWords(text)) {
      const id = this.surface.get(w);
      if (id !== undefined) out.push(id);
    }
    return Int32Array.from(out);
  }
}
