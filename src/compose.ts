/**
 * The composition root: the one place that builds the store, the gateway and the edges, and the
 * one place that knows the shutdown order (readiness off, drain with a deadline, close in reverse).
 * Tests and benchmarks start hubs and sidecars through these functions, exactly as the CLI does.
 */
import type { AddressInfo } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { tenantConfig, type Config } from './config/load.js';
import { DEFAULT_TENANT } from './core/principal.js';
import { buildIdentity, meshCredentials, sidecarPrincipal } from './compose-auth.js';
import { AccessControl } from './gateway/access.js';
import { PolicyFiles } from './policy/loader.js';
import { Gateway } from './gateway/gateway.js';
import { ArgumentValidator } from './mcp/validate.js';
import { InputExchanges } from './mcp/input-exchange.js';
import { AgentNotifier } from './mcp/notifier.js';
import { serveAgentStdio } from './mcp/stdio.js';
import type { AgentServerDeps } from './mcp/agent-server.js';
import { chains } from './mcp/pipeline/chains.js';
import { adminChange, type AuditEvent } from './core/audit-event.js';
import type { OpsPort } from './http/ops-routes.js';
import { buildUsageReport } from './usage/report.js';
import { buildOperations, type Operations } from './compose-ops.js';
import {
  buildMetrics,
  countedExperiments,
  liveState,
  metricsObservers,
  startMetricsListener,
} from './compose-metrics.js';
import type { Metrics } from './telemetry/metrics.js';
import { alertsObservers, buildAlerts } from './compose-alerts.js';
import { openDb, type Db } from './store/db.js';
import { SqliteEmbeddingCache } from './store/embedding-cache.js';
import { SqliteExampleStore } from './store/examples-repo.js';
import { SqliteServerRegistry } from './store/servers-repo.js';
import { SqliteEraMemo } from './store/era-repo.js';
import { SqliteCompatStore } from './store/compat-repo.js';
import { SqliteExperimentStore } from './store/experiments-repo.js';
import { ExperimentRunner } from './gateway/experiments.js';
import { Capabilities } from './gateway/capabilities.js';
import { Bm25fIndex } from './index/lexical/bm25f.js';
import { tokenize } from './index/lexical/tokenize.js';
import { createVectorIndex, vectorKindFor } from './index/vector/factory.js';
import { FileVectorStore } from './index/vector/persist.js';
import { DEFAULT_DENSE_WEIGHT, DEFAULT_SCORER } from './router/calibration.js';
import { loadRerankModel, Reranker } from './router/rerank.js';
import type { Embedder } from './index/types.js';
import { openEmbedder } from './index/embedder/load.js';
import { holdFirstAnswers } from './startup.js';
import { accessLog } from './mcp/pipeline/stages/access-log.js';
import { CapabilityIndex } from './index/capability-index.js';
import { createLogger, type Logger } from './telemetry/logger.js';
import { VERSION } from './version.js';
import { follower, rerunner } from './compose-tasks.js';
import { TaskRegistry } from './gateway/tasks/registry.js';
import { recoverTasks, schedulePurge } from './gateway/tasks/upkeep.js';
import { SqliteTaskStore } from './store/tasks-repo.js';
import type { Tracer } from './telemetry/trace-context.js';

/** Options shared by both modes. */
export interface ComposeOptions {
  readonly log?: Logger;
}

/** A running hub (Streamable HTTP). */
export interface Hub {
  /** The default tenant's gateway (the file's top-level servers). */
  readonly gateway: Gateway;
  /** A configured tenant's gateway, router and experiments (undefined: no such tenant). */
  tenant(name: string): { gateway: Gateway; capabilities: Capabilities; experiments: ExperimentRunner } | undefined;
  /** Capability routing (find_capability and its index). */
  readonly capabilities: Capabilities;
  /** A/B experiments. */
  readonly experiments: ExperimentRunner;
  /** Applies a re-read config: experiments and pins change at once (servers and the rest need a restart). */
  reload(config: Config): void;
  /** `http://host:port` the hub listens on (`https://` with http.tls). */
  readonly url: string;
  readonly port: number;
  /**
   * Resolves when start-up is over: every initial upstream has had its first connection attempt and
   * the embedding model has loaded (or failed to). /readyz needs only the former.
   */
  readonly ready: Promise<void>;
  /** Graceful shutdown; idempotent. */
  close(): Promise<void>;
}

