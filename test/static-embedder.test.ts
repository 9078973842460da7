/**
 * The shipped static model computed in TypeScript (StaticEmbedder) against the transformers.js
 * pipeline over the same folder: the same vectors for every tool text and need of our catalogs and
 * for edge cases (empty, punctuation only, accents, scripts the vocabulary lacks, a text past the
 * 1,024-token truncation); a folder of another shape goes to transformers.js; a broken file is a
 * clear error, not a wrong vector.
 */
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { openEmbedder } from '../src/index/embedder/load.js';
import { StaticEmbedder } from '../src/index/embedder/static.js';
import { TransformersEmbedder } from '../src/index/embedder/transformers.js';
import { loadSwitchboard } from '../bench/quality/loaders.js';
import { ROOT, tempDir } from './helpers.js';

const MODELS = join(ROOT, 'models');
const MODEL = 'switchboard-static-v1';

const EDGES = [
  '',
  ' ',
  '!!! ??? ...',
  'xyzzyqq plugh',
  'Führe eine SQL-Abfrage aus; café naïve résumé',
  '日本語のテキストを検索する',
  'send 🙂 a message',
  // "constructor" reaches the vocabulary as a word (identifiers like toString are split first) and
  // must read as unknown, as in transformers.js, not as Object.prototype's function.
  'constructor of the prototype',
  'createPullRequest get_file_contents s3.bucket/upload ec2-instance',
  // Past model_max_length: the pipeline truncates at 1,024 tokens, words past it must not count.
  `${'deploy '.repeat(1100)} kubernetes kubernetes kubernetes`,
  `${'[UNK]-ish zzzqqq '.repeat(600)} delete the file`,
];

let reference: TransformersEmbedder;

beforeAll(async () => {
  reference = await TransformersEmbedder.load({ model: MODEL, modelsDir: MODELS });
});

/** Largest coordinate difference between two lists of vectors. */
function maxDiff(a: readonly Float32Array[], b: readonly Float32Array[]): number {
  let worst = 0;
  a.forEach((v, i) => v.forEach((x, c) => (worst = Math.max(worst, Math.abs(x - b[i]![c]!)))));
  return worst;
}

describe('the static embedder', () => {
  it('is what openEmbedder gives for the shipped model', async () => {
    const embedder = await openEmbedder({ model: MODEL, modelsDir: MODELS });
    expect(embedder).toBeInstanceOf(StaticEmbedder);
    expect(embedder.engine).toBe('static');
    expect(embedder.dim).toBe(reference.dim);
    expect(embedder.id).toBe(MODEL);
  });

  it('embeds every tool text and need of our catalogs, and the edge cases, as transformers.js does', async () => {
    const set = loadSwitchboard(join(ROOT, 'data/eval/switchboard'));
    const texts = [
      ...set.queries.map((q) => q.query),
      ...set.servers.flatMap((s) =>
        s.tools.map((t) => `${t.name} ${t.description ?? ''} parameters: ${JSON.stringify(t.inputSchema ?? {})}`),
      ),
      ...EDGES,
    ];
    expect(texts.length).toBeGreaterThan(800);
    const own = StaticEmbedder.open({ model: MODEL, modelsDir: MODELS })!;
    const ours = await own.embed(texts);
    const theirs = await reference.embed(texts);
    expect(ours).toHaveLength(texts.length);
    expect(maxDiff(ours, theirs)).toBeLessThan(1e-6);
    // The vectors are unit length or zero, never NaN.
    for (const v of ours) {
      const norm = Math.sqrt(v.reduce((a, x) => a + x * x, 0));
      expect(Number.isNaN(norm)).toBe(false);
      if (norm > 0) expect(norm).toBeCloseTo(1, 5);
    }
    // Truncation is real: words past 1,024 tokens change nothing.
    const [long, shorter] = await own.embed([EDGES[9]!, 'deploy '.repeat(1100)]);
    expect(maxDiff([long!], [shorter!])).toBeLessThan(1e-7);
  });

  it('leaves a folder of another shape to transformers.js, which still loads it', async () => {
    const dir = join(tempDir(), 'models');
    const folder = join(dir, 'other-static');
    mkdirSync(join(folder, 'onnx'), { recursive: true });
    for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json'])
      copyFileSync(join(MODELS, MODEL, f), join(folder, f));
    // Same bytes but another graph name (same length, so the protobuf stays valid): not ours to compute.
    const onnx = readFileSync(join(MODELS, MODEL, 'onnx/model.onnx'));
    const at = onnx.indexOf('switchboard_static_embedding');
    expect(at).toBeGreaterThan(0);
    onnx.write('switchboard_static_embeddinx', at);
    writeFileSync(join(folder, 'onnx/model.onnx'), onnx);
    expect(StaticEmbedder.open({ model: 'other-static', modelsDir: dir })).toBeUndefined();
    const embedder = await openEmbedder({ model: 'other-static', modelsDir: dir });
    expect(embedder.engine).toBe('transformers.js');
    const [v] = await embedder.embed(['list the files in a folder']);
    const [w] = await reference.embed(['list the files in a folder']);
    expect(maxDiff([v!], [w!])).toBeLessThan(1e-6);
    await embedder.close?.();
  });

  it('names the file when the model or its config is not readable, and reads config.json first', () => {
    const dir = join(tempDir(), 'models');
    const folder = join(dir, 'broken');
    mkdirSync(join(folder, 'onnx'), { recursive: true });
    const onnx = readFileSync(join(MODELS, MODEL, 'onnx/model.onnx'));
    copyFileSync(join(MODELS, MODEL, 'config.json'), join(folder, 'config.json'));
    writeFileSync(join(folder, 'onnx/model.onnx'), onnx.subarray(0, 1000));
    expect(() => StaticEmbedder.open({ model: 'broken', modelsDir: dir })).toThrow(
      /broken\/onnx\/model\.onnx is not a readable ONNX model: truncated protobuf/,
    );
    expect(StaticEmbedder.open({ model: 'absent', modelsDir: dir })).toBeUndefined();
    // config.json is read first: a model with layers is never parsed here, and a broken one is named.
    for (const f of ['tokenizer.json', 'tokenizer_config.json']) copyFileSync(join(MODELS, MODEL, f), join(folder, f));
    writeFileSync(join(folder, 'onnx/model.onnx'), onnx);
    writeFileSync(join(folder, 'config.json'), JSON.stringify({ model_type: 'bert', num_hidden_layers: 6 }));
    expect(StaticEmbedder.open({ model: 'broken', modelsDir: dir })).toBeUndefined();
    writeFileSync(join(folder, 'config.json'), '{ "num_hidden_layers": 0,');
    expect(() => StaticEmbedder.open({ model: 'broken', modelsDir: dir })).toThrow(
      /broken\/config\.json is not valid JSON/,
    );
    writeFileSync(join(folder, 'config.json'), JSON.stringify({ num_hidden_layers: 0 }));
    expect(StaticEmbedder.open({ model: 'broken', modelsDir: dir })).toBeInstanceOf(StaticEmbedder);
  });
});
