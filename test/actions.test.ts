/**
 * Issue 15's evidence on plain inputs: the action lexicon (needs and tools), the read/change
 * intent, generated example needs, the query tokenizer that keeps known product names whole, the
 * reranker's model file checks and its read-only rule in the scorer.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Bm25fIndex } from '../src/index/lexical/bm25f.js';
import { createTokenizer, tokenize } from '../src/index/lexical/tokenize.js';
import { ActionLexicon } from '../src/router/actions.js';
import type { Fused } from '../src/router/fusion.js';
import { generatedNeeds } from '../src/router/generated-needs.js';
import { loadRerankModel, Reranker } from '../src/router/rerank.js';
import { rank, type Candidate, type ScorerSettings } from '../src/router/scorer.js';
import { ROOT, tempDir } from './helpers.js';

const lexicon = new ActionLexicon();
const ids = (text: string) => lexicon.actionsIn(text).map((a) => a.id);

describe('the action lexicon', () => {
  it('reads the action of a need through synonyms, inflections and phrasal verbs', () => {
    expect(ids('add a row to the orders table')).toEqual(['create']);
    expect(ids('roll back the deploy of the api')).toEqual(['revert']); // "the deploy": a noun
    expect(ids('get rid of the old build folder')).toEqual(['delete']);
    expect(ids('forget that Bob likes sushi')).toEqual(['delete']);
    expect(ids('look up the customer by email')).toEqual(['search']);
    expect(ids('I deleted the wrong file, please restore it')).toEqual(['delete', 'revert']);
  });

  it('does not take nouns built on verbs for actions ("deployment", "replacement")', () => {
    expect(ids('which image does the web deployment run')).toEqual([]);
    expect(ids('the replacement parts arrived')).toEqual([]);
  });

  it('gives a tool the action of its name, title or opening words, base forms only in names', () => {
    expect(lexicon.tool('create_issue', undefined, undefined)?.id).toBe('create');
    expect(lexicon.tool('monitors.list', undefined, undefined)?.id).toBe('list');
    expect(lexicon.tool('deployments_list', undefined, undefined)?.id).toBe('list');
    expect(lexicon.tool('rollback', undefined, undefined)?.id).toBe('revert');
    expect(lexicon.tool('maps_geocode', undefined, 'Deletes a cached geocode')?.id).toBe('delete');
    expect(lexicon.tool('echo', undefined, 'Echoes back the input')).toBeUndefined();
  });

  it('reads "how do I ..." and "is there a way to ..." as requests to act, not questions about the world', () => {
    expect(lexicon.need('how do I delete the staging branch').intent).toBe('change');
    expect(lexicon.need('how can I create an issue').intent).toBe('change');
    expect(lexicon.need('is there a way to remove a file').intent).toBe('change');
    expect(lexicon.need('what did the deploy change').intent).toBe('read');
    expect(lexicon.need('what can we delete safely').intent).toBe('change');
    // The person asked is not right after the opener: a question about the world, whatever its verbs.
    expect(lexicon.need('Which folders are you allowed to get into?').intent).toBe('read');
    expect(lexicon.need('what files did you create yesterday').intent).toBe('read');
  });

  it('tells needs that only look from needs that change things', () => {
    expect(lexicon.need('Is there an issue called "Create branch fails"?').intent).toBe('read');
    expect(lexicon.need('Are any customers contesting charges right now?').intent).toBe('read');
    expect(lexicon.need('which images are cached locally').intent).toBe('read');
    expect(lexicon.need('show me the open pull requests').intent).toBe('read');
    expect(lexicon.need('can you delete the staging branch').intent).toBe('change');
    expect(lexicon.need('remember that Alice manages Bob').intent).toBe('change');
    expect(lexicon.need('Alice and Bob').intent).toBeUndefined();
  });

  it('relates clusters that often serve each other (remember and create), not opposites', () => {
    expect(lexicon.related('remember', 'create')).toBe(true);
    expect(lexicon.related('create', 'delete')).toBe(false);
  });
});

describe('generated example needs', () => {
  it('state the tool under the other verbs of its action, with its object words', () => {
    const [line] = generatedNeeds(lexicon, { name: 'insert_record', description: 'Inserts a record' });
    expect(line?.split(' ')).toEqual(expect.arrayContaining(['create', 'add', 'record']));
    expect(line?.split(' ')).not.toContain('insert');
    expect(line?.split(' ')).not.toContain('delete');
  });

  it('are none for a tool whose text states no known action', () => {
    expect(generatedNeeds(lexicon, { name: 'echo', description: 'Echoes back the input' })).toEqual([]);
  });
});

describe('the query tokenizer keeps a known product name whole', () => {
  it('does not split "GitHub" into "git hub" when the index knows "github", so "hub" cannot reach HubSpot', () => {
    const known = new Set(['github', 'hubspot']);
    const query = createTokenizer(undefined, undefined, (t) => known.has(t));
    expect(query('open issues on GitHub')).toEqual(['open', 'issu', 'github']);
    // Unknown joined forms still split, so an identifier in a need meets the parts in tool text
    // ("get" and "by" are stopwords).
    expect(query('call getUserById')).toEqual(['call', 'user', 'id', 'getuserbyid']);
    expect(tokenize('GitHub')).toEqual(['git', 'hub', 'github']);
  });

  it('routes "create a contact on GitHub" away from HubSpot in the BM25F index', () => {
    const index = new Bm25fIndex();
    index.upsert({ id: 'hubspot/create_contact', fields: { name: 'create_contact', server: 'HubSpot CRM' } });
    index.upsert({ id: 'github/create_issue', fields: { name: 'create_issue', server: 'GitHub' } });
    const hits = index.search('create an issue on GitHub', 5);
    expect(hits[0]?.id).toBe('github/create_issue');
    // "hub" no longer reaches HubSpot's "hub": only "create" does.
    const hubspot = hits.find((h) => h.id === 'hubspot/create_contact');
    const plain = index.search('create', 5).find((h) => h.id === 'hubspot/create_contact');
    expect(hubspot?.score).toBeCloseTo(plain?.score ?? -1, 6);
  });
});

describe('the reranker model file', () => {
  it('ships, with weights for both modes, and loads', () => {
    const model = loadRerankModel(join(ROOT, 'models/switchboard-rerank-v1.json'));
    expect(Object.keys(model.rerank).sort()).toEqual(['hybrid', 'lexical']);
    expect(model.abstain.hybrid?.threshold).toBeGreaterThan(0);
  });

  it('refuses a file that is not a model, naming the file', () => {
    const path = join(tempDir(), 'bad.json');
    writeFileSync(path, JSON.stringify({ version: 1, pool: 30, rerank: { hybrid: { features: ['a'], weights: [] } } }));
    expect(() => loadRerankModel(path)).toThrow(path);
    // A shipped model with one weight that is not a finite number, or a feature it does not know.
    const shipped = JSON.parse(readFileSync(join(ROOT, 'models/switchboard-rerank-v1.json'), 'utf8')) as {
      rerank: { hybrid: { weights: unknown[]; features: string[] } };
    };
    shipped.rerank.hybrid.weights[0] = 'x';
    writeFileSync(path, JSON.stringify(shipped));
    expect(() => loadRerankModel(path)).toThrow(/finite numbers/);
    shipped.rerank.hybrid.weights[0] = 1;
    shipped.rerank.hybrid.features[0] = 'madeUp';
    writeFileSync(path, JSON.stringify(shipped));
    expect(() => loadRerankModel(path)).toThrow(/known features/);
  });
});

describe('the read-only rule', () => {
  const settings: ScorerSettings = {
    latencyWeight: 0.3,
    errorWeight: 2,
    confidence: { bias: 0, coverage: 0, dense: 0, margin: 0 },
    threshold: 0.5,
  };
  const fused: Fused[] = [
    { id: 's/delete_thing', lexical: 2, dense: 0.5, zLexical: 1, zDense: 1, fused: 3 },
    { id: 's/list_things', lexical: 1, dense: 0.4, zLexical: 0, zDense: 0, fused: 1 },
  ];
  const candidates = new Map<string, Candidate>(
    fused.map((f) => [
      f.id,
      { id: f.id, server: 's', name: f.id.slice(2), params: [], matchedTerms: ['thing'], coverage: 1 },
    ]),
  );
  const verdict = (readOnlyNeed: boolean) => ({
    confidence: 0.9,
    confident: true,
    readOnlyNeed,
    changes: (id: string) => id === 's/delete_thing',
  });

  it('never answers a need that only reads with a writing tool as a confident first answer', () => {
    const ranking = rank(fused, candidates, new Map(), settings, 5, verdict(true));
    expect(ranking.matches[0]?.tool).toBe('s/delete_thing');
    expect(ranking.confident).toBe(false);
    expect(ranking.matches[0]?.reasons).toContain('the need only reads, and this tool changes things');
  });

  it('leaves a need that changes things confident', () => {
    expect(rank(fused, candidates, new Map(), settings, 5, verdict(false)).confident).toBe(true);
  });

  it("takes a tool's hints over its name: not read-only means it changes things; write_file changes things", () => {
    const reranker = new Reranker(undefined, (t) => tokenize(t));
    const tool = (name: string, annotations?: { readOnlyHint?: boolean; destructiveHint?: boolean }) => ({
      id: `s/${name}`,
      server: 's',
      name,
      params: [],
      lexical: { id: `s/${name}`, fields: { name } },
      embedText: '',
      ...(annotations ? { annotations } : {}),
      matchedTerms: [],
      coverage: 0,
      fieldCoverage: {},
    });
    expect(reranker.toolKind(tool('write_file')).kind).toBe('change');
    expect(reranker.toolKind(tool('get_thing', { readOnlyHint: false })).kind).toBe('change');
    expect(reranker.toolKind(tool('get_thing')).kind).toBe('read');
    expect(reranker.toolKind(tool('delete_thing', { readOnlyHint: true })).kind).toBe('read');
  });

  it('computes one row of features per pooled candidate, in fusion order', () => {
    const reranker = new Reranker(undefined, (t) => tokenize(t));
    const index = new Map(
      fused.map((f) => [
        f.id,
        {
          id: f.id,
          server: 's',
          name: f.id.slice(2),
          params: [],
          lexical: { id: f.id, fields: { name: f.id.slice(2) } },
          embedText: '',
          matchedTerms: [],
          coverage: 0.5,
          fieldCoverage: { name: 0.5 },
        },
      ]),
    );
    const { rows, actions } = reranker.features('show me the things', fused, index, new Map([['thing', 1]]));
    expect(rows.map((r) => r.id)).toEqual(fused.map((f) => f.id));
    expect(actions.intent).toBe('read');
    expect(reranker.rerank('show me the things', fused, index, 'hybrid', new Map())).toBeUndefined();
  });
});
