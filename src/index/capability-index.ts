/**
 * The capability index: keeps a lexical index and (when an embedder is configured) a vector index in
 * step with the catalog, and answers a need with fused candidates.
 *
 * `sync` is incremental: documents whose text is unchanged are left alone, changed ones are
 * re-indexed, and only texts missing from the embedding cache reach the embedder. Candidates carry
 * the query terms they matched and an IDF-weighted coverage, which the scorer turns into reasons
 * and a confidence.
 */
import { createHash } from 'node:crypto';
import {
  LEXICAL_FIELDS,
  type Embedder,
  type Hit,
  type LexicalDocument,
  type LexicalField,
  type LexicalIndex,
  type VectorIndex,
} from './types.js';
import { ExactIndex } from './vector/exact.js';
import type { VectorSnapshotStore } from './vector/persist.js';

/** One tool as the index sees it. */
export interface CapabilityDoc {
  readonly id: string;
  readonly server: string;
  readonly name: string;
  readonly params: readonly string[];
  readonly lexical: LexicalDocument;
  /** The text embedded for the dense index. */
  readonly embedText: string;
  /** What the tool declares about its effects (MCP tool annotations), for the ranking's read/change evidence. */
  readonly annotations?: { readonly readOnlyHint?: boolean; readonly destructiveHint?: boolean };
}

/** Cache of embeddings by model and text (implemented over SQLite in store/). */
export interface EmbeddingCache {
  getMany(model: string, texts: readonly string[]): Map<string, Float32Array>;
  putMany(model: string, entries: ReadonlyMap<string, Float32Array>): void;
}

/** Which evidence a search uses. */
export type SearchMode = 'lexical' | 'dense' | 'hybrid';

/** What the index is built from. */
export interface CapabilityIndexDeps {
  readonly lexical: LexicalIndex;
  readonly vectors?: (dim: number, expectedSize: number) => VectorIndex;
  /** The kind `vectors` would build for a catalog of this size (a saved index of another kind is rebuilt). */
  readonly vectorKind?: (expectedSize: number) => VectorIndex['kind'];
  /** Keeps the vector index between runs; absent = rebuilt from the embedding cache at every start. */
  readonly persist?: VectorSnapshotStore;
  /**
   * Saving waits this long after the last change (default 2 s), so a burst of catalog changes
   * writes once; 0 saves at the end of every sync. Writing a 100k-tool HNSW index blocks for a
   * while, which must not happen on every list_changed.
   */
  readonly persistDelayMs?: number;
  /**
   * The embedding model, or the promise of one still loading: every sync then waits until the load
   * has settled, so no tool is indexed without its vector (a sync embeds only tools that changed,
   * so one indexed early would never get one). A load that fails leaves the index lexical only.
   */
  readonly embedder?: Embedder | Promise<Embedder | undefined>;
  readonly cache?: EmbeddingCache;
  /** Tokenizes a query or document text the way the lexical index does (stemmed, stopwords out). */
  readonly tokenize: (text: string) => string[];
  /** Candidates taken from each list before fusion. */
  readonly pool?: number;
}

/** A candidate with the evidence behind it. */
export interface IndexCandidate extends CapabilityDoc {
  readonly matchedTerms: readonly string[];
  readonly coverage: number;
  /** The same IDF-weighted share of the query, per field of the tool's text (absent field: 0). */
  readonly fieldCoverage: Readonly<Partial<Record<LexicalField, number>>>;
}

/** Result of a sync, for logs and tests. */
export interface SyncReport {
  readonly added: number;
  readonly removed: number;
  readonly embedded: number;
  readonly fromCache: number;
}

/** A term's field mask has bit i for LEXICAL_FIELDS[i] (fieldCoverage lists the fields in that order too). */
const FIELD_INDEX = Object.fromEntries(LEXICAL_FIELDS.map((f, i) => [f, i])) as Record<LexicalField, number>;

/** A tool as the index holds it for coverage: its terms as sorted ids, a field mask per term. */
interface IndexedDoc {
  readonly doc: CapabilityDoc;
  readonly key: string;
  readonly termIds: Int32Array;
  readonly masks: Uint8Array;
}

