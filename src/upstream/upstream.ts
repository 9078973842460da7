/**
 * One upstream MCP server: its SDK client, connection lifecycle and health.
 *
 * Lifecycle: connect with a bounded timeout; on success fetch the server's tools, prompts and
 * resources (walking every page) and hand them to `onPart`; follow `list_changed` from the server;
 * on an unexpected close reconnect with jittered exponential backoff; ping periodically and force a
 * reconnect when the server stops answering. `close()` is idempotent and stops a stdio child with
 * the SDK's stdin-end, SIGTERM, SIGKILL sequence.
 *
 * A misbehaving server must not cost the gateway more than its own calls: the backoff resets only
 * after a connection stayed up `stableAfterMs` (a server that dies right after connecting backs off
 * like one that cannot connect), `list_changed` is coalesced into one refresh at a time, a call's
 * progress is thinned to `progressPerSecond` (the last always delivered), and an answer over
 * `maxResultBytes` fails only its own call (see result-limit.ts).
 */
import {
  Client,
  SdkError,
  SdkErrorCode,
  type CallToolResult,
  type CompleteRequest,
  type CompleteResult,
  type LoggingLevel,
  type PriorDiscovery,
} from '@modelcontextprotocol/client';
import type { AgentChannel } from '../core/channel.js';
import { ERA_HORIZON_MS, type EraMemo } from '../core/era-memo.js';
import { GatewayError } from '../core/errors.js';
import type { UpstreamSpec } from '../config/spec.js';
import type { Logger } from '../telemetry/logger.js';
import { withTraceMeta } from '../telemetry/trace-context.js';
import { emptyPart, type ServerPart } from '../core/protocol.js';
import { ClientRelay, RELAYED_CLIENT_CAPABILITIES, type RelayHooks } from './client-relay.js';
import { fetchPart } from './part.js';
import { buildTransport, type BuiltTransport } from './transport.js';
import { stdoutNoise } from './stdout-noise.js';
import { TransportChoice } from './http-fallback.js';
import type { ChildGuard } from './child-guard.js';
import { isOversizeError, type Oversize } from './result-limit.js';
import { ProgressThinner, type Progress } from './notify-limits.js';
import { TaskClient, UpstreamTasks } from './task-client.js';
import { TASK_MARKER } from './tasks-wire.js';

/** Where an upstream is in its lifecycle. */
export type UpstreamState = 'connecting' | 'ready' | 'reconnecting' | 'draining' | 'closed';

/** A snapshot of an upstream's state for the admin API and logs. */
export interface UpstreamStatus {
  readonly name: string;
  /** The instance id (the server name when it has one instance). */
  readonly instance: string;
  readonly tier: number;
  readonly kind: UpstreamSpec['kind'];
  readonly state: UpstreamState;
  readonly era: string | undefined;
  readonly protocolVersion: string | undefined;
  readonly serverInfo: { name: string; version: string } | undefined;
  readonly pid: number | null;
  readonly connects: number;
  readonly lastError: string | undefined;
  readonly inFlight: number;
  readonly latencyMs: number | undefined;
  /** Moving average of failed calls (transport errors and timeouts), 0..1. */
  readonly errorRate: number;
  readonly tools: number;
}

/** Timings an upstream runs with. */
export interface UpstreamOptions {
  readonly connectTimeoutMs: number;
  readonly healthIntervalMs: number;
  readonly healthTimeoutMs: number;
  readonly callTimeoutMs: number;
  /** Backoff bounds for reconnects. */
  readonly backoffMinMs?: number;
  readonly backoffMaxMs?: number;
  /** Tags stdio children so none outlives the gateway (absent: they rely on stdin EOF). */
  readonly childGuard?: ChildGuard;
  /** Protocol-era verdicts kept across restarts, so `protocol: auto` probes a server once, not every start. */
  readonly eraMemo?: EraMemo;
  /** Hides expanded secrets in text the upstream logs verbatim (the child's stderr lines). */
  readonly redact?: (text: string) => string;
  /** Largest answer (or other message) the server may send, in bytes (gateway.maxResultBytes). */
  readonly maxResultBytes?: number;
  /** How long a connection must stay up before the reconnect backoff starts over. */
  readonly stableAfterMs?: number;
  /** `list_changed` notifications within this window become one refresh. */
  readonly refreshDelayMs?: number;
  /** Progress notifications passed on per call and second (the last one always is). */
  readonly progressPerSecond?: number;
}

