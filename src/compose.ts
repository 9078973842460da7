/**
 * The composition root: the one place that builds the store, the gateway and the edges, and the
 * one place that knows the shutdown order (readiness off, drain with a deadline, close in reverse).
 * Tests and benchmarks start hubs and sidecars through these functions, exactly as the CLI does.
 */
import type { AddressInfo } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import type { Config } from './config/load.js';
import { Gateway } from './gateway/gateway.js';
import { buildHttpApp } from './http/app.js';
import { createMcpEndpoint } from './http/mcp-route.js';
import { ArgumentValidator } from './mcp/validate.js';
import { AgentNotifier } from './mcp/notifier.js';
import { serveAgentStdio } from './mcp/stdio.js';
import type { AgentServerDeps } from './mcp/agent-server.js';
import { openDb, type Db } from './store/db.js';
import { SqliteEmbeddingCache } from './store/embedding-cache.js';
import { SqliteExampleStore } from './store/examples-repo.js';
import { SqliteServerRegistry } from './store/servers-repo.js';
import { SqliteCompatStore } from './store/compat-repo.js';
import { SqliteExperimentStore } from './store/experiments-repo.js';
import { ExperimentRunner } from './gateway/experiments.js';
import { Capabilities } from './gateway/capabilities.js';
import { CapabilityIndex } from './index/capability-index.js';
import { TransformersEmbedder } from './index/embedder/transformers.js';
import { Bm25fIndex } from './index/lexical/bm25f.js';
import { tokenize } from './index/lexical/tokenize.js';
import { createVectorIndex, vectorKindFor } from './index/vector/factory.js';
import { FileVectorStore } from './index/vector/persist.js';
import { DEFAULT_DENSE_WEIGHT, DEFAULT_SCORER } from './router/calibration.js';
import type { Embedder } from './index/types.js';
import { createLogger, type Logger } from './telemetry/logger.js';
import { VERSION } from './version.js';

/** Options shared by both modes. */
export interface ComposeOptions {
  readonly log?: Logger;
  readonly env?: NodeJS.ProcessEnv;
}

/** A running hub (Streamable HTTP). */
export interface Hub {
  readonly gateway: Gateway;
  /** Capability routing (find_capability and its index). */
  readonly capabilities: Capabilities;
  /** A/B experiments. */
  readonly experiments: ExperimentRunner;
  /** Applies a re-read config: experiments and pins change at once (servers and the rest need a restart). */
  reload(config: Config): void;
  /** `http://host:port` the hub listens on. */
  readonly url: string;
  readonly port: number;
  /** Resolves when every initial upstream has had its first connection attempt. */
  readonly ready: Promise<void>;
  /** Graceful shutdown; idempotent. */
  close(): Promise<void>;
}

/** A running sidecar (stdio). */
export interface Sidecar {
  readonly gateway: Gateway;
  /** Applies a re-read config: experiments and pins change at once. */
  reload(config: Config): void;
  readonly ready: Promise<void>;
  close(): Promise<void>;
}

/** Loads the configured embedding model; without one (or if it fails to load) routing is lexical only. */
async function loadEmbedder(config: Config, log: Logger): Promise<Embedder | undefined> {
  const { model, modelsDir } = config.routing;
  if (model === 'none') return undefined;
  try {
    const embedder = await TransformersEmbedder.load({ model, modelsDir: resolve(modelsDir) });
    log.info({ model, dim: embedder.dim }, 'embedding model loaded');
    return embedder;
  } catch (error) {
    log.warn(
      { model, modelsDir, err: (error as Error).message },
      'embedding model could not be loaded; find_capability uses the lexical index only',
    );
    return undefined;
  }
}

