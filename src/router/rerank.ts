/**
 * The learned reranker and abstainer over the fused top candidates (issue 15).
 *
 * Fusion ranks on two similarities; most wrong first answers are a sibling tool of the right one
 * (same server, same object, another action) or a tool of another product the need did not name.
 * The reranker rescores the top `pool` fused candidates with a linear model over evidence fusion
 * does not see: the coverage of the need per field of the tool, the need's action against the
 * tool's, the need's read/change intent against the tool's hints, whether the need names the
 * tool's server (soft: a feature, never a filter), and the fused z-scores themselves. The
 * abstainer is a logistic model over the reranked list (top score, margin, share of the need the
 * best tool covers, action agreement) that says whether any tool serves the need.
 *
 * Both are fitted offline (`npm run model:rerank`, scripts/model/rerank.ts) on the dev half of our
 * evaluation set, and their weights ship in models/switchboard-rerank-v1.json. Pure apart from
 * the file read in `loadRerankModel`.
 */
import { readFileSync } from 'node:fs';
import type { IndexCandidate } from '../index/capability-index.js';
import { ActionLexicon, type ActionKind, type NeedActions } from './actions.js';
import type { Fused } from './fusion.js';

/** The per-candidate features, in the order of a weight vector. */
export const CANDIDATE_FEATURES = [
  'zLexical',
  'zDense',
  'coverage',
  'nameCoverage',
  'titleCoverage',
  'descriptionCoverage',
  'paramsCoverage',
  'examplesCoverage',
  'serverNamed',
  'otherServerNamed',
  'actionSame',
  'actionRelated',
  'actionConflict',
  'readNeedChangeTool',
  'readNeedReadTool',
  'changeNeedReadTool',
  'descriptionLength',
  'fusedRank',
  'lexicalRatio',
  'denseCosine',
] as const;

/** The per-need features of the abstainer. */
export const NEED_FEATURES = [
  'topScore',
  'margin',
  'topShare',
  'topCoverage',
  'topContentShare',
  'topActionSame',
  'topActionConflict',
  'topDense',
  'needTerms',
  'topUncovered',
  'poolCoverage',
] as const;

/** A linear model: weights in the order of its feature list, plus a bias. */
export interface LinearModel {
  readonly features: readonly string[];
  readonly weights: readonly number[];
  readonly bias: number;
}

/** The shipped model file: one reranker per retrieval mode, and the abstainer with its threshold. */
export interface RerankModel {
  readonly version: 1;
  /** How many fused candidates are rescored. */
  readonly pool: number;
  /** Keyed by mode: "hybrid" (lexical + dense) and "lexical". */
  readonly rerank: Readonly<Record<string, LinearModel>>;
  readonly abstain: Readonly<Record<string, LinearModel & { readonly threshold: number }>>;
  /** How it was trained (data, folds, figures), for people reading the file. */
  readonly trained?: unknown;
}

/** Server-name words that name no product (LiveMCPBench's "Bing_CN_MCP": "bing" names it, "mcp" does not). */
const GENERIC_SERVER_WORDS = new Set([
  'mcp',
  'server',
  'servers',
  'api',
  'tool',
  'tools',
  'cn',
  'official',
  'service',
  'app',
  'client',
  'smithery',
  'ai',
]);

/** One rescored candidate. */
export interface Rescored {
  readonly id: string;
  readonly score: number;
  readonly features: readonly number[];
}

/** The reranker's answer: the pool rescored (best first) and the abstainer's verdict. */
export interface Reranked {
  readonly ranked: readonly Rescored[];
  /** Probability that some tool serves the need (the abstainer's output). */
  readonly confidence: number;
  readonly confident: boolean;
  /** The need's intent (for the read-only rule). */
  readonly intent: ActionKind | undefined;
}

