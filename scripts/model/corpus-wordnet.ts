/**
 * WordNet 3.0 glosses (Debian's wordnet-base): each synset's lemmas and its definition state one
 * meaning twice, which teaches general English paraphrase ("erase" ~ "remove completely"). Glosses
 * with their example sentences also feed the co-occurrence counts. WordNet's licence asks that its
 * notice travel with derived works: the model README carries it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Pair } from './corpus-debian.js';

/** Pairs (lemmas vs definition), texts (lemmas + gloss), and the lemma list for vocabulary coverage. */
export interface WordnetCorpus {
  readonly pairs: Pair[];
  readonly texts: string[];
  readonly lemmas: string[];
  /** Irregular inflections (went -> go), so the tokenizer knows them. */
  readonly exceptions: [string, string][];
}

/** Reads data.{noun,verb,adj,adv} and the *.exc files from a wordnet folder. */
export function readWordnet(dir: string): WordnetCorpus {
  const pairs: Pair[] = [];
  const texts: string[] = [];
  const lemmas = new Set<string>();
  for (const pos of ['noun', 'verb', 'adj', 'adv']) {
    for (const line of readFileSync(join(dir, `data.${pos}`), 'utf8').split('\n')) {
      if (!line || line.startsWith(' ')) continue; // the licence header lines start with spaces
      const bar = line.indexOf(' | ');
      if (bar < 0) continue;
      const fields = line.slice(0, bar).split(' ');
      const count = parseInt(fields[3] ?? '0', 16);
      const words: string[] = [];
      for (let i = 0; i < count; i++) {
        // Adjective markers such as "(a)" or "(ip)" are not part of the lemma.
        const w = (fields[4 + 2 * i] ?? '').replace(/\([a-z]+\)$/, '').replace(/_/g, ' ');
        if (w) words.push(w);
      }
      const gloss = line.slice(bar + 3).trim();
      const definition = gloss.split(/;\s*"/)[0]?.replace(/;\s*$/, '').trim() ?? '';
      for (const w of words) lemmas.add(w.toLowerCase());
      texts.push(`${words.join(', ')}: ${gloss.replace(/"/g, '')}`);
      if (words.length && definition.length > 3)
        pairs.push({ a: words.slice(0, 4).join(', '), b: definition, source: 'wordnet' });
    }
  }
  const exceptions: [string, string][] = [];
  for (const pos of ['noun', 'verb', 'adj', 'adv']) {
    for (const line of readFileSync(join(dir, `${pos}.exc`), 'utf8').split('\n')) {
      const [inflected, base] = line.trim().split(/\s+/);
      if (inflected && base) exceptions.push([inflected.replace(/_/g, ' '), base.replace(/_/g, ' ')]);
    }
  }
  return { pairs, texts, lemmas: [...lemmas], exceptions };
}
