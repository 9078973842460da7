/**
 * The connection to the Redis that rate limits share between gateway replicas (`store.redis`).
 *
 * A limit check must never hang a call, so the connection fails fast instead of queueing: commands are
 * refused at once while it is down (no offline queue, no resend after a reconnect: a late increment would
 * count a call that was already let through or refused), and every command has a client-side timeout
 * (`commandTimeoutMs`; a command that timed out on a hung server may still count once that server
 * catches up). It reconnects on its own with capped backoff, so limits work again as soon as
 * Redis is back, without a restart. An outage is logged once when it starts and once when it ends,
 * never per call.
 */
import { Redis } from 'ioredis';
import type { RedisConfig } from '../config/limits-schema.js';
import type { Logger } from '../telemetry/logger.js';

/** Longest wait between two reconnect attempts. */
export const MAX_RECONNECT_DELAY_MS = 2000;

/** The shared limit store's connection and its health. */
export class LimitStore {
  readonly client: Redis;
  readonly keyPrefix: string;
  readonly commandTimeoutMs: number;
  readonly #log: Logger;
  /** Where it points, for logs: host and port only (the URL may carry a password). */
  readonly #where: string;
  #down = false;
  #closed = false;

  constructor(config: RedisConfig, log: Logger) {
    this.keyPrefix = config.keyPrefix;
    this.commandTimeoutMs = config.commandTimeoutMs;
    this.#log = log;
    const url = new URL(config.url);
    this.#where = `${url.hostname}:${url.port || '6379'}`;
    this.client = new Redis(config.url, {
      lazyConnect: true,
      enableOfflineQueue: false,
      autoResendUnfulfilledCommands: false,
      maxRetriesPerRequest: 0,
      connectTimeout: config.connectTimeoutMs,
      commandTimeout: config.commandTimeoutMs,
      retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 6), MAX_RECONNECT_DELAY_MS),
    });
    // Without an 'error' listener ioredis prints every failed reconnect attempt to the console.
    this.client.on('error', (error: Error) => this.failed(error));
    this.client.on('close', () => {
      if (!this.#closed) this.failed(new Error('connection closed'));
    });
    this.client.on('ready', () => this.succeeded());
  }

  /** Starts connecting (failures are logged as an outage; commands fail fast until it is up). */
  connect(): void {
    this.client.connect().catch((error: unknown) => this.failed(error));
  }

  /** True while connected and no command has failed since (a dropped connection can read 'ready' for a moment). */
  get ready(): boolean {
    return this.client.status === 'ready' && !this.#down;
  }

  /** True between the first failure of an outage and the next successful connection. */
  get down(): boolean {
    return this.#down;
  }

  /** Notes a connection or a command that worked: ends an outage (logged once). */
  succeeded(): void {
    if (!this.#down) return;
    this.#down = false;
    if (!this.#closed) this.#log.info({ redis: this.#where }, 'limit store reachable again; limits shared again');
  }

  /** Notes a failed command or connection: the first of an outage is logged, the rest are not. */
  failed(error: unknown): void {
    if (this.#down || this.#closed) return;
    this.#down = true;
    this.#log.warn(
      { redis: this.#where, err: error instanceof Error ? error.message : String(error) },
      'limit store unreachable: fail-open limits let requests through uncounted, fail-closed limits refuse them, until it is back',
    );
  }

  /** Disconnects (idempotent). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.client.status === 'ready') await this.client.quit().catch(() => this.client.disconnect());
    else this.client.disconnect();
  }
}