/** A running sidecar (stdio). */
export interface Sidecar {
  readonly gateway: Gateway;
  /** Applies a re-read config: experiments and pins change at once. */
  reload(config: Config): void;
  /** As Hub.ready: upstreams' first attempts made and the model loaded (or failed to). */
  readonly ready: Promise<void>;
  close(): Promise<void>;
}

/** Loads the configured embedding model; without one (or if it fails to load) routing is lexical only. */
async function loadEmbedder(config: Config, log: Logger): Promise<Embedder | undefined> {
  const { model, modelsDir } = config.routing;
  if (model === 'none') return undefined;
  try {
    const embedder = await openEmbedder({ model, modelsDir: resolve(modelsDir) });
    log.info({ model, dim: embedder.dim, engine: embedder.engine }, 'embedding model loaded');
    return embedder;
  } catch (error) {
    log.warn(
      { model, modelsDir, path: join(modelsDir, model), err: (error as Error).message },
      `embedding model "${model}" not found or not loadable in ${join(modelsDir, model)}; find_capability falls back to lexical-only routing (needs phrased in other words than the tools' own match worse)`,
    );
    return undefined;
  }
}

/**
 * The capability router: index (lexical + dense), scorer settings and learned examples. Built at
 * once, while the model is still loading (`model`): the index waits for it before its first sync.
 */
function buildCapabilities(
  config: Config,
  gateway: Gateway,
  db: Db,
  model: Promise<Embedder | undefined>,
  log: Logger,
): Capabilities {
  const { routing } = config;
  // The model may still be loading: the index waits for it before each sync (see CapabilityIndexDeps.embedder).
  const index = new CapabilityIndex({
    lexical: new Bm25fIndex(),
    vectors: (dim, expectedSize) =>
      createVectorIndex({ dim, kind: routing.vectorIndex, expectedSize, hnswThreshold: routing.hnswThreshold }),
    vectorKind: (expectedSize) =>
      vectorKindFor({ dim: 0, kind: routing.vectorIndex, expectedSize, hnswThreshold: routing.hnswThreshold }),
    ...(config.store.path === ':memory:'
      ? {}
      : {
          persist: new FileVectorStore(vectorDir(config), (err, what) =>
            log.warn({ err: err.message }, `vector index: ${what} failed; it will be rebuilt`),
          ),
        }),
    cache: new SqliteEmbeddingCache(db, config.tenant),
    tokenize: (text) => tokenize(text, { stem: true, stopwords: 'conversational' }),
    embedder: model,
  });
  return new Capabilities({
    gateway,
    index,
    examples: new SqliteExampleStore(db, routing.maxLearnedPerTool, config.tenant),
    options: {
      scorer: DEFAULT_SCORER,
      denseWeight: routing.denseWeight ?? DEFAULT_DENSE_WEIGHT,
      learning: routing.learning,
      ...rerankerOf(config, log),
      generateNeeds: routing.generateNeeds,
    },
    log: log.child({ component: 'router' }),
  });
}

