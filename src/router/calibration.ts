/**
 * Scorer defaults. The fusion weight and the confidence model are fitted on the dev half of our
 * evaluation set (data/eval/switchboard) by `npm run bench -- quality --calibrate`; the figures the
 * fit produced, and how the held-out half scores with them, are in bench/results/quality.json.
 */
import type { ScorerSettings } from './scorer.js';

/** Weight of the dense z-score against the lexical one (DESIGN.md §7 measured 0.2 to 0.5). */
export const DEFAULT_DENSE_WEIGHT = 0.75;

/**
 * Live-signal weights and the confidence model. Fitted with `npm run bench -- quality --calibrate`
 * on the 182 dev queries of data/eval/switchboard with the shipped model (switchboard-static-v1):
 * dense weight 0.75 (grid over 0.1..2 on dev MRR@10). Held-out half with these settings: top-1 42.2,
 * R@5 66.3 (reference BM25 32.5 / 51.8); "no confident match" precision 11.4, recall 26.7, which
 * is weak: neither index separates needs no tool serves from paraphrased ones well yet.
 */
export const DEFAULT_SCORER: ScorerSettings = {
  latencyWeight: 0.3,
  errorWeight: 2,
  confidence: { bias: -1.83, coverage: 3.82, dense: 0.81, margin: 0.36 },
  threshold: 0.3,
};
