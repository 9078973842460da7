/**
 * Opens an embedding model folder (`modelsDir/<model>/`) the way the product runs it: the shipped
 * static model (and any folder of that exact shape) in TypeScript (static.ts), anything else
 * through transformers.js. transformers.js is imported only here and only when needed: it costs
 * start-up time and memory that serving must not pay first.
 */
import type { Embedder } from '../types.js';
import { StaticEmbedder } from './static.js';

/** What {@link openEmbedder} needs. */
export interface OpenEmbedderOptions {
  readonly model: string;
  readonly modelsDir: string;
}

/** Loads the model: in TypeScript if it is a static table this package computes exactly, else through transformers.js (offline). */
export async function openEmbedder(options: OpenEmbedderOptions): Promise<Embedder> {
  const own = StaticEmbedder.open(options);
  if (own) return own;
  const { TransformersEmbedder } = await import('./transformers.js');
  return TransformersEmbedder.load({ model: options.model, modelsDir: options.modelsDir });
}
