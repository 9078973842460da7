/**
 * The `telemetry` section: OpenTelemetry tracing (off unless an OTLP/HTTP endpoint is named) and
 * Prometheus metrics (on by default at `GET /metrics`, with the same auth as `/v1`, and on a port of
 * its own when `metrics.port` is set). See telemetry/tracing.ts and telemetry/metrics.ts.
 */
import { z } from 'zod';
import { strictObject as strict } from './keys.js';

/** Tracing: spans exported over OTLP/HTTP (JSON) to `endpoint`, sampled at `sampler.ratio`. */
export const tracingSchema = strict({
  /** The OTLP/HTTP traces URL, e.g. http://127.0.0.1:4318/v1/traces. */
  endpoint: z
    .string()
    .refine(
      (url) => URL.canParse(url) && /^https?:$/.test(new URL(url).protocol),
      'an http(s) URL, e.g. http://127.0.0.1:4318/v1/traces',
    ),
  /** Headers sent with every export (e.g. an API key of the collector). Values are secrets: never logged. */
  headers: z.record(z.string(), z.string()).default({}),
  /** Parent-based: a call whose agent sent a sampled traceparent is always kept; others at this ratio. */
  sampler: strict({ ratio: z.number().min(0).max(1).default(1) }).prefault({}),
  serviceName: z.string().min(1).max(100).default('switchboard'),
});

/** Metrics: Prometheus text format at /metrics. */
export const metricsSchema = strict({
  enabled: z.boolean().default(true),
  /** Also serve /metrics on this port (loopback host of the hub), without auth, e.g. for a local scraper. */
  port: z.number().int().min(1).max(65_535).optional(),
  /** The address of that port's listener: loopback unless the operator opens it to a remote scraper. */
  host: z.string().min(1).default('127.0.0.1'),
  /** Label series by tenant (switch off to bound cardinality with many tenants). */
  tenantLabels: z.boolean().default(true),
}).prefault({});

/** The `telemetry` section. */
export const telemetrySchema = strict({
  /** Absent: tracing off (the API is a no-op, costing nothing). */
  tracing: tracingSchema.optional(),
  metrics: metricsSchema,
}).prefault({});

export type TracingConfig = z.infer<typeof tracingSchema>;
export type MetricsConfig = z.infer<typeof metricsSchema>;
export type TelemetryConfig = z.infer<typeof telemetrySchema>;
