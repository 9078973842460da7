/**
 * Lines on a stdio server's stdout that are not JSON-RPC (a banner, a stray console.log) are skipped by
 * the reader; they are logged here so the operator learns why a server misbehaves, but at most a few a
 * minute with a count of the rest, so a server printing garbage in a loop cannot flood the log.
 */
import type { Logger } from '../telemetry/logger.js';

/** Lines logged per window; the rest are counted and reported when the next window opens. */
const LINES_PER_WINDOW = 5;
const WINDOW_MS = 60_000;
/** How much of one line a log entry shows. */
const SHOWN = 200;

/** A reporter for one upstream's non-JSON stdout lines (`log` read lazily: the upstream builds it later). */
export function stdoutNoise(log: () => Logger, now: () => number = Date.now): (line: string) => void {
  let windowStart = -Infinity;
  let logged = 0;
  let dropped = 0;
  return (line) => {
    const t = now();
    if (t - windowStart >= WINDOW_MS) {
      if (dropped > 0)
        log().warn(
          { stream: 'stdout', dropped },
          'more lines that are not JSON-RPC were skipped on stdout (not logged)',
        );
      windowStart = t;
      logged = 0;
      dropped = 0;
    }
    if (logged >= LINES_PER_WINDOW) {
      dropped++;
      return;
    }
    logged++;
    log().warn(
      { stream: 'stdout', line: line.length > SHOWN ? `${line.slice(0, SHOWN)}…` : line },
      'the server wrote a line that is not JSON-RPC on stdout; skipped (servers must log to stderr)',
    );
  };
}
