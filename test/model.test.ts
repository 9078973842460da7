/**
 * The shipped default model (models/switchboard-static-v1, built by `npm run model:build`) loads
 * offline through the product's TransformersEmbedder and puts texts that mean the same thing closer
 * together than unrelated ones. The triples are everyday English written for this test, not taken
 * from any evaluation set.
 */
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TransformersEmbedder } from '../src/index/embedder/transformers.js';

const MODELS = resolve(import.meta.dirname, '..', 'models');
const DIM = 256;

const cosine = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + x * b[i]!, 0);

// [need, a paraphrase of it, something unrelated]
const TRIPLES: readonly [string, string, string][] = [
  ['send a message to the team channel', 'post a message to a slack channel', 'list kubernetes pods'],
  ['delete a file from the disk', 'remove a file', 'play a song'],
  ['search the web for recent news', 'look up information on the internet', 'compress a folder into a zip archive'],
  ['schedule a meeting for tomorrow afternoon', 'create a calendar event', 'resize an image'],
  [
    'what will the weather be like this weekend',
    'get the temperature and rain forecast for a city',
    'commit changes to the git repository',
  ],
  ['run a SQL query against the postgres database', 'execute a database query', 'send an email to a customer'],
  [
    'open a pull request on GitHub',
    'create a pull request in a repository',
    'convert a temperature from celsius to fahrenheit',
  ],
];

describe('switchboard-static-v1', () => {
  let embedder: TransformersEmbedder;

  beforeAll(async () => {
    embedder = await TransformersEmbedder.load({ model: 'switchboard-static-v1', modelsDir: MODELS });
  });

  afterAll(async () => {
    await embedder?.close();
  });

  it('loads offline with the documented dimension', () => {
    expect(embedder.id).toBe('switchboard-static-v1');
    expect(embedder.dim).toBe(DIM);
  });

  it('returns unit vectors, also for empty and unknown-only text', async () => {
    const vectors = await embedder.embed(['list files in a directory', 'createPullRequest', '', 'qwxzv plokk']);
    expect(vectors).toHaveLength(4);
    for (const v of vectors) {
      expect(v).toHaveLength(DIM);
      expect(v.every(Number.isFinite)).toBe(true);
      expect(Math.sqrt(cosine(v, v))).toBeCloseTo(1, 4);
    }
  });

  it('embeds identifiers like the words they are made of', async () => {
    const [identifier, words] = await embedder.embed(['createPullRequest', 'create pull request']);
    expect(cosine(identifier!, words!)).toBeGreaterThan(0.999);
  });

  it.each(TRIPLES)('"%s" is closer to "%s" than to "%s"', async (need, paraphrase, unrelated) => {
    const [n, p, u] = await embedder.embed([need, paraphrase, unrelated]);
    expect(cosine(n!, p!)).toBeGreaterThan(cosine(n!, u!));
  });
});
