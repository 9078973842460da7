/**
 * One server as the gateway routes to it: its instances (replicas, in priority tiers), a circuit
 * breaker per instance, a balancer, and failover.
 *
 * - The catalog shows the server once: its part is the part of the preferred connected instance
 *   (lowest tier, then listed order), so a replica going down changes nothing for agents.
 * - Each instance is healthy, degraded or down. Down: not connected, or its circuit is open.
 *   Degraded: its circuit is half-open, or a quarter or more of its recent calls failed.
 * - A call goes to an instance the balancer picks among those that can take it (connected, circuit
 *   closed or with a probe slot, offering the tool) in the best tier present. When that instance
 *   fails, the call moves to another one only when repeating it is safe (see resilience/retry.ts),
 *   with jittered backoff, within the call's overall deadline; otherwise the agent gets one clear,
 *   retryable error. Cancellation by the agent stops the attempt in flight and every later one.
 * - Catalog updates from one server are throttled (at most one per `publishIntervalMs`, the latest state
 *   always published at the end of the window), so a flapping server cannot make every agent re-list
 *   several times a second; its calls fail fast meanwhile, since routing reads the live state.
 */
import type { CircuitSettings, RetrySettings, ServerSpec, UpstreamSpec } from '../config/spec.js';
import { GatewayError } from '../core/errors.js';
import {
  emptyPart,
  type CallToolResult,
  type GetPromptResult,
  type ReadResourceResult,
  type ServerPart,
} from '../core/protocol.js';
import { Balancer, type BalanceMode } from '../resilience/balancer.js';
import { CircuitBreaker, type CircuitView } from '../resilience/breaker.js';
import { backoffMs, sleep } from '../resilience/retry.js';
import type { Logger } from '../telemetry/logger.js';
import { Upstream, type ForwardOptions, type UpstreamState, type UpstreamStatus } from '../upstream/upstream.js';
import type { RelayHooks } from '../upstream/client-relay.js';
import type { EraMemo } from '../core/era-memo.js';
import type { ChildGuard } from '../upstream/child-guard.js';
import type { CompleteRequestParams, CompleteResult, LoggingLevel } from '../core/protocol.js';
import { ConcurrencyLimiter } from '../limits/concurrency.js';
import type { Tracer } from '../telemetry/trace-context.js';
import { attemptSpan } from './trace-spans.js';
import type { TaskCreation } from '../upstream/task-client.js';
import type { UpstreamTaskEra } from '../core/tasks.js';

/** Narrows the instances a call may use. */
export interface InstanceSelector {
  accept(instance: string): boolean;
  /** The error when no available instance is accepted. */
  reject(): GatewayError;
}

/** Gateway-wide defaults a pool runs with (a server's own settings override them). */
export interface PoolDefaults {
  readonly connectTimeoutMs: number;
  readonly healthIntervalMs: number;
  readonly healthTimeoutMs: number;
  readonly callTimeoutMs: number;
  readonly balance: BalanceMode;
  readonly circuit: CircuitSettings;
  readonly retry: RetrySettings;
  /** Keeps stdio children (and theirs) from outliving the gateway. */
  readonly childGuard?: ChildGuard;
  /** Protocol-era verdicts kept across restarts (see core/era-memo.ts). */
  readonly eraMemo?: EraMemo;
  /** Hides expanded secrets in text logged verbatim (a child's stderr lines). */
  readonly redact?: (text: string) => string;
  /** Largest answer a server may send, in bytes (gateway.maxResultBytes; absent: the upstream default). */
  readonly maxResultBytes?: number;
  /** Shortest interval between two catalog updates from this server (default 250 ms). */
  readonly publishIntervalMs?: number;
  /** telemetry.tracing's tracer: a span per attempt (absent: none). */
  readonly tracer?: Tracer | undefined;
}

/** How an instance is doing. */
export type InstanceHealth = 'healthy' | 'degraded' | 'down';

/** An instance as the admin API shows it. */
export interface InstanceView extends UpstreamStatus {
  readonly health: InstanceHealth;
  readonly circuit: CircuitView;
}

/** A server's aggregate status: the best of its instances, and each instance. */
export interface PoolStatus extends UpstreamStatus {
  readonly health: InstanceHealth;
  readonly balance: BalanceMode;
  readonly instances: readonly InstanceView[];
}

interface Instance {
  readonly upstream: Upstream;
  readonly breaker: CircuitBreaker;
  /** The instance's current part (undefined until it first connects). */
  part: ServerPart | undefined;
  wasReady: boolean;
}

