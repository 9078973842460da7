/**
 * Opens an embedding model folder (`modelsDir/<model>/`) the way the product runs it. transformers.js
 * is imported only here and only when needed: it costs start-up time that serving must not pay first.
 */
import type { Embedder } from '../types.js';

/** What {@link openEmbedder} needs. */
export interface OpenEmbedderOptions {
  readonly model: string;
  readonly modelsDir: string;
}

/** Loads the model through transformers.js (offline). */
export async function openEmbedder(options: OpenEmbedderOptions): Promise<Embedder> {
  const { TransformersEmbedder } = await import('./transformers.js');
  return TransformersEmbedder.load({ model: options.model, modelsDir: options.modelsDir });
}
