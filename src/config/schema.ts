/**
 * The configuration schema: one zod schema for the whole file, validated once at start.
 *
 * A server entry accepts the `mcpServers` shape used by Claude Desktop, Cursor and VS Code
 * (`command`/`args`/`env`/`cwd`, or `url`/`headers`, with `type` when ambiguous) and the extra keys of
 * Windsurf (`serverUrl`) and Cline (`transportType`, `timeout` in seconds, `autoApprove`), so an existing
 * file loads as is; `instances` lists replicas of one server instead. The parsed form is translated into
 * one internal form (`ServerSpec` with its `UpstreamSpec` instances).
 */
import { auditSchema } from './audit-schema.js';
import { concurrencySchema, limitsSchema, redisSchema } from './limits-schema.js';
import { telemetrySchema } from './telemetry-schema.js';
import { tasksSchema } from './tasks-schema.js';
import { alertsSchema } from './alerts-schema.js';
import { quotasSchema, usageSchema } from './usage-schema.js';
import { z } from 'zod';
import { authSchema, policySchema } from './auth-schema.js';
import { strictObject as strictEntry } from './keys.js';

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
  /** Cline's per-server timeout, in seconds (timeoutMs wins when both are given). */
  timeout: z.number().positive().optional(),
  /** Cline's and Claude's per-tool approval lists: a host's concern; accepted and ignored by a gateway. */
  autoApprove: z.unknown().optional(),
  /** Roo Code's name for autoApprove; accepted and ignored. */
  alwaysAllow: z.unknown().optional(),
  /** VS Code's development-mode settings (watch, debug) and gallery metadata: accepted and ignored. */
  dev: z.unknown().optional(),
  gallery: z.unknown().optional(),
  version: z.unknown().optional(),
  /**
   * Servers as callers: the gateway hands this server its own URL and a short-lived key for these
   * scopes (env SWITCHBOARD_URL / SWITCHBOARD_TOKEN for stdio, headers for HTTP; see auth/mesh-keys.ts),
   * so its tools can call other servers' tools through the gateway under the same rules as any agent.
   */
  mesh: strictEntry({
    scopes: z
      .array(z.string().min(1).max(200))
      .min(1, 'give at least one scope (for example "servers:search")')
      .max(100, 'at most 100 scopes'),
    groups: z.array(z.string().min(1).max(200)).max(100, 'at most 100 groups').optional(),
  }).optional(),
};

/** Transport fields: a stdio command or an HTTP url (the `mcpServers` shape). */
const transportKind = z.enum(['stdio', 'http', 'streamable-http', 'streamableHttp', 'sse']);
const httpUrl = z.url({ protocol: /^https?$/ });
/** A PEM file's path (relative paths resolve against the config file's folder; read at load, never shown). */
const pemFile = z.string().min(1);

/** TLS towards an HTTPS upstream: the CA to trust, the client certificate to present (mTLS), the name to verify. */
export const upstreamTlsSchema = strictEntry({
  /** PEM file of the CA(s) that sign the server's certificate; replaces Node's default roots for this server. */
  ca: pemFile.optional(),
  /** PEM file of the client certificate (chain) presented to the server; needs `key`. */
  cert: pemFile.optional(),
  /** PEM file of the client certificate's private key (unencrypted). */
  key: pemFile.optional(),
  /** Name sent in SNI and checked against the server's certificate (default: the url's host). */
  servername: z.string().min(1).optional(),
  /** false accepts any server certificate (testing only); default true. */
  rejectUnauthorized: z.boolean().optional(),
}).superRefine((tls, ctx) => {
  if ((tls.cert === undefined) !== (tls.key === undefined))
    ctx.addIssue({
      code: 'custom',
      path: [tls.cert === undefined ? 'cert' : 'key'],
      message: 'a client certificate needs both cert and key',
    });
});

