/**
 * The gateway's use-cases: start and stop upstreams, federate their catalogs, route calls, and
 * register or remove servers at run time. The edges (mcp/, http/) call only this class.
 *
 * Dependencies come in through the constructor (see compose.ts for the defaults); there is no
 * module-level state, so tests run several gateways in one process.
 */
import type { Config } from '../config/load.js';
import { describeIssues, formatPath, refuseReferences, shapeIssue, type ConfigIssue } from '../config/load.js';
import { serverEntrySchema } from '../config/schema.js';
import { redactServer, redactText, redactValues, toServerSpec, type ServerSpec } from '../config/spec.js';
import { GatewayError } from '../core/errors.js';
import type {
  CallToolResult,
  CompleteRequestParams,
  CompleteResult,
  GetPromptResult,
  ReadResourceResult,
  ServerPart,
  Tool,
} from '../core/protocol.js';
import type { LogMessage } from '../core/channel.js';
import { AgentRegistry } from './agents.js';
import type { EraMemo } from '../core/era-memo.js';
import { Federation, type CatalogChange } from '../catalog/federation.js';
import { templateMatches } from '../catalog/uri-template.js';
import type { CatalogSnapshot, CatalogTool } from '../catalog/snapshot.js';
import { fanOut, type FanoutBranch, type FanoutStrategy } from '../resilience/fanout.js';
import { retrySafe } from '../resilience/retry.js';
import type { ServerRegistry } from '../store/servers-repo.js';
import type { Logger } from '../telemetry/logger.js';
import type { ForwardOptions } from '../upstream/upstream.js';
import { ChildGuard } from '../upstream/child-guard.js';
import type { AgentChannel } from '../core/channel.js';
import { CompatTracker, type CompatStore } from './compat.js';
import { ServerPool, type InstanceSelector, type PoolDefaults, type PoolStatus } from './pool.js';
import { suggest } from './suggest.js';
import type { Tracer } from '../telemetry/trace-context.js';
import { branchSpan } from './trace-spans.js';
import type { UpstreamTaskEra } from '../core/tasks.js';
import {
  UpstreamTaskRunner,
  type FollowOptions,
  type UpstreamTaskCreated,
  type UpstreamTaskRef,
} from './tasks/upstream-tasks.js';

export type {
  FollowOptions,
  UpstreamTaskCreated,
  UpstreamTaskRef,
  UpstreamTaskStatus,
} from './tasks/upstream-tasks.js';

/**
 * Hands a server that asked for `mesh` its gateway credential (compose.ts builds it from auth/mesh-keys.ts
 * once the hub listens): the URL to call and a key scoped as the entry says.
 */
export interface MeshProvider {
  /** The credential for `spec`'s server. */
  issue(spec: ServerSpec): { readonly url: string; readonly token: string };
  /** The server is gone (removed): its credential stops working. */
  revoke(server: string): void;
}

/** Where a mesh server finds its credential: environment variables (stdio) or request headers (HTTP). */
export const MESH_ENV = { url: 'SWITCHBOARD_URL', token: 'SWITCHBOARD_TOKEN' } as const;
export const MESH_HEADERS = { url: 'X-Switchboard-Url', token: 'X-Switchboard-Token' } as const;

/** The gateway's own pseudo-server: virtual (fan-out) tools are listed under it. */
export const GATEWAY_SERVER = 'switchboard';

/** Where a server's definition came from. */
export type ServerSource = 'config' | 'runtime';

/** A server's status as the admin API shows it. */
export interface ServerView extends PoolStatus {
  readonly source: ServerSource;
  readonly spec: Record<string, unknown>;
}

/** A server registered with `disabled: true`: kept (and persisted) but not connected. */
export interface DisabledServerView {
  readonly name: string;
  readonly state: 'disabled';
  readonly source: ServerSource;
  readonly spec: Record<string, unknown>;
}

/** What the gateway needs from its surroundings. */
export interface GatewayDeps {
  readonly config: Config;
  readonly log: Logger;
  readonly registry: ServerRegistry;
  /** Where tool schema versions are kept (absent: no versioning, no pins). */
  readonly compat?: CompatStore;
  /** Keeps stdio children from outliving the process (default: the gateway's own); closed with the gateway. */
  readonly childGuard?: ChildGuard;
  /** Upstream protocol-era verdicts kept across restarts (absent: every start probes). */
  readonly eraMemo?: EraMemo;
  /** telemetry.tracing's tracer: spans per upstream attempt and fan-out branch (absent: none). */
  readonly tracer?: Tracer | undefined;
}