/** The configured reranker (routing.reranker under modelsDir); without one, fusion order (logged). */
function rerankerOf(config: Config, log: Logger): { reranker?: Reranker } {
  const { reranker: name, modelsDir } = config.routing;
  if (name === 'none') return {};
  const path = join(modelsDir, `${name}.json`);
  try {
    const model = loadRerankModel(path);
    const fittedWith = (model.trained as { embeddingModel?: string } | undefined)?.embeddingModel ?? '';
    if (config.routing.model !== 'none' && !fittedWith.startsWith(`${config.routing.model} `))
      log.warn(
        { reranker: name, model: config.routing.model, fittedWith },
        `reranker "${name}" was fitted with another embedding model; its dense weights may be off for "${config.routing.model}" (refit: npm run model:rerank -- --model ${config.routing.model} --out <file>)`,
      );
    return { reranker: new Reranker(model, (text) => tokenize(text, { stem: true, stopwords: 'conversational' })) };
  } catch (error) {
    log.warn(
      { reranker: name, path, err: (error as Error).message },
      `reranker "${name}" not found or not loadable at ${path}; find_capability ranks in fusion order`,
    );
    return {};
  }
}

/** Where a tenant's vector index is saved (next to the store; tenants in their own folders). */
function vectorDir(config: Config): string {
  const base = dirname(resolve(config.store.path));
  return config.tenant === DEFAULT_TENANT ? join(base, 'vectors') : join(base, 'tenants', config.tenant, 'vectors');
}

/** What every tenant's core shares: the log, the store file, the embedding model, audit and limits. */
interface Shared {
  readonly log: Logger;
  readonly db: Db;
  readonly model: Promise<Embedder | undefined>;
  readonly ops: Operations;
  /** Prometheus metrics (absent: telemetry.metrics.enabled false). */
  readonly metrics: Metrics | undefined;
  /** telemetry.tracing's tracer (absent: tracing off, no span code in any chain or pool). */
  readonly tracer?: Tracer | undefined;
}

/**
 * One tenant's gateway: its upstream connections and catalog, capability router, experiments, pins,
 * policy and agent-server deps, on repositories bound to the tenant. Tenants share nothing else: a
 * server two tenants use runs once per tenant (its own connection or process, its own credentials).
 */
function tenantCore(config: Config, shared: Shared, policy: PolicyFiles | undefined) {
  const { db, model } = shared;
  const tenant = config.tenant;
  const log = tenant === DEFAULT_TENANT ? shared.log : shared.log.child({ tenant });
  const access = new AccessControl(policy);
  const gateway = new Gateway({
    config,
    log,
    registry: new SqliteServerRegistry(db, tenant),
    compat: new SqliteCompatStore(db, undefined, tenant),
    eraMemo: new SqliteEraMemo(db, tenant),
    tracer: shared.tracer,
  });
  const notifier = new AgentNotifier();
  gateway.onCatalogChange((change) => notifier.publish(change));
  // A policy change can move what anyone sees: every agent whose view moved hears of it (notifier.ts).
  policy?.onChange(() => notifier.publish({ snapshot: gateway.catalog, tools: true, prompts: true, resources: true }));
  const capabilities = buildCapabilities(config, gateway, db, model, log);
  const experimentStore = new SqliteExperimentStore(db, {
    tenant,
    onError: (error) => log.error({ err: error.message }, 'recording experiment events failed'),
  });
  const experiments = new ExperimentRunner({
    store: shared.metrics ? countedExperiments(experimentStore, shared.metrics, tenant) : experimentStore,
    log: log.child({ component: 'experiments' }),
    experiments: config.experiments,
    providers: (id) => capabilities.providers(id),
  });
  const validator = new ArgumentValidator();
  const tasks = config.tasks.enabled
    ? new TaskRegistry({
        store: new SqliteTaskStore(db, { tenant }),
        config: config.tasks,
        log: log.child({ component: 'tasks' }),
      })
    : undefined;
  const agentDeps: AgentServerDeps = {
    gateway,
    capabilities,
    experiments,
    exposure: config.routing.exposure,
    validator,
    maxRequestBytes: config.gateway.maxRequestBytes,
    version: VERSION,
    exchanges: new InputExchanges(),
    // The call pipeline's order is declared in pipeline/chains.ts; what is configured is chosen here.
    access,
    chains: chains({
      gateway,
      access,
      validator,
      maxRequestBytes: config.gateway.maxRequestBytes,
      maxHops: config.gateway.maxHops,
      capabilities,
      experiments,
      audit: shared.ops.audit,
      admit: shared.ops.admit,
      metrics: shared.metrics,
      tracer: shared.tracer,
      tasks,
    }),
    tasks,
  };
  const stopPurge = tasks ? schedulePurge(tasks, log) : () => {};
  // Agents' first answers wait for start-up (see holdFirstAnswers); the edges get the gate before
  // `start()` opens it, because they exist first.
  let openGate: (gate: Promise<void>) => void = () => {};
  const startup = new Promise<void>((resolveStartup) => {
    openGate = (gate) => void gate.then(resolveStartup);
  });
  return {
    tenant,
    config,
    gateway,
    notifier,
    agentDeps,
    capabilities,
    experiments,
    startup,
    /** Connects the upstreams; resolves with the start-up gate (first attempts made, or the hold's deadline). */
    start: async (): Promise<{ ready: Promise<void>; gate: Promise<void> }> => {
      const ready = gateway.start();
      const gate = holdFirstAnswers(ready, gateway, config.gateway.startupWaitMs, log);
      openGate(gate);
      // Tasks unfinished at the last stop are resumed once the upstreams have been tried (see upkeep.ts).
      if (tasks)
        void gate.then(() =>
          recoverTasks(tasks, { rerun: rerunner(agentDeps), follow: follower(gateway, tasks) }, log),
        );
      return { ready, gate };
    },
    tasks,
    /** Stops the tasks first at shutdown: their calls are aborted and left unfinished for the next start. */
    stopTasks: () => {
      stopPurge();
      tasks?.close();
    },
    /** Writes what is buffered (experiment events, learned examples); the store closes after every tenant. */
    flush: () => {
      policy?.close();
      agentDeps.exchanges.close();
      capabilities.flush();
      experimentStore.flush();
    },
    /** Applies a re-read config: experiments and pins change at once. */
    reload: (next: Config) => {
      experiments.replace(next.experiments);
      gateway.setPins(next.pins);
    },
  };
}

