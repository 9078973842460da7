/**
 * The software-action lexicon: what a need asks to do and what a tool does, as one of a few dozen
 * action clusters (create/add/insert/register, delete/remove/forget, get/read/show, ...), each
 * known to read or to change things.
 *
 * Why a lexicon and not the embedding: the static model puts "add a row" and "delete a row" close
 * together (the object dominates), so siblings of one server (insert_record / delete_record) tie.
 * An action read off the tool's name, title or description and off the need's verbs separates
 * them, and the read/change kind lets the ranking tell a need that only looks from a tool that
 * writes. The clusters were curated from the verbs that lead the tool names of the MCP servers we
 * build the model from and of our own evaluation catalogs (each verb that starts at least three
 * tool names is in a cluster or deliberately left out: "open", "post", "run" and "new" mean too
 * many things to decide on their own), with the phrasal verbs people use for them.
 *
 * Pure: words in, actions out.
 */
import { words } from '../index/lexical/tokenize.js';

/** Whether doing the action reads or changes state. */
export type ActionKind = 'read' | 'change';

/** One action cluster. */
interface Cluster {
  readonly id: string;
  readonly kind: ActionKind;
  /** Verbs (surface forms; inflections match through their stems). */
  readonly verbs: readonly string[];
  /** Multi-word forms, matched on the need's words in order. */
  readonly phrases?: readonly string[];
  /** Clusters close enough that a need for one is often served by the other. */
  readonly related?: readonly string[];
}

const CLUSTERS: readonly Cluster[] = [
  {
    id: 'create',
    kind: 'change',
    verbs: [
      'create',
      'add',
      'insert',
      'register',
      'generate',
      'build',
      'provision',
      'spawn',
      'append',
      'write',
      'upsert',
    ],
    phrases: ['set up', 'sign up', 'put in', 'make a new', 'make new', 'open a new'],
    related: ['remember', 'upload', 'send'],
  },
  {
    id: 'delete',
    kind: 'change',
    verbs: ['delete', 'remove', 'drop', 'purge', 'forget', 'erase', 'destroy', 'discard', 'unregister', 'trash'],
    phrases: ['get rid of', 'take off', 'take out', 'throw away', 'clean up', 'wipe out'],
    related: ['stop'],
  },
  {
    id: 'read',
    kind: 'read',
    verbs: ['get', 'read', 'show', 'describe', 'fetch', 'retrieve', 'view', 'display', 'inspect', 'see', 'recall'],
    phrases: ['look at', 'pull up', 'tell me', 'what is', 'what are', 'what does', 'how does', 'give me'],
    related: ['search', 'list', 'download', 'check'],
  },
  {
    id: 'list',
    kind: 'read',
    verbs: ['list', 'enumerate', 'browse'],
    phrases: ['show all', 'show me all', 'what are all'],
    related: ['read', 'search'],
  },
  {
    id: 'search',
    kind: 'read',
    verbs: ['search', 'find', 'query', 'lookup', 'locate', 'seek', 'filter', 'grep', 'discover'],
    phrases: ['look up', 'look for', 'find out', 'is there', 'are there'],
    related: ['read', 'list'],
  },
  {
    id: 'check',
    kind: 'read',
    verbs: ['check', 'verify', 'validate', 'test', 'ping', 'monitor', 'watch', 'audit'],
    phrases: ['how many', 'how much', 'is it'],
    related: ['read'],
  },
  {
    id: 'update',
    kind: 'change',
    verbs: [
      'update',
      'edit',
      'modify',
      'set',
      'patch',
      'change',
      'alter',
      'tweak',
      'adjust',
      'rename',
      'replace',
      'overwrite',
      'commit',
      'apply',
    ],
    phrases: ['fix up', 'no longer'],
    related: ['create'],
  },
  {
    id: 'revert',
    kind: 'change',
    verbs: ['revert', 'rollback', 'undo', 'restore', 'recover'],
    phrases: ['roll back', 'put back', 'go back', 'bring back'],
  },
  {
    id: 'deploy',
    kind: 'change',
    verbs: ['deploy', 'release', 'publish', 'ship', 'launch', 'promote'],
    phrases: ['roll out', 'push live', 'go live'],
  },
  {
    id: 'remember',
    kind: 'change',
    verbs: ['remember', 'store', 'save', 'memorize', 'keep', 'persist', 'record'],
    phrases: ['write down', 'keep track', 'make a note'],
    related: ['create', 'update'],
  },
  {
    id: 'send',
    kind: 'change',
    verbs: ['send', 'notify', 'email', 'mail', 'reply', 'share', 'broadcast', 'tweet', 'dm'],
    phrases: ['let know', 'reach out'],
    related: ['create'],
  },
  {
    id: 'move',
    kind: 'change',
    verbs: ['move', 'transfer', 'relocate'],
    related: ['update'],
  },
  {
    id: 'copy',
    kind: 'change',
    verbs: ['copy', 'duplicate', 'clone', 'fork', 'mirror'],
    related: ['create'],
  },
  {
    id: 'run',
    kind: 'change',
    verbs: ['execute', 'exec', 'invoke', 'trigger', 'start', 'restart', 'rerun'],
    phrases: ['kick off', 'fire off'],
  },
  {
    id: 'stop',
    kind: 'change',
    verbs: ['stop', 'cancel', 'kill', 'abort', 'halt', 'terminate', 'pause', 'suspend', 'disable'],
    phrases: ['shut down', 'turn off', 'call off'],
    related: ['delete', 'close'],
  },
  {
    id: 'close',
    kind: 'change',
    verbs: ['close', 'resolve', 'archive', 'finish', 'lock'],
    phrases: ['mark as done', 'mark done'],
    related: ['update', 'stop'],
  },
  {
    id: 'download',
    kind: 'read',
    verbs: ['download', 'export', 'scrape', 'crawl', 'extract', 'capture', 'screenshot'],
    related: ['read'],
  },
  {
    id: 'upload',
    kind: 'change',
    verbs: ['upload', 'import', 'push', 'attach', 'sync'],
    related: ['create'],
  },
  {
    id: 'merge',
    kind: 'change',
    verbs: ['merge', 'combine', 'approve', 'accept'],
  },
  {
    id: 'compare',
    kind: 'read',
    verbs: ['compare', 'diff', 'contrast'],
    related: ['check'],
  },
  {
    id: 'compute',
    kind: 'read',
    verbs: ['calculate', 'compute', 'sum', 'count', 'convert', 'translate', 'summarize', 'analyze', 'estimate'],
    phrases: ['work out', 'add up'],
  },
  {
    id: 'schedule',
    kind: 'change',
    verbs: ['schedule', 'book', 'reserve', 'invite'],
    related: ['create'],
  },
  {
    id: 'assign',
    kind: 'change',
    verbs: ['assign', 'grant', 'authorize', 'allow', 'revoke', 'subscribe', 'follow', 'star'],
    related: ['update'],
  },
  {
    id: 'pay',
    kind: 'change',
    verbs: ['pay', 'charge', 'refund', 'invoice', 'bill', 'buy', 'purchase'],
    related: ['create'],
  },
];

