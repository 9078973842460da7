/**
 * "Did you mean" suggestions for unknown names: the closest exposed names by edit distance, so an
 * agent that dropped a prefix or made a typo can correct itself from the error alone.
 */

/** Levenshtein distance, bounded work for short identifiers. */
export function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0] ?? 0;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j] ?? 0;
      prev[j] = Math.min(up + 1, (prev[j - 1] ?? 0) + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length] ?? 0;
}

/** Up to `limit` names close to `name`: suffix matches first (a missing server prefix), then by distance. */
export function suggest(name: string, names: readonly string[], limit = 3): string[] {
  const lower = name.toLowerCase();
  const scored = names
    .map((candidate) => {
      const c = candidate.toLowerCase();
      const suffix = c.endsWith(`__${lower}`) || c.endsWith(lower) ? 0 : 1;
      return { candidate, suffix, distance: editDistance(lower, c) };
    })
    .filter((s) => s.suffix === 0 || s.distance <= Math.max(2, Math.floor(name.length / 3)));
  scored.sort((x, y) => x.suffix - y.suffix || x.distance - y.distance || x.candidate.localeCompare(y.candidate));
  return scored.slice(0, limit).map((s) => s.candidate);
}
