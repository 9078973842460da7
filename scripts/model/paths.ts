/**
 * Where the model build reads and writes. Downloads and intermediate files go to a git-ignored
 * work folder (data/model-build/); npm installs of MCP servers go to the OS temp folder so nothing
 * is ever installed inside the project; the finished model goes to models/<MODEL_ID>/ (default
 * switchboard-static-v2; switchboard-static-v1 is frozen as shipped).
 */
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (two levels above this file). */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The value after a command-line flag (`--model switchboard-static-v2`), if given. */
function flag(name: string): string | undefined {
  const at = process.argv.indexOf(name);
  return at >= 0 ? process.argv[at + 1] : undefined;
}

/** The model built by default: v2 (hard negatives and action pairs); v1 stays as shipped. */
export const DEFAULT_MODEL_ID = 'switchboard-static-v2';

/**
 * Models that are shipped and frozen: the build refuses to write over them in the project's
 * models/ folder (v1 must stay loadable and byte-identical for configs that name it).
 */
export const FROZEN_MODEL_IDS: readonly string[] = ['switchboard-static-v1'];

/** The model's id: its folder name under models/ (`--model` or `SWITCHBOARD_MODEL_ID` override the default). */
export const MODEL_ID = flag('--model') ?? process.env.SWITCHBOARD_MODEL_ID ?? DEFAULT_MODEL_ID;

const MODELS_DIR = process.env.SWITCHBOARD_MODELS_DIR ?? join(ROOT, 'models');

/**
 * Build paths; `SWITCHBOARD_MODEL_WORK` overrides the work folder and `SWITCHBOARD_MODELS_DIR` the
 * folder the model is written to (ablation builds go to a temp folder, never over a shipped model).
 */
export const PATHS = {
  root: ROOT,
  work: process.env.SWITCHBOARD_MODEL_WORK ?? join(ROOT, 'data', 'model-build'),
  npmScratch: join(tmpdir(), 'switchboard-model-build'),
  modelsDir: MODELS_DIR,
  /** Where shipped models live (the baseline the build compares against is read from here). */
  shippedModelsDir: join(ROOT, 'models'),
  model: join(MODELS_DIR, MODEL_ID),
  /** Never trained on: evaluation only. */
  sharedEval: resolve(ROOT, '..', 'shared', 'eval'),
  ownEval: join(ROOT, 'data', 'eval', 'switchboard'),
} as const;
