/**
 * Assembles the training corpus from its four sources (Debian descriptions, WordNet glosses, man
 * pages, published MCP servers' tool lists) into pairs, general texts for co-occurrence, and the
 * tool texts whose words the vocabulary must keep. Nothing under ../shared/eval is read here: the
 * public evaluation sets carry no licence and are for measurement only.
 */
import { join } from 'node:path';
import { readTools, siblingNegatives } from './corpus-actions.js';
import { type Pair, readDebian } from './corpus-debian.js';
import { readManPages } from './corpus-man.js';
import { harvestMcpServers, type HarvestResult } from './corpus-mcp.js';
import { readWordnet } from './corpus-wordnet.js';
import { aptLists, fetchPackages } from './fetch-debian.js';
import { MAN_PACKAGES } from './man-packages.js';

/** Everything training needs, plus counts and licences for the README. */
export interface Corpus {
  readonly pairs: Pair[];
  readonly texts: string[];
  readonly toolTexts: string[];
  readonly lemmas: string[];
  readonly exceptions: [string, string][];
  readonly stats: Record<string, number>;
  readonly mcp: HarvestResult[];
  readonly manPackages: string[];
}

/** Splits a tool name into words the way the product does before embedding ("get_issue" -> "get issue"). */
const words = (name: string) => name.replace(/[_\-./:]+/g, ' ');

const clip = (b: string) => (b.length > 600 ? b.slice(0, 600) : b);

/**
 * Tool pairs: "name + parameter names" vs description, and each described parameter's name vs its
 * description. A tool's pair also carries its hard negatives (tools sharing its object but not its
 * action, corpus-actions.ts) and its object group; training decides whether to use them.
 */
export function toolPairs(results: readonly HarvestResult[]): { pairs: Pair[]; texts: string[] } {
  const pairs: Pair[] = [];
  const texts: string[] = [];
  const seen = new Set<string>();
  const readings = readTools(results);
  const readingOf = new Map(readings.map((x) => [`${x.pkg}\u0000${x.name}`, x]));
  const toolText = new Map<string, { a: string; b: string }>();
  const nameSide = (t: HarvestResult['tools'][number]) =>
    `${words(t.name)} ${t.params.map((p) => words(p.name)).join(' ')}`.trim();
  for (const r of results)
    if (!r.skipped)
      for (const t of r.tools)
        if (t.description.trim().length >= 10)
          toolText.set(`${r.pkg}\u0000${t.name}`, { a: nameSide(t), b: clip(t.description.trim()) });
  for (const r of results) {
    if (r.skipped) continue;
    const add = (a: string, b: string, source: Pair['source'], extra: Partial<Pair> = {}) => {
      const key = `${a}\u0000${b}`;
      if (seen.has(key)) return;
      seen.add(key);
      pairs.push({ a, b: clip(b), source, group: r.pkg, ...extra });
    };
    for (const t of r.tools) {
      texts.push([t.name, t.description, ...t.params.flatMap((p) => [p.name, p.description])].join(' '));
      const reading = readingOf.get(`${r.pkg}\u0000${t.name}`);
      const negatives = reading
        ? siblingNegatives(reading, readings, (pkg, name) => toolText.get(`${pkg}\u0000${name}`))
        : [];
      if (t.description.trim().length >= 10)
        add(nameSide(t), t.description.trim(), 'mcp', {
          meaning: `tool:${r.pkg}/${t.name}`,
          ...(reading ? { groups: [`object:${reading.objectKey}`] } : {}),
          ...(negatives.length ? { negatives } : {}),
        });
      for (const p of t.params)
        if (p.description.trim().length >= 15)
          add(`${words(t.name)} ${words(p.name)}`, p.description.trim(), 'mcp-param');
    }
  }
  return { pairs, texts };
}

/** Downloads (cached) and reads every source. */
export async function buildCorpus(log: (line: string) => void): Promise<Corpus> {
  const debian = readDebian(aptLists());
  log(`  debian: ${debian.packages} packages, ${debian.pairs.length} pairs, ${debian.texts.length} paragraphs`);
  const wnDir = fetchPackages(['wordnet-base'], ['./usr/share/wordnet/*', './usr/share/doc/*/copyright'], log).get(
    'wordnet-base',
  );
  if (!wnDir) throw new Error('wordnet-base could not be downloaded');
  const wordnet = readWordnet(join(wnDir, 'usr', 'share', 'wordnet'));
  log(`  wordnet: ${wordnet.pairs.length} pairs, ${wordnet.lemmas.length} lemmas`);
  const manDirs = fetchPackages(MAN_PACKAGES, undefined, log);
  const man = readManPages(manDirs.values());
  log(`  man: ${manDirs.size} packages, ${man.pages} pages, ${man.pairs.length} pairs`);
  const mcp = await harvestMcpServers(3, log);
  const tools = toolPairs(mcp);
  const used = mcp.filter((r) => !r.skipped);
  log(
    `  mcp: ${used.length} servers, ${used.reduce((a, r) => a + r.tools.length, 0)} tools, ${tools.pairs.length} pairs`,
  );
  const pairs = [...debian.pairs, ...wordnet.pairs, ...man.pairs, ...tools.pairs];
  return {
    pairs,
    texts: [...debian.texts, ...wordnet.texts, ...man.texts, ...debian.pairs.map((p) => p.a)],
    toolTexts: tools.texts,
    lemmas: wordnet.lemmas,
    exceptions: wordnet.exceptions,
    stats: {
      debianPackages: debian.packages,
      debianPairs: debian.pairs.length,
      wordnetPairs: wordnet.pairs.length,
      manPackages: manDirs.size,
      manPages: man.pages,
      manPairs: man.pairs.length,
      mcpServers: used.length,
      mcpTools: used.reduce((a, r) => a + r.tools.length, 0),
      mcpPairs: tools.pairs.length,
    },
    mcp,
    manPackages: [...manDirs.keys()],
  };
}
