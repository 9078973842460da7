/**
 * The table of 2025-era `/mcp` sessions: idle expiry and caps.
 *
 * Without them every `initialize` left about 9 KB behind for good, and a flood of them (about 1,800/s
 * with no credentials) grew memory and the cost of every list_changed fan-out without bound. A session
 * is busy while it has a request in flight or a GET stream open (an agent waiting for notifications
 * is not idle); otherwise it expires `idleMs` after its last activity. When the global cap or the
 * client address's cap is reached, the least recently active idle session is closed to make room; when
 * every session is busy the new one is refused (the caller answers 503).
 */
import type { ServerResponse } from 'node:http';
import type { Logger } from '../telemetry/logger.js';

/** Limits of the session table (`http.sessions` in the config). */
export interface SessionLimits {
  readonly idleMs: number;
  readonly max: number;
  readonly maxPerAddress: number;
}

/** Anything a session owns that must be released when it ends (its transport). */
export interface Closable {
  close(): Promise<void>;
}

/** One session's bookkeeping. */
export interface SessionEntry<T extends Closable> {
  readonly resource: T;
  readonly address: string;
  /** Set once the transport has assigned the session id. */
  id: string | undefined;
  /** Requests in flight plus open streams. */
  busy: number;
  lastActive: number;
}

/** Why a new session was refused. */
export type Refusal = { readonly limit: 'max' | 'maxPerAddress'; readonly value: number };

/** Sessions by id and by recency, with caps per address and overall. */
export class SessionTable<T extends Closable> {
  readonly #limits: SessionLimits;
  readonly #log: Logger;
  readonly #byId = new Map<string, SessionEntry<T>>();
  /** Least recently active first (an entry is moved to the end on every activity). */
  readonly #order = new Set<SessionEntry<T>>();
  readonly #perAddress = new Map<string, number>();
  readonly #timer: NodeJS.Timeout;

  constructor(limits: SessionLimits, log: Logger) {
    this.#limits = limits;
    this.#log = log;
    const every = Math.max(50, Math.min(60_000, Math.floor(limits.idleMs / 2)));
    this.#timer = setInterval(() => this.#expire(), every).unref();
  }

  /** Sessions held (including ones whose initialize is still being answered). */
  get size(): number {
    return this.#order.size;
  }

  /**
   * Admits a new session from `address`, closing the oldest idle session(s) in the way of a full cap;
   * returns a refusal when a cap is full of busy sessions.
   */
  admit(address: string, resource: T): SessionEntry<T> | Refusal {
    const { max, maxPerAddress } = this.#limits;
    if ((this.#perAddress.get(address) ?? 0) >= maxPerAddress && !this.#evictIdle(address))
      return { limit: 'maxPerAddress', value: maxPerAddress };
    if (this.#order.size >= max && !this.#evictIdle(undefined)) return { limit: 'max', value: max };
    const entry: SessionEntry<T> = { resource, address, id: undefined, busy: 0, lastActive: Date.now() };
    this.#order.add(entry);
    this.#perAddress.set(address, (this.#perAddress.get(address) ?? 0) + 1);
    return entry;
  }

  /** Records the id the transport gave the session. */
  name(entry: SessionEntry<T>, id: string): void {
    if (!this.#order.has(entry)) return;
    entry.id = id;
    this.#byId.set(id, entry);
  }

  /** The live session with this id. */
  get(id: string): SessionEntry<T> | undefined {
    return this.#byId.get(id);
  }

  /** Marks the session busy until `res` closes (a POST answered, a GET stream ended). */
  hold(entry: SessionEntry<T>, res: ServerResponse): void {
    entry.busy++;
    this.#touch(entry);
    res.once('close', () => {
      entry.busy--;
      this.#touch(entry);
    });
  }

  /** Forgets a session (its transport closed); idempotent. */
  remove(entry: SessionEntry<T>): void {
    if (!this.#order.delete(entry)) return;
    if (entry.id !== undefined) this.#byId.delete(entry.id);
    const left = (this.#perAddress.get(entry.address) ?? 1) - 1;
    if (left > 0) this.#perAddress.set(entry.address, left);
    else this.#perAddress.delete(entry.address);
  }

  /** Ends every session and stops expiry. */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    const entries = [...this.#order];
    for (const entry of entries) this.remove(entry);
    await Promise.all(entries.map((entry) => entry.resource.close().catch(() => {})));
  }

  #touch(entry: SessionEntry<T>): void {
    if (!this.#order.has(entry)) return;
    entry.lastActive = Date.now();
    this.#order.delete(entry);
    this.#order.add(entry);
  }

  /** Closes the least recently active idle session (of `address`, when given); false when none is idle. */
  #evictIdle(address: string | undefined): boolean {
    for (const entry of this.#order) {
      if (entry.busy > 0 || (address !== undefined && entry.address !== address)) continue;
      this.#log.debug({ session: entry.id, address: entry.address }, 'session evicted to make room');
      this.#end(entry);
      return true;
    }
    return false;
  }

  /** Closes sessions idle for longer than `idleMs` (the order is by last activity, so it stops early). */
  #expire(): void {
    const cutoff = Date.now() - this.#limits.idleMs;
    let closed = 0;
    for (const entry of this.#order) {
      if (entry.lastActive > cutoff) break;
      if (entry.busy > 0) continue;
      this.#end(entry);
      closed++;
    }
    if (closed > 0) this.#log.debug({ closed, open: this.#order.size }, 'idle sessions closed');
  }

  #end(entry: SessionEntry<T>): void {
    this.remove(entry);
    entry.resource.close().catch(() => {});
  }
}