/** The capability router: index (lexical + dense), scorer settings and learned examples. */
async function buildCapabilities(config: Config, gateway: Gateway, db: Db, log: Logger): Promise<Capabilities> {
  const { routing } = config;
  const embedder = await loadEmbedder(config, log);
  const index = new CapabilityIndex({
    lexical: new Bm25fIndex(),
    vectors: (dim, expectedSize) =>
      createVectorIndex({ dim, kind: routing.vectorIndex, expectedSize, hnswThreshold: routing.hnswThreshold }),
    vectorKind: (expectedSize) =>
      vectorKindFor({ dim: 0, kind: routing.vectorIndex, expectedSize, hnswThreshold: routing.hnswThreshold }),
    ...(config.store.path === ':memory:'
      ? {}
      : {
          persist: new FileVectorStore(join(dirname(resolve(config.store.path)), 'vectors'), (err, what) =>
            log.warn({ err: err.message }, `vector index: ${what} failed; it will be rebuilt`),
          ),
        }),
    ...(embedder ? { embedder } : {}),
    cache: new SqliteEmbeddingCache(db),
    tokenize: (text) => tokenize(text, { stem: true, stopwords: 'conversational' }),
  });
  return new Capabilities({
    gateway,
    index,
    examples: new SqliteExampleStore(db, routing.maxLearnedPerTool),
    options: {
      scorer: DEFAULT_SCORER,
      denseWeight: routing.denseWeight ?? DEFAULT_DENSE_WEIGHT,
      learning: routing.learning,
    },
    log: log.child({ component: 'router' }),
  });
}

async function core(config: Config, options: ComposeOptions) {
  const log = options.log ?? createLogger({ level: config.log.level });
  const db = openDb(config.store.path);
  const gateway = new Gateway({
    config,
    log,
    registry: new SqliteServerRegistry(db),
    compat: new SqliteCompatStore(db),
    ...(options.env ? { env: options.env } : {}),
  });
  const notifier = new AgentNotifier();
  gateway.onCatalogChange((change) => notifier.publish(change));
  const capabilities = await buildCapabilities(config, gateway, db, log);
  const experimentStore = new SqliteExperimentStore(db, {
    onError: (error) => log.error({ err: error.message }, 'recording experiment events failed'),
  });
  const experiments = new ExperimentRunner({
    store: experimentStore,
    log: log.child({ component: 'experiments' }),
    experiments: config.experiments,
    providers: (id) => capabilities.providers(id),
  });
  const agentDeps: AgentServerDeps = {
    gateway,
    capabilities,
    experiments,
    exposure: config.routing.exposure,
    validator: new ArgumentValidator(),
    maxRequestBytes: config.gateway.maxRequestBytes,
    version: VERSION,
  };
  /** Closes the store after the buffered experiment events are written. */
  const closeDb = () => {
    capabilities.flush();
    experimentStore.flush();
    db.close();
  };
  return { log, db, closeDb, gateway, notifier, agentDeps, capabilities, experiments };
}

/** Starts the hub: HTTP listens first (liveness answers at once), then upstreams connect. */
export async function startHub(
  config: Config,
  options: ComposeOptions & { host?: string; port?: number } = {},
): Promise<Hub> {
  const { log, closeDb, gateway, notifier, agentDeps, capabilities, experiments } = await core(config, options);
  const endpoint = createMcpEndpoint(agentDeps, notifier, log);
  let shuttingDown = false;
  const app = buildHttpApp({
    config,
    gateway,
    capabilities,
    experiments,
    endpoint,
    log,
    isShuttingDown: () => shuttingDown,
  });
  const host = options.host ?? config.http.host;
  await app.listen({ host, port: options.port ?? config.http.port });
  const port = (app.server.address() as AddressInfo).port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  log.info({ url: `${url}/mcp` }, 'hub listening');
  const ready = gateway.start();
  let closing: Promise<void> | undefined;
  return {
    gateway,
    capabilities,
    experiments,
    reload: (next) => {
      experiments.replace(next.experiments);
      gateway.setPins(next.pins);
    },
    url,
    port,
    ready,
    close: () =>
      (closing ??= (async () => {
        shuttingDown = true;
        await ready.catch(() => {});
        await gateway.close();
        await endpoint.close();
        await app.close();
        closeDb();
        log.info('hub stopped');
      })()),
  };
}

/** Starts the sidecar: one agent on this process's stdin/stdout. */
export async function startSidecar(config: Config, options: ComposeOptions = {}): Promise<Sidecar> {
  const { log, closeDb, gateway, notifier, agentDeps, experiments } = await core(config, options);
  const edge = serveAgentStdio(agentDeps, notifier);
  const ready = gateway.start();
  let closing: Promise<void> | undefined;
  return {
    gateway,
    reload: (next) => {
      experiments.replace(next.experiments);
      gateway.setPins(next.pins);
    },
    ready,
    close: () =>
      (closing ??= (async () => {
        await ready.catch(() => {});
        await gateway.close();
        await edge.close();
        closeDb();
        log.info('sidecar stopped');
      })()),
  };
}
