/**
 * The vector index survives restarts: a second capability index over the same folder loads the
 * saved vectors instead of embedding again, re-embeds only a tool whose text changed, drops tools
 * that left the catalog, and rebuilds when the model (or the index kind the catalog calls for)
 * is not the one that built the saved copy. Real model, real files, both index kinds.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { CapabilityIndex, type CapabilityDoc } from '../src/index/capability-index.js';
import { openEmbedder } from '../src/index/embedder/load.js';
import { Bm25fIndex } from '../src/index/lexical/bm25f.js';
import { toolDocument } from '../src/index/lexical/document.js';
import { tokenize } from '../src/index/lexical/tokenize.js';
import type { Embedder } from '../src/index/types.js';
import { createVectorIndex, vectorKindFor } from '../src/index/vector/factory.js';
import { FileVectorStore } from '../src/index/vector/persist.js';
import { ROOT, tempDir } from './helpers.js';

interface CatalogFile {
  servers: { name: string; tools: { name: string; description?: string; inputSchema?: Record<string, unknown> }[] }[];
}

const catalog = JSON.parse(readFileSync(join(ROOT, 'test/fixtures/catalog.json'), 'utf8')) as CatalogFile;
const docs: CapabilityDoc[] = catalog.servers.flatMap((s) =>
  s.tools.map((t) => {
    const id = `${s.name}__${t.name}`;
    const lexical = toolDocument({
      id,
      server: s.name,
      tool: { name: t.name, description: t.description, inputSchema: t.inputSchema ?? { type: 'object' } },
      examples: [],
    });
    return { id, server: s.name, name: t.name, params: [], lexical, embedText: `${t.name} ${t.description ?? ''}` };
  }),
);

/** Counts the texts that reach the real model. */
class CountingEmbedder implements Embedder {
  embedded = 0;
  constructor(
    readonly inner: Embedder,
    readonly id: string = inner.id,
  ) {}
  get dim() {
    return this.inner.dim;
  }
  embed(texts: readonly string[]) {
    this.embedded += texts.length;
    return this.inner.embed(texts);
  }
}

let model: Embedder;
beforeAll(async () => {
  model = await openEmbedder({ model: 'switchboard-static-v1', modelsDir: join(ROOT, 'models') });
});

function open(dir: string, embedder: Embedder, kind: 'exact' | 'hnsw', persistDelayMs = 0) {
  return new CapabilityIndex({
    lexical: new Bm25fIndex(),
    embedder,
    vectors: (dim, expectedSize) => createVectorIndex({ dim, kind, expectedSize }),
    vectorKind: (expectedSize) => vectorKindFor({ dim: 0, kind, expectedSize }),
    persist: new FileVectorStore(dir),
    persistDelayMs,
    tokenize: (text) => tokenize(text, { stem: true, stopwords: 'conversational' }),
  });
}

describe.each(['exact', 'hnsw'] as const)('a saved %s index', (kind) => {
  it('is loaded on restart, updated incrementally, and rebuilt for another model or kind', async () => {
    const dir = tempDir();
    const first = new CountingEmbedder(model);
    const a = open(dir, first, kind);
    await a.sync(docs);
    expect(first.embedded).toBe(docs.length);
    const need = 'open a bug report';
    const before = (await a.search(need, { k: 5, mode: 'dense' })).dense;

    // Restart: nothing is embedded, the answers are the same.
    const second = new CountingEmbedder(model);
    const b = open(dir, second, kind);
    await b.sync(docs);
    expect(second.embedded).toBe(0);
    expect((await b.search(need, { k: 5, mode: 'dense' })).dense).toEqual(before);

    // One tool changed, one left: one text embedded, the departed tool is gone from the vectors.
    const changed = docs
      .map((d, i) => (i === 0 ? { ...d, embedText: `${d.embedText} (now with attachments)` } : d))
      .slice(0, -1);
    const gone = docs[docs.length - 1]!.id;
    const third = new CountingEmbedder(model);
    const c = open(dir, third, kind);
    await c.sync(changed);
    expect(third.embedded).toBe(1);
    expect(
      (await c.search(docs[docs.length - 1]!.embedText, { k: docs.length, mode: 'dense' })).dense.map((h) => h.id),
    ).not.toContain(gone);

    // A different model id never reuses these vectors.
    const other = new CountingEmbedder(model, 'another-model');
    await open(dir, other, kind).sync(changed);
    expect(other.embedded).toBe(changed.length);

    // A saved index of the other kind is rebuilt, not reused.
    const switched = new CountingEmbedder(model);
    await open(dir, switched, kind === 'exact' ? 'hnsw' : 'exact').sync(changed);
    expect(switched.embedded).toBe(changed.length);
  });
});

describe('saving', () => {
  it('waits for a quiet moment (a burst of changes writes once), and persistNow writes what is pending', async () => {
    const dir = tempDir();
    const a = open(dir, new CountingEmbedder(model), 'exact', 60_000);
    await a.sync(docs);
    // Nothing written yet: a second index over the folder embeds everything.
    const early = new CountingEmbedder(model);
    await open(dir, early, 'exact').sync(docs);
    expect(early.embedded).toBe(docs.length);
    // (that second index saved at once; start over in a fresh folder for the deferred case)
    const dir2 = tempDir();
    const b = open(dir2, new CountingEmbedder(model), 'exact', 60_000);
    await b.sync(docs);
    b.persistNow();
    const late = new CountingEmbedder(model);
    await open(dir2, late, 'exact').sync(docs);
    expect(late.embedded).toBe(0);
  });
});

describe('a narrow view over an HNSW index', () => {
  it('ranks exactly what an exact index filtered the same way ranks, and follows the next sync', async () => {
    const hnsw = open(tempDir(), model, 'hnsw');
    const exact = open(tempDir(), model, 'exact');
    await hnsw.sync(docs);
    await exact.sync(docs);
    const servers = [...new Set(docs.map((d) => d.server))];
    const allowed = new Set(servers.slice(0, Math.max(1, Math.floor(servers.length / 5))));
    const visible = (id: string) => allowed.has(id.split('__')[0] ?? '');
    for (const need of ['open a bug report', 'read a file', 'send a message to the team']) {
      const a = (await hnsw.search(need, { k: 5, mode: 'dense', visible })).dense;
      const b = (await exact.search(need, { k: 5, mode: 'dense', visible })).dense;
      expect(a.map((h) => h.id)).toEqual(b.map((h) => h.id));
      expect(a.every((h) => visible(h.id))).toBe(true);
    }
    // A tool of the view leaves the catalog: the sub-index built for the view is rebuilt, not reused.
    const first = (await hnsw.search('open a bug report', { k: 1, mode: 'dense', visible })).dense[0]!.id;
    await hnsw.sync(docs.filter((d) => d.id !== first));
    const after = (await hnsw.search('open a bug report', { k: 5, mode: 'dense', visible })).dense.map((h) => h.id);
    expect(after).not.toContain(first);
  });
});
