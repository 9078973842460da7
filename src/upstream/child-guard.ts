/**
 * Keeps a gateway's stdio upstreams, and whatever they spawn, from outliving it.
 *
 * A well-behaved MCP server exits when its stdin closes, so a gateway killed with SIGKILL used to
 * take its children with it. Servers that ignore stdin EOF, and grandchildren started through a
 * wrapper (`npx`, `sh -c`, `uvx`, a `setsid` daemon) that never see the pipe, would not. The SDK's
 * close sequence (stdin end, SIGTERM, SIGKILL) signals only the direct child, too.
 *
 * How: every stdio spawn gets an environment entry, `SWITCHBOARD_CHILD_TAG=<token>.<n>`, which its
 * descendants inherit however they are started or reparented (also the SDK's own version-probe
 * sibling, spawned from the same parameters, which the gateway never sees). One small watchdog
 * per gateway, a POSIX `sh` (about 1 MB, started on the first stdio spawn, in its own session so
 * terminal and process-group signals miss it), holds a pipe from the gateway. When that pipe
 * closes (gateway exit, crash, SIGKILL, or `close()`), it finds the tagged processes in
 * /proc/<pid>/environ, waits a moment for those that honour EOF, then sends SIGTERM and, to the
 * rest, SIGKILL. While the gateway lives, `sweep()` does the same for one closed transport.
 *
 * Why not the alternatives: `setpriv --pdeathsig` reaches only the direct child; process groups
 * need a wrapper binary (the SDK does not expose `detached`) and miss `setsid` descendants; both
 * would change the spawned command line. Nothing runs per call and nothing per upstream.
 * Linux only (it reads /proc): elsewhere the guard does nothing and says so once, at debug.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import type { Logger } from '../telemetry/logger.js';

/** The environment variable that marks a process as spawned (directly or not) by a gateway. */
export const CHILD_TAG_VAR = 'SWITCHBOARD_CHILD_TAG';

/**
 * The watchdog, run by `sh -c SCRIPT switchboard-reaper TOKEN`: it waits for the gateway's end of
 * its stdin to close, then gives the tagged processes 1 s to exit on their own (stdin EOF), sends
 * SIGTERM, 1 s more, then SIGKILL. It ignores the signals a terminal sends, and exits once no
 * tagged process is left. `grep -lz` lists the environ files with a matching NUL-separated entry
 * (zombies have an empty environ and drop out). The tag's value is `:`-separated so a gateway
 * running under another gateway keeps its parent's token: the outer watchdog reaches the inner
 * one's children.
 */
const REAPER_SCRIPT = [
  "trap '' INT HUP TERM;",
  'while read -r _; do :; done;',
  'tagged() {',
  `  for f in $(grep -lzs -e "^${CHILD_TAG_VAR}=.*$1\\." /proc/[0-9]*/environ); do`,
  '    p=${f#/proc/}; printf "%s " "${p%/environ}";',
  '  done;',
  '};',
  'settle() {',
  '  n=0;',
  '  while [ "$n" -lt 10 ]; do',
  '    [ -z "$(tagged "$1")" ] && exit 0;',
  '    sleep 0.1; n=$((n + 1));',
  '  done;',
  '};',
  'settle "$1";',
  'kill -s TERM $(tagged "$1") 2>/dev/null;',
  'settle "$1";',
  // SIGKILL again for processes forked meanwhile; a process that cannot die (stuck in the kernel) is given up on.
  'i=0;',
  'while [ "$i" -lt 10 ]; do kill -s KILL $(tagged "$1") 2>/dev/null; settle "$1"; i=$((i + 1)); done',
]
  // One line, so `ps` shows it on one.
  .map((line) => line.trim())
  .join(' ');

/** How long a swept process gets between SIGTERM and SIGKILL, and how long close() waits. */
const SWEEP_GRACE_MS = 1_000;
const CLOSE_WAIT_MS = 5_000;
/** A watchdog that keeps dying is not restarted forever. */
const MAX_RESTARTS = 3;

/** Where the guard looks (injectable so tests and other platforms can say "unsupported"). */
export interface ChildGuardOptions {
  readonly platform?: NodeJS.Platform;
  /** The proc filesystem (default /proc). */
  readonly procDir?: string;
  /** The POSIX shell that runs the watchdog (default /bin/sh). */
  readonly shell?: string;
}

/** One spawn's tag: its id, and the environment entry to add to the child's environment. */
export interface ChildTag {
  readonly id: string;
  readonly env: Readonly<Record<string, string>>;
}

/** Tags a gateway's stdio children and makes sure none of them outlives the gateway. */
export class ChildGuard {
  readonly #log: Logger;
  readonly #procDir: string;
  readonly #shell: string;
  readonly #token = `sb${randomBytes(6).toString('hex')}`;
  /** The tag value inherited from a gateway this one runs under (kept, so the outer one still reaches ours). */
  readonly #inherited: string | undefined;
  #supported: boolean;
  #seq = 0;
  #reaper: ChildProcess | undefined;
  #restarts = 0;
  #announced = false;
  #closed: Promise<void> | undefined;

