/**
 * Where relative paths in a config point. A config file is written once and started from anywhere (a host
 * starts a sidecar in its own working directory, often `/`), so paths in a file resolve against the file's
 * folder, never against `process.cwd()`; and the model that ships with Switchboard is found next to the
 * package, wherever it is installed (the repo, `dist/` after a build, a global npm install).
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { StdioSpec, ServerSpec } from './spec.js';

/** The name in Switchboard's own package.json (how the package root is recognised). */
const PACKAGE_NAME = 'switchboard';

/**
 * The folder holding Switchboard's package.json, found by walking up from `fromDir` (by default this
 * module's folder: `src/config/` in the repo, `dist/src/config/` after a build). Undefined when not found.
 */
export function findPackageRoot(fromDir: string = dirname(fileURLToPath(import.meta.url))): string | undefined {
  for (let dir = fromDir; ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      try {
        if ((JSON.parse(readFileSync(manifest, 'utf8')) as { name?: unknown }).name === PACKAGE_NAME) return dir;
      } catch {
        // An unreadable package.json on the way up is not ours; keep walking.
      }
    }
    if (dirname(dir) === dir) return undefined;
  }
}

/** The models folder shipped with the package (`<package>/models`); `models` under the cwd if not found. */
export function defaultModelsDir(): string {
  const root = findPackageRoot();
  return root ? join(root, 'models') : resolve('models');
}

/**
 * VS Code's `${workspaceFolder}` for a config file: the folder above `.vscode/` when the file is
 * `.vscode/mcp.json`, else the file's own folder.
 */
export function workspaceFolderOf(configDir: string): string {
  return basename(configDir) === '.vscode' ? dirname(configDir) : configDir;
}

/** Resolves `path` against `baseDir` unless it is absolute (or SQLite's `:memory:`). */
export function resolveFrom(baseDir: string, path: string): string {
  return path === ':memory:' || isAbsolute(path) ? path : resolve(baseDir, path);
}

const EXPLICIT = /^\.\.?(\/|$)/;

/**
 * Whether a relative arg or env value is clearly a path: `.`, `..`, `./x`, `../x`, or something with a `/`
 * that exists relative to `baseDir`. Bare words (`stdio`, `-y`), flags, urls and package names
 * (`@scope/pkg`, which never exist as a folder there) stay as written.
 */
function looksLikePath(value: string, baseDir: string): boolean {
  if (EXPLICIT.test(value)) return true;
  if (isAbsolute(value) || !value.includes('/') || value.startsWith('-') || value.includes('://')) return false;
  return existsSync(resolve(baseDir, value));
}

/** An arg with its path part resolved: `./x`, or the value of `--flag=./x`. */
function resolveArg(arg: string, baseDir: string): string {
  if (looksLikePath(arg, baseDir)) return resolve(baseDir, arg);
  const flag = /^(--?[A-Za-z0-9][\w-]*=)(\.\.?\/.*)$/.exec(arg);
  return flag ? `${flag[1]}${resolve(baseDir, flag[2]!)}` : arg;
}

/**
 * A stdio instance with its relative paths resolved: `cwd` against the config folder; `command`, args and
 * env values that are clearly paths (see {@link looksLikePath}) against the instance's `cwd` when it has
 * one (that is where the child would look), else the config folder. A bare command (`npx`) stays for PATH.
 */
export function resolveStdioPaths(spec: StdioSpec, configDir: string): StdioSpec {
  const cwd = spec.cwd ? resolveFrom(configDir, spec.cwd) : undefined;
  const base = cwd ?? configDir;
  const command = spec.command.includes('/') && !isAbsolute(spec.command) ? resolve(base, spec.command) : spec.command;
  return {
    ...spec,
    command,
    args: spec.args.map((arg) => resolveArg(arg, base)),
    env: Object.fromEntries(
      Object.entries(spec.env).map(([k, v]) => [k, looksLikePath(v, base) ? resolve(base, v) : v]),
    ),
    cwd,
  };
}

/** A server's stdio instances with their paths resolved against the config folder (see {@link resolveStdioPaths}). */
export function withConfigDir(spec: ServerSpec, configDir: string): ServerSpec {
  return {
    ...spec,
    instances: spec.instances.map((i) => (i.kind === 'stdio' ? resolveStdioPaths(i, configDir) : i)),
  };
}