type TenantCore = ReturnType<typeof tenantCore>;

/**
 * The shared store and model, and one core per tenant (`only`: just that tenant's, for a sidecar).
 * Policy files load first: one that does not load stops the start before anything opens.
 */
async function core(config: Config, options: ComposeOptions, only?: string) {
  const log = options.log ?? createLogger({ level: config.log.level });
  const names = only ? [only] : [DEFAULT_TENANT, ...config.tenants.map((t) => t.name)];
  const configs = names.map((name) => tenantConfig(config, name));
  const policies = await Promise.all(
    configs.map(async (c) =>
      c.policy.files.length > 0
        ? PolicyFiles.open({ paths: c.policy.files, log: log.child({ component: 'policy', tenant: c.tenant }) })
        : undefined,
    ),
  );
  // Tracing starts before anything that makes spans; its SDK is imported only when configured.
  const tracing = config.telemetry.tracing
    ? (await import('./telemetry/tracing.js')).startTracing(config.telemetry.tracing, { version: VERSION, log })
    : undefined;
  const db = openDb(config.store.path);
  // The model loads once agents' first answers are out (see start()), no longer before anything
  // else: only find_capability needs it, and that waits for it (see CapabilityIndexDeps.embedder). Loading it while
  // the upstreams start made them compete for the CPU: on two cores the first full tools/list came
  // about half a second later that way (bench/sections/startup.ts measures start-up). Every tenant
  // shares the one model.
  let loadModel: () => void = () => {};
  const model = new Promise<Embedder | undefined>((resolveModel) => {
    loadModel = () => resolveModel(loadEmbedder(config, log));
  });
  const metrics = buildMetrics(config);
  const alerts = buildAlerts(config, log);
  const access =
    config.log.accessIntervalMs > 0
      ? accessLog(log.child({ component: 'access' }), config.log.accessIntervalMs)
      : undefined;
  const ops = buildOperations(config, db, log, [
    ...metricsObservers(metrics),
    ...alertsObservers(alerts),
    ...(access ? [access.observer] : []),
  ]);
  const tracer = tracing?.tracer;
  const cores = configs.map((c, i) => tenantCore(c, { log, db, model, ops, metrics, tracer }, policies[i]));
  // One reading of the live state for both: the metrics' gauges per scrape, the alerts per evaluation.
  const live = () => liveState({ cores, audit: ops.auditStats });
  metrics?.setSource(live);
  alerts?.setSource(live);
  const byTenant = new Map(cores.map((c) => [c.tenant, c]));
  /** Closes the store after every tenant's buffered events (and the audit trail) are written; flushes the spans. */
  const closeDb = async () => {
    for (const c of cores) c.flush();
    access?.close();
    ops.flush();
    db.close();
    void ops.close();
    await tracing?.shutdown();
  };
  /** Connects every tenant's upstreams, then loads the model; resolves when both are done (see Hub.ready). */
  const start = async (): Promise<void> => {
    const started = await Promise.all(cores.map((c) => c.start()));
    void Promise.all(started.map((s) => s.gate)).then(() => setImmediate(loadModel));
    await Promise.all(started.map((s) => s.ready));
    await model;
  };
  const home = cores[0] as TenantCore;
  return { log, db, ops, metrics, alerts, closeDb, cores, byTenant, home, start };
}

