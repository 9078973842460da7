/**
 * A memo of each upstream's protocol era, kept across restarts.
 *
 * With `protocol: auto` the SDK probes a server with `server/discover` before it connects; for a
 * 2025-era stdio server that means starting it, waiting for the refusal, and connecting again
 * (about 0.7 s of every start of the embedded default). The SDK's gateway guide says: probe once,
 * keep the verdict with a date, and hand it back as `prior`. The gateway stores it behind this
 * port (SQLite in store/), keyed by what identifies the server (command, args, cwd or URL); a
 * verdict older than its horizon is probed again, and one that fails to connect is dropped.
 */

/** A remembered verdict: the SDK's `PriorDiscovery`, opaque here, and when it was stored (ms). */
export interface EraEntry {
  readonly verdict: unknown;
  readonly storedAt: number;
}

/** The port: get, set and forget a verdict by key. */
export interface EraMemo {
  get(key: string): EraEntry | undefined;
  set(key: string, verdict: unknown): void;
  delete(key: string): void;
}

/** Verdicts older than this are probed again (a server may have been upgraded). */
export const ERA_HORIZON_MS = 24 * 60 * 60 * 1000;
