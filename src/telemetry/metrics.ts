/**
 * Prometheus metrics (prom-client): one `Registry` per hub or sidecar, never prom-client's global
 * default registry, so two hubs in one process (tests, benchmarks) never share a series. The metric
 * definitions live here; what feeds them lives elsewhere:
 *
 * - Per request (counters and histograms): the audit stage's observer and the find_capability stage
 *   (mcp/pipeline/stages/metrics.ts), and the experiment store's counting decorator (compose-metrics.ts).
 * - Live state (gauges, and counters the components already keep: reconnects, circuit opens, audit
 *   writes): read once per scrape from a `LiveState` the composition root supplies (`setSource`), so
 *   the call path pays nothing for them.
 *
 * Conventions: `switchboard_` prefix, base units (seconds), `_total` on counters, enums as state sets
 * (one series per state, 1 for the current one). The label `server_instance`, not `instance`, names a
 * replica: Prometheus sets `instance` itself on every scraped series (the target), and would rename ours.
 * Cardinality is bounded by construction: tool labels come from the catalog only (the observer maps
 * anything else to "unknown"), servers, instances, experiments and arms from config, methods and
 * outcomes from closed sets; `tenantLabels: false` drops the tenant label everywhere (series of the
 * same name in several tenants are then summed, except `*_up`, which takes the minimum: a server is up
 * only when every tenant's copy of it is).
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { CounterFamily, HistogramFamily } from './families.js';

/** Settings of one registry. */
export interface MetricsOptions {
  /** Label series by tenant (telemetry.metrics.tenantLabels). */
  readonly tenantLabels: boolean;
  /** The gateway's version, for `switchboard_build_info`. */
  readonly version: string;
  /** Node's process metrics (CPU, memory, event loop, GC); default true. */
  readonly processMetrics?: boolean;
}

/** An instance (replica) as a scrape sees it. */
export interface InstanceState {
  readonly instance: string;
  readonly health: 'healthy' | 'degraded' | 'down';
  readonly circuit: 'closed' | 'open' | 'half-open';
  readonly inFlight: number;
  /** Connections made after the first one. */
  readonly reconnects: number;
  /** Times its circuit opened. */
  readonly circuitOpens: number;
}

/** A server as a scrape sees it. */
export interface ServerState {
  readonly server: string;
  readonly up: boolean;
  /** Tools it publishes now. */
  readonly tools: number;
  readonly instances: readonly InstanceState[];
}

/** A tenant's catalog and servers. */
export interface TenantState {
  readonly tenant: string;
  readonly catalogVersion: number;
  readonly catalog: { readonly tools: number; readonly prompts: number; readonly resources: number };
  readonly servers: readonly ServerState[];
}

/** Everything the gauges read at scrape time. */
export interface LiveState {
  readonly tenants: readonly TenantState[];
  /** The audit writer's counters (absent: no writer). */
  readonly audit?: {
    readonly buffered: number;
    readonly written: number;
    readonly dropped: number;
    readonly failedBatches: number;
  };
}

/** Seconds: from 1 ms (in-process finds) to 30 s (slow tools; the call timeout's order). */
export const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** find_capability's confidence, 0..1. */
export const CONFIDENCE_BUCKETS = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1];

const HEALTH = ['healthy', 'degraded', 'down'] as const;
const CIRCUIT = ['closed', 'open', 'half-open'] as const;

type Labels = Record<string, string>;

/** One process's metrics. */
export class Metrics {
  readonly registry = new Registry();
  /** The exposition format's content type (text 0.0.4). */
  readonly contentType: string;
  readonly tenantLabels: boolean;
  #source: (() => LiveState) | undefined;

  // The per-call families (families.ts: no per-update hashing); the rest are prom-client's own.
  readonly requests: CounterFamily;
  readonly requestDuration: HistogramFamily;
  readonly toolCalls: CounterFamily;
  readonly toolCallDuration: HistogramFamily;
  readonly failovers: Counter;
  readonly refusals: Counter;
  readonly findConfidence: Histogram;
  readonly findNoMatch: Counter;
  readonly experimentExposures: Counter;
  readonly experimentOutcomes: Counter;
  readonly #live: ReturnType<typeof liveMetrics>;