  constructor(log: Logger, options: ChildGuardOptions = {}) {
    this.#log = log;
    this.#procDir = options.procDir ?? '/proc';
    this.#shell = options.shell ?? '/bin/sh';
    this.#supported = (options.platform ?? process.platform) === 'linux' && existsSync(`${this.#procDir}/self/environ`);
    this.#inherited = process.env[CHILD_TAG_VAR] || undefined;
  }

  /** True while tagged children are guarded (Linux with /proc, watchdog not given up on). */
  get active(): boolean {
    return this.#supported && !this.#closed;
  }

  /** A fresh tag for one spawn; starts the watchdog on first use. Unsupported: an empty environment. */
  tag(): ChildTag {
    const id = `${this.#token}.${++this.#seq}`;
    if (!this.#supported) this.#announce();
    if (!this.active) return { id, env: {} };
    this.#ensureReaper();
    return { id, env: { [CHILD_TAG_VAR]: this.#inherited ? `${this.#inherited}:${id}` : id } };
  }

  /**
   * Stops what is left of one spawn (its direct child already stopped by the SDK): SIGTERM, then
   * SIGKILL after a short grace. Resolves with how many processes it found; nothing found costs one
   * scan of /proc and no wait.
   */
  async sweep(id: string): Promise<number> {
    if (!this.#supported) return 0;
    const found = await this.#tagged(id);
    if (found.length === 0) return 0;
    this.#log.info({ tag: id, pids: found }, 'stopping processes a closed upstream left behind');
    signal(found, 'SIGTERM');
    const deadline = Date.now() + SWEEP_GRACE_MS;
    let left = found;
    while (left.length > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      left = await this.#tagged(id);
    }
    signal(left, 'SIGKILL');
    return found.length;
  }

  /** Stops every process this guard tagged that is still running, and the watchdog. Idempotent. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      const reaper = this.#reaper;
      this.#reaper = undefined;
      if (!reaper || reaper.exitCode !== null || reaper.signalCode !== null) return;
      const exited = new Promise<void>((r) => reaper.once('exit', () => r()));
      reaper.stdin?.end();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([exited, new Promise((r) => (timer = setTimeout(r, CLOSE_WAIT_MS)))]);
      clearTimeout(timer);
    })();
    return this.#closed;
  }

  #announce(): void {
    if (this.#announced) return;
    this.#announced = true;
    this.#log.debug(
      { platform: process.platform },
      'child guard unavailable (needs Linux, /proc and /bin/sh): an upstream that ignores stdin EOF, ' +
        'or what it spawned, may outlive a killed gateway',
    );
  }

  #ensureReaper(): void {
    if (this.#reaper) return;
    const reaper = spawn(this.#shell, ['-c', REAPER_SCRIPT, 'switchboard-reaper', this.#token], {
      // Its own session: Ctrl-C in a terminal and kills of the gateway's process group miss it.
      detached: true,
      stdio: ['pipe', 'ignore', 'ignore'],
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    });
    this.#reaper = reaper;
    // The watchdog must never keep the gateway's event loop alive.
    reaper.unref();
    (reaper.stdin as unknown as { unref?: () => void } | null)?.unref?.();
    reaper.stdin?.on('error', () => {});
    reaper.once('error', (error) => {
      if (this.#reaper === reaper) this.#reaper = undefined;
      this.#supported = false;
      this.#log.debug({ err: error.message, shell: this.#shell }, 'child guard watchdog could not start');
      this.#announce();
    });
    reaper.once('exit', (code, sig) => {
      if (this.#reaper !== reaper || this.#closed) return;
      this.#reaper = undefined;
      if (++this.#restarts > MAX_RESTARTS) {
        this.#supported = false;
        this.#log.warn({ code, signal: sig }, 'child guard watchdog keeps exiting; upstreams rely on stdin EOF');
        return;
      }
      this.#log.warn({ code, signal: sig }, 'child guard watchdog exited; restarting it');
      this.#ensureReaper();
    });
  }

  /** Pids whose environment carries the tag `id` (never this process). */
  async #tagged(id: string): Promise<number[]> {
    const names = await readdir(this.#procDir).catch(() => [] as string[]);
    const prefix = `${CHILD_TAG_VAR}=`;
    const found = await Promise.all(
      names.map(async (name) => {
        const pid = Number(name);
        if (!Number.isInteger(pid) || pid === process.pid) return undefined;
        const environ = await readFile(`${this.#procDir}/${name}/environ`, 'latin1').catch(() => '');
        const entry = environ.split('\0').find((e) => e.startsWith(prefix));
        return entry?.slice(prefix.length).split(':').includes(id) ? pid : undefined;
      }),
    );
    return found.filter((pid): pid is number => pid !== undefined);
  }
}

function signal(pids: readonly number[], sig: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, sig);
    } catch {
      // Gone already, or not ours to signal.
    }
  }
}
