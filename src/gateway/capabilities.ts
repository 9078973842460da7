/**
 * The find_capability use-case: keeps the capability index in step with the catalog, answers a
 * need with ranked matches (tool, server, schema, score, reasons) and a decision id, and, with
 * learning on, turns a successful call that followed a decision into an example need for the tool.
 */
import { randomUUID } from 'node:crypto';
import { GatewayError } from '../core/errors.js';
import type { CatalogSnapshot, CatalogTool } from '../catalog/snapshot.js';
import type { CapabilityDoc, CapabilityIndex, IndexCandidate, SearchMode } from '../index/capability-index.js';
import { toolDocument } from '../index/lexical/document.js';
import { DEFAULT_TOKENIZE, tokenize, type TokenizeOptions } from '../index/lexical/tokenize.js';
import { zFuse, type Fused } from '../router/fusion.js';
import type { ActionLexicon } from '../router/actions.js';
import { generatedNeeds } from '../router/generated-needs.js';
import type { Reranked, Reranker } from '../router/rerank.js';
import {
  equivalent,
  rank,
  type Candidate,
  type Match,
  type Ranking,
  type ScorerSettings,
  type ServerSignal,
} from '../router/scorer.js';
import type { Logger } from '../telemetry/logger.js';
import type { Gateway } from './gateway.js';

/** Persistence of learned examples (SQLite in store/). */
export interface ExampleStore {
  add(tool: string, need: string, decisionId: string | undefined): boolean;
  list(tool?: string): { id: number; tool: string; need: string }[];
  remove(id: number): boolean;
}

/** A find_capability request. */
export interface FindRequest {
  readonly capability: string;
  readonly k?: number;
  readonly servers?: readonly string[];
  readonly mode?: SearchMode;
  /** A scorer variant's dense weight (an experiment arm); the configured one otherwise. */
  readonly denseWeight?: number;
  /** Use this decision id (so an experiment exposure recorded before the search links to it). */
  readonly decisionId?: string;
  /**
   * Only these tools are candidates (the caller's view): applied inside the index search, before
   * fusion and scoring, so nothing hidden shapes a score, a confidence, a group or a count.
   */
  readonly visible?: (id: string) => boolean;
}

/** A find_capability answer. */
export interface FindResult {
  readonly decisionId: string;
  readonly catalogVersion: number;
  readonly confident: boolean;
  readonly confidence: number;
  readonly matches: readonly (Match & {
    readonly title: string | undefined;
    readonly description: string | undefined;
    readonly inputSchema: unknown;
  })[];
}

/** Settings of the use-case. */
export interface CapabilityOptions {
  readonly scorer: ScorerSettings;
  readonly denseWeight: number;
  readonly learning: boolean;
  /** The learned reranker and abstainer (absent: fusion order and the logistic confidence). */
  readonly reranker?: Reranker;
  /** Index example needs generated from each tool's name through the reranker's action lexicon. */
  readonly generateNeeds?: boolean;
}

const MAX_DECISIONS = 10_000;

/** Builds the index documents of a catalog tool (examples from config and from use included). */
export function capabilityDoc(
  tool: CatalogTool,
  serverDescription: string | undefined,
  examples: readonly string[],
  lexicon?: ActionLexicon,
): CapabilityDoc {
  // Generated needs are lexical evidence only: embedded, a line of verbs pulls every tool of an
  // action towards every other.
  const generated = lexicon ? generatedNeeds(lexicon, tool.tool) : [];
  const lexical = toolDocument({
    id: tool.id,
    server: tool.server,
    ...(serverDescription ? { serverDescription } : {}),
    tool: tool.tool,
    examples: [...examples, ...generated],
  });
  const params = (lexical.fields.params ?? '').split(/\s+/).filter(Boolean);
  const embedText = [
    tool.tool.title ?? tool.name,
    tool.tool.description ?? '',
    params.length ? `parameters: ${params.join(' ')}` : '',
    ...examples,
  ]
    .filter(Boolean)
    .join('. ');
  const hints = tool.tool.annotations;
  const annotations = {
    ...(typeof hints?.readOnlyHint === 'boolean' ? { readOnlyHint: hints.readOnlyHint } : {}),
    ...(typeof hints?.destructiveHint === 'boolean' ? { destructiveHint: hints.destructiveHint } : {}),
  };
  return {
    id: tool.id,
    server: tool.server,
    name: tool.name,
    params,
    lexical,
    embedText,
    ...(Object.keys(annotations).length ? { annotations } : {}),
  };
}

