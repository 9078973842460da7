/**
 * A quick retrieval check of the built model (the lead's `npm run bench` is the real benchmark):
 * dense-only ranking through the product's TransformersEmbedder over the text the product embeds
 * (capabilityDoc), against the reference BM25 of DESIGN.md §7 (split name + description +
 * parameter names, k1 1.2, b 0.75, no stemming, small stoplist), and the two z-fused at 0.5 for
 * information. Sets: our own (data/eval/switchboard) and the public ones in ../shared/eval, read in
 * place through the bench's loaders. Run alone: `npx tsx scripts/model/evaluate.ts`.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  loadLiveMcpBench,
  loadMcpToolBench,
  loadSmitheryDistractors,
  loadSwitchboard,
  withDistractors,
} from '../../bench/quality/loaders.js';
import type { EvalSet } from '../../bench/quality/types.js';
import { TransformersEmbedder } from '../../src/index/embedder/transformers.js';
import { tokenize } from '../../src/index/lexical/tokenize.js';
import { capabilityDoc } from '../../src/gateway/capabilities.js';
import type { HarvestResult } from './corpus-mcp.js';
import { MODEL_ID, PATHS } from './paths.js';

/** Top-1, Recall@5 and MRR@10 in percent over answerable queries. */
export interface Scores {
  readonly top1: number;
  readonly recall5: number;
  readonly mrr10: number;
}

/** One set's figures. */
export interface SetResult {
  readonly set: string;
  readonly tools: number;
  readonly queries: number;
  readonly bm25: Scores;
  readonly dense: Scores;
  readonly fused: Scores;
  /**
   * The same on the queries whose right tools' descriptions were NOT among the training tool pairs
   * (public sets reuse published servers' tools, e.g. Playwright's): the figures free of that overlap.
   */
  readonly unseen?: { readonly queries: number; readonly bm25: Scores; readonly dense: Scores; readonly fused: Scores };
}

/** Descriptions of the tools the model was trained on (from the harvest cache), to flag overlap. */
export function trainedDescriptions(): Set<string> {
  const dir = join(PATHS.work, 'mcp');
  const out = new Set<string>();
  if (!existsSync(dir)) return out;
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.json'))) {
    const r = JSON.parse(readFileSync(join(dir, f), 'utf8')) as HarvestResult;
    if (!r.skipped) for (const t of r.tools) if (t.description.trim()) out.add(t.description.trim());
  }
  return out;
}

/** Plain Okapi BM25 over token lists. */
function bm25(docs: readonly string[][], k1 = 1.2, b = 0.75): (query: string[]) => Float64Array {
  const df = new Map<string, number>();
  for (const d of docs) for (const t of new Set(d)) df.set(t, (df.get(t) ?? 0) + 1);
  const avg = docs.reduce((a, d) => a + d.length, 0) / Math.max(1, docs.length);
  const tfs = docs.map((d) => d.reduce((m, t) => m.set(t, (m.get(t) ?? 0) + 1), new Map<string, number>()));
  return (query) => {
    const scores = new Float64Array(docs.length);
    for (const t of new Set(query)) {
      const n = df.get(t);
      if (!n) continue;
      const idf = Math.log(1 + (docs.length - n + 0.5) / (n + 0.5));
      tfs.forEach((tf, i) => {
        const f = tf.get(t);
        if (f) scores[i]! += (idf * f * (k1 + 1)) / (f + k1 * (1 - b + (b * docs[i]!.length) / avg));
      });
    }
    return scores;
  };
}

const zscore = (s: Float64Array) => {
  const mean = s.reduce((a, x) => a + x, 0) / s.length;
  const sd = Math.sqrt(s.reduce((a, x) => a + (x - mean) ** 2, 0) / s.length) || 1;
  return s.map((x) => (x - mean) / sd);
};

function score(ranked: readonly number[], ids: readonly string[], relevant: ReadonlySet<string>): Scores {
  const first = ranked.slice(0, 10).findIndex((i) => relevant.has(ids[i]!));
  return {
    top1: first === 0 ? 1 : 0,
    recall5: first >= 0 && first < 5 ? 1 : 0,
    mrr10: first >= 0 ? 1 / (first + 1) : 0,
  };
}

const topOf = (s: Float64Array, k: number) =>
  Array.from(s.keys())
    .sort((a, b) => s[b]! - s[a]! || a - b)
    .slice(0, k);

