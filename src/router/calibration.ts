/**
 * Scorer defaults. The fusion weight and the confidence model are fitted on the dev half of our
 * evaluation set (data/eval/switchboard) by `npm run bench -- quality --calibrate`; the figures the
 * fit produced, and how the held-out half scores with them, are in bench/results/quality.json.
 */
import type { ScorerSettings } from './scorer.js';

/** Weight of the dense z-score against the lexical one (DESIGN.md §7 measured 0.2 to 0.5). */
export const DEFAULT_DENSE_WEIGHT = 0.5;

/**
 * Live-signal weights and the confidence model. Fitted with `npm run bench -- quality --calibrate`
 * on the 182 dev queries of data/eval/switchboard, lexical evidence only (no model shipped yet, so
 * the dense coefficient is 0); held-out half: "no confident match" precision 18.9, recall 46.7 (weak: lexical evidence alone).
 */
export const DEFAULT_SCORER: ScorerSettings = {
  latencyWeight: 0.3,
  errorWeight: 2,
  confidence: { bias: -1.36, coverage: 3.05, dense: 0, margin: 0.43 },
  threshold: 0.35,
};
