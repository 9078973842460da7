/**
 * Writes the transformers.js model folder: config.json (model_type "bert", which the
 * feature-extraction pipeline maps to an encoder that feeds only the inputs the ONNX graph
 * declares), tokenizer.json (a WordLevel vocabulary whose surface forms share their stem's row,
 * with the normaliser and pre-tokenizer tokens.ts mirrors, and a [CLS] prefix so no text is
 * empty), tokenizer_config.json, and onnx/model.onnx with int8 rows and a float scale per row.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { staticEmbeddingModel } from './onnx.js';
import type { Vocab } from './tokens.js';
import { MODEL_ID } from './paths.js';
import { SPECIALS } from './vocab.js';

/** Int8 rows with one scale each: row = q * scale, |q| <= 127. */
export interface QuantizedTable {
  readonly q: Int8Array;
  readonly scales: Float32Array;
  readonly dim: number;
}

/** Symmetric per-row int8 quantisation (max |x| maps to 127). */
export function quantize(table: Float32Array, dim: number): QuantizedTable {
  const rows = table.length / dim;
  const q = new Int8Array(table.length);
  const scales = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    let max = 0;
    for (let c = 0; c < dim; c++) max = Math.max(max, Math.abs(table[r * dim + c]!));
    const scale = max / 127;
    scales[r] = scale;
    if (scale === 0) continue;
    for (let c = 0; c < dim; c++)
      q[r * dim + c] = Math.max(-127, Math.min(127, Math.round(table[r * dim + c]! / scale)));
  }
  return { q, scales, dim };
}

/** The float rows a quantised table stands for (what the ONNX graph computes). */
export function dequantize(t: QuantizedTable): Float32Array {
  const out = new Float32Array(t.q.length);
  for (let i = 0; i < t.q.length; i++) out[i] = t.q[i]! * t.scales[Math.floor(i / t.dim)]!;
  return out;
}

/** tokenizer.json in the Hugging Face tokenizers format. */
export function tokenizerJson(vocab: Vocab): unknown {
  const entries: Record<string, number> = {};
  SPECIALS.forEach((s, i) => (entries[s] = i));
  for (const [word, id] of [...vocab.surface].sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : 1))) entries[word] = id;
  const special = (content: string, id: number) => ({
    id,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: SPECIALS.map((s, i) => special(s, i)),
    normalizer: { type: 'Sequence', normalizers: [{ type: 'NFKD' }, { type: 'StripAccents' }, { type: 'Lowercase' }] },
    pre_tokenizer: { type: 'Whitespace' },
    // [CLS] has a tiny row: it keeps mean pooling finite for texts with no known word, and
    // is negligible next to real words.
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [
        { SpecialToken: { id: '[CLS]', type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { Sequence: { id: 'B', type_id: 0 } },
      ],
      special_tokens: { '[CLS]': { id: '[CLS]', ids: [2], tokens: ['[CLS]'] } },
    },
    decoder: null,
    model: { type: 'WordLevel', vocab: entries, unk_token: '[UNK]' },
  };
}

/** Writes the whole folder; returns the file sizes in bytes. */
export function writeModelFolder(
  dir: string,
  vocab: Vocab,
  table: QuantizedTable,
  maxLength: number,
): Record<string, number> {
  mkdirSync(join(dir, 'onnx'), { recursive: true });
  const rows = table.scales.length;
  const config = {
    _name_or_path: MODEL_ID,
    architectures: ['BertModel'],
    model_type: 'bert',
    // A static embedding model: no layers, no attention; the fields below only describe shapes.
    hidden_size: table.dim,
    vocab_size: rows,
    num_hidden_layers: 0,
    num_attention_heads: 1,
    intermediate_size: table.dim,
    max_position_embeddings: maxLength,
    type_vocab_size: 1,
    pad_token_id: 0,
    torch_dtype: 'float32',
  };
  const tokenizerConfig = {
    tokenizer_class: 'PreTrainedTokenizer',
    model_max_length: maxLength,
    unk_token: '[UNK]',
    pad_token: '[PAD]',
    cls_token: '[CLS]',
    padding_side: 'right',
    clean_up_tokenization_spaces: false,
  };
  const files: Record<string, string | Uint8Array> = {
    'config.json': `${JSON.stringify(config, null, 2)}\n`,
    'tokenizer_config.json': `${JSON.stringify(tokenizerConfig, null, 2)}\n`,
    'tokenizer.json': JSON.stringify(tokenizerJson(vocab)),
    'onnx/model.onnx': staticEmbeddingModel(
      table.q,
      table.scales,
      table.dim,
      `${MODEL_ID}: static word embeddings (int8 rows x per-row scale), mean pooled by the caller`,
    ),
  };
  const sizes: Record<string, number> = {};
  for (const [name, content] of Object.entries(files)) {
    writeFileSync(join(dir, name), content);
    sizes[name] = typeof content === 'string' ? Buffer.byteLength(content) : content.byteLength;
  }
  return sizes;
}