/** A server's instances and the routing over them. */
export class ServerPool {
  readonly spec: ServerSpec;
  readonly #log: Logger;
  readonly #defaults: PoolDefaults;
  readonly #retry: RetrySettings;
  readonly #balancer: Balancer;
  readonly #instances: Instance[];
  readonly #publish: (part: ServerPart | undefined) => void;
  readonly #observe: (instance: string, part: ServerPart | undefined) => void;
  readonly #relay: RelayHooks;
  /** The server's `concurrency` limit on tools/call (absent: none). */
  readonly #concurrency: ConcurrencyLimiter | undefined;
  #closed = false;
  #lastPublish = -Infinity;
  #publishTimer: NodeJS.Timeout | undefined;

  constructor(
    spec: ServerSpec,
    log: Logger,
    defaults: PoolDefaults,
    publish: (part: ServerPart | undefined) => void,
    observe: (instance: string, part: ServerPart | undefined) => void = () => {},
    relay: RelayHooks = {},
  ) {
    this.#relay = relay;
    this.spec = spec;
    this.#log = log;
    this.#defaults = defaults;
    this.#publish = publish;
    this.#observe = observe;
    this.#retry = { ...defaults.retry, ...spec.retry };
    this.#balancer = new Balancer(spec.balance ?? defaults.balance);
    const circuit = { ...defaults.circuit, ...spec.circuit };
    this.#instances = spec.instances.map((instanceSpec) => this.#makeInstance(instanceSpec, circuit));
    this.#concurrency = spec.concurrency ? new ConcurrencyLimiter(spec.concurrency, spec.name) : undefined;
  }

  get name(): string {
    return this.spec.name;
  }

