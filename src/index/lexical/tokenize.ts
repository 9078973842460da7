/**
 * The tokenizer shared by tool text and queries, so both meet the same terms.
 *
 * Choices (each for a reason):
 * - Any character that is not a letter or digit separates words, which covers identifier
 *   separators (`_ - . / :`) as well as punctuation.
 * - Case changes split identifiers (`getUserById` -> get user by id, `HTTPServer` -> http server),
 *   and the joined word is kept too (`GitHub` -> git hub github), because brand names are written
 *   in camelCase as often as identifiers are: a query saying "github" must still meet "GitHub".
 * - Letter-digit runs in one case stay whole (`s3`, `k8s`, `ec2`, `oauth2`, `sha256`): they are
 *   product and protocol names, and split halves ("s", "3") mean nothing. A digit before an
 *   upper-case letter is a case change (`s3Bucket` -> s3 bucket s3bucket).
 * - Plural acronyms stay whole (`URLs` -> urls, not "u rls"; `getUserIDs` -> get user ids).
 * - Contractions lose their clitic (`user's` -> user, `I'd` -> i, `don't` -> do), so "I'd" never
 *   becomes the content word "id".
 * - Stopwords are matched on the lower-cased surface form; stemming (Porter2) applies to purely
 *   alphabetic tokens only, so `k8s` stays `k8s`.
 */
import { stem as porter2 } from 'porter2';
import { STOPWORDS, type StopwordMode } from './stopwords.js';

export type { StopwordMode } from './stopwords.js';

/** How text becomes terms. */
export interface TokenizeOptions {
  /** Reduce words to their Porter2 (Snowball English) stems. */
  readonly stem: boolean;
  /** Which stoplist to drop. */
  readonly stopwords: StopwordMode;
}

/** The product's settings (DESIGN.md §7): stemmed, conversational stoplist. */
export const DEFAULT_TOKENIZE: TokenizeOptions = { stem: true, stopwords: 'conversational' };

const STEM_CACHE_LIMIT = 100_000;

/**
 * Porter2 with a bounded memo (catalog vocabularies repeat; queries bring few new words). Only
 * purely alphabetic words are stemmed: `k8s`, `s3` and non-Latin words pass through unchanged.
 */
export class Stemmer {
  readonly #cache = new Map<string, string>();

  stem(word: string): string {
    let out = this.#cache.get(word);
    if (out === undefined) {
      // Bounded so a long-running gateway fed with endless new query words does not grow forever.
      if (this.#cache.size >= STEM_CACHE_LIMIT) this.#cache.clear();
      out = ALPHA.test(word) ? porter2(word) : word;
      this.#cache.set(word, out);
    }
    return out;
  }
}

const CONTRACTIONS: readonly [RegExp, string][] = [
  [/\bcan['’]t\b/gi, 'can not'],
  [/\bwon['’]t\b/gi, 'will not'],
  [/n['’]t\b/gi, ' not'],
  [/['’](s|d|ll|m|re|ve)\b/gi, ''],
  [/['’]/g, ''],
];
const SEPARATORS = /[^\p{L}\p{N}]+/u;
const INNER_UPPER = /.\p{Lu}/u; // an upper-case letter after the first character
const APOSTROPHE = /['’]/;
const PLURAL_ACRONYM = /(\p{Lu}{2,}s)(?=\p{Lu}|$)/gu;
const ALPHA = /^[a-z]+$/;

/** Splits one word at case changes; [] when it has none. */
function caseParts(word: string): string[] {
  if (!INNER_UPPER.test(word) || word === word.toUpperCase()) return [];
  const parts: string[] = [];
  for (const chunk of word.replace(PLURAL_ACRONYM, ' $1 ').split(' ')) {
    if (!chunk) continue;
    if (/^\p{Lu}{2,}s$/u.test(chunk)) {
      parts.push(chunk);
      continue;
    }
    const split = chunk
      .replace(/(\p{Ll})(\p{Lu})/gu, '$1 $2')
      .replace(/(\p{Lu}+)(\p{Lu}\p{Ll})/gu, '$1 $2')
      .replace(/(\p{N})(\p{Lu})/gu, '$1 $2');
    parts.push(...split.split(' '));
  }
  return parts.length > 1 ? parts : [];
}

/**
 * The raw lower-cased words of a text grouped by the word they came from: an identifier split at
 * case changes gives its parts followed by the joined word (`GitHub` -> [git, hub, github]), any
 * other word a group of one.
 */
export function wordGroups(text: string): string[][] {
  let clean = text;
  // Most texts have no apostrophe: skip five regex passes for them (indexing 100k tools is tokenizer-bound).
  if (APOSTROPHE.test(clean))
    for (const [pattern, replacement] of CONTRACTIONS) clean = clean.replace(pattern, replacement);
  const out: string[][] = [];
  for (const word of clean.split(SEPARATORS)) {
    if (!word) continue;
    const lower = word.toLowerCase();
    // Only a word with an upper-case letter can have case changes (most words have none).
    const parts = lower !== word ? caseParts(word) : [];
    out.push(parts.length ? [...parts.map((p) => p.toLowerCase()), lower] : [lower]);
  }
  return out;
}

/** The raw lower-cased words of a text, identifiers split (before stoplist and stemming). */
export function words(text: string): string[] {
  return wordGroups(text).flat();
}

/**
 * Builds a tokenizer; it shares `stemmer` when given, else owns a fresh stem cache. With `known`
 * (a query tokenizer over an index's vocabulary), a word split at case changes whose joined form
 * the index knows stays whole: "GitHub" in a need then means the product "github" and not also
 * "git" and "hub", whose "hub" would match HubSpot. Unknown joined forms still split.
 */
export function createTokenizer(
  options: TokenizeOptions = DEFAULT_TOKENIZE,
  stemmer: Stemmer = new Stemmer(),
  known?: (term: string) => boolean,
): (text: string) => string[] {
  const stop = STOPWORDS[options.stopwords];
  const stems = options.stem ? stemmer : undefined;
  const term = (word: string) => (stems ? stems.stem(word) : word);
  return (text) => {
    const out: string[] = [];
    for (const group of wordGroups(text)) {
      const joined = group[group.length - 1] ?? '';
      if (known && group.length > 1 && !stop.has(joined) && known(term(joined))) {
        out.push(term(joined));
        continue;
      }
      for (const word of group) if (!stop.has(word)) out.push(term(word));
    }
    return out;
  };
}

// The one module-level object: a memo of a pure function (bounded), so it changes no result and
// lets the free `tokenize` below be called per text without re-stemming the same words.
const SHARED_STEMMER = new Stemmer();

/** Tokenizes `text`: terms in order, repeats kept, stopwords dropped, stemmed if asked. */
export function tokenize(text: string, options: TokenizeOptions = DEFAULT_TOKENIZE): string[] {
  return createTokenizer(options, SHARED_STEMMER)(text);
}
