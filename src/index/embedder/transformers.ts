/**
 * The real embedder: a transformers.js feature-extraction pipeline (mean pooling, L2-normalised)
 * over an ONNX sentence model in `models/<id>/`. Remote loading is off unless asked for, so nothing
 * reaches for the network at run time; the shipped default is a static embedding model built by
 * `npm run model:build`, and any transformers.js-compatible model fetched with
 * `switchboard model pull <hub-id>` loads the same way.
 */
import { env, pipeline, type FeatureExtractionPipeline } from '@huggingface/transformers';
import type { Embedder } from '../types.js';
import { normalizeForEmbedding } from './text.js';

/** Options for loading a model. */
export interface TransformersEmbedderOptions {
  /** Model id: a folder name under `modelsDir` (e.g. "switchboard-static-v1" or "Xenova/all-MiniLM-L6-v2"). */
  readonly model: string;
  /** The folder holding models (default: `models` in the working directory). */
  readonly modelsDir: string;
  /** Allow downloading from the hub (only `model pull` sets this). */
  readonly allowRemote?: boolean;
  /** Texts per pipeline call. */
  readonly batchSize?: number;
}

/** An {@link Embedder} backed by transformers.js. */
export class TransformersEmbedder implements Embedder {
  readonly id: string;
  readonly dim: number;
  readonly engine = 'transformers.js';
  readonly #extract: FeatureExtractionPipeline;
  readonly #batchSize: number;

  private constructor(id: string, dim: number, extract: FeatureExtractionPipeline, batchSize: number) {
    this.id = id;
    this.dim = dim;
    this.#extract = extract;
    this.#batchSize = batchSize;
  }

  /** Loads the model from `modelsDir/<model>/` and probes its output dimension. */
  static async load(options: TransformersEmbedderOptions): Promise<TransformersEmbedder> {
    env.allowRemoteModels = options.allowRemote === true;
    env.allowLocalModels = true;
    env.localModelPath = options.modelsDir.endsWith('/') ? options.modelsDir : `${options.modelsDir}/`;
    if (options.allowRemote) {
      // Downloads land in models/<hub-id>/, the same layout local loading reads.
      env.cacheDir = env.localModelPath;
      env.useFSCache = true;
    }
    const extract: FeatureExtractionPipeline = await pipeline('feature-extraction', options.model, {
      dtype: 'fp32',
      local_files_only: options.allowRemote !== true,
    });
    const probe = await extract(['probe'], { pooling: 'mean', normalize: true });
    const dim = probe.dims.at(-1) ?? 0;
    return new TransformersEmbedder(options.model, dim, extract, options.batchSize ?? 64);
  }

  async embed(texts: readonly string[]): Promise<Float32Array[]> {
    const out: Float32Array[] = [];
    for (let i = 0; i < texts.length; i += this.#batchSize) {
      const batch = texts.slice(i, i + this.#batchSize).map((t) => normalizeForEmbedding(t) || ' ');
      const tensor = await this.#extract(batch, { pooling: 'mean', normalize: true });
      const data = tensor.data as Float32Array;
      for (let row = 0; row < batch.length; row++) out.push(data.slice(row * this.dim, (row + 1) * this.dim));
    }
    return out;
  }

  async close(): Promise<void> {
    await this.#extract.dispose();
  }
}