  constructor(options: MetricsOptions) {
    this.tenantLabels = options.tenantLabels;
    this.contentType = this.registry.contentType;
    const t = (names: string[]) => (options.tenantLabels ? ['tenant', ...names] : names);
    const registers = [this.registry];
    const counter = (name: string, help: string, labelNames: string[]) =>
      new Counter({ name, help, labelNames: t(labelNames), registers });
    const histogram = (name: string, help: string, labelNames: string[], buckets: number[]) =>
      new Histogram({ name, help, labelNames: t(labelNames), buckets, registers });
    const family = (name: string, help: string, labelNames: string[]) =>
      new CounterFamily(this.registry, name, help, t(labelNames));
    const histogramFamily = (name: string, help: string, labelNames: string[], buckets: number[]) =>
      new HistogramFamily(this.registry, name, help, t(labelNames), buckets);
    this.requests = family('switchboard_requests_total', 'Agent requests by method and outcome.', [
      'method',
      'outcome',
    ]);
    this.requestDuration = histogramFamily(
      'switchboard_request_duration_seconds',
      'Agent request latency as the gateway answered it (refusals included), by method.',
      ['method'],
      DURATION_BUCKETS,
    );
    this.toolCalls = family(
      'switchboard_tool_calls_total',
      'Forwarded tool calls (tools/call, call_capability) by server, instance, tool and outcome; tool "unknown": a name not in the catalog.',
      ['server', 'server_instance', 'tool', 'outcome'],
    );
    this.toolCallDuration = histogramFamily(
      'switchboard_tool_call_duration_seconds',
      'Latency of tool calls that reached an instance (failover included), by server, answering instance and tool.',
      ['server', 'server_instance', 'tool'],
      DURATION_BUCKETS,
    );
    this.failovers = counter(
      'switchboard_failovers_total',
      'Calls moved to another instance after this one failed (every retry is a failover: a call is never repeated on the instance that failed).',
      ['server', 'server_instance'],
    );
    this.refusals = counter(
      'switchboard_refusals_total',
      'Requests refused before any upstream work: reason scope, policy, forbidden, rate_limit or quota.',
      ['method', 'reason'],
    );
    this.findConfidence = histogram(
      'switchboard_find_confidence',
      "find_capability's confidence in its best match (0..1), per search that ran.",
      [],
      CONFIDENCE_BUCKETS,
    );
    this.findNoMatch = counter(
      'switchboard_find_no_match_total',
      'find_capability searches that found no confident match.',
      [],
    );
    this.experimentExposures = counter(
      'switchboard_experiment_exposures_total',
      'Units exposed to an experiment arm.',
      ['experiment', 'arm'],
    );
    this.experimentOutcomes = counter(
      'switchboard_experiment_outcomes_total',
      'Call outcomes recorded for an experiment arm: success, is_error, transport_error or timeout.',
      ['experiment', 'arm', 'outcome'],
    );
    this.#live = liveMetrics(registers, t);
    new Gauge({
      name: 'switchboard_build_info',
      help: 'The running version (always 1).',
      labelNames: ['version'],
      registers,
    }).set({ version: options.version }, 1);
    if (options.processMetrics !== false) collectDefaultMetrics({ register: this.registry });
  }

  /** `labels` with the tenant label when tenant labels are on. */
  labels(tenant: string, labels: Labels): Labels {
    return this.tenantLabels ? { tenant, ...labels } : labels;
  }

  /** Where the gauges read live state at each scrape (set once the components exist). */
  setSource(read: () => LiveState): void {
    this.#source = read;
  }