/** Reads a model file; throws with the path on a malformed one. */
export function loadRerankModel(path: string): RerankModel {
  const raw = JSON.parse(readFileSync(path, 'utf8')) as RerankModel;
  const known = (names: readonly string[]) => (m: LinearModel | undefined) => {
    const features: unknown = m?.features;
    const weights: unknown = m?.weights;
    return (
      Array.isArray(features) &&
      Array.isArray(weights) &&
      weights.length === features.length &&
      (features as unknown[]).every((f) => typeof f === 'string' && names.includes(f)) &&
      [...(weights as unknown[]), m?.bias].every((x) => typeof x === 'number' && Number.isFinite(x))
    );
  };
  const modes = ['hybrid', 'lexical'];
  const ok =
    raw.version === 1 &&
    raw.pool > 0 &&
    modes.every((mode) => known(CANDIDATE_FEATURES)(raw.rerank?.[mode])) &&
    modes.every((mode) => {
      const a = raw.abstain?.[mode];
      return known(NEED_FEATURES)(a) && typeof a?.threshold === 'number' && a.threshold >= 0 && a.threshold <= 1;
    });
  if (!ok)
    throw new Error(
      `${path}: not a switchboard rerank model (version 1; rerank and abstain weights for hybrid and lexical, finite numbers, known features)`,
    );
  return raw;
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/** Coverage from which the best tool has every (IDF-weighted) word of the need. */
const FULL_COVERAGE = 0.999;

function dot(model: LinearModel, names: readonly string[], values: readonly number[]): number {
  let sum = model.bias;
  for (let i = 0; i < model.features.length; i++) {
    const at = names.indexOf(model.features[i] ?? '');
    if (at >= 0) sum += (model.weights[i] ?? 0) * (values[at] ?? 0);
  }
  return sum;
}

/** A tool's action, its kind and its description's length, with the text they were read from. */
interface ToolFacts {
  readonly name: string;
  readonly title: string | undefined;
  readonly description: string;
  readonly readOnly: boolean | undefined;
  readonly destructive: boolean | undefined;
  readonly action: string | undefined;
  readonly kind: ActionKind | undefined;
  readonly descriptionWords: number;
}

/** Rescores fused candidates with a model (or only computes features, for training). */
export class Reranker {
  readonly #model: RerankModel | undefined;
  readonly #lexicon: ActionLexicon;
  readonly #tokenize: (text: string) => string[];
  readonly #toolFacts = new Map<string, ToolFacts>();

  constructor(model: RerankModel | undefined, tokenize: (text: string) => string[], lexicon = new ActionLexicon()) {
    this.#model = model;
    this.#tokenize = tokenize;
    this.#lexicon = lexicon;
  }

  /** Candidates rescored per need (the model's pool, or 30 without a model). */
  get pool(): number {
    return this.#model?.pool ?? 30;
  }

  /** The action lexicon in use. */
  get lexicon(): ActionLexicon {
    return this.#lexicon;
  }

  /** What a tool does and whether it reads or changes (hints first, then its action verb). */
  toolKind(c: IndexCandidate): { action: string | undefined; kind: ActionKind | undefined } {
    return this.#facts(c);
  }

  /** What the reranker knows of a tool from its own text, kept per id while that text stays the same. */
  #facts(c: IndexCandidate): ToolFacts {
    const { title, description = '' } = c.lexical.fields;
    const readOnly = c.annotations?.readOnlyHint;
    const destructive = c.annotations?.destructiveHint;
    const known = this.#toolFacts.get(c.id);
    if (
      known &&
      known.name === c.name &&
      known.title === title &&
      known.description === description &&
      known.readOnly === readOnly &&
      known.destructive === destructive
    )
      return known;
    const action = this.#lexicon.tool(c.name, title, description.slice(0, 80));
    // A tool that says it is not read-only changes things, whatever its name says.
    const hinted: ActionKind | undefined =
      readOnly === true ? 'read' : destructive === true || readOnly === false ? 'change' : undefined;
    const facts: ToolFacts = {
      name: c.name,
      title,
      description,
      readOnly,
      destructive,
      action: action?.id,
      kind: hinted ?? action?.kind,
      descriptionWords: description.split(/\s+/).length,
    };
    // Bounded: a catalog has a bounded number of tools, but ids of removed tools must not pile up.
    if (this.#toolFacts.size > 100_000) this.#toolFacts.clear();
    this.#toolFacts.set(c.id, facts);
    return facts;
  }

  /** Feature rows of the pool, in fused order; `idf` holds the need's terms as the index tokenized them. */
  features(
    need: string,
    fused: readonly Fused[],
    candidates: ReadonlyMap<string, IndexCandidate>,
    idf: ReadonlyMap<string, number>,
  ): { rows: { id: string; values: number[] }[]; actions: NeedActions } {
    const actions = this.#lexicon.need(need);
    // The index's own terms of the need (its search tokenized it already).
    const needTerms = new Set(idf.keys());
    const pool = fused.filter((f) => candidates.has(f.id)).slice(0, this.pool);
    const named = new Map<string, boolean>();
    for (const f of pool) {
      const server = candidates.get(f.id)?.server ?? '';
      if (!named.has(server)) {
        const words = this.#tokenize(server.replace(/^smithery:/, '')).filter((w) => !GENERIC_SERVER_WORDS.has(w));
        named.set(server, words.length > 0 && words.some((w) => needTerms.has(w)));
      }
    }
    const anyNamed = [...named.values()].some(Boolean);
    const maxLexical = Math.max(0, ...pool.map((f) => f.lexical ?? 0)) || 1;
    const ids = new Set(actions.actions.map((a) => a.id));
    const rows = pool.map((f, rank) => {
      const c = candidates.get(f.id) as IndexCandidate;
      const tool = this.#facts(c);
      const same = tool.action !== undefined && ids.has(tool.action);
      const related =
        !same &&
        tool.action !== undefined &&
        actions.actions.some((a) => this.#lexicon.related(a.id, tool.action ?? ''));
      const conflict = !same && !related && tool.action !== undefined && ids.size > 0;
      const serverNamed = named.get(c.server) === true;
      const fc = c.fieldCoverage;
      const values = [
        f.zLexical,
        f.zDense,
        c.coverage,
        fc.name ?? 0,
        fc.title ?? 0,
        fc.description ?? 0,
        Math.max(fc.params ?? 0, fc.paramDescriptions ?? 0),
        fc.examples ?? 0,
        serverNamed ? 1 : 0,
        anyNamed && !serverNamed ? 1 : 0,
        same ? 1 : 0,
        related ? 1 : 0,
        conflict ? 1 : 0,
        actions.intent === 'read' && tool.kind === 'change' ? 1 : 0,
        actions.intent === 'read' && tool.kind === 'read' ? 1 : 0,
        actions.intent === 'change' && tool.kind === 'read' ? 1 : 0,
        Math.log1p(tool.descriptionWords) / 5,
        1 / (1 + rank),
        (f.lexical ?? 0) / maxLexical,
        f.dense ?? 0,
      ];
      return { id: f.id, values };
    });
    return { rows, actions };
  }

  /** Need-level features over a rescored list (for the abstainer). */
  needFeatures(
    need: string,
    ranked: readonly Rescored[],
    candidates: ReadonlyMap<string, IndexCandidate>,
    fused: readonly Fused[],
    idf: ReadonlyMap<string, number>,
  ): number[] {
    const top = ranked[0];
    if (!top) return NEED_FEATURES.map(() => 0);
    const second = ranked[1];
    const max = Math.max(...ranked.map((r) => r.score));
    const z = ranked.reduce((a, r) => a + Math.exp(r.score - max), 0);
    const c = candidates.get(top.id);
    const terms = [...idf.keys()];
    const topTerms = new Set(c?.matchedTerms ?? []);
    const maxIdf = Math.max(0, ...terms.map((t) => idf.get(t) ?? 0));
    const at = (name: (typeof CANDIDATE_FEATURES)[number]) => top.features[CANDIDATE_FEATURES.indexOf(name)] ?? 0;
    return [
      top.score,
      second ? Math.min(5, top.score - second.score) : 5,
      Math.exp(top.score - max) / z,
      c?.coverage ?? 0,
      terms.length ? terms.filter((t) => topTerms.has(t)).length / terms.length : 0,
      at('actionSame'),
      at('actionConflict'),
      fused.find((f) => f.id === top.id)?.dense ?? 0,
      Math.log1p(terms.length),
      // The rarest word of the need the best tool does not have: a need about "passports" that a
      // tool matches only on "renew" is probably not served.
      maxIdf ? Math.max(0, ...terms.filter((t) => !topTerms.has(t)).map((t) => idf.get(t) ?? 0)) / maxIdf : 0,
      Math.max(0, ...ranked.slice(0, 5).map((r) => candidates.get(r.id)?.coverage ?? 0)),
    ];
  }

  /** Rescores the pool with the model of `mode`; without a model (or for another mode) returns undefined. */
  rerank(
    need: string,
    fused: readonly Fused[],
    candidates: ReadonlyMap<string, IndexCandidate>,
    mode: string,
    idf: ReadonlyMap<string, number>,
  ): Reranked | undefined {
    const model = this.#model?.rerank[mode];
    const abstain = this.#model?.abstain[mode];
    if (!model || !abstain) return undefined;
    const { rows, actions } = this.features(need, fused, candidates, idf);
    const ranked = rows
      .map((r) => ({ id: r.id, score: dot(model, CANDIDATE_FEATURES, r.values), features: r.values }))
      .sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : 1));
    const needFeatures = this.needFeatures(need, ranked, candidates, fused, idf);
    const confidence = ranked.length ? sigmoid(dot(abstain, NEED_FEATURES, needFeatures)) : 0;
    const top = ranked[0];
    const topCandidate = top ? candidates.get(top.id) : undefined;
    return {
      ranked,
      confidence,
      // A tool that has every word of the need serves it, however small the catalog: the abstainer
      // was fitted on pools of 30 and misjudges a catalog of three tools ("add two numbers").
      confident: confidence >= abstain.threshold || (topCandidate?.coverage ?? 0) >= FULL_COVERAGE,
      intent: actions.intent,
    };
  }
}