/** An action found in a text, with its kind. */
export interface Action {
  readonly id: string;
  readonly kind: ActionKind;
}

/** What a need asks to do: its actions (first stated first) and whether it only reads or changes. */
export interface NeedActions {
  readonly actions: readonly Action[];
  /** undefined when the need states no action and no question. */
  readonly intent: ActionKind | undefined;
}

/** Words that open a question: a need phrased as one looks at something unless a verb says otherwise. */
const QUESTION_OPENERS = new Set([
  'what',
  'which',
  'who',
  'whom',
  'whose',
  'where',
  'when',
  'how',
  'is',
  'are',
  'does',
  'do',
  'did',
  'was',
  'were',
  'has',
  'have',
  'can',
  'could',
]);

/**
 * The inflections of a verb: base, third person, past and present participle ("stop": stops,
 * stopped, stopping; "create": creates, created, creating). Matching on these and not on stems
 * keeps nouns out: "deployment" and "replacement" stem to verbs but are not inflections of them.
 */
function inflections(verb: string): string[] {
  const out = [verb, `${verb}s`, `${verb}es`, `${verb}ed`, `${verb}d`, `${verb}ing`];
  if (verb.endsWith('e')) out.push(`${verb.slice(0, -1)}ing`);
  if (verb.endsWith('y') && !/[aeiou]y$/.test(verb)) out.push(`${verb.slice(0, -1)}ies`, `${verb.slice(0, -1)}ied`);
  // A short verb ending consonant-vowel-consonant doubles it: stop -> stopped, drop -> dropping.
  if (/^[^aeiou]*[aeiou][bdgklmnprt]$/.test(verb)) out.push(`${verb}${verb.at(-1)}ed`, `${verb}${verb.at(-1)}ing`);
  return out;
}

/** Words after which a verb form is read as a noun (determiners and prepositions other than "to"). */
const DETERMINERS = new Set([
  'the',
  'a',
  'an',
  'my',
  'our',
  'your',
  'his',
  'her',
  'its',
  'their',
  'this',
  'that',
  'these',
  'those',
  'old',
  'new',
  'latest',
  'last',
  'each',
  'every',
  'by',
  'via',
  'with',
  'of',
  'for',
  'from',
  'in',
  'on',
  'at',
  'per',
]);

/** After a question opener (or its auxiliary), these make it a request to act ("can you ...", "how do I ..."). */
const ASKING = new Set(['you', 'we', 'i', 'u']);

/** Auxiliaries between an opener and the person asked ("how do I", "what can we", "where should I"). */
const AUXILIARIES = new Set(['do', 'does', 'can', 'could', 'would', 'will', 'should', 'shall', 'may', 'might', 'must']);

/** Openers that ask how to do something ("how to ...", "is there a way to ..."). */
const HOW_TO: readonly (readonly string[])[] = [
  ['how', 'to'],
  ['is', 'there', 'a', 'way'],
  ['is', 'there', 'any', 'way'],
];

