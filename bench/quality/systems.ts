/**
 * The retrieval systems the quality benchmark compares, all built from the product's own code
 * (CapabilityIndex, fusion, scorer): the reference BM25 of DESIGN.md §7, tuned BM25F, dense only,
 * and the hybrid the gateway ships.
 */
import type { CatalogTool } from '../../src/catalog/snapshot.js';
import { capabilityDoc, fuseNeed, routeNeed } from '../../src/gateway/capabilities.js';
import { CapabilityIndex, type IndexCandidate, type SearchMode } from '../../src/index/capability-index.js';
import { Bm25Index } from '../../src/index/lexical/bm25.js';
import { Bm25fIndex } from '../../src/index/lexical/bm25f.js';
import { tokenize } from '../../src/index/lexical/tokenize.js';
import type { Embedder } from '../../src/index/types.js';
import { createVectorIndex } from '../../src/index/vector/factory.js';
import type { Fused } from '../../src/router/fusion.js';
import type { Reranker } from '../../src/router/rerank.js';
import type { ConfidenceFeatures, ScorerSettings } from '../../src/router/scorer.js';
import type { EvalSet } from './types.js';

/**
 * The systems by name. `hybrid-v1` is the hybrid as shipped before issue 15 (fusion and the
 * logistic confidence); `lexical` and `hybrid` are today's routing without and with the model:
 * generated example needs, the action lexicon and the learned reranker and abstainer.
 */
export type SystemName = 'bm25-reference' | 'bm25f' | 'dense' | 'hybrid-v1' | 'lexical' | 'hybrid';

/** What routes a need beyond fusion (the systems `lexical` and `hybrid`). */
const ROUTED: ReadonlySet<SystemName> = new Set(['lexical', 'hybrid']);

/** One query's answer from a system. */
export interface Answer {
  readonly ranked: string[];
  readonly rejected: boolean;
  readonly features: ConfidenceFeatures | undefined;
}

/** A built system. */
export interface System {
  readonly name: SystemName;
  readonly index: CapabilityIndex;
  readonly buildMs: number;
  answer(query: string): Promise<Answer>;
  /** The fused list and candidates behind an answer (for fitting the reranker). */
  evidence(
    query: string,
  ): Promise<{ fused: Fused[]; candidates: Map<string, IndexCandidate>; idf: Map<string, number> }>;
  /** Re-indexes with example needs per tool id (as learning from use would add them). */
  learn(examples: ReadonlyMap<string, readonly string[]>): Promise<void>;
}

/** Catalog tools of an evaluation set, with "server/tool" ids. */
export function evalTools(set: EvalSet): { tool: CatalogTool; serverDescription: string | undefined }[] {
  return set.servers.flatMap((s) =>
    s.tools.map((t) => ({
      tool: {
        id: `${s.name}/${t.name}`,
        server: s.name,
        name: t.name,
        tool: {
          name: t.name,
          ...(t.title ? { title: t.title } : {}),
          ...(t.description ? { description: t.description } : {}),
          ...(t.annotations && typeof t.annotations === 'object' ? { annotations: t.annotations } : {}),
          inputSchema: (t.inputSchema ?? { type: 'object' }) as { type: 'object' },
        },
      },
      serverDescription: s.description,
    })),
  );
}

/** Builds a system over a set. `vectorKind` picks the dense index (auto: exact below 5,000 tools). */
export async function buildSystem(
  name: SystemName,
  set: EvalSet,
  options: {
    embedder?: Embedder;
    denseWeight: number;
    scorer: ScorerSettings;
    vectorKind?: 'auto' | 'exact' | 'hnsw';
    /** The reranker of `lexical` and `hybrid`. */
    reranker?: Reranker;
    /** Generated example needs (routing.generateNeeds) for `lexical` and `hybrid`. */
    generateNeeds?: boolean;
  },
): Promise<System> {
  const dense = name === 'dense' || name === 'hybrid' || name === 'hybrid-v1';
  const reranker = ROUTED.has(name) ? options.reranker : undefined;
  const lexicon = options.generateNeeds ? reranker?.lexicon : undefined;
  if (dense && !options.embedder) throw new Error(`system ${name} needs an embedding model`);
  const stemmed = (text: string) => tokenize(text, { stem: true, stopwords: 'conversational' });
  const index = new CapabilityIndex({
    lexical: name === 'bm25-reference' ? new Bm25Index() : new Bm25fIndex(),
    ...(dense && options.embedder
      ? {
          embedder: options.embedder,
          vectors: (dim: number, expectedSize: number) =>
            createVectorIndex({ dim, kind: options.vectorKind ?? 'auto', expectedSize }),
        }
      : {}),
    tokenize: stemmed,
  });
  const tools = evalTools(set);
  const docs = tools.map(({ tool, serverDescription }) => capabilityDoc(tool, serverDescription, [], lexicon));
  const started = performance.now();
  await index.sync(docs);
  const buildMs = performance.now() - started;
  const mode: SearchMode = name === 'dense' ? 'dense' : dense ? 'hybrid' : 'lexical';
  return {
    name,
    index,
    buildMs,
    async evidence(query) {
      const { hits, fused } = await fuseNeed(index, query, { k: 10, mode, denseWeight: options.denseWeight });
      return { fused, candidates: hits.candidates, idf: hits.idf };
    },
    async learn(examples) {
      await index.sync(
        tools.map(({ tool, serverDescription }) =>
          capabilityDoc(tool, serverDescription, examples.get(tool.id) ?? [], lexicon),
        ),
      );
    },
    async answer(query) {
      if (name === 'bm25-reference') {
        // The reference is plain BM25 ranking: no fusion, no scorer, no "no match" answer.
        const hits = await index.search(query, { k: 10, mode: 'lexical' });
        return { ranked: hits.lexical.slice(0, 10).map((h) => h.id), rejected: false, features: undefined };
      }
      const ranking = await routeNeed(index, query, {
        k: 10,
        mode,
        denseWeight: options.denseWeight,
        scorer: options.scorer,
        signals: new Map(),
        ...(reranker ? { reranker } : {}),
      });
      const ranked = ranking.matches.flatMap((m) => [m.tool, ...m.alternatives.map((a) => a.tool)]).slice(0, 10);
      return { ranked, rejected: !ranking.confident, features: ranking.features };
    },
  };
}