/**
 * Starts the hub: HTTP listens first (liveness answers at once), then upstreams connect while the
 * model loads; /mcp holds agents' first answers (see holdFirstAnswers) while /readyz says 503.
 */
export async function startHub(
  config: Config,
  options: ComposeOptions & { host?: string; port?: number } = {},
): Promise<Hub> {
  // The HTTP edge (fastify, the SDK's node adapter) is imported here, not at the top, so a sidecar
  // never pays for loading it before its upstreams start.
  const [{ assertSafeBind, buildHttpApp }, { createMcpEndpoint }, { createSseEdge }] = await Promise.all([
    import('./http/app.js'),
    import('./http/mcp-route.js'),
    import('./http/sse-edge.js'),
  ]);
  // The bind rule applies to the address actually bound (flag or file), checked before anything opens.
  const host = options.host ?? config.http.host;
  assertSafeBind(config, host);
  const { log, db, ops, metrics, alerts, closeDb, cores, byTenant, home, start } = await core(config, options);
  const { gateway, capabilities, experiments } = home;
  const { authenticator, keys, mesh } = buildIdentity(config, db, log);
  const route = (tenant: string) => {
    const c = byTenant.get(tenant);
    return c && { deps: c.agentDeps, notifier: c.notifier, startup: c.startup };
  };
  const endpoint = createMcpEndpoint(route, log);
  const sse = createSseEdge(route, log);
  let shuttingDown = false;
  const app = buildHttpApp({
    config,
    gateway,
    capabilities,
    experiments,
    tenants: {
      scope: (tenant) => byTenant.get(tenant),
      list: () =>
        cores.map((c) => ({
          name: c.tenant,
          servers: c.gateway.listServers().length,
          tools: c.gateway.catalog.tools.length,
          ready: c.gateway.ready,
        })),
      ready: () => cores.every((c) => c.gateway.ready),
    },
    endpoint,
    sse,
    log,
    isShuttingDown: () => shuttingDown,
    host,
    authenticator,
    keys,
    ops: opsPort(ops),
    admit: ops.admit,
    metrics,
    alerts,
  });
  let metricsPort: Awaited<ReturnType<typeof startMetricsListener>>;
  try {
    await app.listen({ host, port: options.port ?? config.http.port });
    metricsPort = await startMetricsListener(config, metrics, log);
  } catch (error) {
    // A port in use (the hub's or the metrics port): nothing upstream has started yet, so close what is
    // open (the listener that did bind, the store, the audit writer, the span exporter) and leave nothing behind.
    await app.close();
    await Promise.all([endpoint.close(), sse.close()]);
    await closeDb();
    throw error;
  }
  const port = (app.server.address() as AddressInfo).port;
  const url = `${config.http.tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}`;
  log.info({ url: `${url}/mcp`, tenants: cores.length }, 'hub listening');
  // Servers with `mesh` get the hub's URL and a key; the URL exists only now, and upstreams start just below.
  for (const c of cores) c.gateway.setMeshCredentials(meshCredentials(c.config, mesh, url));
  const ready = start();
  // Alerts start once start-up is over (Hub.ready): a server still making its first attempt is not down.
  void ready.catch(() => {}).then(() => alerts?.start(url));
  let closing: Promise<void> | undefined;
  return {
    gateway,
    capabilities,
    experiments,
    tenant: (name) => {
      const c = byTenant.get(name);
      return c && { gateway: c.gateway, capabilities: c.capabilities, experiments: c.experiments };
    },
    reload: (next) => reloadCores(cores, next, log, ops),
    url,
    port,
    ready,
    close: () =>
      (closing ??= (async () => {
        shuttingDown = true;
        await alerts?.close(); // first: servers closing now are no outage
        await ready.catch(() => {});
        for (const c of cores) c.stopTasks();
        await Promise.all(cores.map((c) => c.gateway.close()));
        await endpoint.close();
        await sse.close();
        await app.close();
        await metricsPort?.close();
        mesh.clear();
        await closeDb();
        log.info('hub stopped');
      })()),
  };
}