const transportFields = {
  type: transportKind.optional(),
  /** Cline's older name for `type`. */
  transportType: transportKind.optional(),
  command: z.string().min(1).optional(),
  args: z.array(z.string()).optional(),
  env: stringMap.optional(),
  cwd: z.string().optional(),
  url: httpUrl.optional(),
  /** Windsurf's name for `url`. */
  serverUrl: httpUrl.optional(),
  headers: stringMap.optional(),
  /** TLS settings for an https:// url (CA, client certificate for mTLS, server name). */
  tls: upstreamTlsSchema.optional(),
};

type TransportFields = { [K in keyof typeof transportFields]?: z.infer<(typeof transportFields)[K]> };

/** Checks that the transport fields describe exactly one stdio or HTTP connection. */
function checkTransport(entry: TransportFields, ctx: z.RefinementCtx): void {
  if (entry.type !== undefined && entry.transportType !== undefined && entry.type !== entry.transportType)
    ctx.addIssue({ code: 'custom', path: ['transportType'], message: 'give type or transportType, not both' });
  if (entry.url !== undefined && entry.serverUrl !== undefined)
    ctx.addIssue({ code: 'custom', path: ['serverUrl'], message: 'give url or serverUrl, not both' });
  const kind = entry.type ?? entry.transportType;
  const url = entry.url ?? entry.serverUrl;
  if (kind === 'stdio' || (kind === undefined && entry.command !== undefined)) {
    if (entry.command === undefined)
      ctx.addIssue({ code: 'custom', path: ['command'], message: 'a stdio server needs a command' });
    if (url !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: [entry.url !== undefined ? 'url' : 'serverUrl'],
        message: 'a stdio server takes a command, not a url',
      });
    if (entry.headers !== undefined)
      ctx.addIssue({ code: 'custom', path: ['headers'], message: 'headers apply to HTTP servers only' });
    if (entry.tls !== undefined)
      ctx.addIssue({ code: 'custom', path: ['tls'], message: 'tls applies to HTTP servers only' });
    return;
  }
  if (url === undefined) {
    ctx.addIssue({
      code: 'custom',
      path: kind === undefined ? [] : ['url'],
      message:
        kind === undefined ? 'a server needs either a command (stdio) or a url (HTTP)' : `a ${kind} server needs a url`,
    });
  }
  if (entry.tls !== undefined && url?.startsWith('http:'))
    ctx.addIssue({ code: 'custom', path: ['tls'], message: 'tls applies to https:// urls; this url is http://' });
  for (const key of ['command', 'args', 'env', 'cwd'] as const) {
    if (entry[key] !== undefined)
      ctx.addIssue({ code: 'custom', path: [key], message: `${key} applies to stdio servers only` });
  }
}

/** One instance (replica) of a server: its own command or url, and its priority tier. */
export const instanceEntrySchema = strictEntry({
  ...transportFields,
  /** `primary` (0, the default) is used first; `backup` (1) or higher numbers only while every lower tier is down. */
  tier: z.union([z.enum(['primary', 'backup']), z.number().int().min(0).max(9)]).optional(),
}).superRefine(checkTransport);

/** Circuit breaker settings (per instance). */
export const circuitSchema = z
  .object({
    /** Consecutive failures that open the circuit. */
    failures: z.number().int().positive().default(5),
    /** Failure rate over the last `window` calls that opens it (once `minCalls` were seen). */
    failureRate: z.number().gt(0).max(1).default(0.5),
    window: z.number().int().positive().default(20),
    minCalls: z.number().int().positive().default(10),
    /** How long an open circuit rejects calls before letting probes through (half-open). */
    openMs: z.number().int().positive().default(5_000),
    /** Calls let through while half-open; all must succeed to close the circuit. */
    halfOpenProbes: z.number().int().positive().default(1),
  })
  .strict();

/** Failover retry settings. */
export const retrySchema = z
  .object({
    /** Further attempts on other instances after the first (0 = no failover). */
    attempts: z.number().int().min(0).max(10).default(2),
    /** Jittered exponential backoff between attempts. */
    backoffMs: z.number().int().nonnegative().default(25),
    maxBackoffMs: z.number().int().positive().default(1_000),
  })
  .strict();

