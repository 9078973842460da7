/**
 * Composition of the Prometheus metrics, one registry per process (see telemetry/metrics.ts): built
 * before the tenant cores (the audit stage's observer and the find stage need it), given its live
 * source once they exist, and served on the hub's `/metrics` and, with `telemetry.metrics.port`, on a
 * listener of its own (a sidecar too).
 *
 * - Live state is read per scrape from what the components keep anyway: each tenant gateway's
 *   `listServers()` (health, circuit, in flight, connections, circuit opens) and catalog snapshot, and
 *   the audit writer's `stats()`. Nothing on the call path.
 * - Experiment exposures and outcomes are counted by a decorator over the tenant's ExperimentStore,
 *   the port ExperimentRunner records them through, so the runner is untouched and a scrape never
 *   reads SQLite. Feedback (report_outcome) names a decision, not an arm: it stays in the report.
 * - `telemetry.metrics.enabled: false`: no registry, no observer, no stage, no route.
 */
import type { Config } from './config/load.js';
import type { Gateway } from './gateway/gateway.js';
import type { MetricsListener } from './http/metrics-route.js';
import type { AuditObserver } from './mcp/pipeline/stages/audit.js';
import { metricsObserver } from './mcp/pipeline/stages/metrics.js';
import type { ExperimentStore } from './store/experiments-repo.js';
import type { Logger } from './telemetry/logger.js';
import { Metrics, type LiveState } from './telemetry/metrics.js';
import { VERSION } from './version.js';

/** The process's metrics, or undefined when they are switched off. */
export function buildMetrics(config: Config): Metrics | undefined {
  const { enabled, tenantLabels } = config.telemetry.metrics;
  return enabled ? new Metrics({ tenantLabels, version: VERSION }) : undefined;
}

/** What the live source reads. */
export interface LiveSources {
  readonly cores: readonly { readonly tenant: string; readonly gateway: Gateway }[];
  readonly audit?: () => { buffered: number; written: number; dropped: number; failedBatches: number };
}

/** Reads the live state of every tenant's servers and catalog, and the audit queue. */
export function liveState(sources: LiveSources): LiveState {
  return {
    tenants: sources.cores.map(({ tenant, gateway }) => {
      const catalog = gateway.catalog;
      return {
        tenant,
        catalogVersion: catalog.version,
        catalog: { tools: catalog.tools.length, prompts: catalog.prompts.length, resources: catalog.resources.length },
        servers: gateway.listServers().map((s) => ({
          server: s.name,
          up: s.health !== 'down',
          tools: s.tools,
          instances: s.instances.map((i) => ({
            instance: i.instance,
            health: i.health,
            circuit: i.circuit.state,
            inFlight: i.inFlight,
            reconnects: Math.max(0, i.connects - 1),
            circuitOpens: i.circuit.opens,
          })),
        })),
      };
    }),
    ...(sources.audit ? { audit: sources.audit() } : {}),
  };
}

/** `store`, counting each exposure and call outcome it records into the metrics. */
export function countedExperiments(store: ExperimentStore, metrics: Metrics, tenant: string): ExperimentStore {
  const { experimentExposures, experimentOutcomes } = metrics;
  return {
    recordExposure: (event) => {
      store.recordExposure(event);
      experimentExposures.inc(metrics.labels(tenant, { experiment: event.experiment, arm: event.arm }));
    },
    recordOutcome: (event) => {
      store.recordOutcome(event);
      const labels = { experiment: event.experiment, arm: event.arm, outcome: event.outcome };
      experimentOutcomes.inc(metrics.labels(tenant, labels));
    },
    recordFeedback: (decisionId, success, note) => store.recordFeedback(decisionId, success, note),
    armStats: (experiment) => store.armStats(experiment),
    experiments: () => store.experiments(),
    flush: () => store.flush(),
    states: () => store.states(),
    setRunning: (experiment, running) => store.setRunning(experiment, running),
    stopArm: (experiment, arm, reason) => store.stopArm(experiment, arm, reason),
  };
}

/** Starts the metrics port's listener when `telemetry.metrics.port` is set. */
export async function startMetricsListener(
  config: Config,
  metrics: Metrics | undefined,
  log: Logger,
): Promise<MetricsListener | undefined> {
  const { port, host } = config.telemetry.metrics;
  if (!metrics || port === undefined) return undefined;
  // Imported only here: a sidecar without a metrics port never loads the HTTP edge.
  const { listenMetrics } = await import('./http/metrics-route.js');
  return listenMetrics({ metrics, host, port, log });
}

/** The audit stage's observers the metrics add (none when they are off). */
export function metricsObservers(metrics: Metrics | undefined): AuditObserver[] {
  return metrics ? [metricsObserver(metrics)] : [];
}