/** Applies a re-read config to every tenant that is still in it (experiments and pins). */
function reloadCores(cores: readonly TenantCore[], next: Config, log: Logger, ops: Operations): void {
  ops.recordAdmin(reloadEvent(next));
  for (const c of cores) {
    if (c.tenant !== DEFAULT_TENANT && !next.tenants.some((t) => t.name === c.tenant)) {
      log.warn({ tenant: c.tenant }, 'tenant removed from the config: it keeps running until a restart');
      continue;
    }
    c.reload(tenantConfig(next, c.tenant));
  }
}

/**
 * Starts the sidecar: one agent on this process's stdin/stdout, its opening exchange held (see
 * holdFirstAnswers). Only the owner's tenant (`auth.stdio.tenant`, else `default`) is started.
 */
export async function startSidecar(config: Config, options: ComposeOptions = {}): Promise<Sidecar> {
  const owner = sidecarPrincipal(config);
  const { log, ops, metrics, alerts, closeDb, cores, home, start } = await core(
    config,
    options,
    owner?.tenant ?? DEFAULT_TENANT,
  );
  const edge = serveAgentStdio(home.agentDeps, home.notifier, { startup: home.startup, principal: owner });
  const metricsPort = await startMetricsListener(config, metrics, log);
  const ready = start();
  void ready.catch(() => {}).then(() => alerts?.start()); // a sidecar has no URL of its own: links stay empty
  let closing: Promise<void> | undefined;
  return {
    gateway: home.gateway,
    reload: (next) => reloadCores(cores, next, log, ops),
    ready,
    close: () =>
      (closing ??= (async () => {
        await alerts?.close();
        await ready.catch(() => {});
        home.stopTasks();
        await home.gateway.close();
        await edge.close();
        await metricsPort?.close();
        await closeDb();
        log.info('sidecar stopped');
      })()),
  };
}

/** The admin event of a config reload (SIGHUP, or the file changed). */
function reloadEvent(next: Config): AuditEvent {
  return adminChange(DEFAULT_TENANT, 'switchboard', {
    action: 'config.reload',
    ...(next.source ? { source: next.source } : {}),
  });
}

/** What the /v1 audit and usage routes read (http/ops-routes.ts). */
function opsPort(ops: Operations): OpsPort {
  return {
    query: (filter, page) => ops.auditRepo.query(filter, page),
    verify: () => ops.auditRepo.verify(),
    usage: (request) => buildUsageReport(ops.usageRepo, ops.quotas.prices, ops.quotas.currency, request),
    recordAdmin: ops.recordAdmin,
  };
}
