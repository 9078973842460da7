/**
 * Globs as the config writes them (limit rules' `match`, credential scopes, alert rules' `where`):
 * `*` matches any run of characters, nothing else is special. One implementation, so a pattern means
 * the same wherever an operator writes it.
 */

/** A string test. */
export type GlobTest = (value: string) => boolean;

/** The regular-expression source of a glob, unanchored: `*` is `.*`, everything else literal. */
export function globSource(pattern: string): string {
  return pattern
    .split('*')
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
}

/** A glob as a string test: `*` alone matches any value, no `*` compares exactly. */
export function compileGlob(pattern: string): GlobTest {
  if (pattern === '*') return () => true;
  if (!pattern.includes('*')) return (value) => value === pattern;
  const regex = new RegExp(`^${globSource(pattern)}$`, 's');
  return (value) => regex.test(value);
}