/** Defaults for the limits above. */
const LIMIT_DEFAULTS = {
  maxResultBytes: 16 * 1024 * 1024,
  stableAfterMs: 10_000,
  refreshDelayMs: 200,
  progressPerSecond: 10,
};

/** Callbacks into the gateway. */
export interface UpstreamHooks extends RelayHooks {
  /** The instance's catalog part changed (connect, list_changed, lost: empty); undefined once closed. */
  onPart(part: ServerPart | undefined): void;
  /** The state changed. */
  onState?(status: UpstreamStatus): void;
}

/** Options for one forwarded request. */
export interface ForwardOptions {
  readonly signal?: AbortSignal;
  readonly timeoutMs?: number;
  readonly onprogress?: (progress: Progress) => void;
  /** The calling agent: where the server's sampling, elicitation and roots requests during the call go. */
  readonly channel?: AgentChannel;
  /** Told the instance of each attempt, in order (a pool's failover tries several): for the audit trail. */
  readonly attempted?: (instance: string) => void;
}

/** A connected (or connecting) upstream server. */
export class Upstream {
  readonly spec: UpstreamSpec;
  readonly #log: Logger;
  /** Non-JSON lines on stdout: logged, a few a minute (see stdout-noise.ts). */
  readonly #noise = stdoutNoise(() => this.#log);
  readonly #opts: Required<Omit<UpstreamOptions, 'childGuard' | 'eraMemo' | 'redact'>> &
    Pick<UpstreamOptions, 'childGuard' | 'eraMemo' | 'redact'>;
  readonly #hooks: UpstreamHooks;
  #state: UpstreamState = 'connecting';
  #client: TaskClient | undefined;
  #built: BuiltTransport | undefined;
  /** Streamable HTTP or legacy SSE, for a url that may serve either (see http-fallback.ts). */
  readonly #transports: TransportChoice;
  #prior: PriorDiscovery | undefined;
  #connects = 0;
  #attempt = 0;
  #lastError: string | undefined;
  #inFlight = 0;
  #latencyMs: number | undefined;
  /** performance.now() of the last latency sample. */
  #latencyAt: number | undefined;
  #errorRate = 0;
  #toolCount = 0;
  #retryTimer: NodeJS.Timeout | undefined;
  #healthTimer: NodeJS.Timeout | undefined;
  /** Resets the backoff once the current connection has stayed up long enough. */
  #stableTimer: NodeJS.Timeout | undefined;
  /** Coalesced list_changed: the pending refresh, and whether one is running / another is due. */
  #refreshTimer: NodeJS.Timeout | undefined;
  #refreshing = false;
  #refreshAgain = false;
  #idle: (() => void) | undefined;
  #closed: Promise<void> | undefined;
  readonly #relay: ClientRelay;
  /** Resource URIs agents subscribed to here (re-subscribed after a reconnect). */
  readonly #subscriptions = new Set<string>();
  /** The log level agents asked for (re-applied after a reconnect). */
  #logLevel: LoggingLevel | undefined;
  /** Upstream tasks on this server (task-client.ts): created, polled and cancelled over this connection. */
  readonly tasks: UpstreamTasks;

  constructor(spec: UpstreamSpec, log: Logger, options: UpstreamOptions, hooks: UpstreamHooks) {
    this.spec = spec;
    this.#log = log;
    this.#opts = { backoffMinMs: 250, backoffMaxMs: 30_000, ...LIMIT_DEFAULTS, ...definedOnly(options) };
    this.#hooks = hooks;
    this.#transports = new TransportChoice(spec, log);
    this.#relay = new ClientRelay(
      spec.instance === spec.name ? `server "${spec.name}"` : `server "${spec.name}" (instance ${spec.instance})`,
      hooks,
    );
    this.tasks = new UpstreamTasks({
      server: spec.name,
      instance: spec.instance,
      forward: (method, run, options) => this.#forward(method, run, options),
      client: () => (this.#state === 'ready' ? this.#client : undefined),
      relay: this.#relay,
    });
  }

  get name(): string {
    return this.spec.name;
  }

  /** The instance id (the server name when the server has one instance). */
  get instance(): string {
    return this.spec.instance;
  }

