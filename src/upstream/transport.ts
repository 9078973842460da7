/**
 * Builds the SDK client transport for an upstream spec: stdio child process, Streamable HTTP, or
 * the legacy HTTP+SSE transport. The stdio child's stderr is piped into the upstream's logger line
 * by line, so a crashing server's last words reach the operator. The command is spawned as given
 * (the pid the admin API shows is the server's own); a ChildGuard only adds an environment tag.
 */
import { createInterface } from 'node:readline';
import { SSEClientTransport, StreamableHTTPClientTransport, type Transport } from '@modelcontextprotocol/client';
import { getDefaultEnvironment, StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import type { UpstreamSpec } from '../config/spec.js';
import type { Logger } from '../telemetry/logger.js';
import type { ChildGuard } from './child-guard.js';

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
export function buildTransport(spec: UpstreamSpec, log: Logger, guard?: ChildGuard): BuiltTransport {
  if (spec.kind === 'stdio') {
    const tag = guard?.tag();
    const transport = new StdioClientTransport({
      command: spec.command,
      args: [...spec.args],
      // The SDK replaces the environment when `env` is given; keep the safe defaults (PATH, HOME, ...).
      env: { ...getDefaultEnvironment(), ...spec.env, ...tag?.env },
      ...(spec.cwd ? { cwd: spec.cwd } : {}),
      stderr: 'pipe',
    });
    const stderr = transport.stderr;
    if (stderr) {
      createInterface({ input: stderr as unknown as NodeJS.ReadableStream }).on('line', (line) => {
        if (line.trim()) log.info({ stream: 'stderr' }, line.length > 2000 ? `${line.slice(0, 2000)}…` : line);
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
  const transport =
    spec.kind === 'sse'
      ? new SSEClientTransport(url, { requestInit })
      : new StreamableHTTPClientTransport(url, { requestInit });
  return { transport, pid: () => null };
}
