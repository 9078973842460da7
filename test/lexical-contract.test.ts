/**
 * The LexicalIndex contract, run against every implementation: the tuned BM25F the gateway routes
 * with and the reference BM25 the benchmarks measure from. Documents use only the fields both
 * index (name, description, params), so the same expectations hold for both.
 */
import { describe, expect, it } from 'vitest';
import { Bm25Index } from '../src/index/lexical/bm25.js';
import { Bm25fIndex } from '../src/index/lexical/bm25f.js';
import type { LexicalDocument, LexicalIndex } from '../src/index/types.js';

const doc = (id: string, name: string, description: string, params = ''): LexicalDocument => ({
  id,
  fields: { name, description, ...(params ? { params } : {}) },
});

const CATALOG: LexicalDocument[] = [
  doc('github/list_issues', 'list_issues', 'List issues in a repository', 'owner repo state'),
  doc('github/create_issue', 'create_issue', 'Create a new issue in a repository', 'owner repo title body'),
  doc('fs/list_directory', 'list_directory', 'List files in a directory', 'path'),
  doc('fs/read_file', 'read_file', 'Read the contents of a file', 'path'),
  doc('k8s/list_pods', 'list_pods', 'List Kubernetes pods in a namespace', 'namespace'),
  doc('weather/forecast', 'get_forecast', 'Weather forecast for a city', 'city days'),
];

function build(make: () => LexicalIndex, docs: readonly LexicalDocument[] = CATALOG): LexicalIndex {
  const index = make();
  for (const d of docs) index.upsert(d);
  return index;
}

describe.each([
  { name: 'Bm25fIndex', make: (): LexicalIndex => new Bm25fIndex() },
  { name: 'Bm25Index', make: (): LexicalIndex => new Bm25Index() },
])('LexicalIndex contract: $name', ({ make }) => {
  it('finds the document with the rare matching term first', () => {
    const index = build(make);
    expect(index.size).toBe(CATALOG.length);
    const hits = index.search('list kubernetes pods', 10);
    expect(hits[0]?.id).toBe('k8s/list_pods');
    // The common term still brings the other list tools, below the rare match.
    expect(hits.map((h) => h.id)).toEqual(expect.arrayContaining(['github/list_issues', 'fs/list_directory']));
  });

  it('with a filter, ranks only the accepted documents', () => {
    const index = build(make);
    const notK8s = (id: string) => !id.startsWith('k8s/');
    const hits = index.search('list kubernetes pods', 10, notK8s);
    expect(hits.map((h) => h.id)).not.toContain('k8s/list_pods');
    expect(hits.map((h) => h.id)).toEqual(expect.arrayContaining(['github/list_issues', 'fs/list_directory']));
    expect(index.search('list', 1, (id) => id === 'fs/list_directory').map((h) => h.id)).toEqual(['fs/list_directory']);
  });

  it('remove makes a document unfindable and updates size', () => {
    const index = build(make);
    expect(index.remove('k8s/list_pods')).toBe(true);
    expect(index.size).toBe(CATALOG.length - 1);
    expect(index.search('kubernetes', 10)).toEqual([]);
    expect(index.search('pods namespace', 10).map((h) => h.id)).not.toContain('k8s/list_pods');
    expect(index.remove('k8s/list_pods')).toBe(false);
    expect(index.remove('never/there')).toBe(false);
    expect(index.size).toBe(CATALOG.length - 1);
  });

  it('upsert of an existing id replaces its text', () => {
    const index = build(make);
    index.upsert(doc('weather/forecast', 'get_tide_table', 'Tide table for a harbour', 'harbour'));
    expect(index.size).toBe(CATALOG.length);
    expect(index.search('forecast', 10)).toEqual([]);
    expect(index.search('tide harbour', 10)[0]?.id).toBe('weather/forecast');
  });

  it('a removed id can come back, and the index stays consistent across churn', () => {
    const index = build(make);
    for (const d of CATALOG) index.remove(d.id);
    expect(index.size).toBe(0);
    expect(index.search('list', 10)).toEqual([]);
    const fresh = build(make);
    for (const d of [...CATALOG].reverse()) index.upsert(d);
    // Same documents, same statistics: same answers as an index built in one go.
    expect(index.search('list issues in a repository', 10)).toEqual(fresh.search('list issues in a repository', 10));
  });

  it('returns no hits for an empty, stopword-only or punctuation-only query', () => {
    const index = build(make);
    expect(index.search('', 10)).toEqual([]);
    expect(index.search('the of and to a', 10)).toEqual([]);
    expect(index.search('?!  -- ...', 10)).toEqual([]);
    expect(index.search('zzyzx', 10)).toEqual([]);
  });

  it('k limits the results', () => {
    const index = build(make);
    expect(index.search('list', 2)).toHaveLength(2);
    expect(index.search('list', 0)).toEqual([]);
    expect(index.search('list', 100).length).toBeLessThanOrEqual(CATALOG.length);
  });

  it('scores are positive and sorted descending', () => {
    const index = build(make);
    const hits = index.search('list files issues repository path', 10);
    expect(hits.length).toBeGreaterThan(2);
    for (const [i, hit] of hits.entries()) {
      expect(hit.score).toBeGreaterThan(0);
      if (i > 0) expect(hits[i - 1]!.score).toBeGreaterThanOrEqual(hit.score);
    }
  });

  it('breaks score ties by id, whatever the insertion order', () => {
    const twins = ['c', 'a', 'd', 'b'].map((id) => doc(id, 'echo', 'Echo the message back', 'message'));
    const index = build(make, [...twins, doc('z', 'other', 'Something unrelated')]);
    const hits = index.search('echo message', 3);
    expect(hits.map((h) => h.id)).toEqual(['a', 'b', 'c']);
    expect(new Set(hits.map((h) => h.score)).size).toBe(1);
  });

  it('handles 5,000 documents with updates and removals', () => {
    const verbs = ['list', 'create', 'delete', 'update', 'read', 'search'];
    const nouns = ['issue', 'file', 'user', 'record', 'message', 'event', 'invoice', 'bucket'];
    const docs = Array.from({ length: 5000 }, (_, i) =>
      doc(
        `s${i % 50}/t${i}`,
        `${verbs[i % verbs.length]}_${nouns[i % nouns.length]}`,
        `Tool number w${i} on server s${i % 50}: ${verbs[(i * 7) % verbs.length]} ${nouns[(i * 3) % nouns.length]} items`,
        'id limit',
      ),
    );
    const index = build(make, docs);
    expect(index.size).toBe(5000);
    expect(index.search('w4321', 5)[0]?.id).toBe('s21/t4321');
    const hits = index.search('delete invoice', 20);
    expect(hits).toHaveLength(20);
    expect(new Set(hits.map((h) => h.id)).size).toBe(20);
    for (let i = 0; i < 5000; i += 2) index.remove(`s${i % 50}/t${i}`);
    expect(index.size).toBe(2500);
    expect(index.search('w4320', 5)).toEqual([]);
    expect(index.search('w4321', 5)[0]?.id).toBe('s21/t4321');
  });
});
