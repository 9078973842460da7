/**
 * Matching a resource URI to the template that produced it (RFC 6570 level 1: each `{var}` stands for
 * one path segment), enough to route a read to the server whose template it is, and to tell whether a
 * caller may see it.
 */

/** True when `uri` is an expansion of `template`. */
export function templateMatches(template: string, uri: string): boolean {
  const pattern = template
    .split(/(\{[^}]+\})/)
    .map((part) => (part.startsWith('{') ? '[^/]+' : part.replace(/[.*+?^$()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${pattern}$`).test(uri);
}
