/**
 * Structured logging with pino. Logs are data: an object first, then a short message.
 *
 * Logs always go to stderr: in stdio mode stdout carries the MCP protocol, and one destination for
 * both modes keeps operators' pipelines simple. Values that look like credentials are redacted by
 * path here, and specs are passed through `redactSpec` before they are logged.
 *
 * A line logged inside a traced call carries the active span's `trace_id` and `span_id` (a pino mixin:
 * nothing is added outside a span, and with tracing off there never is one).
 */
import pino, { type Logger } from 'pino';
import { logTraceIds } from './trace-context.js';

export type { Logger } from 'pino';

/** Paths whose values never reach a log line. */
const REDACT_PATHS = [
  'env.*',
  '*.env.*',
  'headers.authorization',
  'headers.cookie',
  '*.headers.authorization',
  '*.headers.cookie',
  'adminToken',
  '*.adminToken',
  'arguments',
  '*.arguments',
];

/** Creates the root logger. `destination` defaults to stderr (fd 2). */
export function createLogger(options: { level?: string; destination?: pino.DestinationStream } = {}): Logger {
  return pino(
    {
      name: 'switchboard',
      level: options.level ?? 'info',
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      base: { pid: process.pid },
      mixin: logTraceIds,
    },
    options.destination ?? pino.destination({ fd: 2, sync: false }),
  );
}

/** A logger that drops everything (tests and benchmarks that do not read logs). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
