/**
 * Stoplists for the lexical index. `small` is the classic list of English function words that the
 * reference BM25 uses (DESIGN.md §7). `conversational` adds what agents wrap around a need when
 * they state it ("please could you help me get ..."): pronouns, auxiliaries, wh-words, fillers and
 * the conversational verbs measured to help (please, want, need, get, use, make).
 *
 * Entries are surface forms (matched before stemming), so inflections are listed explicitly and
 * the lists behave the same with stemming on or off.
 */

/** Which stoplist a tokenizer applies. */
export type StopwordMode = 'none' | 'small' | 'conversational';

const SMALL = 'a an the of to in on for and or is are be with by at from as it this that';

// Deliberately NOT stopped:
// - "find", "list", "search", "show", "create", ...: weak, but they tell list_issues from search_issues
//   and find_files from read_file; only "get" of the operation verbs was measured to help when stopped.
// - "us": it is also the country and the AWS region prefix (us-east-1).
// - "not", "all", "one": carry meaning in tool text often enough to keep.
const CONVERSATIONAL = [
  // pronouns and determiners
  'i me my mine myself we our ours ourselves you your yours yourself yourselves he him his she her hers',
  'its they them their theirs these those',
  // auxiliaries and modals
  'am was were been being have has had having do does did doing done will would shall should can could may might must',
  // wh-words
  'what which who whom whose when where why how whatever',
  // conversational verbs with their inflections
  'please pls kindly want wants wanted wanting need needs needed needing get gets getting got',
  'use uses used using make makes making made help helps helping like let lets know try trying able',
  // fillers and glue
  'hi hello hey thanks thank ok okay just also really some something somehow someone any anything',
  'tool tools thing things way so then there here if but than about into via',
].join(' ');

/** The stoplists by mode (read-only sets, built once). */
export const STOPWORDS: Readonly<Record<StopwordMode, ReadonlySet<string>>> = {
  none: new Set<string>(),
  small: new Set(SMALL.split(' ')),
  conversational: new Set(`${SMALL} ${CONVERSATIONAL}`.split(/\s+/)),
};
