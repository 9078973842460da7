/**
 * The internal form of a server: a `ServerSpec` with one or more instances (replicas), each an
 * `UpstreamSpec`, a closed union over transport kinds.
 *
 * Every entry, whether it came from a config file, an `mcpServers` file or the admin API, is
 * translated here once; nothing downstream looks at the file shape again.
 */
import type { circuitSchema, retrySchema, ServerEntry, upstreamTlsSchema } from './schema.js';
import type { z } from 'zod';
import type { ConcurrencySettings } from './limits-schema.js';

/** How the gateway negotiates the protocol era with an upstream. */
export type ProtocolMode = 'auto' | 'legacy' | '2026-07-28';

interface SpecBase {
  /** The server's name (shared by its instances). */
  readonly name: string;
  /** This instance's id: the server name, or `name#n` when the server lists several instances. */
  readonly instance: string;
  /** Priority tier: 0 (primary) first; higher tiers only while every lower one is down. */
  readonly tier: number;
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
  /**
   * What to do when the first transport fails to connect: `sse` (only with kind `streamable-http`) retries
   * at once with the legacy HTTP+SSE transport, as the SDK recommends for a server of unknown transport;
   * set for a url ending in `/sse` with no `type` (how Cursor and Cline files name SSE servers).
   */
  readonly fallback: 'none' | 'sse';
  /** TLS towards an https:// url: file paths (absolute once loaded from a file), never their contents. */
  readonly tls: UpstreamTls | undefined;
}

/** An HTTPS upstream's TLS settings (see `upstreamTlsSchema`). */
export type UpstreamTls = z.infer<typeof upstreamTlsSchema>;

/** One upstream server, as the gateway runs it. */
export type UpstreamSpec = StdioSpec | HttpSpec;

/** Circuit breaker settings (see the config schema for their meaning). */
export type CircuitSettings = z.infer<typeof circuitSchema>;
/** Failover retry settings. */
export type RetrySettings = z.infer<typeof retrySchema>;

/** A server as the gateway runs it: one or more instances serving the same tools, and how to use them. */
export interface ServerSpec {
  readonly name: string;
  readonly description: string | undefined;
  readonly examples: Readonly<Record<string, readonly string[]>>;
  readonly instances: readonly UpstreamSpec[];
  /** Overrides of the gateway defaults (undefined: use the default). */
  readonly balance: 'p2c' | 'round-robin' | undefined;
  readonly health: { readonly intervalMs?: number | undefined; readonly timeoutMs?: number | undefined };
  readonly circuit: Partial<CircuitSettings>;
  readonly retry: Partial<RetrySettings>;
  /** Tools safe to repeat after a failure mid-call, besides read-only and idempotent ones (true: all). */
  readonly retrySafe: boolean | readonly string[];
  /** The gateway credential this server asked for (`mesh`), to call other tools through the gateway. */
  readonly mesh?: MeshRequest | undefined;
  /** Calls in flight at once on tools/call, and the queue behind them (absent: unlimited; limits/concurrency.ts). */
  readonly concurrency?: ConcurrencySettings | undefined;
}

/** What a server's gateway credential grants (see auth/mesh-keys.ts). */
export interface MeshRequest {
  readonly scopes: readonly string[];
  readonly groups: readonly string[];
}

type Transport = Pick<
  ServerEntry,
  'type' | 'transportType' | 'command' | 'args' | 'env' | 'cwd' | 'url' | 'serverUrl' | 'headers' | 'tls'
>;

/** True for a url whose path ends in `/sse` (query and a trailing slash aside). */
function endsInSse(url: string): boolean {
  try {
    return /\/sse\/?$/i.test(new URL(url).pathname);
  } catch {
    return false;
  }
}

function toInstance(
  base: Omit<SpecBase, 'instance' | 'tier'>,
  instance: string,
  tier: number,
  entry: Transport,
): UpstreamSpec {
  const common = { ...base, instance, tier };
  const type = entry.type ?? entry.transportType;
  if (type === 'stdio' || (type === undefined && entry.command !== undefined)) {
    return {
      ...common,
      kind: 'stdio',
      command: entry.command ?? '',
      args: entry.args ?? [],
      env: entry.env ?? {},
      cwd: entry.cwd,
    };
  }
  // Windsurf names the url `serverUrl`; the schema allows one of the two.
  const url = entry.url ?? entry.serverUrl ?? '';
  return {
    ...common,
    kind: type === 'sse' ? 'sse' : 'streamable-http',
    url,
    headers: entry.headers ?? {},
    fallback: type === undefined && endsInSse(url) ? 'sse' : 'none',
    tls: entry.tls,
  };
}