/** Position of `value` in a sorted array, or -1. */
function indexOf(sorted: Int32Array, value: number): number {
  let lo = 0;
  let hi = sorted.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const v = sorted[mid]!;
    if (v === value) return mid;
    if (v < value) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

/** The live capability index. */
export class CapabilityIndex {
  readonly #deps: CapabilityIndexDeps;
  readonly #docs = new Map<string, IndexedDoc>();
  /** Term -> small integer id; an id is freed for reuse when no tool has the term any more. */
  readonly #termIds = new Map<string, number>();
  readonly #termNames: string[] = [];
  readonly #freeTermIds: number[] = [];
  /** Bumped by every sync that changed something: narrow sub-indexes of older generations are stale. */
  #generation = 0;
  /**
   * Exact sub-indexes of narrow views (a caller's `visible` filter, one per view object), when the
   * main index is HNSW: filtering HNSW means searching it wider, while a narrow view's own vectors are
   * few enough to scan exactly, faster than the unrestricted search. null: the view is not narrow.
   */
  readonly #narrow = new WeakMap<(id: string) => boolean, { generation: number; index: ExactIndex | null }>();
  readonly #df = new Map<string, number>();
  #vectors: VectorIndex | undefined;
  /** Hash of the text behind each vector (to skip re-adding an unchanged tool to a loaded index). */
  readonly #vectorKeys = new Map<string, string>();
  #loaded = false;
  #dirty = false;
  #persistTimer: NodeJS.Timeout | undefined;
  #embedder: Embedder | undefined;
  /** Settles once a model given as a promise has loaded or failed (undefined: given as is). */
  readonly #embedderSettled: Promise<void> | undefined;

  constructor(deps: CapabilityIndexDeps) {
    this.#deps = deps;
    const embedder = deps.embedder;
    if (embedder instanceof Promise) {
      this.#embedderSettled = embedder.then(
        (loaded) => void (this.#embedder = loaded),
        () => {}, // no model: lexical only
      );
    } else {
      this.#embedder = embedder;
    }
  }

  /** Documents indexed. */
  get size(): number {
    return this.#docs.size;
  }

  /** The embedder's model id, if dense search is on. */
  get model(): string | undefined {
    return this.#embedder?.id;
  }

  /** Brings the index in line with `docs` (the whole current catalog). */
  async sync(docs: readonly CapabilityDoc[]): Promise<SyncReport> {
    if (this.#embedderSettled) await this.#embedderSettled;
    const wanted = new Map(docs.map((d) => [d.id, d]));
    let removed = 0;
    for (const id of [...this.#docs.keys()]) {
      if (!wanted.has(id)) {
        this.#drop(id);
        removed++;
      }
    }
    const changed = docs.filter((d) => this.#docs.get(d.id)?.key !== keyOf(d));
    for (const doc of changed) {
      if (this.#docs.has(doc.id)) this.#drop(doc.id);
      const entry = this.#indexed(doc);
      for (const id of entry.termIds) {
        const t = this.#termNames[id]!;
        this.#df.set(t, (this.#df.get(t) ?? 0) + 1);
      }
      this.#docs.set(doc.id, entry);
      this.#deps.lexical.upsert(doc.lexical);
    }
    const { embedded, fromCache, touched } = await this.#embed(changed, docs.length);
    if (this.#vectors) {
      // A loaded index may hold tools that have left the catalog since it was saved.
      for (const id of [...this.#vectorKeys.keys()]) {
        if (!this.#docs.has(id)) {
          this.#vectors.remove(id);
          this.#vectorKeys.delete(id);
        }
      }
      if (touched || removed > 0) this.#schedulePersist();
    }
    if (changed.length > 0 || removed > 0) this.#generation++;
    return { added: changed.length, removed, embedded, fromCache };
  }

  /**
   * Lexical and dense hits for a need and the candidates behind them, restricted to `servers` and to
   * `visible` tools when given. Each index applies the restriction inside its search, so a caller's
   * hits are the best of its tools, not the best of all cut down (and a narrow view searches less).
   */
  async search(
    query: string,
    options: { k: number; servers?: readonly string[]; visible?: (id: string) => boolean; mode?: SearchMode },
  ): Promise<{ lexical: Hit[]; dense: Hit[]; candidates: Map<string, IndexCandidate>; idf: Map<string, number> }> {
    const mode = options.mode ?? (this.#vectors ? 'hybrid' : 'lexical');
    const pool = Math.max(this.#deps.pool ?? 50, options.k * 4);
    const servers = options.servers?.length ? new Set(options.servers) : undefined;
    const { visible } = options;
    const keeps =
      servers || visible
        ? (id: string) => (!servers || servers.has(this.#docs.get(id)?.doc.server ?? '')) && (!visible || visible(id))
        : undefined;
    // Each index applies the restriction inside its own search (see LexicalIndex / VectorIndex).
    const lexical = mode === 'dense' ? [] : this.#deps.lexical.search(query, pool, keeps);
    let dense: Hit[] = [];
    if (mode !== 'lexical' && this.#vectors && this.#embedder) {
      const [vector] = await this.#embedder.embed([query]);
      const narrow = visible && this.#vectors.kind === 'hnsw' ? this.#narrowIndex(visible) : undefined;
      const inServers = servers ? (id: string) => servers.has(this.#docs.get(id)?.doc.server ?? '') : undefined;
      if (vector) dense = narrow ? narrow.search(vector, pool, inServers) : this.#vectors.search(vector, pool, keeps);
    }
    const queryTerms = [...new Set(this.#deps.tokenize(query))];
    const n = Math.max(1, this.#docs.size);
    const weights = queryTerms.map((t) => Math.log(1 + n / (1 + (this.#df.get(t) ?? 0))));
    const total = weights.reduce((a, w) => a + w, 0) || 1;
    const candidates = new Map<string, IndexCandidate>();
    // Each hit's terms are one sorted array of ids with a field mask per term: a few binary searches
    // in one small array per hit instead of a hash lookup per term in a set per field (this runs for
    // up to 2 x pool hits per find, and those sets sit far apart in memory at 10k tools).
    const ids = queryTerms.map((t) => this.#termIds.get(t) ?? -1);
    const shares = new Float64Array(LEXICAL_FIELDS.length);
    for (const hits of [lexical, dense]) {
      for (const hit of hits) {
        const entry = this.#docs.get(hit.id);
        if (!entry || candidates.has(hit.id)) continue;
        const matched: string[] = [];
        let covered = 0;
        shares.fill(0);
        for (let i = 0; i < queryTerms.length; i++) {
          const at = ids[i]! < 0 ? -1 : indexOf(entry.termIds, ids[i]!);
          if (at < 0) continue;
          matched.push(queryTerms[i]!);
          covered += weights[i]!;
          const mask = entry.masks[at]!;
          for (let f = 0; f < LEXICAL_FIELDS.length; f++) if (mask & (1 << f)) shares[f]! += weights[i]!;
        }
        // Every field, in one shape (a field the tool lacks covers nothing).
        const fieldCoverage: Record<LexicalField, number> = {
          name: shares[0]! / total,
          title: shares[1]! / total,
          description: shares[2]! / total,
          params: shares[3]! / total,
          paramDescriptions: shares[4]! / total,
          server: shares[5]! / total,
          examples: shares[6]! / total,
        };
        const d = entry.doc;
        candidates.set(hit.id, {
          id: d.id,
          server: d.server,
          name: d.name,
          params: d.params,
          lexical: d.lexical,
          embedText: d.embedText,
          annotations: d.annotations,
          matchedTerms: matched,
          coverage: covered / total,
          fieldCoverage,
        });
      }
    }
    return { lexical, dense, candidates, idf: new Map(queryTerms.map((t, i) => [t, weights[i]!])) };
  }

  /** The exact sub-index of a narrow view (at most a quarter of the tools, or 2,000), built once per sync. */
  #narrowIndex(visible: (id: string) => boolean): ExactIndex | undefined {
    const vectors = this.#vectors;
    if (!vectors) return undefined;
    const known = this.#narrow.get(visible);
    if (known?.generation === this.#generation) return known.index ?? undefined;
    const ids: string[] = [];
    const limit = Math.max(2_000, Math.floor(this.#docs.size / 4));
    for (const id of this.#docs.keys()) {
      if (visible(id)) ids.push(id);
      if (ids.length > limit) break;
    }
    let index: ExactIndex | null = null;
    if (ids.length <= limit) {
      index = new ExactIndex(vectors.dim, Math.max(16, ids.length));
      for (const id of ids) {
        const vector = vectors.vectorOf(id);
        if (vector) index.upsert(id, vector);
      }
    }
    this.#narrow.set(visible, { generation: this.#generation, index });
    return index ?? undefined;
  }

  /** A document's terms as sorted term ids, each with the mask of the fields that have it. */
  #indexed(doc: CapabilityDoc): IndexedDoc {
    const fields = Object.keys(doc.lexical.fields) as LexicalField[];
    const masks = new Map<number, number>();
    for (const field of fields) {
      const bit = 1 << FIELD_INDEX[field];
      for (const t of this.#deps.tokenize(doc.lexical.fields[field] ?? '')) {
        let id = this.#termIds.get(t);
        if (id === undefined) {
          id = this.#freeTermIds.pop() ?? this.#termNames.length;
          this.#termIds.set(t, id);
          this.#termNames[id] = t;
        }
        masks.set(id, (masks.get(id) ?? 0) | bit);
      }
    }
    const termIds = Int32Array.from(masks.keys()).sort();
    return { doc, key: keyOf(doc), termIds, masks: Uint8Array.from(termIds, (id) => masks.get(id)!) };
  }

  #drop(id: string): void {
    const entry = this.#docs.get(id);
    if (!entry) return;
    for (const termId of entry.termIds) {
      const t = this.#termNames[termId]!;
      const left = (this.#df.get(t) ?? 1) - 1;
      if (left > 0) this.#df.set(t, left);
      else {
        this.#df.delete(t);
        this.#termIds.delete(t);
        this.#freeTermIds.push(termId);
      }
    }
    this.#docs.delete(id);
    this.#deps.lexical.remove(id);
  }

  /** Saves the vector index now if a save is pending (e.g. on shutdown). */
  persistNow(): void {
    clearTimeout(this.#persistTimer);
    this.#persistTimer = undefined;
    if (!this.#dirty || !this.#vectors || !this.#deps.persist) return;
    this.#dirty = false;
    this.#deps.persist.save(this.#embedder?.id ?? '', this.#vectors, this.#vectorKeys);
  }

  #schedulePersist(): void {
    if (!this.#deps.persist) return;
    this.#dirty = true;
    const delay = this.#deps.persistDelayMs ?? 2_000;
    if (delay <= 0) return this.persistNow();
    clearTimeout(this.#persistTimer);
    this.#persistTimer = setTimeout(() => this.persistNow(), delay);
    this.#persistTimer.unref();
  }

  /** Loads the saved index for this model, if one fits; otherwise creates an empty one. */
  #openVectors(embedder: Embedder, total: number): VectorIndex | undefined {
    const { vectors, persist, vectorKind } = this.#deps;
    if (!vectors) return undefined;
    if (!this.#loaded) {
      this.#loaded = true;
      const saved = persist?.load(embedder.id, embedder.dim);
      if (saved && (!vectorKind || vectorKind(total) === saved.index.kind)) {
        for (const [id, key] of saved.keys) this.#vectorKeys.set(id, key);
        return saved.index;
      }
    }
    return vectors(embedder.dim, total);
  }

  async #embed(
    changed: readonly CapabilityDoc[],
    total: number,
  ): Promise<{ embedded: number; fromCache: number; touched: boolean }> {
    const embedder = this.#embedder;
    const { cache } = this.#deps;
    if (!embedder || changed.length === 0) return { embedded: 0, fromCache: 0, touched: false };
    this.#vectors ??= this.#openVectors(embedder, total);
    const vectors = this.#vectors;
    if (!vectors) return { embedded: 0, fromCache: 0, touched: false };
    // Tools whose text is what the saved index was built from need nothing.
    const stale = changed.filter((d) => this.#vectorKeys.get(d.id) !== textKey(d.embedText) || !vectors.has(d.id));
    const texts = [...new Set(stale.map((d) => d.embedText))];
    const cached = cache?.getMany(embedder.id, texts) ?? new Map<string, Float32Array>();
    const missing = texts.filter((t) => !cached.has(t));
    const fresh = new Map<string, Float32Array>();
    if (missing.length) {
      const out = await embedder.embed(missing);
      missing.forEach((t, i) => fresh.set(t, out[i] ?? new Float32Array(embedder.dim)));
      cache?.putMany(embedder.id, fresh);
    }
    for (const doc of stale) {
      const vector = cached.get(doc.embedText) ?? fresh.get(doc.embedText);
      if (!vector) continue;
      vectors.upsert(doc.id, vector);
      this.#vectorKeys.set(doc.id, textKey(doc.embedText));
    }
    return { embedded: missing.length, fromCache: texts.length - missing.length, touched: stale.length > 0 };
  }
}

function textKey(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

function keyOf(doc: CapabilityDoc): string {
  return JSON.stringify([doc.server, doc.lexical.fields, doc.embedText, doc.annotations]);
}
