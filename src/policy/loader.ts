/**
 * Policy files on disk, hot-reloaded: `*.cedar` files named directly or found in listed folders
 * (not recursive, read in name order) become one PolicyEngine.
 *
 * Operators edit policy while the gateway runs, so a change takes effect within about 100 ms
 * (fs.watch on the folders, debounced; a stat poll catches what watching misses, such as network
 * filesystems or a replaced folder). A change that does not load (syntax, an unknown attribute, a
 * missing path) never weakens what is in force: the last good engine stays, the generation does not
 * move, and the log says why with file and position. At start there is no last good policy, so
 * `open` fails instead. Configured paths with no policy in them give an empty engine, which denies
 * everything: configuring policy turns it on.
 */
import { type FSWatcher, watch } from 'node:fs';
import { readFile, readdir, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { GatewayError, asGatewayError } from '../core/errors.js';
import type { Logger } from '../telemetry/logger.js';
import { PolicyEngine, type PolicyText } from './cedar.js';

/** Where the policy files are and how to watch them. */
export interface PolicyFilesOptions {
  /** Files and folders (every `*.cedar` directly inside). */
  readonly paths: readonly string[];
  readonly log: Logger;
  /** Quiet time after the last file event before reloading (default 100 ms). */
  readonly debounceMs?: number;
  /** Stat poll interval as a fallback to fs.watch (default 2000 ms; 0 turns it off). */
  readonly pollMs?: number;
}

/** Called with each new engine that takes effect. */
export type PolicyChangeListener = (engine: PolicyEngine, generation: number) => void;

/** Called when a change fails to load (the last good engine stays). */
export type PolicyErrorListener = (error: GatewayError) => void;

/** The live policy of a set of files. */
export class PolicyFiles {
  readonly #options: PolicyFilesOptions;
  readonly #log: Logger;
  readonly #changeListeners = new Set<PolicyChangeListener>();
  readonly #errorListeners = new Set<PolicyErrorListener>();
  readonly #watchers: FSWatcher[] = [];
  #engine: PolicyEngine | undefined;
  #generation = 0;
  #loadedSignature = '';
  #statSignature = '';
  #debounce: NodeJS.Timeout | undefined;
  #poll: NodeJS.Timeout | undefined;
  #running: Promise<boolean> | undefined;
  #again = false;
  #closed = false;

  private constructor(options: PolicyFilesOptions) {
    this.#options = options;
    this.#log = options.log;
  }

  /** Loads the files once (throws CONFIG_INVALID on any problem) and starts watching them. */
  static async open(options: PolicyFilesOptions): Promise<PolicyFiles> {
    const files = new PolicyFiles(options);
    if (options.paths.length === 0) return files;
    const texts = await files.#read();
    files.#install(new PolicyEngine(texts), signature(texts));
    files.#statSignature = await files.#stats().catch(() => 'missing');
    await files.#watch();
    return files;
  }

  /** The engine in force; undefined only when no policy paths are configured. */
  current(): PolicyEngine | undefined {
    return this.#engine;
  }

  /** Counts engines that took effect (1 after a successful open). */
  get generation(): number {
    return this.#generation;
  }

  /** Subscribes to new engines; returns the unsubscribe function. */
  onChange(listener: PolicyChangeListener): () => void {
    this.#changeListeners.add(listener);
    return () => this.#changeListeners.delete(listener);
  }

  /** Subscribes to failed reloads; returns the unsubscribe function. */
  onError(listener: PolicyErrorListener): () => void {
    this.#errorListeners.add(listener);
    return () => this.#errorListeners.delete(listener);
  }

  /** Rereads the files now (SIGHUP, tests); true when a new engine took effect. Calls are serialised. */
  reload(): Promise<boolean> {
    if (this.#closed || this.#options.paths.length === 0) return Promise.resolve(false);
    if (this.#running) {
      this.#again = true;
      return this.#running;
    }
    this.#running = this.#reloadOnce().finally(() => {
      this.#running = undefined;
      if (this.#again && !this.#closed) {
        this.#again = false;
        void this.reload();
      }
    });
    return this.#running;
  }

  /** Stops watching. Idempotent; the current engine stays readable. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#debounce);
    clearInterval(this.#poll);
    for (const watcher of this.#watchers.splice(0)) watcher.close();
    this.#changeListeners.clear();
    this.#errorListeners.clear();
  }

  async #reloadOnce(): Promise<boolean> {
    let texts: PolicyText[];
    let engine: PolicyEngine;
    try {
      texts = await this.#read();
      if (signature(texts) === this.#loadedSignature) return false;
      engine = new PolicyEngine(texts);
    } catch (error) {
      const failure = asGatewayError(error);
      const problems = (failure.details?.['problems'] as string[] | undefined) ?? [failure.message];
      this.#log.error(
        { problems, generation: this.#generation },
        'policy change not loaded: the last good policy stays in force',
      );
      for (const listener of this.#errorListeners) listener(failure);
      return false;
    }
    if (this.#closed) return false;
    this.#install(engine, signature(texts));
    return true;
  }

  #install(engine: PolicyEngine, loadedSignature: string): void {
    this.#engine = engine;
    this.#loadedSignature = loadedSignature;
    this.#generation++;
    const fields = { generation: this.#generation, policies: engine.size, fingerprint: engine.fingerprint };
    if (engine.size === 0) this.#log.warn(fields, 'policy paths hold no policy: every request is denied');
    else this.#log.info(fields, 'policy loaded');
    if (engine.warnings.length > 0) this.#log.warn({ warnings: engine.warnings }, 'policy warnings');
    for (const listener of this.#changeListeners) listener(engine, this.#generation);
  }

  /** Every policy file's text; ids are file names (the path where two folders share a name). */
  async #read(): Promise<PolicyText[]> {
    const paths = await this.#files();
    const names = paths.map((p) => basename(p));
    return Promise.all(
      paths.map(async (path, i) => {
        const name = names[i] ?? path;
        const id = names.indexOf(name) === names.lastIndexOf(name) ? name : path;
        return { id, path, text: await readFile(path, 'utf8') };
      }),
    );
  }

  async #files(): Promise<string[]> {
    const out: string[] = [];
    for (const path of this.#options.paths) {
      const info = await stat(path).catch(() => undefined);
      if (!info)
        throw new GatewayError('CONFIG_INVALID', `Policy path ${path} does not exist`, {
          problems: [`${path}: does not exist`],
        });
      if (!info.isDirectory()) out.push(path);
      else
        for (const name of (await readdir(path)).filter((n) => n.endsWith('.cedar')).sort()) out.push(join(path, name));
    }
    return out;
  }

  /** Paths, sizes and modification times: what the poll compares. */
  async #stats(): Promise<string> {
    const files = await this.#files();
    const infos = await Promise.all(files.map((f) => stat(f).then((s) => `${f}:${s.size}:${s.mtimeMs}`)));
    return infos.join('\n');
  }

  async #watch(): Promise<void> {
    const schedule = () => {
      if (this.#closed) return;
      clearTimeout(this.#debounce);
      this.#debounce = setTimeout(() => void this.reload(), this.#options.debounceMs ?? 100);
      this.#debounce.unref();
    };
    for (const path of this.#options.paths) {
      const info = await stat(path).catch(() => undefined);
      if (!info || this.#closed) continue;
      // A file is watched through its folder: editors save by renaming over it, which ends a file watch.
      const folder = info.isDirectory() ? path : dirname(path);
      const only = info.isDirectory() ? undefined : basename(path);
      try {
        const watcher = watch(folder, { persistent: false }, (_event, name) => {
          if (!only || !name || name.toString() === only) schedule();
        });
        watcher.on('error', (error) => this.#log.debug({ err: error, path }, 'policy watch ended; polling'));
        this.#watchers.push(watcher);
      } catch (error) {
        this.#log.debug({ err: error, path }, 'policy path not watchable; polling');
      }
    }
    const pollMs = this.#options.pollMs ?? 2000;
    if (pollMs <= 0 || this.#closed) return;
    this.#poll = setInterval(() => {
      // A missing path reads as 'missing': the reload reports it once, not on every poll.
      void this.#stats()
        .catch(() => 'missing')
        .then((now) => {
          if (now === this.#statSignature) return;
          this.#statSignature = now;
          schedule();
        });
    }, pollMs);
    this.#poll.unref();
  }
}

function signature(texts: readonly PolicyText[]): string {
  return JSON.stringify(texts.map((t) => [t.id, t.text]));
}
