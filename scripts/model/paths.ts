/**
 * Where the model build reads and writes. Downloads and intermediate files go to a git-ignored
 * work folder (data/model-build/); npm installs of MCP servers go to the OS temp folder so nothing
 * is ever installed inside the project; the finished model goes to models/switchboard-static-v1/.
 */
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (two levels above this file). */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The model's id: its folder name under models/. */
export const MODEL_ID = 'switchboard-static-v1';

/** Build paths; `SWITCHBOARD_MODEL_WORK` overrides the work folder. */
export const PATHS = {
  root: ROOT,
  work: process.env.SWITCHBOARD_MODEL_WORK ?? join(ROOT, 'data', 'model-build'),
  npmScratch: join(tmpdir(), 'switchboard-model-build'),
  modelsDir: join(ROOT, 'models'),
  model: join(ROOT, 'models', MODEL_ID),
  /** Never trained on: evaluation only. */
  sharedEval: resolve(ROOT, '..', 'shared', 'eval'),
  ownEval: join(ROOT, 'data', 'eval', 'switchboard'),
} as const;
