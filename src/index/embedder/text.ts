/**
 * Text normalisation before embedding: identifiers are split (camelCase, snake_case, dotted and
 * kebab names) and everything is lowercased, so `createPullRequest` and "create pull request" meet
 * the same tokens in any model's vocabulary.
 */

/** Splits identifiers and lowercases; collapses whitespace. */
export function normalizeForEmbedding(text: string): string {
  return text
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .replace(/[_\-./:]+/g, ' ')
    .toLowerCase()
    .replace(/\s+/g, ' ')
    .trim();
}