/** Evaluates one set with an embedder. */
export async function evaluateSet(
  set: EvalSet,
  embedder: TransformersEmbedder,
  seen: ReadonlySet<string> = new Set(),
): Promise<SetResult> {
  const seenIds = new Set(
    set.servers.flatMap((s) =>
      s.tools.filter((t) => seen.has((t.description ?? '').trim())).map((t) => `${s.name}/${t.name}`),
    ),
  );
  const docs = set.servers.flatMap((s) =>
    s.tools.map((t) => {
      const tool = {
        id: `${s.name}/${t.name}`,
        server: s.name,
        name: t.name,
        tool: {
          name: t.name,
          ...(t.description ? { description: t.description } : {}),
          inputSchema: (t.inputSchema ?? { type: 'object' }) as { type: 'object' },
        },
      };
      return capabilityDoc(tool, s.description, []);
    }),
  );
  const ids = docs.map((d) => d.id);
  const lexical = bm25(
    docs.map((d) =>
      tokenize(
        [d.lexical.fields.name, d.lexical.fields.description, d.lexical.fields.params].filter(Boolean).join(' '),
        { stem: false, stopwords: 'small' },
      ),
    ),
  );
  const vectors = await embedder.embed(docs.map((d) => d.embedText));
  const queries = set.queries.filter((q) => q.relevant.length > 0);
  const qv = await embedder.embed(queries.map((q) => q.query));
  const zero = () => ({
    bm25: { top1: 0, recall5: 0, mrr10: 0 },
    dense: { top1: 0, recall5: 0, mrr10: 0 },
    fused: { top1: 0, recall5: 0, mrr10: 0 },
  });
  const sum = zero();
  const sumUnseen = zero();
  let unseenQueries = 0;
  queries.forEach((q, qi) => {
    const unseen = q.relevant.every((id) => !seenIds.has(id));
    if (unseen) unseenQueries++;
    const rel = new Set(q.relevant);
    const lex = lexical(tokenize(q.query, { stem: false, stopwords: 'small' }));
    const dense = Float64Array.from(vectors, (v) => v.reduce((a, x, c) => a + x * qv[qi]![c]!, 0));
    const zd = zscore(dense);
    const fused = zscore(lex).map((x, i) => 0.5 * x + 0.5 * zd[i]!);
    for (const [name, s] of [
      ['bm25', lex],
      ['dense', dense],
      ['fused', fused],
    ] as const) {
      const r = score(topOf(s, 10), ids, rel);
      for (const target of unseen ? [sum, sumUnseen] : [sum]) {
        target[name].top1 += r.top1;
        target[name].recall5 += r.recall5;
        target[name].mrr10 += r.mrr10;
      }
    }
  });
  const pct = (s: Scores, n: number): Scores => ({
    top1: (100 * s.top1) / n,
    recall5: (100 * s.recall5) / n,
    mrr10: (100 * s.mrr10) / n,
  });
  const result = {
    set: set.name,
    tools: ids.length,
    queries: queries.length,
    bm25: pct(sum.bm25, queries.length),
    dense: pct(sum.dense, queries.length),
    fused: pct(sum.fused, queries.length),
  };
  if (unseenQueries === queries.length || unseenQueries === 0) return result;
  return {
    ...result,
    unseen: {
      queries: unseenQueries,
      bm25: pct(sumUnseen.bm25, unseenQueries),
      dense: pct(sumUnseen.dense, unseenQueries),
      fused: pct(sumUnseen.fused, unseenQueries),
    },
  };
}

/** The sets that exist on this machine. */
export function evaluationSets(): EvalSet[] {
  const sets: EvalSet[] = [];
  if (existsSync(PATHS.ownEval)) {
    const own = loadSwitchboard(PATHS.ownEval);
    if (own.queries.length) sets.push(own);
  }
  const shared = PATHS.sharedEval;
  if (existsSync(join(shared, 'livemcpbench'))) sets.push(loadLiveMcpBench(join(shared, 'livemcpbench')));
  if (existsSync(join(shared, 'mcptoolbenchpp'))) {
    const tb = loadMcpToolBench(join(shared, 'mcptoolbenchpp'));
    sets.push(tb);
    if (existsSync(join(shared, 'toolgym-smithery')))
      sets.push(
        withDistractors(tb, loadSmitheryDistractors(join(shared, 'toolgym-smithery', 'smithery_metadata'), 10_000)),
      );
  }
  return sets;
}