/** Options for a forwarded tool call. */
export interface CallOptions extends ForwardOptions {
  /** A version pin for this call (e.g. "v1"); else the agent's and the global pins from config apply. */
  readonly pin?: string;
  /** The calling agent's name (its client name), for per-agent pins. */
  readonly agent?: string;
  /** Only these instances (an experiment arm's route). */
  readonly instances?: readonly string[];
}

/** What a caller may see, for resolving names (see gateway/access.ts CatalogView). */
export interface ToolVisibility {
  /** Tools the caller may list: the only ones it can name, and the only suggestions it gets. */
  readonly tools: readonly CatalogTool[];
  readonly has: (id: string) => boolean;
  /** Whether the caller may learn that `server` exists (it is down, so it has no tools to see). */
  readonly mayKnowServer: (server: string, id: string) => boolean;
}

/** The federating, routing gateway. */
export class Gateway {
  readonly config: Config;
  readonly #log: Logger;
  readonly #registry: ServerRegistry;
  readonly #federation: Federation;
  readonly #upstreams = new Map<string, { pool: ServerPool; source: ServerSource }>();
  /** Runtime registrations with `disabled: true`: listed, persisted, never connected. */
  readonly #disabled = new Map<string, { spec: ServerSpec; source: ServerSource }>();
  /** Values the config expanded from the environment: "***" in every view and log (see Config.secrets). */
  readonly #secrets: readonly string[];
  readonly #poolDefaults: PoolDefaults;
  readonly #compat: CompatTracker | undefined;
  readonly #childGuard: ChildGuard;
  /** Version pins; replaced on a config reload. */
  #pins: Config['pins'];
  #ready = false;
  #reportedConflicts = new Set<string>();
  #closing: Promise<void> | undefined;
  /** Credentials for servers with `mesh` (absent: a sidecar, which has no URL to hand them). */
  #mesh: MeshProvider | undefined;
  /** Sessionful agents: log levels, resource subscriptions, requests outside a call. */
  readonly agents: AgentRegistry;
  /** Upstream tasks: created on servers that offer them, followed to their end (tasks/upstream-tasks.ts). */
  readonly #upstreamTasks: UpstreamTaskRunner;

