/**
 * The vocabulary: one row per Porter2 stem that is frequent enough in the corpus (document
 * frequency), plus every stem of the MCP tool texts (product names such as github, postgres, s3,
 * kubernetes live there even when general text rarely says them). Every surface form seen for a
 * kept stem maps to that stem's row in tokenizer.json, which bakes stemming into the tokenizer;
 * WordNet lemmas and irregular forms (went -> go) widen the surface coverage for unseen queries.
 * Rows 0..2 are [PAD], [UNK] and [CLS].
 */
import { isStopword, isWordLike, stemOf, surfaceWords, Vocab } from './tokens.js';

/** Special rows, in order. */
export const SPECIALS = ['[PAD]', '[UNK]', '[CLS]'] as const;

/** Options for {@link buildVocab}. */
export interface VocabOptions {
  readonly maxRows: number;
  /** Minimum number of texts a stem must occur in (tool-text stems are exempt). */
  readonly minDf: number;
}

/** The vocabulary and each row's document frequency over `texts` (for IDF). */
export interface BuiltVocab {
  readonly vocab: Vocab;
  readonly df: Float64Array;
  readonly docs: number;
}

/** Builds the vocabulary from general texts, tool texts (always kept) and extra surface words. */
export function buildVocab(
  texts: readonly string[],
  toolTexts: readonly string[],
  extra: { lemmas: readonly string[]; exceptions: readonly [string, string][] },
  options: VocabOptions,
): BuiltVocab {
  const stemDf = new Map<string, number>();
  const surfaceCount = new Map<string, number>();
  const toolStems = new Set<string>();
  const count = (text: string, tool: boolean) => {
    const seen = new Set<string>();
    for (const w of surfaceWords(text)) {
      if (!isWordLike(w) || isStopword(w)) continue;
      surfaceCount.set(w, (surfaceCount.get(w) ?? 0) + 1);
      const s = stemOf(w);
      if (tool) toolStems.add(s);
      seen.add(s);
    }
    for (const s of seen) stemDf.set(s, (stemDf.get(s) ?? 0) + 1);
  };
  for (const t of texts) count(t, false);
  for (const t of toolTexts) count(t, true);
  const docs = texts.length + toolTexts.length;

  // Frequent stems first; ties broken by the stem itself so the order is reproducible.
  const ranked = [...stemDf.entries()]
    .filter(([s, df]) => df >= options.minDf || toolStems.has(s))
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  const kept = ranked.slice(0, options.maxRows - SPECIALS.length);
  const rows = [...SPECIALS, ...kept.map(([s]) => s)];
  const rowOf = new Map(rows.map((s, i) => [s, i]));
  const df = new Float64Array(rows.length);
  kept.forEach(([, d], i) => (df[i + SPECIALS.length] = d));

  const surface = new Map<string, number>();
  const add = (word: string, row: number | undefined) => {
    if (row !== undefined && !surface.has(word) && isWordLike(word) && !isStopword(word)) surface.set(word, row);
  };
  // Sorted so the tokenizer file is byte-identical across builds.
  for (const w of [...surfaceCount.keys()].sort()) add(w, rowOf.get(stemOf(w)));
  for (const lemma of [...extra.lemmas].sort()) for (const w of surfaceWords(lemma)) add(w, rowOf.get(stemOf(w)));
  for (const [inflected, base] of extra.exceptions) {
    const words = surfaceWords(base);
    if (words.length === 1 && !rowOf.has(stemOf(inflected))) add(inflected, rowOf.get(stemOf(words[0]!)));
  }
  return { vocab: new Vocab(rows, surface), df, docs };
}