/** How often a need's action is told apart from another action on the same object. */
export interface ActionProbe {
  /** Texts probed (each against all others of its object). */
  readonly texts: number;
  /** Percent whose nearest text with the same object states the same action with another verb. */
  readonly accuracy: number;
  /** Mean cosine margin: best same-action neighbour minus best other-action neighbour. */
  readonly margin: number;
}

/**
 * Objects that are no word of any training tool name's object (checked against the harvest when
 * this list was written), so the probe measures whether the verbs generalise beyond trained objects.
 */
const PROBE_OBJECTS = [
  'shipment',
  'ticket',
  'playlist',
  'invoice',
  'coupon',
  'bookmark',
  'song',
  'order',
  'reminder',
  'customer',
  'recipe',
  'appointment',
];
const PROBE_VERBS: Readonly<Record<string, readonly string[]>> = {
  create: ['add', 'insert', 'create', 'register'],
  delete: ['delete', 'remove', 'erase', 'drop'],
  update: ['update', 'edit', 'modify', 'change'],
  read: ['get', 'show', 'fetch', 'view'],
};

/**
 * The action probe: "add a ticket", "remove a ticket", ... (4 actions x 4 verbs per object); a
 * text is right when its nearest neighbour among its object's texts states the same action. The
 * dense part of "the server is right, the tool is wrong" (issue 15), measured without any eval set.
 */
export async function actionProbe(embedder: TransformersEmbedder): Promise<ActionProbe> {
  let right = 0;
  let texts = 0;
  let margin = 0;
  for (const object of PROBE_OBJECTS) {
    const items = Object.entries(PROBE_VERBS).flatMap(([action, verbs]) =>
      verbs.map((v) => ({ action, text: `${v} a ${object}` })),
    );
    const vectors = await embedder.embed(items.map((x) => x.text));
    const cos = (i: number, j: number) => vectors[i]!.reduce((a, x, c) => a + x * vectors[j]![c]!, 0);
    items.forEach((item, i) => {
      let same = -Infinity;
      let other = -Infinity;
      items.forEach((o, j) => {
        if (j === i) return;
        if (o.action === item.action) same = Math.max(same, cos(i, j));
        else other = Math.max(other, cos(i, j));
      });
      texts++;
      if (same > other) right++;
      margin += same - other;
    });
  }
  return { texts, accuracy: (100 * right) / texts, margin: margin / texts };
}

/** The action probe of a model of a models folder. */
export async function probeModel(
  modelId: string = MODEL_ID,
  modelsDir: string = PATHS.modelsDir,
): Promise<ActionProbe> {
  const embedder = await TransformersEmbedder.load({ model: modelId, modelsDir });
  try {
    return await actionProbe(embedder);
  } finally {
    await embedder.close();
  }
}

/**
 * Evaluates a model (default: the one this build writes) on every available set. Run alone,
 * `npx tsx scripts/model/evaluate.ts --model switchboard-static-v1` measures another model of models/.
 */
export async function evaluateModel(
  log: (line: string) => void = console.log,
  modelId: string = MODEL_ID,
  modelsDir: string = PATHS.modelsDir,
): Promise<SetResult[]> {
  log(`  model ${modelId}`);
  const embedder = await TransformersEmbedder.load({ model: modelId, modelsDir });
  const results: SetResult[] = [];
  const seen = trainedDescriptions();
  for (const set of evaluationSets()) {
    const r = await evaluateSet(set, embedder, seen);
    const f = (s: Scores) => `top1 ${s.top1.toFixed(1)} R@5 ${s.recall5.toFixed(1)} MRR ${s.mrr10.toFixed(1)}`;
    log(
      `  ${r.set} (${r.tools} tools, ${r.queries} queries)\n    bm25  ${f(r.bm25)}\n    dense ${f(r.dense)}\n    fused ${f(r.fused)}`,
    );
    if (r.unseen)
      log(
        `    only the ${r.unseen.queries} queries whose tools were not trained on:\n      bm25  ${f(r.unseen.bm25)}\n      dense ${f(r.unseen.dense)}\n      fused ${f(r.unseen.fused)}`,
      );
    results.push(r);
  }
  await embedder.close();
  return results;
}

if (process.argv[1]?.endsWith('evaluate.ts')) {
  await evaluateModel();
  console.log(`  action probe: ${JSON.stringify(await probeModel())}`);
}
