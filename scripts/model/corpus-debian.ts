/**
 * Debian package descriptions (Translation-en files): each package states its purpose twice, as a
 * one-line synopsis and as a long description, so (synopsis, first long paragraph) is a pair of
 * texts that mean the same capability. All long paragraphs also feed the co-occurrence counts.
 * Paragraphs shared by many packages (-dev/-doc/-data families repeat their upstream blurb) are
 * kept once, so a batch rarely holds the same text as both positive and negative.
 */
import { readFileSync } from 'node:fs';

/** A pair of texts stating the same thing, and where it came from. */
export interface Pair {
  readonly a: string;
  readonly b: string;
  readonly source: 'debian' | 'man' | 'wordnet' | 'mcp' | 'mcp-param' | 'action';
  /** Pairs of one group (the tools of one MCP server) are batched together as each other's hard negatives. */
  readonly group?: string;
  /**
   * Further groups the pair is batched with on some of its draws (the tools of every server that
   * share its object word: create_issue, close_issue, delete_issue), taken in turn with `group`.
   */
  readonly groups?: readonly string[];
  /** What the pair means (a tool, an action on an object): pairs or negatives meaning the same are never negatives. */
  readonly meaning?: string;
  /** Explicit hard negatives: texts like `a` and like `b` that mean something else (one is drawn per use). */
  readonly negatives?: readonly NegativeText[];
}

/** A hard negative of a pair: a text like the pair's `a`, one like its `b`, and what they mean. */
export interface NegativeText {
  readonly a: string;
  readonly b: string;
  readonly meaning: string;
}

/** Pairs plus every paragraph, for co-occurrence statistics. */
export interface DebianCorpus {
  readonly pairs: Pair[];
  readonly texts: string[];
  readonly packages: number;
}

/** Joins a Debian long-description paragraph's lines; " ." separates paragraphs. */
function paragraphs(long: readonly string[]): string[] {
  const out: string[] = [];
  let current: string[] = [];
  for (const line of long) {
    const text = line.trim();
    if (text === '.') {
      if (current.length) out.push(current.join(' '));
      current = [];
    } else current.push(text);
  }
  if (current.length) out.push(current.join(' '));
  // Bullet lists and tables read poorly as prose, but their words still co-occur: keep them.
  return out.map((p) => p.replace(/\s+/g, ' ').trim()).filter((p) => p.length > 0);
}

/** Parses Translation-en files (the first file wins for a package listed twice). */
export function readDebian(files: readonly string[]): DebianCorpus {
  const seenPackage = new Set<string>();
  const seenParagraph = new Set<string>();
  const pairs: Pair[] = [];
  const texts: string[] = [];
  for (const file of files) {
    for (const stanza of readFileSync(file, 'utf8').split(/\n(?=Package: )/)) {
      const name = /^Package: (\S+)/.exec(stanza)?.[1];
      const m = /\nDescription-en: ([^\n]*)\n?((?: [^\n]*\n?)*)/.exec(stanza);
      if (!name || !m || seenPackage.has(name)) continue;
      seenPackage.add(name);
      const short = (m[1] ?? '').trim();
      const paras = paragraphs((m[2] ?? '').split('\n').filter((l) => l.startsWith(' ')));
      for (const p of paras) {
        if (seenParagraph.has(p)) continue;
        seenParagraph.add(p);
        texts.push(p);
      }
      const first = paras[0];
      if (!first || first.length < 20) continue;
      if (pairs.length && seenParagraph.has(`pair:${first}`)) continue;
      seenParagraph.add(`pair:${first}`);
      pairs.push({ a: short, b: first.length > 600 ? first.slice(0, 600) : first, source: 'debian' });
    }
  }
  return { pairs, texts, packages: seenPackage.size };
}
