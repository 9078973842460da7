/**
 * Edit distance for "did you mean" suggestions (unknown tools, unknown config keys). Callers bound
 * the length of what they pass: the cost is the product of the two lengths.
 */

/**
 * Levenshtein distance between `a` and `b`; with `swaps`, a swap of two neighbouring characters
 * counts as one edit (optimal string alignment: `tire` is one edit from `tier`).
 */
export function editDistance(a: string, b: string, options: { swaps?: boolean } = {}): number {
  // Three rows: the one before last is needed only for swaps.
  let before = new Array<number>(b.length + 1).fill(0);
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  let current = new Array<number>(b.length + 1).fill(0);
  for (let i = 1; i <= a.length; i++) {
    current[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
      if (options.swaps && i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        best = Math.min(best, before[j - 2]! + 1);
      }
      current[j] = best;
    }
    [before, previous, current] = [previous, current, before];
  }
  return previous[b.length]!;
}
