/**
 * Builds the SDK client transport for an upstream spec: stdio child process, Streamable HTTP, or
 * the legacy HTTP+SSE transport. The stdio child's stderr is piped into the upstream's logger line
 * by line, so a crashing server's last words reach the operator. The command is spawned as given
 * (the pid the admin API shows is the server's own); a ChildGuard only adds an environment tag.
 * Every transport reads through the message-size cap of result-limit.ts, so an oversize answer fails
 * its one request instead of closing the connection. An HTTPS server with `tls` settings is reached
 * through its own undici Agent (tls.ts), closed with the transport; TLS failures are told in words.
 * HTTP requests made inside a span carry its W3C `traceparent` header (telemetry/trace-context.ts).
 */
import { createInterface } from 'node:readline';
import { SSEClientTransport, StreamableHTTPClientTransport, type Transport } from '@modelcontextprotocol/client';
import { getDefaultEnvironment, StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import type { UpstreamSpec } from '../config/spec.js';
import type { Logger } from '../telemetry/logger.js';
import type { ChildGuard } from './child-guard.js';
import { cappedFetch, LimitedReadBuffer, type Oversize, type ReadBufferHooks } from './result-limit.js';
import { DEFAULT_NOTIFICATIONS_PER_SECOND, FloodBrake, type Pausable } from './notify-limits.js';
import { explainTlsFailures, tlsFetch } from './tls.js';
import { tracedFetch } from '../telemetry/trace-context.js';

/** The cap on one message from the server, and who hears about what it discarded. */
export interface TransportLimits extends ReadBufferHooks {
  /** Largest message (a result, a notification) the server may send, in bytes. */
  readonly maxMessageBytes: number;
  /** Hides values that must never reach a log (expanded secrets) in the child's stderr lines. */
  readonly redact?: (text: string) => string;
  onOversize(o: Oversize): void;
  /** Notifications a stdio server may send per second before the gateway stops reading it for a moment. */
  readonly notificationsPerSecond?: number;
  /** The server passed that budget (once per episode). */
  onFlood?(): void;
}

/** A transport and, for stdio, the child's pid once started. */
export interface BuiltTransport {
  readonly transport: Transport;
  /** The child process id (stdio only, after start). */
  pid(): number | null;
}

/**
 * Creates a fresh transport for one connection attempt. With a `guard`, a stdio child and all it
 * spawns are tagged, so none of them outlives the gateway (see child-guard.ts).
 */
export function buildTransport(
  spec: UpstreamSpec,
  log: Logger,
  guard?: ChildGuard,
  limits?: TransportLimits,
): BuiltTransport {
  if (spec.kind === 'stdio') {
    const tag = guard?.tag();
    const transport = new StdioClientTransport({
      command: spec.command,
      args: [...spec.args],
      // The SDK replaces the environment when `env` is given; keep the safe defaults (PATH, HOME, ...).
      env: { ...getDefaultEnvironment(), ...spec.env, ...tag?.env },
      ...(spec.cwd ? { cwd: spec.cwd } : {}),
      stderr: 'pipe',
      // Also bounds any reader the SDK makes itself; ours (below) replaces the transport's own.
      ...(limits ? { maxBufferSize: limits.maxMessageBytes } : {}),
    });
    if (limits) {
      const brake = new FloodBrake(limits.notificationsPerSecond ?? DEFAULT_NOTIFICATIONS_PER_SECOND, () =>
        limits.onFlood?.(),
      );
      const buffer = new LimitedReadBuffer(limits.maxMessageBytes, { ...limits, onNotification: () => brake.count() });
      if (installReadBuffer(transport, buffer)) {
        const start = transport.start.bind(transport);
        transport.start = async () => {
          await start();
          brake.attach(childStdout(transport));
        };
        const close = transport.close.bind(transport);
        transport.close = async () => {
          brake.close();
          await close();
        };
      }
    }
    const stderr = transport.stderr;
    if (stderr) {
      createInterface({ input: stderr as unknown as NodeJS.ReadableStream }).on('line', (line) => {
        if (!line.trim()) return;
        const shown = line.length > 2000 ? `${line.slice(0, 2000)}…` : line;
        log.info({ stream: 'stderr' }, limits?.redact ? limits.redact(shown) : shown);
      });
    }
    if (guard && tag) {
      // The SDK's close (stdin end, SIGTERM, SIGKILL) reaches only the direct child: sweep what it left.
      const close = transport.close.bind(transport);
      transport.close = async () => {
        await close();
        await guard.sweep(tag.id);
      };
    }
    return { transport, pid: () => transport.pid };
  }
  const url = new URL(spec.url);
  const requestInit = { headers: { ...spec.headers } };
  const secured = spec.tls ? tlsFetch(spec.tls) : undefined;
  const base = explainTlsFailures(secured?.fetch ?? globalThis.fetch);
  // The active span (a pool's attempt, when tracing) rides as the traceparent header of each POST.
  const fetch = tracedFetch(limits ? cappedFetch(limits.maxMessageBytes, (o) => limits.onOversize(o), base) : base);
  const options = { requestInit, fetch };
  const transport =
    spec.kind === 'sse' ? new SSEClientTransport(url, options) : new StreamableHTTPClientTransport(url, options);
  if (secured) {
    const close = transport.close.bind(transport);
    transport.close = async () => {
      try {
        await close();
      } finally {
        await secured.close();
      }
    };
  }
  return { transport, pid: () => null };
}

/**
 * Puts our reader in place of the SDK stdio transport's `_readBuffer` (its data handler calls append,
 * readMessage and clear on whatever is there). If a later SDK renames the field, the SDK's own reader,
 * bounded by the same maxBufferSize, stays: oversize answers then close the connection as before.
 */
function installReadBuffer(transport: StdioClientTransport, buffer: LimitedReadBuffer): boolean {
  const target = transport as unknown as { _readBuffer?: { append?: unknown; readMessage?: unknown } };
  if (typeof target._readBuffer?.append !== 'function' || typeof target._readBuffer.readMessage !== 'function')
    return false;
  (target as { _readBuffer: unknown })._readBuffer = buffer;
  return true;
}

/** The running child's stdout (the SDK keeps the process in `_process`); undefined if not found. */
function childStdout(transport: StdioClientTransport): Pausable | undefined {
  const stdout = (transport as unknown as { _process?: { stdout?: Partial<Pausable> | null } })._process?.stdout;
  return typeof stdout?.pause === 'function' && typeof stdout.resume === 'function' ? (stdout as Pausable) : undefined;
}