/** How one need is routed: index search, z-score fusion, scoring with live signals. */
export interface RouteOptions {
  readonly k: number;
  readonly servers?: readonly string[];
  readonly mode?: SearchMode;
  readonly denseWeight: number;
  readonly scorer: ScorerSettings;
  readonly signals: ReadonlyMap<string, ServerSignal>;
  /** Drops candidates the current catalog no longer has. */
  readonly allow?: (id: string) => boolean;
  /** Restricts the search itself to these tools (see FindRequest.visible). */
  readonly visible?: (id: string) => boolean;
  /** How the index tokenizes (to show matched terms as the need wrote them); the product's default if absent. */
  readonly tokenize?: TokenizeOptions;
  /** Rescores the fused top candidates and decides "no confident match" (absent: fusion order and the scorer's confidence). */
  readonly reranker?: Reranker;
}

/**
 * Maps each index term of a need back to the word the need used ("files" for the stem "file",
 * "GitHub" for "git", "hub" and "github"), so reasons quote the agent, not the stemmer.
 */
export function surfaceWords(need: string, options: TokenizeOptions = DEFAULT_TOKENIZE): Map<string, string> {
  const surface = new Map<string, string>();
  // Apostrophes stay inside a word ("user's"), so the word is quoted whole; the tokenizer drops the clitic.
  for (const raw of need.split(/[^\p{L}\p{N}'’]+/u)) {
    const word = raw.replace(/^['’]+|['’]+$/g, ''); // quotes around a word are not part of it
    if (!word) continue;
    for (const term of tokenize(word, options)) if (!surface.has(term)) surface.set(term, word);
  }
  return surface;
}

/** The index's hits for a need and their z-score fusion (routeNeed's first stage; the reranker's training reads it). */
export async function fuseNeed(
  index: CapabilityIndex,
  need: string,
  options: Pick<RouteOptions, 'k' | 'servers' | 'visible' | 'mode' | 'denseWeight'>,
): Promise<{ hits: Awaited<ReturnType<CapabilityIndex['search']>>; fused: Fused[] }> {
  const hits = await index.search(need, {
    k: options.k,
    ...(options.servers ? { servers: options.servers } : {}),
    ...(options.visible ? { visible: options.visible } : {}),
    ...(options.mode ? { mode: options.mode } : {}),
  });
  return { hits, fused: zFuse(hits.lexical, hits.dense, options.mode === 'dense' ? 1 : options.denseWeight) };
}

/** Routes a need through an index (shared by the gateway and the quality benchmark). */
export async function routeNeed(index: CapabilityIndex, need: string, options: RouteOptions): Promise<Ranking> {
  const first = await fuseNeed(index, need, options);
  const { hits } = first;
  let { fused } = first;
  const surface = surfaceWords(need, options.tokenize);
  const candidates = new Map<string, Candidate>();
  const allowed = new Map<string, IndexCandidate>();
  for (const [id, c] of hits.candidates) {
    if (options.allow && !options.allow(id)) continue;
    // A tool of a server that is down is never offered, so it must not decide the verdict either.
    if (options.signals.get(c.server)?.healthy !== false) allowed.set(id, c);
    // Terms the need's words do not explain (another tokenizer) are shown as the index has them.
    const matchedTerms = [...new Set(c.matchedTerms.map((t) => surface.get(t) ?? t))];
    candidates.set(id, { ...c, matchedTerms });
  }
  const mode = options.mode === 'dense' ? undefined : hits.dense.length ? 'hybrid' : 'lexical';
  const reranked = mode ? options.reranker?.rerank(need, fused, allowed, mode, hits.idf) : undefined;
  if (!reranked || !options.reranker) return rank(fused, candidates, options.signals, options.scorer, options.k);
  fused = rescoredOrder(fused, reranked);
  const reranker = options.reranker;
  return rank(fused, candidates, options.signals, options.scorer, options.k, {
    confidence: reranked.confidence,
    confident: reranked.confident,
    readOnlyNeed: reranked.intent === 'read',
    changes: (id) => {
      const c = allowed.get(id);
      return c ? reranker.toolKind(c).kind === 'change' : false;
    },
  });
}

/** The fused list in the reranker's order: its pool by the new score, the rest after it as fusion had them. */
function rescoredOrder(fused: readonly Fused[], reranked: Reranked): Fused[] {
  const byId = new Map(fused.map((f) => [f.id, f]));
  const out: Fused[] = [];
  for (const r of reranked.ranked) {
    const f = byId.get(r.id);
    if (!f) continue;
    out.push({ ...f, fused: r.score });
    byId.delete(r.id);
  }
  const floor = Math.min(0, ...out.map((f) => f.fused)) - 1;
  for (const f of fused)
    if (byId.has(f.id)) out.push({ ...f, fused: floor - (out.length - reranked.ranked.length) * 1e-3 });
  return out;
}

/** The capability routing use-case. */
export class Capabilities {
  readonly #gateway: Gateway;
  readonly #index: CapabilityIndex;
  readonly #examples: ExampleStore | undefined;
  readonly #options: CapabilityOptions;
  readonly #log: Logger;
  readonly #decisions = new Map<string, { need: string; tools: Set<string> }>();
  #synced = Promise.resolve();
  #indexedVersion = -1;

  constructor(deps: {
    gateway: Gateway;
    index: CapabilityIndex;
    examples?: ExampleStore;
    options: CapabilityOptions;
    log: Logger;
  }) {
    this.#gateway = deps.gateway;
    this.#index = deps.index;
    this.#examples = deps.examples;
    this.#options = deps.options;
    this.#log = deps.log;
    deps.gateway.onCatalogChange((change) => {
      if (change.tools) void this.refresh();
    });
  }
  /** Writes what is pending (the vector index) before shutdown. */
  flush(): void {
    this.#index.persistNow();
  }

  /** The embedding model routing uses (undefined: lexical only). */
  get model(): string | undefined {
    return this.#index.model;
  }

  /** Re-indexes the current catalog (serialised: one sync at a time, the last one wins). */
  refresh(): Promise<void> {
    this.#synced = this.#synced
      .then(async () => {
        const snapshot = this.#gateway.catalog;
        const started = performance.now();
        const report = await this.#index.sync(this.#docs(snapshot));
        this.#indexedVersion = snapshot.version;
        this.#log.info(
          {
            version: snapshot.version,
            tools: this.#index.size,
            ...report,
            ms: Math.round(performance.now() - started),
          },
          'capability index synced',
        );
      })
      .catch((error: unknown) => this.#log.error({ err: (error as Error).message }, 'capability index sync failed'));
    return this.#synced;
  }

  /** Ranks the catalog's tools for a need. */
  async find(request: FindRequest): Promise<FindResult> {
    const need = request.capability.trim();
    if (!need)
      throw new GatewayError(
        'INVALID_ARGUMENTS',
        'capability must describe a need in words, e.g. "create an issue in the tracker"',
      );
    const snapshot = this.#gateway.catalog;
    if (this.#indexedVersion !== snapshot.version) await this.refresh();
    const k = Math.min(50, Math.max(1, request.k ?? 5));
    const started = performance.now();
    const ranking = await routeNeed(this.#index, need, {
      k,
      ...(request.servers ? { servers: request.servers } : {}),
      ...(request.visible ? { visible: request.visible } : {}),
      ...(request.mode ? { mode: request.mode } : {}),
      denseWeight: request.denseWeight ?? this.#options.denseWeight,
      scorer: this.#options.scorer,
      signals: this.#signals(),
      allow: (id) => snapshot.toolById.has(id),
      ...(this.#options.reranker ? { reranker: this.#options.reranker } : {}),
    });
    const decisionId = request.decisionId ?? randomUUID();
    this.#remember(decisionId, need, ranking.matches);
    const matches = ranking.matches.map((m) => {
      const tool = snapshot.toolById.get(m.tool)?.tool;
      return { ...m, title: tool?.title, description: tool?.description, inputSchema: tool?.inputSchema };
    });
    this.#log.info(
      {
        decisionId,
        matches: matches.length,
        top: matches[0]?.tool,
        confident: ranking.confident,
        ms: Math.round((performance.now() - started) * 100) / 100,
      },
      'find_capability',
    );
    return {
      decisionId,
      catalogVersion: snapshot.version,
      confident: ranking.confident,
      confidence: ranking.confidence,
      matches,
    };
  }

  /**
   * Every tool in the catalog that offers the same capability as `toolId` (itself first): tools
   * of the same name with similar parameters on other servers, as find_capability groups them.
   */
  providers(toolId: string): string[] {
    const snapshot = this.#gateway.catalog;
    const tool = snapshot.toolById.get(toolId);
    if (!tool) return [];
    const asCandidate = (t: CatalogTool) => ({
      id: t.id,
      server: t.server,
      name: t.name,
      params: Object.keys((t.tool.inputSchema as { properties?: object }).properties ?? {}),
      matchedTerms: [],
      coverage: 0,
    });
    const self = asCandidate(tool);
    return [
      toolId,
      ...snapshot.tools.filter((t) => t.id !== toolId && equivalent(self, asCandidate(t))).map((t) => t.id),
    ];
  }

  /** Called after a tool call: with learning on, a successful call of an offered tool teaches the need. */
  learn(decisionId: string | undefined, toolId: string, succeeded: boolean): void {
    if (!this.#options.learning || !this.#examples || !decisionId || !succeeded) return;
    const decision = this.#decisions.get(decisionId);
    if (!decision || !decision.tools.has(toolId)) return;
    if (this.#examples.add(toolId, decision.need, decisionId)) {
      this.#log.info({ decisionId, tool: toolId }, 'learned example need');
      void this.refresh();
    }
  }

  /** Learned examples (admin API). */
  listExamples(tool?: string) {
    return this.#examples?.list(tool) ?? [];
  }

  /** Removes a learned example (admin API). */
  removeExample(id: number): boolean {
    const removed = this.#examples?.remove(id) ?? false;
    if (removed) void this.refresh();
    return removed;
  }

  #docs(snapshot: CatalogSnapshot): CapabilityDoc[] {
    const learned = new Map<string, string[]>();
    for (const e of this.#examples?.list() ?? []) learned.set(e.tool, [...(learned.get(e.tool) ?? []), e.need]);
    const specs = new Map(this.#gateway.listServers().map((s) => [s.name, s]));
    return snapshot.tools.map((tool) => {
      const spec = specs.get(tool.server)?.spec as
        { description?: string; examples?: Record<string, string[]> } | undefined;
      const examples = [...(spec?.examples?.[tool.name] ?? []), ...(learned.get(tool.id) ?? [])];
      const lexicon = this.#options.generateNeeds ? this.#options.reranker?.lexicon : undefined;
      return capabilityDoc(tool, spec?.description, examples, lexicon);
    });
  }

  #signals(): Map<string, ServerSignal> {
    return new Map(
      this.#gateway
        .listServers()
        .map((s) => [s.name, { healthy: s.health !== 'down', latencyMs: s.latencyMs, errorRate: s.errorRate }]),
    );
  }

  #remember(decisionId: string, need: string, matches: readonly Match[]): void {
    this.#decisions.set(decisionId, {
      need,
      tools: new Set(matches.flatMap((m) => [m.tool, ...m.alternatives.map((a) => a.tool)])),
    });
    if (this.#decisions.size > MAX_DECISIONS) {
      const oldest = this.#decisions.keys().next().value;
      if (oldest !== undefined) this.#decisions.delete(oldest);
    }
  }
}
