/**
 * The internal form of an upstream server: a closed union over transport kinds.
 *
 * Every entry, whether it came from a config file, an `mcpServers` file or the admin API, is
 * translated here once; nothing downstream looks at the file shape again.
 */
import type { ServerEntry } from './schema.js';

/** How the gateway negotiates the protocol era with an upstream. */
export type ProtocolMode = 'auto' | 'legacy' | '2026-07-28';

interface SpecBase {
  readonly name: string;
  readonly description: string | undefined;
  readonly timeoutMs: number | undefined;
  readonly protocol: ProtocolMode;
  /** Example needs by tool name (on this server). */
  readonly examples: Readonly<Record<string, readonly string[]>>;
}

/** A server run as a child process, spoken to over stdin/stdout. */
export interface StdioSpec extends SpecBase {
  readonly kind: 'stdio';
  readonly command: string;
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly cwd: string | undefined;
}

/** A server reached over HTTP: Streamable HTTP, or the legacy HTTP+SSE transport. */
export interface HttpSpec extends SpecBase {
  readonly kind: 'streamable-http' | 'sse';
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
}

/** One upstream server, as the gateway runs it. */
export type UpstreamSpec = StdioSpec | HttpSpec;

/** Translates a validated entry into the internal union. The entry must have passed `serverEntrySchema`. */
export function toUpstreamSpec(name: string, entry: ServerEntry): UpstreamSpec {
  const base = {
    name,
    description: entry.description,
    timeoutMs: entry.timeoutMs,
    protocol: entry.protocol ?? 'auto',
    examples: entry.examples ?? {},
  };
  if (entry.type === 'stdio' || (entry.type === undefined && entry.command !== undefined)) {
    return {
      ...base,
      kind: 'stdio',
      command: entry.command ?? '',
      args: entry.args ?? [],
      env: entry.env ?? {},
      cwd: entry.cwd,
    };
  }
  return {
    ...base,
    kind: entry.type === 'sse' ? 'sse' : 'streamable-http',
    url: entry.url ?? '',
    headers: entry.headers ?? {},
  };
}

const SECRET_NAME = /(auth|token|key|secret|passw|cookie|credential|session)/i;

/**
 * A copy of a spec that is safe to log or return from the admin API: every env value is hidden (env
 * often carries credentials under innocent names) and headers named like secrets are hidden.
 */
export function redactSpec(spec: UpstreamSpec): Record<string, unknown> {
  if (spec.kind === 'stdio') {
    return { ...spec, env: Object.fromEntries(Object.keys(spec.env).map((k) => [k, '[redacted]'])) };
  }
  return {
    ...spec,
    headers: Object.fromEntries(Object.entries(spec.headers).map(([k, v]) => [k, SECRET_NAME.test(k) ? '[redacted]' : v])),
  };
}
