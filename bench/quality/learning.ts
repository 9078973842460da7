/**
 * The effect of learning from use, measured by replay: the dev half of the queries is played as
 * traffic (a need whose top five hold a right tool is taken as a successful call of that tool and
 * becomes its example need), then the held-out half is scored before and after.
 */
import type { Embedder } from '../../src/index/types.js';
import type { Reranker } from '../../src/router/rerank.js';
import type { ScorerSettings } from '../../src/router/scorer.js';
import { splitDevTest } from './calibrate.js';
import { evaluate, pairedBootstrap, type Metrics, type QueryOutcome } from './metrics.js';
import { buildSystem } from './systems.js';
import type { EvalSet } from './types.js';

/** Before/after metrics on the held-out half, with the paired gain. */
export interface LearningEffect {
  readonly learned: number;
  readonly before: Metrics;
  readonly after: Metrics;
  readonly gain: {
    top1: ReturnType<typeof pairedBootstrap>;
    recall5: ReturnType<typeof pairedBootstrap>;
    mrr10: ReturnType<typeof pairedBootstrap>;
  };
}

/** Replays the dev half as traffic and scores the test half before and after. */
export async function learningEffect(
  set: EvalSet,
  options: { embedder?: Embedder; denseWeight: number; scorer: ScorerSettings; reranker?: Reranker },
): Promise<LearningEffect> {
  const { dev, test } = splitDevTest(set);
  const system = await buildSystem(options.embedder ? 'hybrid' : options.reranker ? 'lexical' : 'bm25f', set, options);
  const score = async () => {
    const outcomes = new Map<string, QueryOutcome>();
    for (const q of test.queries) outcomes.set(q.id, await system.answer(q.query));
    return evaluate(test.queries, outcomes);
  };
  const before = await score();
  const examples = new Map<string, string[]>();
  let learned = 0;
  for (const q of dev.queries) {
    const answer = await system.answer(q.query);
    const chosen = answer.ranked.slice(0, 5).find((id) => q.relevant.includes(id));
    if (!chosen) continue;
    examples.set(chosen, [...(examples.get(chosen) ?? []), q.query]);
    learned++;
  }
  await system.learn(examples);
  const after = await score();
  return {
    learned,
    before: before.metrics,
    after: after.metrics,
    gain: {
      top1: pairedBootstrap(after.perQuery, before.perQuery, 'top1'),
      recall5: pairedBootstrap(after.perQuery, before.perQuery, 'recall5'),
      mrr10: pairedBootstrap(after.perQuery, before.perQuery, 'mrr10'),
    },
  };
}