  /** The exposition text: live state read once, then every metric. */
  async render(): Promise<string> {
    if (this.#source) this.#refresh(this.#source());
    return this.registry.metrics();
  }

  #refresh(state: LiveState): void {
    const live = this.#live;
    type Entry = { labels: Labels; value: number };
    const sets = new Map<Gauge | Counter, Map<string, Entry>>();
    const put = (metric: Gauge | Counter, labels: Labels, value: number, min = false) => {
      let series = sets.get(metric);
      if (!series) sets.set(metric, (series = new Map<string, Entry>()));
      const key = Object.values(labels).join('\u0000');
      const prior = series.get(key);
      if (!prior) series.set(key, { labels, value });
      else prior.value = min ? Math.min(prior.value, value) : prior.value + value;
    };
    for (const t of state.tenants) {
      const tenant = t.tenant;
      put(live.catalogVersion, this.labels(tenant, {}), t.catalogVersion);
      for (const [kind, n] of Object.entries(t.catalog)) put(live.catalogItems, this.labels(tenant, { kind }), n);
      for (const s of t.servers) {
        const server = s.server;
        put(live.serverUp, this.labels(tenant, { server }), s.up ? 1 : 0, true);
        put(live.serverTools, this.labels(tenant, { server }), s.tools);
        for (const i of s.instances) {
          const at = this.labels(tenant, { server, server_instance: i.instance });
          put(live.instanceUp, at, i.health === 'down' ? 0 : 1, true);
          for (const h of HEALTH) put(live.instanceHealth, { ...at, health: h }, i.health === h ? 1 : 0);
          for (const c of CIRCUIT) put(live.circuitState, { ...at, state: c }, i.circuit === c ? 1 : 0);
          put(live.inFlight, at, i.inFlight);
          put(live.reconnects, at, i.reconnects);
          put(live.circuitOpens, at, i.circuitOpens);
        }
      }
    }
    if (state.audit) {
      put(live.auditQueue, {}, state.audit.buffered);
      put(live.auditWritten, {}, state.audit.written);
      put(live.auditDropped, {}, state.audit.dropped);
      put(live.auditFailed, {}, state.audit.failedBatches);
    }
    // Series of servers or tenants that went away disappear with the reset.
    for (const metric of Object.values(live)) {
      metric.reset();
      for (const { labels, value } of sets.get(metric)?.values() ?? [])
        if (metric instanceof Gauge) metric.set(labels, value);
        else metric.inc(labels, value);
    }
  }
}

/** The metrics set from live state at each scrape. */
function liveMetrics(registers: Registry[], t: (names: string[]) => string[]) {
  const gauge = (name: string, help: string, labelNames: string[], tenant = true) =>
    new Gauge({ name, help, labelNames: tenant ? t(labelNames) : labelNames, registers });
  const counter = (name: string, help: string, labelNames: string[], tenant = true) =>
    new Counter({ name, help, labelNames: tenant ? t(labelNames) : labelNames, registers });
  const at = ['server', 'server_instance'];
  return {
    catalogVersion: gauge('switchboard_catalog_version', "The catalog snapshot's version number.", []),
    catalogItems: gauge('switchboard_catalog_items', 'Catalog size by kind: tools, prompts, resources.', ['kind']),
    serverUp: gauge('switchboard_server_up', '1 when some instance of the server can take calls.', ['server']),
    serverTools: gauge('switchboard_server_tools', 'Tools the server publishes in the catalog now.', ['server']),
    instanceUp: gauge('switchboard_instance_up', '1 when the instance is connected and its circuit is not open.', at),
    instanceHealth: gauge('switchboard_instance_health', 'Instance health as a state set.', [...at, 'health']),
    circuitState: gauge('switchboard_circuit_state', "The instance's circuit breaker as a state set.", [
      ...at,
      'state',
    ]),
    inFlight: gauge('switchboard_instance_in_flight', 'Requests in flight on the instance.', at),
    reconnects: counter('switchboard_instance_reconnects_total', 'Connections after the first one.', at),
    circuitOpens: counter('switchboard_circuit_opens_total', 'Times the circuit breaker opened.', at),
    auditQueue: gauge('switchboard_audit_queue_depth', 'Audit events buffered, not yet written.', [], false),
    auditWritten: counter('switchboard_audit_events_written_total', 'Audit events committed.', [], false),
    auditDropped: counter('switchboard_audit_events_dropped_total', 'Audit events lost.', [], false),
    auditFailed: counter('switchboard_audit_batches_failed_total', 'Audit batches that failed.', [], false),
  };
}
