/**
 * The engine under both lexical indexes: an incremental inverted index over documents with a fixed
 * number of fields, ranked by BM25F (Robertson & Zaragoza's "simple BM25F"):
 *
 *   tf~(t, d) = sum_f  w_f * tf_f(t, d) / (1 - b_f + b_f * len_f(d) / avglen_f)
 *   score(d)  = sum_t  idf(t) * tf~ / (k1 + tf~),   idf(t) = ln(1 + (N - df + 0.5) / (df + 0.5))
 *
 * With one field of weight 1 this is classic BM25 (without the constant factor k1 + 1, which does
 * not change the order). Statistics (df, N, average lengths) are kept current on every upsert and
 * remove, so scores always reflect the live catalog. A query walks only the postings of its own
 * terms and keeps the best k in a heap: no pass over all documents.
 */
import type { Hit } from '../types.js';
import { TopK } from './topk.js';

/** Ranking parameters, one weight and one b per field. */
export interface FieldedParams {
  readonly weights: readonly number[];
  readonly b: readonly number[];
  readonly k1: number;
}

/** An incremental BM25F index over documents of `weights.length` fields. */
export class FieldedIndex {
  readonly #params: FieldedParams;
  readonly #fields: number;
  // Term frequencies of all fields are packed into one small integer per posting (`bits` per
  // field, capped at the field's maximum): a posting stays a V8 small integer, which keeps 100k
  // documents' postings compact. With 7 fields the cap is 15, far past BM25's saturation.
  readonly #bits: number;
  readonly #cap: number;
  readonly #tokenize: (text: string) => string[];
  readonly #tokenizeQuery: (text: string) => string[];
  /** term -> (slot -> packed tfs); df(term) is the map's size. */
  readonly #postings = new Map<string, Map<number, number>>();
  readonly #slotOf = new Map<string, number>();
  readonly #ids: (string | undefined)[] = [];
  readonly #terms: (readonly string[] | undefined)[] = [];
  #lengths = new Float64Array(0);
  readonly #totals: Float64Array;
  readonly #free: number[] = [];
  #scratch = new Float64Array(0);

  /**
   * `queryTokenizer`, when given, builds the tokenizer of queries from a test of whether the index
   * knows a term (see createTokenizer's `known`); absent, queries are tokenized like documents.
   */
  constructor(
    params: FieldedParams,
    tokenize: (text: string) => string[],
    queryTokenizer?: (known: (term: string) => boolean) => (text: string) => string[],
  ) {
    if (params.weights.length < 1 || params.weights.length !== params.b.length)
      throw new RangeError('one weight and one b per field');
    // Negative weights would let a match lower a score, which the accumulator's "untouched = 0" relies on never happening.
    if (params.weights.some((w) => !(w >= 0)) || params.b.some((x) => !(x >= 0 && x <= 1)) || !(params.k1 >= 0))
      throw new RangeError('weights >= 0, 0 <= b <= 1, k1 >= 0');
    this.#params = params;
    this.#fields = params.weights.length;
    this.#bits = Math.min(30, Math.floor(30 / this.#fields));
    this.#cap = 2 ** this.#bits - 1;
    this.#tokenize = tokenize;
    this.#tokenizeQuery = queryTokenizer ? queryTokenizer((term) => this.#postings.has(term)) : tokenize;
    this.#totals = new Float64Array(this.#fields);
  }

  /** Documents indexed. */
  get size(): number {
    return this.#slotOf.size;
  }

  has(id: string): boolean {
    return this.#slotOf.has(id);
  }

  /** Adds or replaces document `id`; `texts[f]` is the text of field f (missing = empty). */
  upsert(id: string, texts: readonly (string | undefined)[]): void {
    this.remove(id);
    const slot = this.#free.pop() ?? this.#ids.length;
    this.#ensure(slot + 1);
    const tfs = new Map<string, number>();
    for (let f = 0; f < this.#fields; f++) {
      const text = texts[f];
      // A field weighted 0 cannot change a score: skip its text so it costs nothing.
      if (!text || this.#params.weights[f] === 0) continue;
      const tokens = this.#tokenize(text);
      this.#lengths[slot * this.#fields + f] = tokens.length;
      this.#totals[f]! += tokens.length;
      const shift = f * this.#bits;
      for (const token of tokens) {
        const packed = tfs.get(token) ?? 0;
        if (((packed >>> shift) & this.#cap) < this.#cap) tfs.set(token, packed + (1 << shift));
      }
    }
    for (const [term, packed] of tfs) {
      let list = this.#postings.get(term);
      if (!list) this.#postings.set(term, (list = new Map<number, number>()));
      list.set(slot, packed);
    }
    this.#ids[slot] = id;
    this.#terms[slot] = [...tfs.keys()];
    this.#slotOf.set(id, slot);
  }

  /** Removes `id`; false when it was not there. */
  remove(id: string): boolean {
    const slot = this.#slotOf.get(id);
    if (slot === undefined) return false;
    for (const term of this.#terms[slot] ?? []) {
      const list = this.#postings.get(term);
      list?.delete(slot);
      if (list?.size === 0) this.#postings.delete(term);
    }
    for (let f = 0; f < this.#fields; f++) {
      const at = slot * this.#fields + f;
      this.#totals[f]! -= this.#lengths[at]!;
      this.#lengths[at] = 0;
    }
    this.#ids[slot] = undefined;
    this.#terms[slot] = undefined;
    this.#slotOf.delete(id);
    this.#free.push(slot);
    return true;
  }

  /** The k best documents for `query` (its distinct terms), best first; [] without indexable terms. */
  search(query: string, k: number, filter?: (id: string) => boolean): Hit[] {
    const n = this.size;
    if (k < 1 || n === 0) return [];
    const { weights, b, k1 } = this.#params;
    const F = this.#fields;
    const bits = this.#bits;
    const cap = this.#cap;
    const avg = Array.from(this.#totals, (total) => total / n);
    const acc = this.#scratch;
    const touched: number[] = [];
    for (const term of new Set(this.#tokenizeQuery(query))) {
      const list = this.#postings.get(term);
      if (!list) continue;
      const idf = Math.log(1 + (n - list.size + 0.5) / (list.size + 0.5));
      for (const [slot, packed] of list) {
        let tf = 0;
        let rest = packed;
        for (let f = 0; rest > 0; f++, rest >>>= bits) {
          const count = rest & cap;
          if (count === 0) continue;
          const bf = b[f]!;
          tf += (weights[f]! * count) / (1 - bf + (bf * this.#lengths[slot * F + f]!) / avg[f]!);
        }
        if (acc[slot] === 0) touched.push(slot);
        acc[slot]! += (idf * tf) / (k1 + tf);
      }
    }
    const top = new TopK(k);
    for (const slot of touched) {
      const id = this.#ids[slot]!;
      if (!filter || filter(id)) top.offer(id, acc[slot]!);
      acc[slot] = 0; // leave the scratch clean for the next query
    }
    return top.sorted();
  }

  /** Grows the per-slot arrays (doubling) to hold `slots` documents. */
  #ensure(slots: number): void {
    if (this.#scratch.length >= slots) return;
    const capacity = Math.max(64, slots, this.#scratch.length * 2);
    const lengths = new Float64Array(capacity * this.#fields);
    lengths.set(this.#lengths);
    this.#lengths = lengths;
    this.#scratch = new Float64Array(capacity);
  }
}