  /** How errors name this upstream: the server, and the instance when there are several. */
  get #label(): string {
    return this.spec.instance === this.spec.name
      ? `server "${this.name}"`
      : `server "${this.name}" (instance ${this.spec.instance})`;
  }

  /** Calls in flight right now. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Moving average of call latency (ms), undefined before the first call. */
  get latencyMs(): number | undefined {
    return this.#latencyMs;
  }

  /** How long ago the latency was last sampled (ms); undefined before the first call. */
  get latencyAgeMs(): number | undefined {
    return this.#latencyAt === undefined ? undefined : performance.now() - this.#latencyAt;
  }

  /** Moving average of failed calls (transport errors and timeouts), 0..1. */
  get errorRate(): number {
    return this.#errorRate;
  }

  get state(): UpstreamState {
    return this.#state;
  }

  /** Starts connecting; resolves once the first attempt has settled (never rejects). */
  async start(): Promise<void> {
    await this.#connect();
  }

  /** The current status for the admin API. */
  status(): UpstreamStatus {
    const info = this.#client?.getServerVersion();
    return {
      name: this.name,
      instance: this.spec.instance,
      tier: this.spec.tier,
      kind: this.#transports.current().kind,
      state: this.#state,
      era: this.#state === 'ready' ? this.#client?.getProtocolEra() : undefined,
      protocolVersion: this.#state === 'ready' ? this.#client?.getNegotiatedProtocolVersion() : undefined,
      serverInfo: info ? { name: info.name, version: info.version } : undefined,
      pid: this.#built?.pid() ?? null,
      connects: this.#connects,
      lastError: this.#lastError,
      inFlight: this.#inFlight,
      latencyMs: this.#latencyMs === undefined ? undefined : Math.round(this.#latencyMs * 100) / 100,
      errorRate: Math.round(this.#errorRate * 1000) / 1000,
      tools: this.#toolCount,
    };
  }

  /**
   * Calls a tool on this server, passing the agent's signal, timeout and progress through. With a span
   * active (tracing on: the pool's attempt), `_meta` carries its traceparent in place of the agent's.
   */
  async callTool(
    name: string,
    args: Record<string, unknown> | undefined,
    agentMeta: Record<string, unknown> | undefined,
    options: ForwardOptions,
  ): Promise<CallToolResult> {
    const meta = withTraceMeta(agentMeta);
    const result = await this.#forward(
      'tools/call',
      (client, requestOptions) =>
        client.callTool(
          { name, ...(args ? { arguments: args } : {}), ...(meta ? { _meta: meta } : {}) },
          requestOptions,
        ),
      options,
    );
    // A task answer to a call that never declared the tasks extension breaks the 2026 spec; its id stays inside.
    if (result._meta?.[TASK_MARKER] !== undefined)
      throw new GatewayError(
        'UPSTREAM_FAILED',
        `${this.#label} answered tools/call with a task although the call did not declare the tasks extension`,
        { server: this.name, instance: this.instance, sent: true },
      );
    return result;
  }

  /** Gets a prompt from this server. */
  async getPrompt(name: string, args: Record<string, string> | undefined, options: ForwardOptions) {
    return this.#forward(
      'prompts/get',
      (client, o) => client.getPrompt({ name, ...(args ? { arguments: args } : {}), ...traceMeta() }, o),
      options,
    );
  }

  /** Reads a resource from this server. */
  async readResource(uri: string, options: ForwardOptions) {
    return this.#forward('resources/read', (client, o) => client.readResource({ uri, ...traceMeta() }, o), options);
  }

  /** Asks the server to complete a prompt or resource-template argument. */
  async complete(params: CompleteRequest['params'], options: ForwardOptions): Promise<CompleteResult> {
    const meta = withTraceMeta(params._meta);
    return this.#forward(
      'completion/complete',
      (client, o) => client.complete(meta ? { ...params, _meta: meta } : params, o),
      options,
    );
  }

  /** True when the connected server offers `capability` (e.g. logging, completions, resources.subscribe). */
  supports(capability: 'logging' | 'completions' | 'subscribe'): boolean {
    const caps = this.#client?.getServerCapabilities();
    if (!caps) return false;
    return capability === 'subscribe' ? caps.resources?.subscribe === true : caps[capability] !== undefined;
  }

  /** Subscribes to a resource's updates (kept across reconnects). */
  async subscribe(uri: string, options: ForwardOptions): Promise<void> {
    this.#subscriptions.add(uri);
    await this.#forward('resources/subscribe', (client, o) => client.subscribeResource({ uri }, o), options);
  }

  /** Ends a resource subscription. */
  async unsubscribe(uri: string, options: ForwardOptions): Promise<void> {
    if (!this.#subscriptions.delete(uri)) return;
    if (this.#state !== 'ready') return;
    await this.#forward('resources/unsubscribe', (client, o) => client.unsubscribeResource({ uri }, o), options);
  }

  /** Tells the server the agents' roots changed (it may ask for them again with roots/list). */
  async rootsChanged(): Promise<void> {
    if (this.#state !== 'ready') return;
    await this.#client?.sendRootsListChanged();
  }

  /** Sets the server's log level (kept across reconnects); servers without logging ignore it. */
  async setLoggingLevel(level: LoggingLevel): Promise<void> {
    this.#logLevel = level;
    if (this.#state !== 'ready' || !this.supports('logging')) return;
    await this.#forward('logging/setLevel', (client, o) => client.setLoggingLevel(level, o), {});
  }

  /** Stops taking new calls, waits for in-flight ones up to `deadlineMs`, then closes. */
  async drain(deadlineMs: number): Promise<void> {
    if (this.#state === 'closed') return;
    this.#setState('draining');
    if (this.#inFlight > 0) {
      const idle = new Promise<void>((resolve) => (this.#idle = resolve));
      const timer = new Promise<void>((resolve) => setTimeout(resolve, deadlineMs).unref());
      await Promise.race([idle, timer]);
      if (this.#inFlight > 0)
        this.#log.warn({ inFlight: this.#inFlight }, 'drain deadline passed; aborting the remaining calls');
    }
    await this.close();
  }

  /** Closes the connection and stops reconnecting. Idempotent. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      this.#setState('closed');
      clearTimeout(this.#retryTimer);
      clearInterval(this.#healthTimer);
      clearTimeout(this.#stableTimer);
      clearTimeout(this.#refreshTimer);
      await this.#disconnect();
      this.#hooks.onPart(undefined);
    })();
    return this.#closed;
  }

  async #forward<T>(
    method: string,
    run: (client: TaskClient, options: object) => Promise<T>,
    options: ForwardOptions,
  ): Promise<T> {
    const client = this.#client;
    if (this.#state !== 'ready' || !client) {
      throw new GatewayError(
        'UPSTREAM_UNAVAILABLE',
        `${this.#label} is ${this.#state === 'draining' ? 'being removed' : 'not connected'} (${this.#lastError ?? this.#state}); try again shortly`,
        { server: this.name, instance: this.instance, state: this.#state, sent: false },
      );
    }
    const timeoutMs = options.timeoutMs ?? this.spec.timeoutMs ?? this.#opts.callTimeoutMs;
    this.#inFlight++;
    const started = performance.now();
    const progress = options.onprogress
      ? new ProgressThinner(options.onprogress, this.#opts.progressPerSecond)
      : undefined;
    try {
      const result = await this.#relay.run(
        options.channel,
        () =>
          run(client, {
            signal: options.signal,
            timeout: timeoutMs,
            ...(progress ? { onprogress: progress.push, resetTimeoutOnProgress: false } : {}),
          }),
        // The async context helps only where the server's requests can arrive inside it (see client-relay.ts).
        !(this.spec.kind === 'stdio' && client.getProtocolEra() === 'legacy'),
      );
      const ms = performance.now() - started;
      this.#latencyMs = this.#latencyMs === undefined ? ms : this.#latencyMs * 0.8 + ms * 0.2;
      this.#latencyAt = performance.now();
      this.#errorRate *= 0.9;
      return result;
    } catch (error) {
      const translated = this.#translate(error, method, timeoutMs, options.signal);
      // Only backend faults count against the server; its own JSON-RPC errors, cancellations and
      // oversize answers (it is alive and answering) do not.
      if (translated instanceof GatewayError && translated.code !== 'RESULT_TOO_LARGE')
        this.#errorRate = this.#errorRate * 0.9 + 0.1;
      throw translated;
    } finally {
      // The agent hears the latest progress before the result.
      progress?.finish();
      this.#inFlight--;
      if (this.#inFlight === 0) this.#idle?.();
    }
  }

  /** Maps SDK failures to gateway errors; protocol errors from the server itself pass through. */
  #translate(error: unknown, method: string, timeoutMs: number, signal: AbortSignal | undefined): unknown {
    if (signal?.aborted) return error;
    if (isOversizeError(error)) {
      return new GatewayError(
        'RESULT_TOO_LARGE',
        `${this.#label} answered ${method} with ${error.data.bytes} bytes, over the gateway's limit of ${error.data.limit} bytes (gateway.maxResultBytes); the answer was discarded and the connection kept. Repeating the same request will fail the same way: ask for less (a narrower query, paging) or raise gateway.maxResultBytes`,
        { server: this.name, instance: this.instance, bytes: error.data.bytes, limit: error.data.limit, sent: true },
      );
    }
    if (error instanceof SdkError) {
      if (error.code === SdkErrorCode.RequestTimeout) {
        return new GatewayError(
          'UPSTREAM_TIMEOUT',
          `${this.#label} did not answer ${method} within ${timeoutMs} ms; the request was cancelled upstream`,
          { server: this.name, instance: this.instance, timeoutMs, sent: true },
          { cause: error },
        );
      }
      return new GatewayError(
        'UPSTREAM_FAILED',
        `${this.#label} failed during ${method}: ${error.message}`,
        { server: this.name, instance: this.instance, sdkCode: error.code, sent: !refused(error) },
        { cause: error },
      );
    }
    if (error instanceof GatewayError) return error;
    if (error instanceof Error && !('code' in error && typeof (error as { code: unknown }).code === 'number')) {
      return new GatewayError(
        'UPSTREAM_FAILED',
        `${this.#label} failed during ${method}: ${error.message}`,
        { server: this.name, instance: this.instance, sent: !refused(error) },
        { cause: error },
      );
    }
    return error;
  }

  async #connect(): Promise<void> {
    if (this.#state === 'closed' || this.#state === 'draining') return;
    const attempt = ++this.#attempt;
    const built = buildTransport(this.#transports.current(), this.#log, this.#opts.childGuard, {
      maxMessageBytes: this.#opts.maxResultBytes,
      ...(this.#opts.redact ? { redact: this.#opts.redact } : {}),
      onOversize: (o) => this.#oversize(o),
      onGarbage: (line) => this.#noise(line),
      onFlood: () =>
        this.#log.warn(
          'the server sends notifications faster than the gateway takes them; reading from it is paused in short steps',
        ),
    });
    const client = new TaskClient(
      { name: 'switchboard', version: '0.1.0' },
      {
        versionNegotiation: this.#negotiation(),
        // The gateway relays these to the calling agent (see client-relay.ts); an agent without them gets the server an error.
        capabilities: RELAYED_CLIENT_CAPABILITIES,
        // debounceMs 0: the SDK's own debounce restarts on every notification, so a steady stream would
        // never refresh at all; #listChanged throttles instead (a refresh per window, however many arrive).
        listChanged: {
          tools: { autoRefresh: false, debounceMs: 0, onChanged: () => this.#listChanged() },
          prompts: { autoRefresh: false, debounceMs: 0, onChanged: () => this.#listChanged() },
          resources: { autoRefresh: false, debounceMs: 0, onChanged: () => this.#listChanged() },
        },
      },
      this.tasks.hooks,
    );
    this.#relay.attach(client);
    this.#built = built;
    this.#client = client;
    let timer: NodeJS.Timeout | undefined;
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`no answer within ${this.#opts.connectTimeoutMs} ms`)),
          this.#opts.connectTimeoutMs,
        );
      });
      const remembered = this.#prior ? undefined : this.#rememberedEra();
      this.#prior ??= remembered;
      await Promise.race([client.connect(built.transport, this.#prior ? { prior: this.#prior } : undefined), timeout]);
      clearTimeout(timer);
      this.#transports.connected();
      const part = await Promise.race([fetchPart(client, this.#log), timeout]);
      if (attempt !== this.#attempt || this.#stopped()) {
        await client.close().catch(() => {});
        return;
      }
      const discover = client.getDiscoverResult();
      const verdict: PriorDiscovery = discover ? { kind: 'modern', discover } : { kind: 'legacy' };
      if (!remembered && this.spec.protocol === 'auto') this.#opts.eraMemo?.set(this.#eraKey(), verdict);
      this.#prior = verdict;
      client.onclose = () => this.#lost(client, 'connection closed');
      this.#connects++;
      // The backoff starts over only once this connection has proved stable (a flapping server keeps backing off).
      clearTimeout(this.#stableTimer);
      this.#stableTimer = setTimeout(() => {
        if (client === this.#client && this.#state === 'ready') this.#attempt = 0;
      }, this.#opts.stableAfterMs);
      this.#stableTimer.unref();
      this.#lastError = undefined;
      this.#toolCount = part.tools.length;
      this.#setState('ready');
      this.#log.info(
        {
          childPid: built.pid() ?? undefined,
          era: client.getProtocolEra(),
          protocolVersion: client.getNegotiatedProtocolVersion(),
          tools: part.tools.length,
          prompts: part.prompts.length,
          resources: part.resources.length,
        },
        'upstream connected',
      );
      this.#hooks.onPart(part);
      this.#startHealth(client);
      this.#restoreSessionState();
    } catch (error) {
      clearTimeout(timer);
      if (this.#prior && this.#connects === 0) {
        // A remembered verdict that does not connect may be stale (an upgraded server): probe next time.
        this.#opts.eraMemo?.delete(this.#eraKey());
        this.#prior = undefined;
      }
      const failed = this.#transports.failed(error);
      if (failed.retry) {
        // Legacy SSE on a fresh client, within this same attempt (so readiness waits for it too).
        await client.close().catch(() => {});
        this.#attempt--;
        return this.#connect();
      }
      this.#lastError = failed.message;
      this.#log.warn({ err: this.#lastError, attempt }, 'upstream connect failed');
      await client.close().catch(() => {});
      this.#scheduleReconnect();
    }
  }

  /** The era verdict remembered from an earlier run, if it is recent enough to trust. */
  #rememberedEra(): PriorDiscovery | undefined {
    if (this.spec.protocol !== 'auto' || !this.#opts.eraMemo) return undefined;
    const entry = this.#opts.eraMemo.get(this.#eraKey());
    if (!entry || Date.now() - entry.storedAt > ERA_HORIZON_MS) return undefined;
    const verdict = entry.verdict as PriorDiscovery;
    return verdict.kind === 'legacy' || (verdict.kind === 'modern' && typeof verdict.discover === 'object')
      ? verdict
      : undefined;
  }

  /** What identifies this server for its remembered era: how it is started or reached. */
  #eraKey(): string {
    const spec = this.spec;
    return JSON.stringify(
      spec.kind === 'stdio' ? ['stdio', spec.command, spec.args, spec.cwd ?? null] : [spec.kind, spec.url],
    );
  }

  /** Re-applies what agents asked of the previous connection: the log level and resource subscriptions. */
  #restoreSessionState(): void {
    const level = this.#logLevel;
    if (level)
      this.setLoggingLevel(level).catch((e: Error) =>
        this.#log.warn({ err: e.message }, 'restoring the log level failed'),
      );
    for (const uri of this.#subscriptions) {
      this.#forward('resources/subscribe', (client, o) => client.subscribeResource({ uri }, o), {}).catch((e: Error) =>
        this.#log.warn({ err: e.message, uri }, 'restoring a resource subscription failed'),
      );
    }
  }

  /** True once close() or drain() began (a check that must re-read state after awaits). */
  #stopped(): boolean {
    const state: UpstreamState = this.#state;
    return state === 'closed' || state === 'draining';
  }

  #negotiation() {
    const probe = { timeoutMs: Math.min(5_000, Math.max(500, Math.floor(this.#opts.connectTimeoutMs / 3))) };
    if (this.spec.protocol === 'legacy') return undefined;
    if (this.spec.protocol === '2026-07-28') return { mode: { pin: '2026-07-28' as const }, probe };
    return { mode: 'auto' as const, probe };
  }

  /**
   * A list_changed notification: refresh after `refreshDelayMs`, one refresh at a time, with every
   * notification meanwhile folded into the next one (a flood costs a refresh per window, not per message).
   * The refresh re-reads every list, so which list changed does not matter.
   */
  #listChanged(): void {
    if (this.#refreshing) {
      this.#refreshAgain = true;
      return;
    }
    if (this.#refreshTimer) return;
    this.#refreshTimer = setTimeout(() => {
      this.#refreshTimer = undefined;
      void this.#refresh();
    }, this.#opts.refreshDelayMs);
    this.#refreshTimer.unref();
  }

  async #refresh(): Promise<void> {
    const client = this.#client;
    if (!client || this.#state !== 'ready') return;
    this.#refreshing = true;
    try {
      const part = await fetchPart(client, this.#log);
      if (client !== this.#client || this.#state !== 'ready') return;
      this.#toolCount = part.tools.length;
      this.#log.info({ tools: part.tools.length }, 'upstream list changed');
      this.#hooks.onPart(part);
    } catch (error) {
      this.#log.warn({ err: (error as Error).message }, 'refresh after list_changed failed');
    } finally {
      this.#refreshing = false;
      if (this.#refreshAgain) {
        this.#refreshAgain = false;
        if (client === this.#client) this.#listChanged();
      }
    }
  }

  /** The transport discarded a message over the limit: say so (the request it answered fails on its own). */
  #oversize(o: Oversize): void {
    this.#log.warn(
      { bytes: o.bytes, limit: o.limit, id: o.id, kind: o.hasMethod ? 'request or notification' : 'response' },
      o.hasMethod || o.id === undefined
        ? 'discarded a message from the server over gateway.maxResultBytes'
        : 'discarded an answer over gateway.maxResultBytes; that call fails with RESULT_TOO_LARGE, the connection stays up',
    );
  }

  #startHealth(client: Client): void {
    clearInterval(this.#healthTimer);
    this.#healthTimer = setInterval(() => void this.#checkHealth(client), this.#opts.healthIntervalMs);
    this.#healthTimer.unref();
  }

  async #checkHealth(client: Client): Promise<void> {
    if (client !== this.#client || this.#state !== 'ready') return;
    try {
      const options = { timeout: this.#opts.healthTimeoutMs };
      // 2025-era servers answer ping; 2026-07-28 defines no ping, so re-probe with server/discover.
      await (client.getProtocolEra() === 'modern' ? client.discover(options) : client.ping(options));
    } catch (error) {
      this.#log.warn({ err: (error as Error).message }, 'health check failed; reconnecting');
      this.#lost(client, `health check failed: ${(error as Error).message}`);
    }
  }

  #lost(client: Client, reason: string): void {
    if (client !== this.#client || this.#state === 'closed' || this.#state === 'draining') return;
    this.#lastError = reason;
    this.#log.warn({ reason }, 'upstream lost');
    // State first, so a pool republishing on the part below already sees this instance as down.
    this.#setState('reconnecting');
    this.#hooks.onPart(emptyPart());
    this.#toolCount = 0;
    void this.#disconnect();
    this.#scheduleReconnect();
  }

  #scheduleReconnect(): void {
    if (this.#state === 'closed' || this.#state === 'draining') return;
    this.#setState(this.#connects === 0 && this.#attempt <= 1 ? 'connecting' : 'reconnecting');
    const base = Math.min(this.#opts.backoffMaxMs, this.#opts.backoffMinMs * 2 ** Math.max(0, this.#attempt - 1));
    const delay = Math.round(base / 2 + Math.random() * (base / 2));
    clearTimeout(this.#retryTimer);
    this.#retryTimer = setTimeout(() => void this.#connect(), delay);
    this.#retryTimer.unref();
  }

  async #disconnect(): Promise<void> {
    clearInterval(this.#healthTimer);
    clearTimeout(this.#stableTimer);
    clearTimeout(this.#refreshTimer);
    this.#refreshTimer = undefined;
    this.#refreshAgain = false;
    const client = this.#client;
    this.#client = undefined;
    if (client) {
      client.onclose = undefined;
      await client.close().catch(() => {});
    }
  }

  #setState(state: UpstreamState): void {
    if (this.#state === state) return;
    if (this.#state === 'closed') return;
    this.#state = state;
    this.#hooks.onState?.(this.status());
  }
}

/** `options` without its undefined fields, so they do not hide the defaults they were spread over. */
function definedOnly<T extends object>(options: T): T {
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as T;
}

/** True when the request never reached the server: the connection was refused or never opened. */
function refused(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e && depth < 6; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EHOSTUNREACH') return true;
  }
  return false;
}

/** `_meta` with the active span's traceparent, for requests that carry no `_meta` of the agent's (none outside a span). */
function traceMeta(): { _meta?: Record<string, unknown> } {
  const meta = withTraceMeta(undefined);
  return meta ? { _meta: meta } : {};
}