/** A server entry as written in a file (stdio or HTTP, or several instances), before translation. */
export const serverEntrySchema = strictEntry({
  ...transportFields,
  ...commonFields,
  /** Replicas serving the same tools; replaces the top-level command/url. */
  instances: z.array(instanceEntrySchema).min(1).max(64).optional(),
  /** How calls spread over healthy instances of the best tier. */
  balance: z.enum(['p2c', 'round-robin']).optional(),
  /** Active health checks of this server's instances (override the gateway defaults). */
  health: z
    .object({ intervalMs: z.number().int().positive().optional(), timeoutMs: z.number().int().positive().optional() })
    .strict()
    .optional(),
  circuit: circuitSchema.partial().optional(),
  retry: retrySchema.partial().optional(),
  /** Tools that may be repeated on another instance after a failure mid-call (true = all), besides
   * those annotated readOnlyHint or idempotentHint. */
  retrySafe: z.union([z.boolean(), z.array(z.string().min(1))]).optional(),
  /** Calls in flight at once on this server, and the bounded queue behind them (limits-schema.ts). */
  concurrency: concurrencySchema.optional(),
}).superRefine((entry, ctx) => {
  if (entry.instances === undefined) return checkTransport(entry, ctx);
  for (const key of Object.keys(transportFields) as (keyof typeof transportFields)[]) {
    if (entry[key] !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: [key],
        message: `${key} goes inside each of "instances" (give either instances or one command/url)`,
      });
  }
});

/** A server entry as written in a config file or posted to the admin API. */
export type ServerEntry = z.infer<typeof serverEntrySchema>;

const serverName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'server names use letters, digits, "_", "-" and "." (at most 64)');

const serversMap = z.record(serverName, serverEntrySchema);

/** A virtual tool: one call fanned out to several backend tools. */
export const virtualToolSchema = z
  .object({
    description: z.string().optional(),
    /** Backend tool ids as the catalog names them (e.g. "search-a__search"). */
    tools: z.array(z.string().min(1)).min(2),
    /** merge: every result, labelled by source; first: the first success, the rest cancelled; quorum: n successes. */
    strategy: z.enum(['merge', 'first', 'quorum']).default('merge'),
    quorum: z.number().int().positive().optional(),
    /** Per-branch deadline (ms); the gateway's call timeout when absent. */
    timeoutMs: z.number().int().positive().optional(),
    /** Input schema shown to agents; by default the first backend tool's. */
    inputSchema: z.record(z.string(), z.unknown()).optional(),
  })
  .strict()
  .superRefine((tool, ctx) => {
    if (tool.strategy === 'quorum' && tool.quorum === undefined)
      ctx.addIssue({ code: 'custom', path: ['quorum'], message: 'the quorum strategy needs quorum: n' });
    if (tool.quorum !== undefined && tool.quorum > tool.tools.length)
      ctx.addIssue({
        code: 'custom',
        path: ['quorum'],
        message: `quorum ${tool.quorum} is more than the ${tool.tools.length} tools`,
      });
  });

/** A virtual tool as configured. */
export type VirtualToolEntry = z.infer<typeof virtualToolSchema>;

/** A version pin: "v2", "2", or a server's own declared version string. */
const versionPin = z.string().min(1);

/** One arm of an experiment: a weight and where its traffic goes. */
const armSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'arm names use letters, digits, "_", "-" and "."'),
    weight: z.number().min(0),
    /** Where the arm's calls go; absent = unchanged (the control). */
    route: z
      .object({
        /** Call the same tool on this server instead. */
        server: z.string().min(1).optional(),
        /** Only these instances of the tool's server (ids like "search#2"). */
        instances: z.array(z.string().min(1)).min(1).optional(),
        /** Call this tool (an id from the catalog) instead, with the same arguments. */
        tool: z.string().min(1).optional(),
        /** find_capability experiments: the dense weight this arm's scorer uses. */
        denseWeight: z.number().min(0).max(5).optional(),
      })
      .strict()
      .default({}),
  })
  .strict();

