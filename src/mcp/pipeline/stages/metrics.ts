/**
 * Request metrics from the pipeline. Two parts:
 *
 * - `metricsObserver`: an observer of the audit stage (stages/audit.ts), fed the same AuditEvent as the
 *   audit writer and the quotas. Why not a stage of its own: the audit stage already measures each
 *   request once (latency, outcome, refusal code, server, answering instance, failover attempts), so a
 *   metrics stage would take a second clock reading and re-derive the same outcome, and the two could
 *   disagree; as an observer the cost is only the counter updates (no closure, no clock, no await),
 *   and audit, usage and metrics count the same requests by construction.
 * - `findMetricsStage`: find_capability's confidence and no-match count, the one thing the event does
 *   not carry; innermost in the find chain, so it sees only searches that ran (refusals and argument
 *   errors are counted by the observer, with their outcome).
 *
 * Cardinality: a tool label is a catalog tool's id only when the call resolved to one (the event names
 * its server); any other name an agent sends is "unknown". Prompts, resources and completions are
 * counted by method alone: resource URIs are unbounded. Latency histograms per tool observe only calls
 * that reached an instance, so refusals (fast) do not pull the percentiles down; they are in the
 * request histogram and in the call counter with instance "none".
 */
import type { AuditEvent, AuditOutcome } from '../../../core/audit-event.js';
import type { CounterSeries, HistogramSeries } from '../../../telemetry/families.js';
import type { Metrics } from '../../../telemetry/metrics.js';
import type { Stage } from '../chain.js';
import type { ToolResult } from '../context.js';
import type { AuditObserver } from './audit.js';

/** The label of a name that is not a catalog tool. */
export const UNKNOWN_TOOL = 'unknown';
/** The instance label of a call that reached no instance (refused, or none available). */
export const NO_INSTANCE = 'none';

/** A (tenant, method) or (tenant, server, instance, tool) series group: a counter per outcome, a histogram. */
interface Group {
  readonly labels: readonly string[];
  readonly outcomes: Partial<Record<AuditOutcome, CounterSeries>>;
  latency: HistogramSeries | undefined;
}

/**
 * Counts every agent request the audit stage saw. Series handles are cached by their label values
 * (the families never hash per update: see telemetry/families.ts), so a call costs two Map lookups.
 */
export function metricsObserver(metrics: Metrics): AuditObserver {
  const { requests, requestDuration, toolCalls, toolCallDuration, failovers, refusals } = metrics;
  const tenantLabels = metrics.tenantLabels;
  const byMethod = new Map<string, Group>();
  const byTool = new Map<string, Group>();
  const group = (groups: Map<string, Group>, values: string[]): Group => {
    const key = values.join('\u0000');
    let found = groups.get(key);
    if (!found) groups.set(key, (found = { labels: values, outcomes: {}, latency: undefined }));
    return found;
  };
  return (event: AuditEvent) => {
    const method = event.method;
    if (method === 'admin' || method === 'tasks') return;
    const tenant = event.tenant;
    const outcome = event.outcome;
    const seconds = event.latencyMs / 1000;
    const request = group(byMethod, tenantLabels ? [tenant, method] : [method]);
    (request.outcomes[outcome] ??= requests.series([...request.labels, outcome])).value++;
    requestDuration.observe((request.latency ??= requestDuration.series(request.labels)), seconds);
    if (method === 'tools/call' || method === 'call_capability') {
      // A server is named only when the call resolved to a catalog tool.
      const resolved = event.server !== undefined && event.tool !== undefined;
      const server = resolved ? event.server : UNKNOWN_TOOL;
      const tool = resolved ? event.tool : UNKNOWN_TOOL;
      const instance = event.instance;
      const at = instance ?? NO_INSTANCE;
      const call = group(byTool, tenantLabels ? [tenant, server, at, tool] : [server, at, tool]);
      (call.outcomes[outcome] ??= toolCalls.series([...call.labels, outcome])).value++;
      if (instance !== undefined)
        toolCallDuration.observe((call.latency ??= toolCallDuration.series(call.labels)), seconds);
      const attempts = event.detail?.attempts;
      if (Array.isArray(attempts))
        for (const failed of attempts.slice(0, -1) as string[])
          failovers.inc(
            tenantLabels ? { tenant, server, server_instance: failed } : { server, server_instance: failed },
          );
    }
    const reason = refusalReason(event);
    if (reason) refusals.inc(tenantLabels ? { tenant, method, reason } : { method, reason });
  };
}

/** Why a request was refused before upstream work, if it was. */
function refusalReason(event: AuditEvent): string | undefined {
  if (event.outcome === 'denied')
    return event.policies === undefined ? 'forbidden' : event.policies.length > 0 ? 'policy' : 'scope';
  if (event.outcome === 'limited') return event.errorCode === 'QUOTA_EXCEEDED' ? 'quota' : 'rate_limit';
  return undefined;
}

/** find_capability's confidence histogram and no-match counter (innermost in the find chain). */
export function findMetricsStage(metrics: Metrics): Stage<ToolResult> {
  const { findConfidence, findNoMatch } = metrics;
  return {
    name: 'metrics',
    async run(ctx, next) {
      const result = await next();
      const found = result.structuredContent as { confidence?: unknown; confident?: unknown } | undefined;
      if (result.isError !== true && typeof found?.confidence === 'number') {
        const labels = metrics.labels(ctx.principal.tenant, {});
        findConfidence.observe(labels, found.confidence);
        if (found.confident !== true) findNoMatch.inc(labels);
      }
      return result;
    },
  };
}