/** The lexicon, indexed for lookups by word form and by phrase. */
export class ActionLexicon {
  /** Base forms only (tool names are imperative: create_issue, issues.list). */
  readonly #base = new Map<string, Cluster>();
  /** Every inflection (needs and descriptions: "Creates a ...", "I deleted ..."). */
  readonly #forms = new Map<string, Cluster>();
  readonly #phrases: { words: readonly string[]; cluster: Cluster }[] = [];
  readonly #byId = new Map<string, Cluster>();

  constructor(clusters: readonly Cluster[] = CLUSTERS) {
    for (const c of clusters) {
      this.#byId.set(c.id, c);
      for (const verb of c.verbs) {
        if (!this.#base.has(verb)) this.#base.set(verb, c);
        for (const form of inflections(verb)) if (!this.#forms.has(form)) this.#forms.set(form, c);
      }
      for (const p of c.phrases ?? []) this.#phrases.push({ words: p.split(' '), cluster: c });
    }
    // Longest phrase first, so "show me all" wins over "show".
    this.#phrases.sort((a, b) => b.words.length - a.words.length);
  }

  /** The verbs of a cluster (for generated example needs). */
  verbsOf(id: string): readonly string[] {
    return this.#byId.get(id)?.verbs ?? [];
  }

  /** The phrasal forms of a cluster. */
  phrasesOf(id: string): readonly string[] {
    return this.#byId.get(id)?.phrases ?? [];
  }

  /** The clusters related to one (for a softer match). */
  relatedTo(id: string): readonly string[] {
    return this.#byId.get(id)?.related ?? [];
  }

  /** True when a need for `want` is plausibly served by a tool doing `has`. */
  related(want: string, has: string): boolean {
    return this.relatedTo(want).includes(has) || this.relatedTo(has).includes(want);
  }

  /** The cluster of one word, if it is an action verb (any inflection, or the base form only). */
  actionOfWord(word: string, baseOnly = false): Action | undefined {
    const lower = word.toLowerCase();
    const c = baseOnly ? this.#base.get(lower) : this.#forms.get(lower);
    return c ? { id: c.id, kind: c.kind } : undefined;
  }

  /** Every action stated in a text, in order of first appearance (phrases before their words). */
  actionsIn(text: string, limit = 8): Action[] {
    const ws = words(text);
    const out: Action[] = [];
    const seen = new Set<string>();
    const push = (c: Cluster | Action) => {
      if (seen.has(c.id) || out.length >= limit) return;
      seen.add(c.id);
      out.push({ id: c.id, kind: c.kind });
    };
    for (let i = 0; i < ws.length; i++) {
      const phrase = this.#phrases.find((p) => p.words.every((w, j) => ws[i + j] === w));
      if (phrase) {
        push(phrase.cluster);
        i += phrase.words.length - 1;
        continue;
      }
      // After a determiner or preposition a verb form is a noun: "the build folder", "by email".
      if (i > 0 && DETERMINERS.has(ws[i - 1] ?? '')) continue;
      const action = this.actionOfWord(ws[i] ?? '');
      if (action) push(action);
    }
    return out;
  }

  /**
   * What a need asks to do. A question about the world ("is there ...", "which images ...", "did
   * Microsoft beat ...") only looks, whatever nouns that look like verbs it contains ("charges",
   * "per-share"); a question that asks the agent to act ("can you delete ...", "could we add ...")
   * is read by its verbs like any request.
   */
  need(text: string): NeedActions {
    const actions = this.actionsIn(text);
    const ws = words(text);
    const first = ws[0];
    const question = first !== undefined && QUESTION_OPENERS.has(first);
    // "can you delete ...", "how do I create ...", "is there a way to remove ...": the person asks
    // how to act, a request, not a question about the world. The person asked must follow the
    // opener or its auxiliary: "which folders are you allowed to ..." is about the world.
    const asks = (at: number) => ASKING.has(ws[at] ?? '');
    const request =
      question &&
      (asks(1) || (AUXILIARIES.has(ws[1] ?? '') && asks(2)) || HOW_TO.some((p) => p.every((w, i) => ws[i] === w)));
    // A request that changes anything changes ("is there a way to remove": "is there" reads alone).
    const intent: ActionKind | undefined =
      question && !request
        ? 'read'
        : request && actions.some((a) => a.kind === 'change')
          ? 'change'
          : (actions[0]?.kind ?? (question ? 'read' : undefined));
    return { actions, intent };
  }

  /**
   * What a tool does: the first action verb of its name, else of its title, else among the first
   * words of its description (tool descriptions open with their verb: "Creates a ...").
   */
  tool(name: string, title: string | undefined, description: string | undefined): Action | undefined {
    for (const text of [name, title ?? '']) {
      for (const word of words(text)) {
        const action = this.actionOfWord(word, true);
        if (action) return action;
      }
    }
    for (const word of words(description ?? '').slice(0, 3)) {
      const action = this.actionOfWord(word);
      if (action) return action;
    }
    return undefined;
  }
}
