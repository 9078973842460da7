/**
 * A server's concurrency limit: at most `maxInFlight` calls at once, and a FIFO queue of at most
 * `maxQueue` calls waiting for a slot, each for at most `queueTimeoutMs`. It protects a slow upstream
 * from a burst: past the queue the call fails at once with a retryable UPSTREAM_BUSY instead of piling
 * onto a server that is already behind.
 *
 * A freed slot passes straight to the head of the queue (the in-flight count never dips), so a newcomer
 * cannot overtake a waiting call. A wait the caller aborts, or that times out, leaves the queue at once.
 */
import type { ConcurrencySettings } from '../config/limits-schema.js';
import { GatewayError } from '../core/errors.js';

/** Frees the slot (idempotent). */
export type Release = () => void;

interface Waiter {
  readonly resolve: (release: Release) => void;
  readonly reject: (error: unknown) => void;
  readonly timer: NodeJS.Timeout;
  readonly signal: AbortSignal | undefined;
  readonly onAbort: () => void;
}

/** Calls in flight to one server, and the queue behind them. */
export class ConcurrencyLimiter {
  readonly settings: ConcurrencySettings;
  /** Who the limit protects, for error messages (a server name). */
  readonly #name: string;
  #inFlight = 0;
  /** In arrival order; a Set so that a waiter that gives up leaves in O(1). */
  readonly #queue = new Set<Waiter>();

  constructor(settings: ConcurrencySettings, name: string) {
    this.settings = settings;
    this.#name = name;
  }

  /** Calls holding a slot. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Calls waiting for a slot. */
  get queued(): number {
    return this.#queue.size;
  }

  /**
   * Resolves with the slot's release once the call may go (at once when a slot is free and nobody waits).
   * Rejects with UPSTREAM_BUSY when the queue is full or the wait passes `queueTimeoutMs`, and with the
   * signal's reason when the caller aborts.
   */
  acquire(signal?: AbortSignal): Promise<Release> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#inFlight < this.settings.maxInFlight && this.#queue.size === 0) {
      this.#inFlight++;
      return Promise.resolve(this.#release());
    }
    if (this.#queue.size >= this.settings.maxQueue) return Promise.reject(this.#busy('full'));
    return new Promise<Release>((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        signal,
        timer: setTimeout(() => this.#leave(waiter, this.#busy('timeout')), this.settings.queueTimeoutMs),
        onAbort: () => this.#leave(waiter, signal?.reason),
      };
      signal?.addEventListener('abort', waiter.onAbort, { once: true });
      this.#queue.add(waiter);
    });
  }

  /** A release function for one slot: hands it to the next waiter, or frees it. */
  #release(): Release {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#queue.values().next();
      if (next.done) {
        this.#inFlight--;
        return;
      }
      this.#unlink(next.value);
      next.value.resolve(this.#release());
    };
  }

  #leave(waiter: Waiter, error: unknown): void {
    if (!this.#queue.has(waiter)) return;
    this.#unlink(waiter);
    waiter.reject(error);
  }

  #unlink(waiter: Waiter): void {
    this.#queue.delete(waiter);
    clearTimeout(waiter.timer);
    waiter.signal?.removeEventListener('abort', waiter.onAbort);
  }

  #busy(why: 'full' | 'timeout'): GatewayError {
    const { maxInFlight, maxQueue, queueTimeoutMs } = this.settings;
    const reason =
      why === 'timeout'
        ? `no slot freed within ${queueTimeoutMs} ms`
        : maxQueue === 0
          ? 'no queue is configured'
          : `${maxQueue} call(s) already waiting`;
    return new GatewayError(
      'UPSTREAM_BUSY',
      `server "${this.#name}" is at its concurrency limit (${maxInFlight} call(s) in flight; ${reason}); try again shortly`,
      { server: this.#name, maxInFlight, maxQueue, reason: why, sent: false },
    );
  }
}
