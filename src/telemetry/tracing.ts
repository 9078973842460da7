/**
 * OpenTelemetry tracing, set up from `telemetry.tracing`: a tracer provider with a parent-based ratio
 * sampler (a call whose agent sent a sampled traceparent is always kept), the service's resource
 * (`service.name`, `service.version`), and a BatchSpanProcessor exporting over OTLP/HTTP (JSON) to the
 * configured endpoint. The composition root imports this module only when tracing is configured, so
 * without it the SDK is never loaded and no span is made (see trace-context.ts for the API side).
 *
 * Decisions:
 * - The provider is not registered globally: its tracer is handed to what makes spans (the pipeline,
 *   the gateway's pools), so a hub without tracing runs no span code at all, and two hubs in one
 *   process (tests, benchmarks) each export their own spans.
 * - The context manager is global, as the API requires (one AsyncLocalStorage follows every async
 *   path: the SDK client's fetch reads the active span to set the traceparent header, log lines read
 *   it for their trace ids). Ours is the few lines below, on node:async_hooks, rather than a transitive
 *   package. A process that already has one keeps it; `shutdown()` removes only one this set up.
 * - Export failures (collector down) are logged once per streak, at warn, never per span.
 * - `shutdown()` flushes what is buffered, then stops the exporter; idempotent.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { context, ROOT_CONTEXT, type Context, type ContextManager, type Tracer } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  type ReadableSpan,
  type SpanExporter,
} from '@opentelemetry/sdk-trace-base';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import type { Logger } from './logger.js';

/** `telemetry.tracing` as config/telemetry-schema.ts parses it (telemetry/ imports no other layer). */
export interface TracingConfig {
  readonly endpoint: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly sampler: { readonly ratio: number };
  readonly serviceName: string;
}

/** A running tracing setup. */
export interface Tracing {
  /** The tracer every span of this process is made with. */
  readonly tracer: Tracer;
  /** Exports every finished span now (tests, benchmarks). */
  flush(): Promise<void>;
  /** Flushes, then stops exporting; idempotent. */
  shutdown(): Promise<void>;
}

/** What tracing is started with besides its config. */
export interface TracingOptions {
  /** The gateway's version (`service.version`). */
  readonly version: string;
  readonly log: Logger;
}

/** Starts tracing as configured; undefined (nothing set up, the API stays a no-op) without a config. */
export function startTracing(config: TracingConfig | undefined, options: TracingOptions): Tracing | undefined {
  if (!config) return undefined;
  const { log } = options;
  const exporter = loggedExporter(new OTLPTraceExporter({ url: config.endpoint, headers: { ...config.headers } }), log);
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({
      [ATTR_SERVICE_NAME]: config.serviceName,
      [ATTR_SERVICE_VERSION]: options.version,
    }),
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(config.sampler.ratio) }),
    spanProcessors: [new BatchSpanProcessor(exporter)],
  });
  const manager = new AsyncContextManager();
  const ownsContext = context.setGlobalContextManager(manager);
  log.info(
    { endpoint: config.endpoint, ratio: config.sampler.ratio, service: config.serviceName },
    'tracing: exporting spans over OTLP/HTTP',
  );
  let stopped: Promise<void> | undefined;
  return {
    tracer: provider.getTracer('switchboard', options.version),
    flush: () => provider.forceFlush(),
    shutdown: () =>
      (stopped ??= (async () => {
        try {
          await provider.shutdown();
        } finally {
          if (ownsContext) context.disable();
        }
      })()),
  };
}

/** The exporter, with failures logged once until an export succeeds again. */
function loggedExporter(inner: SpanExporter, log: Logger): SpanExporter {
  let failing = false;
  return {
    export(spans: ReadableSpan[], done) {
      inner.export(spans, (result) => {
        const failed = Number(result.code) !== 0; // ExportResultCode.SUCCESS is 0
        if (failed && !failing)
          log.warn({ err: result.error?.message, spans: spans.length }, 'tracing: exporting spans failed');
        failing = failed;
        done(result);
      });
    },
    shutdown: () => inner.shutdown(),
    ...(inner.forceFlush ? { forceFlush: () => inner.forceFlush!() } : {}),
  };
}

/** The API's context manager on one AsyncLocalStorage (what `context.with` and `context.active` use). */
class AsyncContextManager implements ContextManager {
  readonly #storage = new AsyncLocalStorage<Context>();

  active(): Context {
    return this.#storage.getStore() ?? ROOT_CONTEXT;
  }

  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(
    ctx: Context,
    fn: F,
    thisArg?: ThisParameterType<F>,
    ...args: A
  ): ReturnType<F> {
    const run = thisArg === undefined ? fn : (fn.bind(thisArg) as F);
    return this.#storage.run(ctx, run, ...args);
  }

  bind<T>(ctx: Context, target: T): T {
    if (typeof target !== 'function') return target;
    const fn = target as unknown as (...args: unknown[]) => unknown;
    return ((...args: unknown[]) => this.#storage.run(ctx, fn, ...args)) as T;
  }

  enable(): this {
    return this;
  }

  disable(): this {
    this.#storage.disable();
    return this;
  }
}
