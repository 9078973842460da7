/**
 * Hard negatives and action pairs for training (issue 15, item 1), all derived from the harvested
 * MCP tool names and the product's action lexicon (src/router/actions.ts, read-only):
 *
 * - every tool name is read as action + object ("create_issue" -> create / issue), so a tool pair
 *   gets explicit hard negatives: tools that share its object but not its action (close_issue,
 *   delete_issue), from its own server first, else from any server; and an object group, so on
 *   some draws it is batched with the tools of every server that share its object;
 * - action pairs: the same action stated with two synonym verbs over the same object ("add the
 *   record" / "insert the record"), whose negatives state another action on it ("delete the record").
 *
 * Why: the static model embeds a sentence as a weighted sum of its words, and the object word
 * dominates, so "add a row" and "delete a row" land together and a sibling tool of the right server
 * wins. Contrast on exactly those cases is what moves the verb rows apart. Nothing under data/eval
 * or ../shared/eval is read: objects come from the training servers' tool names only.
 */
import { prng, type Random, shuffle } from '../../src/core/prng.js';
import { ActionLexicon } from '../../src/router/actions.js';
import type { NegativeText, Pair } from './corpus-debian.js';
import type { HarvestResult } from './corpus-mcp.js';
import { isStopword, stemOf } from './tokens.js';

/** A tool name read as action + object. */
export interface ToolReading {
  readonly pkg: string;
  readonly name: string;
  /** The action cluster of the first action verb of the name. */
  readonly action: string;
  /** The object words after the verb as written ("file contents"), and their stems (the grouping key). */
  readonly object: string;
  readonly objectKey: string;
}

/** Clusters generated for every object, attested or not: what any record-like thing admits. */
const CORE_ACTIONS = ['create', 'delete', 'read', 'list', 'update', 'search'] as const;

/** Phrasal forms opening with these are questions or odd out of context ("what is the record", "no longer"). */
const PHRASE_SKIP = new Set(['what', 'how', 'is', 'are', 'no', 'tell']);

/** A name's words as written: identifiers split at separators and case changes, lowercased. */
function nameWords(name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
}

/**
 * Reads a tool name as action + object: the first word that is an action verb (base form), then
 * up to three following words, stopping at a stopword or another verb ("list_issues_for_repo" ->
 * list / issues). Names with no verb or no object ("browser_navigate", "kubectl_get") give none.
 */
export function readToolName(lexicon: ActionLexicon, name: string): { action: string; object: string } | undefined {
  const ws = nameWords(name);
  const at = ws.findIndex((w) => lexicon.actionOfWord(w, true) !== undefined);
  if (at < 0) return undefined;
  const object: string[] = [];
  for (const w of ws.slice(at + 1)) {
    if (isStopword(w) || lexicon.actionOfWord(w, true) || !/^[a-z]{2,}$/.test(w) || object.length === 3) break;
    object.push(w);
  }
  if (!object.length) return undefined;
  return { action: lexicon.actionOfWord(ws[at]!, true)!.id, object: object.join(' ') };
}

/** Every harvested tool that reads as action + object. */
export function readTools(results: readonly HarvestResult[], lexicon = new ActionLexicon()): ToolReading[] {
  const out: ToolReading[] = [];
  for (const r of results) {
    if (r.skipped) continue;
    for (const t of r.tools) {
      const read = readToolName(lexicon, t.name);
      if (read)
        out.push({ pkg: r.pkg, name: t.name, ...read, objectKey: read.object.split(' ').map(stemOf).join(' ') });
    }
  }
  return out;
}

/**
 * Hard negatives of one tool: tools with its object (else its object's head noun) and another
 * action, of its own server where there are any (the sibling that steals the need), else of any
 * server; at most `limit`.
 */
export function siblingNegatives(
  tool: ToolReading,
  readings: readonly ToolReading[],
  text: (pkg: string, name: string) => { a: string; b: string } | undefined,
  limit = 8,
): NegativeText[] {
  // The whole object first ("pull request"), else its head noun ("latest pipeline status" ~ "status").
  const head = (key: string) => key.split(' ').at(-1);
  let others = readings.filter((r) => r.objectKey === tool.objectKey && r.action !== tool.action);
  if (!others.length)
    others = readings.filter((r) => head(r.objectKey) === head(tool.objectKey) && r.action !== tool.action);
  const own = others.filter((r) => r.pkg === tool.pkg);
  const out: NegativeText[] = [];
  for (const r of (own.length ? own : others).slice(0, limit)) {
    const t = text(r.pkg, r.name);
    if (t) out.push({ ...t, meaning: `tool:${r.pkg}/${r.name}` });
  }
  return out;
}

const pick = <T>(items: readonly T[], random: Random): T => items[Math.floor(random() * items.length)]!;

/** Options for {@link actionPairs}. */
export interface ActionPairOptions {
  readonly seed: number;
  /** Pairs generated per (object, action). */
  readonly perAction: number;
  /** Negatives kept per pair (other actions on the same object). */
  readonly negatives: number;
}

/**
 * Action pairs over the objects of the tool names: for each object, the actions attested on it in
 * some tool name plus the core ones (create, delete, read, list, update, search); per action,
 * two different verbs (or phrasal forms) of its cluster make a positive pair, and the other actions
 * on the object that the lexicon does not call related (create ~ remember are) are its negatives.
 */
export function actionPairs(
  readings: readonly ToolReading[],
  options: ActionPairOptions,
  lexicon = new ActionLexicon(),
): Pair[] {
  const random = prng(options.seed);
  const objects = new Map<string, { surface: string; actions: Set<string> }>();
  for (const r of [...readings].sort((x, y) => (x.objectKey < y.objectKey ? -1 : x.objectKey > y.objectKey ? 1 : 0))) {
    const o = objects.get(r.objectKey) ?? { surface: r.object, actions: new Set<string>(CORE_ACTIONS) };
    o.actions.add(r.action);
    objects.set(r.objectKey, o);
  }
  const forms = (id: string) => [
    ...lexicon.verbsOf(id),
    ...lexicon.phrasesOf(id).filter((p) => !PHRASE_SKIP.has(p.split(' ')[0]!)),
  ];
  const say = (verb: string, object: string) => (random() < 0.5 ? `${verb} the ${object}` : `${verb} ${object}`);
  const pairs: Pair[] = [];
  for (const [key, o] of objects) {
    const actions = [...o.actions].sort();
    for (const action of actions) {
      const verbs = forms(action);
      if (verbs.length < 2) continue;
      const against = actions.filter((x) => x !== action && !lexicon.related(action, x));
      for (let n = 0; n < options.perAction; n++) {
        const first = pick(verbs, random);
        let second = pick(verbs, random);
        while (second === first) second = pick(verbs, random);
        const negatives = shuffle([...against], random)
          .slice(0, options.negatives)
          .map((x) => {
            const text = say(pick(forms(x), random), o.surface);
            return { a: text, b: text, meaning: `action:${x}|${key}` };
          });
        pairs.push({
          a: say(first, o.surface),
          b: say(second, o.surface),
          source: 'action',
          meaning: `action:${action}|${key}`,
          ...(negatives.length ? { negatives } : {}),
        });
      }
    }
  }
  return pairs;
}