  /** 'ready' when some instance can take calls, else the first instance's state. */
  get state(): UpstreamState {
    if (this.#instances.some((i) => i.upstream.state === 'ready')) return 'ready';
    return this.#instances[0]?.upstream.state ?? 'closed';
  }

  /** Connects every instance in parallel; resolves when each has had its first attempt. */
  async start(): Promise<void> {
    await Promise.all(this.#instances.map((i) => i.upstream.start()));
  }

  /** The server's status with each instance's health and circuit. */
  status(): PoolStatus {
    const instances = this.#instances.map((i): InstanceView => ({
      ...i.upstream.status(),
      health: health(i),
      circuit: i.breaker.view(),
    }));
    const order: InstanceHealth[] = ['healthy', 'degraded', 'down'];
    const best = [...instances].sort((a, b) => order.indexOf(a.health) - order.indexOf(b.health) || a.tier - b.tier)[0];
    if (!best) throw new GatewayError('INTERNAL', `server "${this.name}" has no instances`);
    const usable = instances.filter((i) => i.health !== 'down');
    const latencies = usable.map((i) => i.latencyMs).filter((l): l is number => l !== undefined);
    return {
      ...best,
      name: this.name,
      instance: this.name,
      state: this.state,
      health: best.health,
      balance: this.#balancer.mode,
      inFlight: instances.reduce((a, i) => a + i.inFlight, 0),
      latencyMs: latencies.length ? Math.min(...latencies) : best.latencyMs,
      errorRate: usable.length ? Math.min(...usable.map((i) => i.errorRate)) : best.errorRate,
      connects: instances.reduce((a, i) => a + i.connects, 0),
      instances,
    };
  }

  /**
   * Calls a tool on an instance that offers it, failing over when that is safe. `select` narrows
   * the instances (schema compatibility, an experiment arm); when it leaves none of the available
   * ones, its `reject()` error is thrown.
   */
  callTool(
    name: string,
    args: Record<string, unknown> | undefined,
    meta: Record<string, unknown> | undefined,
    safe: boolean,
    options: ForwardOptions,
    select?: InstanceSelector,
  ): Promise<CallToolResult> {
    const call = () =>
      this.#route('tools/call', name, safe, (upstream, o) => upstream.callTool(name, args, meta, o), options, select);
    return this.#concurrency ? this.#limited(this.#concurrency, call, options.signal) : call();
  }

  /** Runs `call` in a slot of the server's concurrency limit (the wait does not count against the call's timeout). */
  async #limited<T>(limiter: ConcurrencyLimiter, call: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const release = await limiter.acquire(signal);
    try {
      return await call();
    } finally {
      release();
    }
  }

  /** The era in which `tool` would run as an upstream task on an instance that can take it now (undefined: none). */
  taskEra(tool: string): UpstreamTaskEra | undefined {
    for (const i of this.#available(tool)) {
      const era = this.#taskEraOf(i, tool);
      if (era) return era;
    }
    return undefined;
  }

  /** The tool's `execution.taskSupport` as the instances that can take it now declare it (the first that does). */
  taskSupport(tool: string): string | undefined {
    for (const i of this.#available(tool)) {
      const support = i.part?.tools.find((t) => t.name === tool)?.execution?.taskSupport;
      if (support) return support;
    }
    return undefined;
  }

  /**
   * Starts the call as an upstream task on an instance that runs the tool as a task, failing over only
   * while nothing was sent (a repeated creation could start the work twice). Follow-ups go to the
   * instance named in the answer ({@link instance}), never elsewhere.
   */
  async createTask(
    name: string,
    args: Record<string, unknown> | undefined,
    meta: Record<string, unknown> | undefined,
    ttlMs: number,
    options: ForwardOptions,
    select?: InstanceSelector,
  ): Promise<{ instance: string; creation: TaskCreation }> {
    const tasking: InstanceSelector = {
      accept: (id) => {
        const i = this.#instances.find((x) => x.upstream.instance === id);
        return !!i && this.#taskEraOf(i, name) !== undefined && (!select || select.accept(id));
      },
      reject: () => select?.reject() ?? this.#noInstance('tools/call as a task'),
    };
    let instance = '';
    const creation = await this.#route(
      'tools/call',
      name,
      false,
      (upstream, o) => {
        instance = upstream.instance;
        return upstream.tasks.create(name, args, meta, ttlMs, o);
      },
      options,
      tasking,
    );
    return { instance, creation };
  }

  /** The instance with this id (undefined once it is gone). */
  instance(id: string): Upstream | undefined {
    return this.#instances.find((i) => i.upstream.instance === id)?.upstream;
  }

  #taskEraOf(i: Instance, tool: string): UpstreamTaskEra | undefined {
    return i.upstream.tasks.era(i.part?.tools.find((t) => t.name === tool)?.execution?.taskSupport);
  }

  /** Instance ids, in listed order. */
  get instanceIds(): string[] {
    return this.#instances.map((i) => i.upstream.instance);
  }

  /** Gets a prompt (a read: always safe to repeat elsewhere). */
  getPrompt(name: string, args: Record<string, string> | undefined, options: ForwardOptions): Promise<GetPromptResult> {
    return this.#route('prompts/get', undefined, true, (upstream, o) => upstream.getPrompt(name, args, o), options);
  }

  /** Reads a resource (a read: always safe to repeat elsewhere). */
  readResource(uri: string, options: ForwardOptions): Promise<ReadResourceResult> {
    return this.#route('resources/read', undefined, true, (upstream, o) => upstream.readResource(uri, o), options);
  }

  /** Completes a prompt or resource-template argument (a read: always safe to repeat elsewhere). */
  complete(params: CompleteRequestParams, options: ForwardOptions): Promise<CompleteResult> {
    return this.#route('completion/complete', undefined, true, (upstream, o) => upstream.complete(params, o), options);
  }

  /** True when some connected instance offers `capability`. */
  supports(capability: 'logging' | 'completions' | 'subscribe'): boolean {
    return this.#instances.some((i) => i.upstream.state === 'ready' && i.upstream.supports(capability));
  }

  /** Subscribes every instance to a resource (updates from any of them reach the subscribers). */
  async subscribe(uri: string): Promise<void> {
    const ready = this.#instances.filter((i) => i.upstream.supports('subscribe'));
    if (ready.length === 0) throw this.#noInstance('resources/subscribe');
    await Promise.all(ready.map((i) => i.upstream.subscribe(uri, {})));
  }

  /** Ends a resource subscription on every instance. */
  async unsubscribe(uri: string): Promise<void> {
    await Promise.all(this.#instances.map((i) => i.upstream.unsubscribe(uri, {}).catch(() => {})));
  }

  /** Passes an agent's `notifications/roots/list_changed` to every instance. */
  async rootsChanged(): Promise<void> {
    await Promise.all(this.#instances.map((i) => i.upstream.rootsChanged().catch(() => {})));
  }

  /** Sets every instance's log level. */
  async setLoggingLevel(level: LoggingLevel): Promise<void> {
    await Promise.all(this.#instances.map((i) => i.upstream.setLoggingLevel(level).catch(() => {})));
  }

  /** Stops taking calls, lets in-flight ones finish up to the deadline, and closes every instance. */
  async drain(deadlineMs: number): Promise<void> {
    this.#closed = true;
    await Promise.all(this.#instances.map((i) => i.upstream.drain(deadlineMs)));
  }

  #makeInstance(spec: UpstreamSpec, circuit: CircuitSettings): Instance {
    const log = this.spec.instances.length > 1 ? this.#log.child({ instance: spec.instance }) : this.#log;
    const breaker = new CircuitBreaker(circuit, (t) => {
      const level = t.to === 'open' ? 'warn' : 'info';
      log[level]({ circuit: t.to, from: t.from, reason: t.reason }, `circuit ${t.to}`);
    });
    const options = {
      connectTimeoutMs: this.#defaults.connectTimeoutMs,
      healthIntervalMs: this.spec.health.intervalMs ?? this.#defaults.healthIntervalMs,
      healthTimeoutMs: this.spec.health.timeoutMs ?? this.#defaults.healthTimeoutMs,
      callTimeoutMs: this.#defaults.callTimeoutMs,
      childGuard: this.#defaults.childGuard,
      maxResultBytes: this.#defaults.maxResultBytes,
      ...(this.#defaults.eraMemo ? { eraMemo: this.#defaults.eraMemo } : {}),
      ...(this.#defaults.redact ? { redact: this.#defaults.redact } : {}),
    };
    const instance: Instance = {
      breaker,
      part: undefined,
      wasReady: false,
      upstream: new Upstream(spec, log, options, {
        ...this.#relay,
        onPart: (part) => {
          instance.part = part;
          this.#observe(spec.instance, part);
          this.#republish();
        },
        onState: (status) => {
          log.info({ state: status.state, lastError: status.lastError }, 'upstream state');
          if (status.state === 'ready') {
            if (instance.wasReady) breaker.recovered('reconnected; probing before full traffic');
            instance.wasReady = true;
          } else if (instance.wasReady && (status.state === 'reconnecting' || status.state === 'connecting')) {
            breaker.trip(`connection lost: ${status.lastError ?? status.state}`);
          }
        },
      }),
    };
    return instance;
  }

  /** Publishes now, or at the end of the current throttle window (removal is never delayed). */
  #republish(): void {
    if (this.#closed && this.#instances.every((i) => i.part === undefined)) {
      clearTimeout(this.#publishTimer);
      this.#publishTimer = undefined;
      return this.#publish(undefined);
    }
    if (this.#publishTimer) return;
    const wait = this.#lastPublish + (this.#defaults.publishIntervalMs ?? 250) - performance.now();
    if (wait <= 0) return this.#publishNow();
    this.#publishTimer = setTimeout(() => {
      this.#publishTimer = undefined;
      this.#publishNow();
    }, wait);
    this.#publishTimer.unref();
  }

  /** Publishes the preferred connected instance's part (all down: an empty part; closed: undefined). */
  #publishNow(): void {
    this.#lastPublish = performance.now();
    if (this.#closed && this.#instances.every((i) => i.part === undefined)) return this.#publish(undefined);
    const connected = this.#instances.filter((i) => i.upstream.state === 'ready' && i.part);
    const preferred = Balancer.bestTier(
      connected.map((i, n) => ({
        i,
        n,
        id: i.upstream.instance,
        tier: i.upstream.spec.tier,
        inFlight: 0,
        latencyMs: undefined,
        errorRate: 0,
      })),
    )[0];
    this.#publish(preferred?.i.part ?? emptyPart());
  }

  /** Instances that can take a call for `tool` now. */
  #available(tool: string | undefined): Instance[] {
    return this.#instances.filter(
      (i) =>
        i.upstream.state === 'ready' &&
        i.breaker.canPass() &&
        (tool === undefined || !i.part || i.part.tools.some((t) => t.name === tool)),
    );
  }

  async #route<T>(
    method: string,
    tool: string | undefined,
    safe: boolean,
    run: (upstream: Upstream, options: ForwardOptions) => Promise<T>,
    options: ForwardOptions,
    select?: InstanceSelector,
  ): Promise<T> {
    const timeoutMs = options.timeoutMs ?? this.spec.instances[0]?.timeoutMs ?? this.#defaults.callTimeoutMs;
    const deadline = performance.now() + timeoutMs;
    const tried = new Set<Instance>();
    let lastError: GatewayError | undefined;
    for (let attempt = 0; ; attempt++) {
      const open = this.#available(tool).filter((i) => !tried.has(i));
      const candidates = select ? open.filter((i) => select.accept(i.upstream.instance)) : open;
      if (select && candidates.length === 0 && open.length > 0 && !lastError) throw select.reject();
      const chosen = this.#balancer.pick(
        candidates.map((i) => ({
          i,
          id: i.upstream.instance,
          tier: i.upstream.spec.tier,
          inFlight: i.upstream.inFlight,
          latencyMs: i.upstream.latencyMs,
          latencyAgeMs: i.upstream.latencyAgeMs,
          errorRate: i.upstream.errorRate,
        })),
      )?.i;
      if (!chosen || !chosen.breaker.tryPass())
        throw lastError ? this.#exhausted(lastError, attempt) : this.#noInstance(method);
      tried.add(chosen);
      options.attempted?.(chosen.upstream.instance);
      // The first attempt gets the call's whole timeout (only synchronous picking happened since the
      // deadline was set, so its error names the timeout the operator configured); a retry gets what is left.
      const remaining = attempt === 0 ? timeoutMs : Math.max(1, Math.round(deadline - performance.now()));
      try {
        const call = () => run(chosen.upstream, { ...options, timeoutMs: remaining });
        const { tracer } = this.#defaults;
        const upstream = chosen.upstream;
        const result = await (tracer
          ? attemptSpan(tracer, { method, tool, server: this.name, upstream, retry: attempt, after: lastError }, call)
          : call());
        chosen.breaker.onSuccess();
        return result;
      } catch (error) {
        if (options.signal?.aborted) {
          chosen.breaker.release();
          throw error;
        }
        // The server's own JSON-RPC error, or an answer too large to pass: it answered, so it is alive,
        // and repeating the call (here or elsewhere) would not help.
        if (!(error instanceof GatewayError) || error.code === 'RESULT_TOO_LARGE') {
          chosen.breaker.onSuccess();
          throw error;
        }
        if (error.code === 'UPSTREAM_UNAVAILABLE') chosen.breaker.release();
        else chosen.breaker.onFailure(error.message);
        lastError = error;
        const sent = error.details?.sent !== false;
        if (sent && !safe) throw this.#notRepeated(error, tool);
        if (error.code === 'UPSTREAM_TIMEOUT' || attempt >= this.#retry.attempts || deadline - performance.now() <= 0)
          throw this.#exhausted(error, attempt + 1);
        this.#log.info(
          { method, tool, failed: chosen.upstream.instance, attempt: attempt + 1, err: error.message },
          'failing over to another instance',
        );
        await sleep(
          Math.min(
            backoffMs(attempt + 1, this.#retry.backoffMs, this.#retry.maxBackoffMs),
            Math.max(0, deadline - performance.now()),
          ),
          options.signal,
        );
      }
    }
  }

  #noInstance(method: string): GatewayError {
    const only = this.#instances.length === 1 ? this.#instances[0]!.upstream.status() : undefined;
    if (only && only.state !== 'ready') {
      return new GatewayError(
        'UPSTREAM_UNAVAILABLE',
        `server "${this.name}" is ${only.state === 'draining' ? 'being removed' : 'not connected'} (${only.lastError ?? only.state}); try again shortly`,
        { server: this.name, state: only.state, sent: false },
      );
    }
    const states = this.#instances.map((i) => {
      const s = i.upstream.status();
      const circuit = i.breaker.state;
      return `${s.instance} ${s.state !== 'ready' ? `${s.state}${s.lastError ? ` (${s.lastError})` : ''}` : circuit !== 'closed' ? `circuit ${circuit}` : 'does not offer this tool'}`;
    });
    return new GatewayError(
      'UPSTREAM_UNAVAILABLE',
      `server "${this.name}" has no instance that can take ${method} now: ${states.join('; ')}; try again shortly`,
      { server: this.name, sent: false },
    );
  }

  #exhausted(error: GatewayError, attempts: number): GatewayError {
    if (attempts <= 1 || this.#instances.length === 1) return error;
    return new GatewayError(
      error.code,
      `${error.message} (after trying ${attempts} instance(s) of server "${this.name}")`,
      { ...error.details, attempts },
      { cause: error },
    );
  }

  #notRepeated(error: GatewayError, tool: string | undefined): GatewayError {
    if (this.#instances.length === 1) return error;
    return new GatewayError(
      error.code,
      `${error.message}; the call may have reached the server, and "${tool}" is not marked read-only or idempotent (nor retry-safe in config), so it was not repeated on another instance: check whether it took effect before retrying`,
      { ...error.details, repeated: false },
      { cause: error },
    );
  }
}

function health(i: Instance): InstanceHealth {
  const circuit = i.breaker.state;
  if (i.upstream.state !== 'ready' || circuit === 'open') return 'down';
  if (circuit === 'half-open' || i.upstream.errorRate >= 0.25) return 'degraded';
  return 'healthy';
}