/** An A/B experiment between tool implementations (or scorer variants). */
export const experimentSchema = z
  .object({
    description: z.string().optional(),
    enabled: z.boolean().default(true),
    /** Hash salt; defaults to the experiment's name (changing it reshuffles every unit). */
    salt: z.string().min(1).optional(),
    /** Which calls take part: tool ids, the capability group of a tool id (it and its equivalents), or find_capability itself. */
    target: z.union([
      z.object({ tools: z.array(z.string().min(1)).min(1) }).strict(),
      z.object({ capability: z.string().min(1) }).strict(),
      z.object({ find: z.literal(true) }).strict(),
    ]),
    /** What stays in one arm: an agent (client name), a user (_meta io.switchboard/user), a session, or each request. */
    unit: z.enum(['agent', 'user', 'session', 'request']).default('session'),
    /** The first arm is the control. */
    arms: z.array(armSchema).min(2),
    start: z.iso.datetime({ offset: true }).optional(),
    end: z.iso.datetime({ offset: true }).optional(),
    /** Stop a (non-control) arm whose error rate or p95 latency exceeds a bound, once it has minSample calls. */
    guardrails: z
      .object({
        maxErrorRate: z.number().min(0).max(1).optional(),
        maxP95Ms: z.number().positive().optional(),
        minSample: z.number().int().positive().default(30),
      })
      .strict()
      .optional(),
  })
  .strict()
  .superRefine((e, ctx) => {
    const names = e.arms.map((a) => a.name);
    names.forEach((name, i) => {
      if (names.indexOf(name) !== i)
        ctx.addIssue({ code: 'custom', path: ['arms', i, 'name'], message: `arm "${name}" is listed twice` });
    });
    if (e.arms.every((a) => a.weight === 0))
      ctx.addIssue({ code: 'custom', path: ['arms'], message: 'at least one arm needs a weight above 0' });
    if (e.start && e.end && Date.parse(e.end) <= Date.parse(e.start))
      ctx.addIssue({ code: 'custom', path: ['end'], message: 'end must be after start' });
  });

const experimentsMap = z
  .record(
    z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'experiment names use letters, digits, "_", "-" and "."'),
    experimentSchema,
  )
  .default({});

const pinsSchema = z
  .object({
    global: z.record(z.string(), versionPin).default({}),
    agents: z.record(z.string(), z.record(z.string(), versionPin)).default({}),
  })
  .strict()
  .prefault({});

/** Tenant names: what principals (key bindings, JWT claims, certificate mappings) name ("default" is checked in load.ts). */
const tenantName = z
  .string()
  .regex(/^[A-Za-z0-9._-]{1,64}$/, 'tenant names use 1 to 64 letters, digits, ".", "_" or "-"');

/**
 * One tenant: servers of its own (a name it shares with a global server replaces that server for the
 * tenant, so its own credentials go in its own entry), the global servers it uses too, and its own
 * pins, experiments and policy. Every tenant's servers run as its own connections and processes.
 */
const tenantSchema = strictEntry({
  description: z.string().optional(),
  servers: serversMap.optional(),
  mcpServers: serversMap.optional(),
  /** Global (top-level) servers this tenant uses too: "*" (every one, the default), or their names. */
  shared: z.union([z.literal('*'), z.array(z.string().min(1))]).default('*'),
  /** Absent: the top-level pins. */
  pins: pinsSchema.optional(),
  /** The tenant's own experiments (the top-level ones are the default tenant's). */
  experiments: experimentsMap,
  /** Absent: the top-level policy. */
  policy: strictEntry({ files: z.array(z.string().min(1)) }).optional(),
});

