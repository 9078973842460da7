/**
 * Example needs generated at index time from a tool's own text: a doc2query without a language
 * model. A tool named `insert_record` is indexed as well under the other verbs of its action
 * ("create add register ... record"), so a need saying "add a row" meets the tool that inserts and
 * not its sibling that deletes, and a need in plain words ("remember that ...") meets the tool
 * whose name says "create". The verbs come from the action lexicon (actions.ts); the object is the
 * rest of the tool's name (or of its title).
 *
 * Pure: a tool's text in, one line of example words out.
 */
import { wordGroups } from '../index/lexical/tokenize.js';
import type { ActionLexicon } from './actions.js';

/** The lower-case words of an identifier or title, split as the tokenizer splits them (parts, not the joined form). */
function nameWords(text: string): string[] {
  return wordGroups(text).flatMap((group) => (group.length > 1 ? group.slice(0, -1) : group));
}

/** Verbs taken from the tool's own cluster, and from each related cluster. */
const OWN_VERBS = 8;
const RELATED_VERBS = 3;

/**
 * The generated example line of a tool ([] when its name states no action the lexicon knows):
 * the verbs of its action and of the closest related actions, followed by its object words.
 */
export function generatedNeeds(
  lexicon: ActionLexicon,
  tool: { readonly name: string; readonly title?: string | undefined; readonly description?: string | undefined },
): string[] {
  const action = lexicon.tool(tool.name, tool.title, tool.description?.slice(0, 80));
  if (!action) return [];
  const own = new Set([...nameWords(tool.name), ...nameWords(tool.title ?? '')]);
  const object = nameWords(tool.name).filter((w) => lexicon.actionOfWord(w)?.id !== action.id);
  const fallback = nameWords(tool.title ?? '').filter((w) => lexicon.actionOfWord(w)?.id !== action.id);
  const objectWords = object.length ? object : fallback;
  const verbs = [
    ...lexicon.verbsOf(action.id).slice(0, OWN_VERBS),
    ...lexicon.relatedTo(action.id).flatMap((r) => lexicon.verbsOf(r).slice(0, RELATED_VERBS)),
  ].filter((v) => !own.has(v));
  if (!verbs.length) return [];
  return [[...new Set(verbs), ...objectWords].join(' ')];
}
