/**
 * Checks the exported folder three ways: (1) the transformers.js tokenizer gives the same row ids as
 * the build's own tokenisation (tokens.ts), (2) onnxruntime-node runs the hand-encoded graph and its
 * mean-pooled output matches the TypeScript table, (3) the product's TransformersEmbedder loads the
 * folder offline and embeds texts to the same unit vectors. Throws when any check fails.
 */
import { AutoTokenizer } from '@huggingface/transformers';
import * as ort from 'onnxruntime-node';
import { join } from 'node:path';
import { TransformersEmbedder } from '../../src/index/embedder/transformers.js';
import { normalizeForEmbedding } from '../../src/index/embedder/text.js';
import { MODEL_ID, PATHS } from './paths.js';
import type { Vocab } from './tokens.js';

/** Texts covering identifiers, punctuation, accents, unknown words and an empty string. */
export const PROBES = [
  'send a message to the team channel',
  'createPullRequest: Create a new pull request in a GitHub repository. parameters: owner repo title head base',
  'List Kubernetes pods in a namespace',
  'Führe eine SQL-Abfrage aus; query the Postgres database (read-only)',
  'xyzzyqq plugh',
  '',
  'get_file_contents, read_multiple_files; s3 bucket upload ec2 instance',
];

/** Unit vector of the mean of `rows` over ids (the [CLS] row first, as the tokenizer adds it). */
export function embedIds(ids: readonly number[], rows: Float32Array, dim: number): Float32Array {
  const out = new Float32Array(dim);
  for (const id of ids) for (let c = 0; c < dim; c++) out[c]! += rows[id * dim + c]!;
  let n = 0;
  for (let c = 0; c < dim; c++) n += out[c]! ** 2;
  n = Math.sqrt(n);
  for (let c = 0; c < dim; c++) out[c]! /= n || 1;
  return out;
}

const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + x * b[i]!, 0);

/** Runs the three checks; returns what was measured. */
export async function verifyModel(
  vocab: Vocab,
  rows: Float32Array,
  dim: number,
  log: (line: string) => void,
): Promise<Record<string, number>> {
  const tokenizer = await AutoTokenizer.from_pretrained(PATHS.model, { local_files_only: true });
  let tokenMismatches = 0;
  const idsOf: number[][] = [];
  for (const text of PROBES) {
    const fromTokenizer = tokenizer.encode(normalizeForEmbedding(text)).filter((id) => id > 2);
    const ours = [...vocab.encode(text)];
    if (fromTokenizer.join() !== ours.join()) {
      tokenMismatches++;
      log(`  tokenizer mismatch on ${JSON.stringify(text)}: ${fromTokenizer.join()} vs ${ours.join()}`);
    }
    idsOf.push([2, ...ours]);
  }
  const session = await ort.InferenceSession.create(join(PATHS.model, 'onnx', 'model.onnx'));
  let ortMaxDiff = 0;
  for (const ids of idsOf) {
    const shape = [1, ids.length];
    const out = await session.run({
      input_ids: new ort.Tensor('int64', BigInt64Array.from(ids.map(BigInt)), shape),
      attention_mask: new ort.Tensor('int64', new BigInt64Array(ids.length).fill(1n), shape),
    });
    const hidden = out.last_hidden_state!.data as Float32Array;
    for (let i = 0; i < hidden.length; i++)
      ortMaxDiff = Math.max(ortMaxDiff, Math.abs(hidden[i]! - rows[ids[Math.floor(i / dim)]! * dim + (i % dim)]!));
  }
  const embedder = await TransformersEmbedder.load({ model: MODEL_ID, modelsDir: PATHS.modelsDir });
  const vectors = await embedder.embed(PROBES);
  await embedder.close();
  let minCosine = 1;
  let maxNormError = 0;
  vectors.forEach((v, i) => {
    minCosine = Math.min(minCosine, dot(v, embedIds(idsOf[i]!, rows, dim)));
    maxNormError = Math.max(maxNormError, Math.abs(Math.sqrt(dot(v, v)) - 1));
  });
  const result = { dim: embedder.dim, tokenMismatches, ortMaxDiff, minCosine, maxNormError };
  log(`  verify: ${JSON.stringify(result)}`);
  if (embedder.dim !== dim || tokenMismatches > 0 || ortMaxDiff > 1e-5 || minCosine < 0.9999 || maxNormError > 1e-4)
    throw new Error(`model verification failed: ${JSON.stringify(result)}`);
  return result;
}
