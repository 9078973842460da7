/**
 * The configuration schema: one zod schema for the whole file, validated once at start.
 *
 * A server entry accepts the `mcpServers` shape used by Claude Desktop, Cursor and VS Code
 * (`command`/`args`/`env`/`cwd`, or `url`/`headers`, with `type` when ambiguous), so an existing file
 * loads as is. The parsed form is translated into one internal, closed union (`UpstreamSpec`).
 */
import { z } from 'zod';

const stringMap = z.record(z.string(), z.string());

/** Fields every server entry may carry, whatever its transport. */
const commonFields = {
  /** Skip this server (Cursor and Claude Desktop files use this key too). */
  disabled: z.boolean().optional(),
  /** Free text shown in the catalog; used by capability search later. */
  description: z.string().optional(),
  /** Per-call timeout for this server's tools, in ms (overrides gateway.callTimeoutMs). */
  timeoutMs: z.number().int().positive().optional(),
  /** Protocol era to speak: probe (`auto`), force 2025 (`legacy`), or pin the 2026-07-28 revision. */
  protocol: z.enum(['auto', 'legacy', '2026-07-28']).optional(),
  /** Example needs per tool (by the tool's name on this server), indexed for find_capability. */
  examples: z.record(z.string(), z.array(z.string().min(1))).optional(),
};

/** A server entry as written in a file (stdio or HTTP), before translation. */
export const serverEntrySchema = z
  .object({
    type: z.enum(['stdio', 'http', 'streamable-http', 'streamableHttp', 'sse']).optional(),
    command: z.string().min(1).optional(),
    args: z.array(z.string()).optional(),
    env: stringMap.optional(),
    cwd: z.string().optional(),
    url: z.url({ protocol: /^https?$/ }).optional(),
    headers: stringMap.optional(),
    ...commonFields,
  })
  .superRefine((entry, ctx) => {
    const kind = entry.type;
    if (kind === 'stdio' || (kind === undefined && entry.command !== undefined)) {
      if (entry.command === undefined) ctx.addIssue({ code: 'custom', path: ['command'], message: 'a stdio server needs a command' });
      if (entry.url !== undefined) ctx.addIssue({ code: 'custom', path: ['url'], message: 'a stdio server takes a command, not a url' });
      if (entry.headers !== undefined) ctx.addIssue({ code: 'custom', path: ['headers'], message: 'headers apply to HTTP servers only' });
      return;
    }
    if (entry.url === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: kind === undefined ? [] : ['url'],
        message: kind === undefined ? 'a server needs either a command (stdio) or a url (HTTP)' : `a ${kind} server needs a url`,
      });
    }
    for (const key of ['command', 'args', 'env', 'cwd'] as const) {
      if (entry[key] !== undefined) ctx.addIssue({ code: 'custom', path: [key], message: `${key} applies to stdio servers only` });
    }
  });

/** A server entry as written in a config file or posted to the admin API. */
export type ServerEntry = z.infer<typeof serverEntrySchema>;

const serverName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'server names use letters, digits, "_", "-" and "." (at most 64)');

const serversMap = z.record(serverName, serverEntrySchema);

/** The whole configuration file. */
export const configSchema = z
  .object({
    gateway: z
      .object({
        /** Tool and prompt naming: always `server__tool`, only on conflict, or never (conflicts are errors). */
        prefix: z.enum(['always', 'on-conflict', 'never']).default('always'),
        separator: z.string().min(1).max(8).default('__'),
        callTimeoutMs: z.number().int().positive().default(60_000),
        connectTimeoutMs: z.number().int().positive().default(15_000),
        healthIntervalMs: z.number().int().positive().default(15_000),
        healthTimeoutMs: z.number().int().positive().default(5_000),
        drainTimeoutMs: z.number().int().nonnegative().default(10_000),
        /** Largest request an agent may send, in bytes (HTTP bodies; tool arguments on stdio). */
        maxRequestBytes: z.number().int().positive().default(4 * 1024 * 1024),
      })
      .strict()
      .prefault({}),
    http: z
      .object({
        host: z.string().default('127.0.0.1'),
        port: z.coerce.number().int().min(0).max(65_535).default(7420),
        /** Bearer token for the admin API (/v1); required when binding beyond loopback. */
        adminToken: z.string().min(16, 'an admin token needs at least 16 characters').optional(),
        /** Extra Host names accepted on /mcp when binding beyond loopback (DNS-rebinding protection). */
        allowedHosts: z.array(z.string()).default([]),
      })
      .strict()
      .prefault({}),
    store: z
      .object({ path: z.string().default('data/switchboard.db') })
      .strict()
      .prefault({}),
    /** Capability routing: find_capability, call_capability and the index behind them. */
    routing: z
      .object({
        /** What tools/list shows: the catalog (full), only the meta-tools (discovery), or both. */
        exposure: z.enum(['full', 'discovery', 'both']).default('both'),
        /** Embedding model: a folder under modelsDir; "none" routes on the lexical index alone. */
        model: z.string().default('switchboard-static-v1'),
        modelsDir: z.string().default('models'),
        /** Vector index: exact below hnswThreshold tools, HNSW from there (auto), or forced. */
        vectorIndex: z.enum(['auto', 'exact', 'hnsw']).default('auto'),
        hnswThreshold: z.number().int().positive().default(5_000),
        /** Weight of meaning (dense) evidence against lexical evidence in the fused score. */
        denseWeight: z.number().min(0).max(5).optional(),
        /** Learn example needs from successful calls that follow a find_capability decision. */
        learning: z.boolean().default(false),
        maxLearnedPerTool: z.number().int().positive().default(20),
      })
      .strict()
      .prefault({}),
    log: z
      .object({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') })
      .strict()
      .prefault({}),
    servers: serversMap.optional(),
    /** The Claude Desktop / Cursor key; merged with `servers`. */
    mcpServers: serversMap.optional(),
    /** VS Code's prompt inputs; accepted and ignored so its files load as is. */
    inputs: z.array(z.unknown()).optional(),
  })
  .strict();

/** The configuration as validated (defaults applied). */
export type ParsedConfig = z.infer<typeof configSchema>;