/** An experiment as configured. */
export type ExperimentEntry = z.infer<typeof experimentSchema>;

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
        /** Agents' first answers wait (at most this long) until every initial server has had its first connection attempt;
         *  below the 10 s start-up timeout some hosts (Codex) give a server, our own start included. */
        startupWaitMs: z.number().int().nonnegative().default(8_000),
        healthIntervalMs: z.number().int().positive().default(15_000),
        healthTimeoutMs: z.number().int().positive().default(5_000),
        drainTimeoutMs: z.number().int().nonnegative().default(10_000),
        /** Largest request an agent may send, in bytes (HTTP bodies; tool arguments on stdio). */
        maxRequestBytes: z
          .number()
          .int()
          .positive()
          .default(4 * 1024 * 1024),
        /** Largest answer (or other message) an upstream server may send, in bytes: a larger one fails
         *  only its own call (RESULT_TOO_LARGE, not retryable) and the connection stays up. */
        maxResultBytes: z
          .number()
          .int()
          .min(1024)
          .default(16 * 1024 * 1024),
        /** Defaults for every server (each may override them). */
        balance: z.enum(['p2c', 'round-robin']).default('p2c'),
        circuit: circuitSchema.prefault({}),
        retry: retrySchema.prefault({}),
        /** Longest chain of server-to-server calls through the gateway (mesh); the call past it fails. */
        maxHops: z.number().int().min(1).max(32).default(8),
      })
      .strict()
      .prefault({}),
    http: z
      .object({
        host: z.string().default('127.0.0.1'),
        /** An integer, or a string of digits (what `${PORT}` expands to); `true`, `[]`, `''` and `null` are refused. */
        port: z
          .preprocess(
            (value) => (typeof value === 'string' && /^\s*\d+\s*$/.test(value) ? Number(value) : value),
            z.number({ error: 'the port must be an integer from 0 to 65535' }).int().min(0).max(65_535),
          )
          .default(7420),
        /** Bearer token for the admin API (/v1); required when binding beyond loopback. */
        /** An empty value (`${SWITCHBOARD_ADMIN_TOKEN:-}` with the variable unset) means not set. */
        adminToken: z.preprocess(
          (value) => (value === '' ? undefined : value),
          z.string().min(16, 'an admin token needs at least 16 characters').optional(),
        ),
        /** Extra Host names accepted on /mcp when binding beyond loopback (DNS-rebinding protection). */
        allowedHosts: z.array(z.string()).default([]),
        /** Serve HTTPS; with requestClientCert, clients' certificates signed by `ca` are verified (mTLS). */
        tls: strictEntry({
          /** PEM files of the hub's certificate (chain) and its private key. */
          cert: pemFile,
          key: pemFile,
          /** PEM file of the CA(s) that sign client certificates. */
          ca: pemFile.optional(),
          /** Ask clients for a certificate; a verified one can be a principal. Needs ca. */
          requestClientCert: z.boolean().default(false),
        })
          .superRefine((tls, ctx) => {
            if (tls.requestClientCert && tls.ca === undefined)
              ctx.addIssue({
                code: 'custom',
                path: ['ca'],
                message: 'requestClientCert needs ca: the CA that signs the client certificates to accept',
              });
          })
          .optional(),
        /** 2025-era `/mcp` sessions: closed after idleMs without a request or open stream; capped. */
        sessions: z
          .object({
            idleMs: z
              .number()
              .int()
              .positive()
              .default(30 * 60_000),
            /** Sessions open at once; when full, the oldest idle one is closed (503 if none is idle). */
            max: z.number().int().positive().default(1_000),
            /** Sessions open at once from one client address (same rule). */
            maxPerAddress: z.number().int().positive().default(500),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
    /** Who may connect and how identity is read (see auth-schema.ts). */
    auth: authSchema,
    /** Cedar policy files deciding what each principal may see and call. */
    policy: policySchema,
    store: z
      .object({
        /** An empty path would open an anonymous temporary database (lost at exit), so it is refused. */
        path: z
          .string()
          .min(1, 'store.path is empty: give a file path (or ":memory:" for a store that is lost at exit)')
          .default('data/switchboard.db'),
        /** Where rate limits are shared between gateway replicas (absent: in this process's memory). */
        redis: redisSchema.optional(),
      })
      .strict()
      .prefault({}),
    /** The audit trail: one tamper-evident event per agent request and admin change (audit-schema.ts). */
    audit: auditSchema,
    /** Rate limits on calls and find_capability (limits-schema.ts). */
    limits: limitsSchema,
    /** The price table that turns metered usage into cost (usage-schema.ts). */
    usage: usageSchema,
    /** Calls or cost per tenant per day or month (usage-schema.ts). */
    quotas: quotasSchema,
    /** Capability routing: find_capability, call_capability and the index behind them. */
    routing: z
      .object({
        /** What tools/list shows: the catalog (full), only the meta-tools (discovery), or both. */
        exposure: z.enum(['full', 'discovery', 'both']).default('both'),
        /** Embedding model: a folder under modelsDir; "none" routes on the lexical index alone. */
        model: z.string().default('switchboard-static-v1'),
        /** Where model folders are; absent: the models/ folder shipped with the package (see load.ts). */
        modelsDir: z.string().min(1).optional(),
        /** Vector index: exact below hnswThreshold tools, HNSW from there (auto), or forced. */
        vectorIndex: z.enum(['auto', 'exact', 'hnsw']).default('auto'),
        hnswThreshold: z.number().int().positive().default(5_000),
        /** Weight of meaning (dense) evidence against lexical evidence in the fused score. */
        denseWeight: z.number().min(0).max(5).optional(),
        /**
         * The learned reranker and abstainer: a file <name>.json under modelsDir; "none" ranks in
         * fusion order with the plain confidence model and generates no example needs.
         */
        reranker: z.string().min(1).default('switchboard-rerank-v1'),
        /**
         * Index example needs generated from each tool's name through the action lexicon (a doc2query
         * without a language model). Off by default: measured, it cost top-1 on the public sets
         * with the shipped reranker (bench/results, issue 15's note).
         */
        generateNeeds: z.boolean().default(false),
        /** Learn example needs from successful calls that follow a find_capability decision. */
        learning: z.boolean().default(false),
        maxLearnedPerTool: z.number().int().positive().default(20),
      })
      .strict()
      .prefault({}),
    /** Tracing (OpenTelemetry) and metrics (Prometheus): telemetry-schema.ts. */
    telemetry: telemetrySchema,
    /** Durable async tool calls (tasks-schema.ts); not read yet. */
    tasks: tasksSchema,
    /** The built-in alert engine (alerts-schema.ts); absent: off. */
    alerts: alertsSchema.optional(),
    log: z
      .object({
        level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
        /** One `access` line per interval at info (requests, outcomes, latency, busiest tools); 0: none. */
        accessIntervalMs: z.number().int().min(0).max(86_400_000).default(10_000),
      })
      .strict()
      .prefault({}),
    /** Gateway-owned tools that fan a call out over tools of several servers and aggregate the results. */
    virtualTools: z
      .record(
        z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'virtual tool names use letters, digits, "_", "-" and "."'),
        virtualToolSchema,
      )
      .default({}),
    /** A/B experiments by name (reloaded without a restart on SIGHUP or when the file changes). */
    experiments: experimentsMap,
    /** Tool version pins: for everyone, and per agent (by its client name). */
    pins: pinsSchema,
    /** Tenants: each with servers of its own, the global ones it shares, pins, experiments, policy. */
    tenants: z.record(tenantName, tenantSchema).default({}),
    servers: serversMap.optional(),
    /** The Claude Desktop / Cursor key; merged with `servers`. */
    mcpServers: serversMap.optional(),
    /** VS Code's prompt inputs; accepted so its files load as is (a `${input:id}` in a value is an error). */
    inputs: z.array(z.unknown()).optional(),
  })
  .strict();

/** The configuration as validated (defaults applied). */
export type ParsedConfig = z.infer<typeof configSchema>;
