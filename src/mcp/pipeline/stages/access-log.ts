/**
 * The access log: what agents asked and how it went, priced for the hot path. Like the metrics it
 * is an observer of the audit stage (stages/audit.ts), so it counts exactly the requests audit and
 * usage count, without a clock reading or an await of its own.
 *
 * - At `info`, one `access` line per interval (log.accessIntervalMs, default 10 s; none for an
 *   interval without requests): requests by outcome and by method, latency p50/p99/max over the
 *   interval (from a bounded uniform sample), the busiest tools and the error codes seen. A call
 *   costs a few counter updates (bench/sections/cpu.ts measures it): a line per call at info would
 *   cost a pino serialisation per call on a path that relays in a few hundred microseconds.
 * - At `debug`, also one `request` line per request (tenant, agent, method, tool, server, instance,
 *   outcome, error code, latency, bytes, trace id): for finding one call, not for production rates.
 *
 * Never in a line: arguments, results, credentials (the event carries none of them unless
 * `audit.arguments: full`, and those are not logged here).
 */
import type { AuditEvent } from '../../../core/audit-event.js';
import type { Logger } from '../../../telemetry/logger.js';
import type { AuditObserver } from './audit.js';

/** Latency samples kept per interval (uniform reservoir past this). */
const SAMPLES = 2048;
/** Tools named in a line (the busiest), and distinct tools and error codes counted per interval. */
const TOP_TOOLS = 5;
const MAX_KEYS = 1000;

/** The access log's observer, and its flush for shutdown. */
export interface AccessLog {
  readonly observer: AuditObserver;
  /** Writes the current interval's line now (if it had requests) and starts a new interval. */
  flush(): void;
  /** Stops the timer after a last flush. */
  close(): void;
}

const round = (x: number) => Math.round(x * 100) / 100;

/** Counts into a map that stops taking new keys at MAX_KEYS (the rest is counted under "other"). */
function bump(map: Map<string, number>, key: string): void {
  const known = map.get(key);
  if (known !== undefined) map.set(key, known + 1);
  else if (map.size < MAX_KEYS) map.set(key, 1);
  else map.set('other', (map.get('other') ?? 0) + 1);
}

/** An access log writing to `log` every `intervalMs`. */
export function accessLog(log: Logger, intervalMs: number): AccessLog {
  let started = Date.now();
  let requests = 0;
  const outcomes = new Map<string, number>();
  const methods = new Map<string, number>();
  const tools = new Map<string, number>();
  const errors = new Map<string, number>();
  const samples = new Float64Array(SAMPLES);
  let max = 0;

  const flush = (): void => {
    if (requests > 0) {
      const kept = samples.slice(0, Math.min(requests, SAMPLES)).sort();
      const at = (q: number) => round(kept[Math.min(kept.length - 1, Math.floor(q * kept.length))] ?? 0);
      log.info(
        {
          intervalMs: Date.now() - started,
          requests,
          outcomes: Object.fromEntries(outcomes),
          methods: Object.fromEntries(methods),
          latencyMs: { p50: at(0.5), p99: at(0.99), max: round(max) },
          topTools: [...tools]
            .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
            .slice(0, TOP_TOOLS)
            .map(([tool, n]) => ({ tool, n })),
          ...(errors.size ? { errors: Object.fromEntries(errors) } : {}),
        },
        'access',
      );
    }
    started = Date.now();
    requests = 0;
    max = 0;
    outcomes.clear();
    methods.clear();
    tools.clear();
    errors.clear();
  };

  const timer = setInterval(flush, intervalMs);
  timer.unref();

  const observer: AuditObserver = (event: AuditEvent) => {
    if (event.method === 'admin') return; // the REST API's own writes are in the audit trail, not agents' traffic
    const ms = event.latencyMs;
    // Reservoir sampling: every request of the interval has the same chance to be among the samples.
    if (requests < SAMPLES) samples[requests] = ms;
    else {
      const slot = Math.floor(Math.random() * (requests + 1));
      if (slot < SAMPLES) samples[slot] = ms;
    }
    requests++;
    if (ms > max) max = ms;
    bump(outcomes, event.outcome);
    bump(methods, event.method);
    const call = event.method === 'tools/call' || event.method === 'call_capability';
    if (call && event.tool !== undefined && event.server !== undefined) bump(tools, event.tool);
    if (event.errorCode !== undefined) bump(errors, event.errorCode);
    if (log.isLevelEnabled('debug'))
      log.debug(
        {
          tenant: event.tenant,
          agent: event.agent,
          method: event.method,
          tool: event.tool,
          server: event.server,
          instance: event.instance,
          outcome: event.outcome,
          errorCode: event.errorCode,
          ms: round(ms),
          bytesIn: event.bytesIn,
          bytesOut: event.bytesOut,
          traceId: event.traceId,
        },
        'request',
      );
  };

  return {
    observer,
    flush,
    close: () => {
      clearInterval(timer);
      flush();
    },
  };
}