/** Translates a validated entry into the internal form. The entry must have passed `serverEntrySchema`. */
export function toServerSpec(name: string, entry: ServerEntry): ServerSpec {
  const base = {
    name,
    description: entry.description,
    // Cline's `timeout` is in seconds; an explicit timeoutMs wins.
    timeoutMs: entry.timeoutMs ?? (entry.timeout === undefined ? undefined : Math.round(entry.timeout * 1000)),
    protocol: entry.protocol ?? 'auto',
    examples: entry.examples ?? {},
  };
  const listed = entry.instances;
  const instances = listed
    ? listed.map((i, n) =>
        toInstance(
          base,
          listed.length === 1 ? name : `${name}#${n + 1}`,
          i.tier === 'backup' ? 1 : i.tier === 'primary' || i.tier === undefined ? 0 : i.tier,
          i,
        ),
      )
    : [toInstance(base, name, 0, entry)];
  return {
    name,
    description: entry.description,
    examples: entry.examples ?? {},
    instances,
    balance: entry.balance,
    health: entry.health ?? {},
    circuit: entry.circuit ?? {},
    retry: entry.retry ?? {},
    retrySafe: entry.retrySafe ?? false,
    ...(entry.mesh
      ? { mesh: { scopes: [...new Set(entry.mesh.scopes)], groups: [...new Set(entry.mesh.groups ?? [])] } }
      : {}),
    ...(entry.concurrency ? { concurrency: entry.concurrency } : {}),
  };
}

const SECRET_NAME = /(auth|token|key|secret|passw|cookie|credential|session)/i;

/** What an expanded secret is shown as. */
export const REDACTED = '***';

/**
 * `text` with every occurrence of each secret (values `${VAR}` took from the environment, see
 * `Config.secrets`) replaced by "***". Values under 3 characters are replaced only where they are the whole
 * string: "1" from `DEBUG=1` is no secret, and replacing it inside every number would make views unreadable.
 */
export function redactText(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) {
    if (secret.length < 3) {
      if (out === secret) return REDACTED;
      continue;
    }
    if (out.includes(secret)) out = out.split(secret).join(REDACTED);
  }
  return out;
}

/** A deep copy of `value` with {@link redactText} applied to every string (keys included). */
export function redactValues<T>(value: T, secrets: readonly string[]): T {
  if (secrets.length === 0) return value;
  const walk = (item: unknown): unknown => {
    if (typeof item === 'string') return redactText(item, secrets);
    if (Array.isArray(item)) return item.map(walk);
    if (item !== null && typeof item === 'object')
      return Object.fromEntries(Object.entries(item).map(([k, v]) => [redactText(k, secrets), walk(v)]));
    return item;
  };
  return walk(value) as T;
}

/**
 * A copy of a server spec that is safe to log or return from the admin API: every env value is hidden (env
 * often carries credentials under innocent names), headers named like secrets are hidden, and every value
 * expanded from the environment (`secrets`) is replaced by "***" wherever it appears (args, url, headers,
 * cwd, command...).
 */
export function redactServer(spec: ServerSpec, secrets: readonly string[] = []): Record<string, unknown> {
  const { instances, ...rest } = spec;
  return redactValues({ ...rest, instances: instances.map((i) => redactSpec(i)) }, secrets);
}

/** The redacted copy of one instance's spec (see {@link redactServer}); `secrets` as there. */
export function redactSpec(spec: UpstreamSpec, secrets: readonly string[] = []): Record<string, unknown> {
  if (spec.kind === 'stdio') {
    return redactValues(
      { ...spec, env: Object.fromEntries(Object.keys(spec.env).map((k) => [k, '[redacted]'])) },
      secrets,
    );
  }
  return redactValues(
    {
      ...spec,
      headers: Object.fromEntries(
        Object.entries(spec.headers).map(([k, v]) => [k, SECRET_NAME.test(k) ? '[redacted]' : v]),
      ),
    },
    secrets,
  );
}