  constructor(deps: GatewayDeps) {
    this.agents = new AgentRegistry({
      subscribe: (server, uri) => this.#upstream(server).subscribe(uri),
      unsubscribe: (server, uri) => this.#upstreams.get(server)?.pool.unsubscribe(uri) ?? Promise.resolve(),
      setUpstreamLevel: (level) => {
        for (const { pool } of this.#upstreams.values()) void pool.setLoggingLevel(level);
      },
    });
    this.config = deps.config;
    this.#secrets = deps.config.secrets ?? [];
    const secrets = this.#secrets;
    // Log objects (this logger's and its children's: pools, upstreams) pass through the same redaction as views.
    this.#log =
      secrets.length === 0
        ? deps.log
        : deps.log.child({}, { formatters: { log: (object) => redactValues(object, secrets) } });
    this.#registry = deps.registry;
    this.#federation = new Federation({ prefix: deps.config.gateway.prefix, separator: deps.config.gateway.separator });
    this.#compat = deps.compat ? new CompatTracker(deps.compat, deps.log.child({ component: 'compat' })) : undefined;
    this.#pins = deps.config.pins;
    this.#childGuard = deps.childGuard ?? new ChildGuard(deps.log.child({ component: 'child-guard' }));
    const { gateway } = deps.config;
    this.#poolDefaults = {
      connectTimeoutMs: gateway.connectTimeoutMs,
      healthIntervalMs: gateway.healthIntervalMs,
      healthTimeoutMs: gateway.healthTimeoutMs,
      callTimeoutMs: gateway.callTimeoutMs,
      balance: gateway.balance,
      circuit: gateway.circuit,
      retry: gateway.retry,
      childGuard: this.#childGuard,
      maxResultBytes: gateway.maxResultBytes,
      ...(deps.eraMemo ? { eraMemo: deps.eraMemo } : {}),
      ...(secrets.length > 0 ? { redact: (text: string) => redactText(text, secrets) } : {}),
      tracer: deps.tracer,
    };
    this.#upstreamTasks = new UpstreamTaskRunner({
      pool: (server) => this.#upstreams.get(server)?.pool,
      selector: (tool, pool, options) => this.#selector(tool, pool, options),
      log: this.#log.child({ component: 'upstream-tasks' }),
      mode: () => this.config.tasks.upstream,
      poll: () => this.config.tasks.upstreamPoll,
      callTimeoutMs: gateway.callTimeoutMs,
    });
    this.#federation.onChange((change) => {
      // Virtual tools take their input schema from their backends: follow the catalog.
      if (change.tools && Object.keys(this.config.virtualTools).length > 0)
        queueMicrotask(() => this.#publishVirtual());
      this.#log.info(
        {
          version: change.snapshot.version,
          tools: change.snapshot.tools.length,
          changed: { tools: change.tools, prompts: change.prompts, resources: change.resources },
        },
        'catalog updated',
      );
      // Log each conflict once, when it appears, not on every later catalog change.
      const current = new Set(change.snapshot.conflicts.map((c) => c.message));
      for (const conflict of change.snapshot.conflicts) {
        if (this.#reportedConflicts.has(conflict.message)) continue;
        const level = conflict.kind === 'resource' ? 'warn' : 'error';
        this.#log[level]({ conflict: conflict.name, kind: conflict.kind, servers: conflict.servers }, conflict.message);
      }
      this.#reportedConflicts = current;
    });
  }

  /** Tool schema versions and compatibility (undefined without a store). */
  get compat(): CompatTracker | undefined {
    return this.#compat;
  }

  /** True once every initial server has had its first connection attempt. */
  get ready(): boolean {
    return this.#ready;
  }

  /** The current catalog snapshot (immutable; take it once per request). */
  get catalog(): CatalogSnapshot {
    return this.#federation.current;
  }

  /** Subscribes to catalog changes. */
  onCatalogChange(listener: (change: CatalogChange) => void): () => void {
    return this.#federation.onChange(listener);
  }

  /**
   * Sets where servers with `mesh` get their credential; call before start() (later: only servers added
   * afterwards get one). Without it such servers run without a credential, with a warning.
   */
  setMeshCredentials(provider: MeshProvider | undefined): void {
    this.#mesh = provider;
  }

  /** Connects every configured and persisted server in parallel; one failing server never blocks the rest. */
  async start(): Promise<void> {
    const stored = this.#registry.list();
    const specs: { spec: ServerSpec; source: ServerSource }[] = this.config.servers.map((spec) => ({
      spec,
      source: 'config',
    }));
    for (const row of stored) {
      if (specs.some((s) => s.spec.name === row.name)) {
        this.#log.warn(
          { server: row.name },
          'a runtime registration has the name of a configured server; the config wins',
        );
        continue;
      }
      try {
        const parsed = this.#parseEntry(row.name, row.entry);
        if (parsed.disabled) this.#disabled.set(row.name, { spec: parsed.spec, source: 'runtime' });
        else specs.push({ spec: parsed.spec, source: 'runtime' });
      } catch (error) {
        this.#log.error({ server: row.name, err: (error as Error).message }, 'stored registration is invalid; skipped');
      }
    }
    if (Object.keys(this.config.virtualTools).length > 0) {
      this.#federation.reserve(GATEWAY_SERVER);
      this.#publishVirtual();
    }
    const meshless = this.#mesh ? [] : specs.filter(({ spec }) => spec.mesh).map(({ spec }) => spec.name);
    if (meshless.length > 0)
      this.#log.warn(
        { servers: meshless },
        `mesh is unavailable here (a sidecar has no URL to give servers): ${meshless.map((n) => `"${n}"`).join(', ')} asked for a gateway credential and run without one`,
      );
    await Promise.all(specs.map(({ spec, source }) => this.#add(spec, source)));
    this.#ready = true;
    this.#log.info(
      { servers: specs.length, tools: this.catalog.tools.length, version: this.catalog.version },
      'gateway ready',
    );
  }

  /** Looks up a tool by its exposed id, or fails with suggestions. */
  resolveTool(id: string, snapshot: CatalogSnapshot = this.catalog, visible?: ToolVisibility): CatalogTool {
    const tool = snapshot.toolById.get(id);
    // A tool the caller may not see reads exactly like one that does not exist.
    if (tool && (!visible || visible.has(id))) return tool;
    // A tool of a server that is configured but down: say so instead of "unknown tool".
    const separator = this.config.gateway.separator;
    for (const [server, { pool }] of tool ? [] : this.#upstreams) {
      if (
        id.startsWith(`${server}${separator}`) &&
        pool.state !== 'ready' &&
        (!visible || visible.mayKnowServer(server, id))
      ) {
        const status = pool.status();
        const lastError = status.lastError === undefined ? '' : `: ${redactText(status.lastError, this.#secrets)}`;
        throw new GatewayError(
          'UPSTREAM_UNAVAILABLE',
          `server "${server}" is not connected (${status.state}${lastError}); its tools are unavailable until it reconnects`,
          { server, tool: id, state: status.state },
        );
      }
    }
    const close = suggest(
      id,
      (visible?.tools ?? snapshot.tools).map((t) => t.id),
    );
    throw new GatewayError(
      'UNKNOWN_TOOL',
      `unknown tool "${id}"${close.length ? `; did you mean ${close.map((c) => `"${c}"`).join(', ')}?` : ''}`,
      { tool: id, suggestions: close },
    );
  }

  /**
   * True when the tool's call may run again without harm (read-only or idempotent, or its server says
   * so): failover repeats such a call, and a task of it is re-run after a gateway restart.
   */
  isRetrySafe(tool: CatalogTool): boolean {
    if (tool.server === GATEWAY_SERVER && !this.#upstreams.has(GATEWAY_SERVER)) {
      const virtual = this.config.virtualTools[tool.name];
      const snapshot = this.catalog;
      return (virtual?.tools ?? []).every((id) => {
        const backend = snapshot.toolById.get(id);
        return backend !== undefined && backend.server !== GATEWAY_SERVER && this.isRetrySafe(backend);
      });
    }
    const entry = this.#upstreams.get(tool.server);
    return entry !== undefined && retrySafe(tool.name, tool.tool.annotations, entry.pool.spec.retrySafe);
  }

  /** Routes a tool call to the server that owns the tool. */
  async callTool(
    tool: CatalogTool,
    args: Record<string, unknown> | undefined,
    meta: Record<string, unknown> | undefined,
    options: CallOptions,
  ): Promise<CallToolResult> {
    if (tool.server === GATEWAY_SERVER && !this.#upstreams.has(GATEWAY_SERVER))
      return this.#callVirtual(tool, args, meta, options);
    const entry = this.#upstreams.get(tool.server);
    if (!entry)
      throw new GatewayError('UPSTREAM_UNAVAILABLE', `server "${tool.server}" has been removed`, {
        server: tool.server,
      });
    const started = performance.now();
    try {
      const safe = retrySafe(tool.name, tool.tool.annotations, entry.pool.spec.retrySafe);
      // A tool its upstream runs only as a task (2025 `required`): the task is created and followed here.
      const result = this.#upstreamTasks.requiresTask(tool)
        ? await this.#upstreamTasks.callThrough(tool, args, meta, options)
        : await entry.pool.callTool(tool.name, args, meta, safe, options, this.#selector(tool, entry.pool, options));
      this.#log.info(
        {
          tool: tool.id,
          server: tool.server,
          ms: round(performance.now() - started),
          isError: result.isError === true,
        },
        'tools/call',
      );
      return result;
    } catch (error) {
      this.#log.warn(
        { tool: tool.id, server: tool.server, ms: round(performance.now() - started), err: (error as Error).message },
        'tools/call failed',
      );
      throw error;
    }
  }

  /**
   * The era in which this tool's server would run it as a task (the server declares tasks for tools/call
   * and the tool's execution.taskSupport is optional or required, for 2025; the tasks extension for
   * 2026), else undefined (also for virtual tools, and with `tasks.upstream: never`).
   */
  upstreamTaskSupport(tool: CatalogTool): UpstreamTaskEra | undefined {
    return this.#upstreamTasks.support(tool);
  }

  /**
   * Starts the call as an upstream task. Fails over only while the request was not sent. An upstream that
   * answers with a plain result (it may) gives `{kind: 'result'}`. The ref's task id is the upstream's:
   * keep it inside the gateway.
   */
  createUpstreamTask(
    tool: CatalogTool,
    args: Record<string, unknown> | undefined,
    meta: Record<string, unknown> | undefined,
    options: CallOptions & { ttlMs: number },
  ): Promise<UpstreamTaskCreated> {
    return this.#upstreamTasks.create(tool, args, meta, options);
  }

  /**
   * Follows an upstream task to its end: the final CallToolResult (an isError one too), or the upstream's
   * JSON-RPC error (code, message, data kept), or a GatewayError: UPSTREAM_TIMEOUT at `deadlineAt` (after
   * tasks/cancel upstream), UPSTREAM_UNAVAILABLE once the server or instance is gone, UPSTREAM_FAILED with
   * `details.notFound` when the upstream no longer knows the task. `signal` cancels (tasks/cancel upstream,
   * then the signal's reason); `detach` stops following and leaves the task running (shutdown). Works for
   * a ref read back after a restart.
   */
  followUpstreamTask(ref: UpstreamTaskRef, options: FollowOptions): Promise<CallToolResult> {
    return this.#upstreamTasks.follow(ref, options);
  }

  /** Routes prompts/get by exposed prompt id. */
  async getPrompt(
    id: string,
    args: Record<string, string> | undefined,
    options: ForwardOptions,
  ): Promise<GetPromptResult> {
    const prompt = this.catalog.promptById.get(id);
    if (!prompt) throw new GatewayError('UNKNOWN_PROMPT', `unknown prompt "${id}"`, { prompt: id });
    return this.#upstream(prompt.server).getPrompt(prompt.name, args, options);
  }

  /** The server a resource URI belongs to: the one that lists it, else one whose template matches it. */
  resourceOwner(uri: string, snapshot: CatalogSnapshot = this.catalog): string | undefined {
    return (
      snapshot.resourceOwner.get(uri) ??
      snapshot.resourceTemplates.find((t) => templateMatches(t.uriTemplate, uri))?.server
    );
  }

  /** Routes resources/read to the server that lists the URI, else to one whose template matches it. */
  async readResource(uri: string, options: ForwardOptions): Promise<ReadResourceResult> {
    const owner = this.resourceOwner(uri);
    if (!owner) throw new GatewayError('UNKNOWN_RESOURCE', `no connected server offers resource "${uri}"`, { uri });
    return this.#upstream(owner).readResource(uri, options);
  }

  /**
   * Routes `completion/complete` to the server that owns the prompt (by its exposed name) or the
   * resource template (by its URI template), with the upstream's own prompt name.
   */
  async complete(params: CompleteRequestParams, options: ForwardOptions): Promise<CompleteResult> {
    const snapshot = this.catalog;
    const ref = params.ref;
    if (ref.type === 'ref/prompt') {
      const prompt = snapshot.promptById.get(ref.name);
      if (!prompt) throw new GatewayError('UNKNOWN_PROMPT', `unknown prompt "${ref.name}"`, { prompt: ref.name });
      const pool = this.#upstream(prompt.server);
      if (!pool.supports('completions')) return emptyCompletion();
      return pool.complete({ ...params, ref: { ...ref, name: prompt.name } }, options);
    }
    const owner =
      snapshot.resourceTemplates.find((t) => t.uriTemplate === ref.uri)?.server ?? snapshot.resourceOwner.get(ref.uri);
    if (!owner) throw new GatewayError('UNKNOWN_RESOURCE', `no connected server offers "${ref.uri}"`, { uri: ref.uri });
    const pool = this.#upstream(owner);
    if (!pool.supports('completions')) return emptyCompletion();
    return pool.complete(params, options);
  }

  /** Subscribes an agent connection to a resource's updates (reference-counted upstream). */
  async subscribe(connection: string, uri: string): Promise<void> {
    const owner = this.resourceOwner(uri);
    if (!owner) throw new GatewayError('UNKNOWN_RESOURCE', `no connected server offers resource "${uri}"`, { uri });
    if (!this.#upstream(owner).supports('subscribe')) {
      throw new GatewayError('BAD_REQUEST', `server "${owner}" does not support resource subscriptions`, {
        server: owner,
        uri,
      });
    }
    await this.agents.subscribe(connection, owner, uri);
  }

  /** An agent's roots changed: tell every server (each may ask the agent again during its next call). */
  rootsChanged(): void {
    for (const { pool } of this.#upstreams.values()) void pool.rootsChanged();
  }

  /** Ends an agent connection's subscription. */
  async unsubscribe(connection: string, uri: string): Promise<void> {
    const owner = this.resourceOwner(uri);
    if (owner) await this.agents.unsubscribe(connection, owner, uri);
  }

  /** A server's log message: into the gateway's log, then to the calling agent or to the agents that asked. */
  #upstreamLog(server: string, message: LogMessage, channel: AgentChannel | undefined): void {
    const level = LOG_TO_PINO[message.level] ?? 'info';
    const text = typeof message.data === 'string' ? message.data : JSON.stringify(message.data);
    this.#log[level](
      {
        server,
        logger: message.logger,
        level: message.level,
        data: text.length > 2000 ? `${text.slice(0, 2000)}…` : text,
      },
      'upstream log message',
    );
    if (channel) channel.log(server, message);
    else this.agents.broadcastLog(server, message);
  }

  /** Every connected (enabled) server with its status; expanded secrets shown as "***". */
  listServers(): ServerView[] {
    return [...this.#upstreams.values()].map(({ pool, source }) =>
      redactValues({ ...pool.status(), source, spec: redactServer(pool.spec) }, this.#secrets),
    );
  }

  /** Servers registered with `disabled: true` (not connected). */
  listDisabled(): DisabledServerView[] {
    return [...this.#disabled.entries()].map(([name, { spec, source }]) => ({
      name,
      state: 'disabled',
      source,
      spec: redactServer(spec, this.#secrets),
    }));
  }

  /**
   * Registers a server at run time, persists it, and waits for its first connection attempt; one with
   * `disabled: true` is persisted and listed but not connected. `${VAR}` in the entry is refused, not
   * expanded (see refuseReferences).
   */
  async register(name: string, entry: unknown): Promise<ServerView | DisabledServerView> {
    if (this.#closing) throw new GatewayError('SHUTTING_DOWN', 'the gateway is shutting down');
    const { spec, disabled } = this.#parseEntry(name, entry);
    if (this.#upstreams.has(name) || this.#disabled.has(name))
      throw new GatewayError('SERVER_EXISTS', `a server named "${name}" already exists; remove it first`, {
        server: name,
      });
    this.#registry.save(name, entry);
    if (disabled) {
      this.#disabled.set(name, { spec, source: 'runtime' });
      this.#log.info({ server: name, spec: redactServer(spec) }, 'server registered (disabled: not connected)');
      return this.listDisabled().find((s) => s.name === name)!;
    }
    await this.#add(spec, 'runtime');
    this.#log.info({ server: name, spec: redactServer(spec) }, 'server registered');
    const view = this.listServers().find((s) => s.name === name);
    if (!view) throw new GatewayError('SERVER_NOT_FOUND', `server "${name}" was removed while it was being registered`);
    return view;
  }

  /** Removes a server: it leaves the catalog at once; in-flight calls get the drain deadline to finish. */
  async remove(name: string): Promise<{ removed: string; source: ServerSource }> {
    const off = this.#disabled.get(name);
    if (off) {
      this.#disabled.delete(name);
      this.#registry.remove(name);
      this.#log.info({ server: name, source: off.source }, 'server removed');
      return { removed: name, source: off.source };
    }
    const entry = this.#upstreams.get(name);
    if (!entry) throw new GatewayError('SERVER_NOT_FOUND', `no server named "${name}"`, { server: name });
    this.#upstreams.delete(name);
    this.#mesh?.revoke(name);
    this.#registry.remove(name);
    this.#federation.update(name, undefined);
    for (const instance of entry.pool.instanceIds) this.#compat?.forget(instance);
    await entry.pool.drain(this.config.gateway.drainTimeoutMs);
    this.#log.info({ server: name, source: entry.source }, 'server removed');
    return { removed: name, source: entry.source };
  }

  /** Closes every upstream (draining in-flight calls up to the deadline). Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      const all = [...this.#upstreams.values()];
      await Promise.all(all.map(({ pool }) => pool.drain(this.config.gateway.drainTimeoutMs)));
      this.#upstreams.clear();
      // Last: whatever the upstreams' close sequences left running (detached grandchildren).
      await this.#childGuard.close();
    })();
    return this.#closing;
  }

  #upstream(server: string): ServerPool {
    const entry = this.#upstreams.get(server);
    if (!entry) throw new GatewayError('UPSTREAM_UNAVAILABLE', `server "${server}" has been removed`, { server });
    return entry.pool;
  }

  async #add(spec: ServerSpec, source: ServerSource): Promise<void> {
    const log = this.#log.child({ server: spec.name });
    const server = spec.name;
    const pool: ServerPool = new ServerPool(
      spec.mesh && this.#mesh ? withMeshCredentials(spec, this.#mesh.issue(spec)) : spec,
      log,
      this.#poolDefaults,
      (part) => {
        // A part arriving after removal must not resurrect the server in the catalog.
        if (part !== undefined && this.#upstreams.get(server)?.pool !== pool) return;
        if (part === undefined && this.#upstreams.has(server) && this.#upstreams.get(server)?.pool !== pool) return;
        this.#federation.update(server, part);
      },
      (instance, part) => {
        if (this.#upstreams.get(server)?.pool !== pool) return;
        try {
          this.#compat?.observe(server, instance, part);
        } catch (error) {
          log.error({ err: (error as Error).message, instance }, 'recording tool schema versions failed');
        }
      },
      {
        onLog: (message, channel) => this.#upstreamLog(server, message, channel),
        onResourceUpdated: (uri) => this.agents.resourceUpdated(server, uri),
        outside: () => this.agents.sole(server),
      },
    );
    const level = this.agents.upstreamLevel;
    if (level) void pool.setLoggingLevel(level);
    this.#upstreams.set(spec.name, { pool, source });
    this.#federation.reserve(spec.name);
    await pool.start();
  }

  /**
   * Runs one call on several catalog tools at once (a virtual tool, or call_capability with
   * fanout) and aggregates the results by `strategy`. Tools missing from the catalog are reported
   * as failed branches.
   */
  async fanOut(
    name: string,
    toolIds: readonly string[],
    args: Record<string, unknown> | undefined,
    meta: Record<string, unknown> | undefined,
    fan: { strategy: FanoutStrategy; quorum?: number; timeoutMs?: number },
    options: CallOptions,
  ): Promise<CallToolResult> {
    const snapshot = this.catalog;
    const started = performance.now();
    const branches: FanoutBranch[] = toolIds.map((id) => {
      const tool = snapshot.toolById.get(id);
      return {
        tool: id,
        server: tool?.server ?? '?',
        run: async (signal) => {
          if (!tool)
            throw new GatewayError('UNKNOWN_TOOL', `"${id}" is not in the catalog now (its server may be down)`, {
              tool: id,
            });
          const call = () =>
            this.callTool(tool, args, meta, {
              signal,
              ...(fan.timeoutMs !== undefined
                ? { timeoutMs: fan.timeoutMs }
                : options.timeoutMs !== undefined
                  ? { timeoutMs: options.timeoutMs }
                  : {}),
            });
          const { tracer } = this.#poolDefaults;
          return tracer
            ? branchSpan(tracer, { call: name, strategy: fan.strategy, tool: id, server: tool.server }, call)
            : call();
        },
      };
    });
    const { result, outcomes } = await fanOut(name, branches, {
      strategy: fan.strategy,
      ...(fan.quorum !== undefined ? { quorum: fan.quorum } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    this.#log.info(
      {
        tool: name,
        strategy: fan.strategy,
        ms: round(performance.now() - started),
        branches: outcomes.map((o) => ({ tool: o.tool, status: o.status, ms: round(o.ms) })),
      },
      'fan-out call',
    );
    return result;
  }

  #callVirtual(
    tool: CatalogTool,
    args: Record<string, unknown> | undefined,
    meta: Record<string, unknown> | undefined,
    options: CallOptions,
  ): Promise<CallToolResult> {
    const virtual = this.config.virtualTools[tool.name];
    if (!virtual) throw new GatewayError('UNKNOWN_TOOL', `unknown tool "${tool.id}"`, { tool: tool.id });
    return this.fanOut(
      tool.id,
      virtual.tools,
      args,
      meta,
      {
        strategy: virtual.strategy,
        ...(virtual.quorum !== undefined ? { quorum: virtual.quorum } : {}),
        ...(virtual.timeoutMs !== undefined ? { timeoutMs: virtual.timeoutMs } : {}),
      },
      options,
    );
  }

  /** Lists the virtual tools under the gateway's own server, with their backends' input schema. */
  #publishVirtual(): void {
    if (this.#closing) return;
    const snapshot = this.catalog;
    const tools: Tool[] = Object.entries(this.config.virtualTools).map(([name, v]) => {
      const backends = v.tools.map((id) => snapshot.toolById.get(id)).filter((t): t is CatalogTool => t !== undefined);
      const schema = (v.inputSchema ?? backends[0]?.tool.inputSchema ?? { type: 'object' }) as Tool['inputSchema'];
      const readOnly =
        backends.length === v.tools.length && backends.every((b) => b.tool.annotations?.readOnlyHint === true);
      return {
        name,
        description:
          v.description ??
          `Runs ${v.tools.join(', ')} at once and ${v.strategy === 'merge' ? 'merges their results, each labelled with its source' : v.strategy === 'first' ? 'returns the first success (the rest are cancelled)' : `returns once ${v.quorum} succeed`}.`,
        inputSchema: schema,
        annotations: { readOnlyHint: readOnly, openWorldHint: true },
        _meta: {
          'io.switchboard/fanout': {
            tools: v.tools,
            strategy: v.strategy,
            ...(v.quorum !== undefined ? { quorum: v.quorum } : {}),
          },
        },
      };
    });
    const part: ServerPart = { tools, prompts: [], resources: [], resourceTemplates: [], instructions: undefined };
    this.#federation.update(GATEWAY_SERVER, part);
  }

  /** The pin that applies to a call of `tool`: the call's own, the agent's, or the global one. */
  pinFor(toolId: string, options: { pin?: string | undefined; agent?: string | undefined }): string | undefined {
    return (
      options.pin ??
      (options.agent ? this.#pins.agents[options.agent]?.[toolId] : undefined) ??
      this.#pins.global[toolId]
    );
  }

  /** Replaces the version pins (config reload), logging when they changed. */
  setPins(pins: Config['pins']): void {
    if (JSON.stringify(pins) === JSON.stringify(this.#pins)) return;
    this.#pins = pins;
    this.#log.info({ pins }, 'version pins changed');
  }

  /** Which instances may serve this call: schema-compatible with the pin (or the catalog), and in the arm's instances. */
  #selector(tool: CatalogTool, pool: ServerPool, options: CallOptions): InstanceSelector | undefined {
    const compat = this.#compat;
    const pin = this.pinFor(tool.id, options);
    const requirement = compat
      ? pin
        ? compat.pinned(tool.server, tool.name, pin)
        : compat.catalogs(tool.tool)
      : undefined;
    const only = options.instances ? new Set(options.instances) : undefined;
    if (!requirement && !only) return undefined;
    return {
      accept: (instance) =>
        (!only || only.has(instance)) && (!requirement || !compat || compat.accepts(instance, tool.name, requirement)),
      reject: () => {
        if (
          requirement &&
          compat &&
          pool.instanceIds.every((i) => !only || only.has(i)) &&
          !pool.instanceIds.some((i) => compat.accepts(i, tool.name, requirement))
        ) {
          return compat.noneCompatible(tool.server, tool.name, requirement, pool.instanceIds);
        }
        return new GatewayError(
          'UPSTREAM_UNAVAILABLE',
          `no instance of server "${tool.server}" among ${[...(only ?? pool.instanceIds)].join(', ')} can take this call now${requirement ? ` compatibly with ${requirement.label}` : ''}`,
          { server: tool.server, sent: false },
        );
      },
    };
  }

  /** Validates a runtime entry (never expanded: see refuseReferences); `disabled` from its `disabled` key. */
  #parseEntry(name: string, entry: unknown): { spec: ServerSpec; disabled: boolean } {
    const issues: ConfigIssue[] = [];
    const shape = shapeIssue(entry);
    if (shape)
      throw new GatewayError('CONFIG_INVALID', describeIssues(`server "${name}"`, [shape]), { issues: [shape] });
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(name))
      issues.push({ path: 'name', message: 'server names use letters, digits, "_", "-" and "." (at most 64)' });
    if (name === GATEWAY_SERVER && Object.keys(this.config.virtualTools).length > 0)
      issues.push({
        path: 'name',
        message: `"${GATEWAY_SERVER}" is where the gateway lists its virtual tools; choose another name`,
      });
    refuseReferences(entry, [], issues);
    const parsed = serverEntrySchema.safeParse(entry);
    if (!parsed.success)
      issues.push(...parsed.error.issues.map((i) => ({ path: formatPath(i.path), message: i.message })));
    if (issues.length > 0 || !parsed.success)
      throw new GatewayError('CONFIG_INVALID', describeIssues(`server "${name}"`, issues), { issues });
    return { spec: toServerSpec(name, parsed.data), disabled: parsed.data.disabled === true };
  }
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}

/** Pino's method for each MCP log level. */
const LOG_TO_PINO: Record<string, 'debug' | 'info' | 'warn' | 'error'> = {
  debug: 'debug',
  info: 'info',
  notice: 'info',
  warning: 'warn',
  error: 'error',
  critical: 'error',
  alert: 'error',
  emergency: 'error',
};

/** What a server without completions answers (the spec's empty completion). */
function emptyCompletion(): CompleteResult {
  return { completion: { values: [], hasMore: false } };
}

/**
 * `spec` with its mesh credential: in each stdio instance's environment, on each HTTP instance's requests
 * (HTTP servers cannot be given an environment). Ours win over the entry's own values of those names.
 * The key shows nowhere: views and logs hide env values and headers named like secrets (redactServer).
 */
function withMeshCredentials(spec: ServerSpec, grant: { url: string; token: string }): ServerSpec {
  return {
    ...spec,
    instances: spec.instances.map((instance) =>
      instance.kind === 'stdio'
        ? { ...instance, env: { ...instance.env, [MESH_ENV.url]: grant.url, [MESH_ENV.token]: grant.token } }
        : {
            ...instance,
            headers: {
              // Header names are case-insensitive: a differently spelt copy of ours would be sent as well.
              ...Object.fromEntries(
                Object.entries(instance.headers).filter(([name]) => !MESH_HEADER_NAMES.has(name.toLowerCase())),
              ),
              [MESH_HEADERS.url]: grant.url,
              [MESH_HEADERS.token]: grant.token,
            },
          },
    ),
  };
}

const MESH_HEADER_NAMES = new Set(Object.values(MESH_HEADERS).map((name) => name.toLowerCase()));
