/**
 * Tracing of agent requests (in the chains only when `telemetry.tracing` is configured): one span per
 * agent request, a child of the agent's trace when it sent one (`_meta.traceparent`/`tracestate`
 * first, since every transport carries them, else the HTTP request's `traceparent` header), and
 * active while the request runs, so the pools' attempt spans, the fan-out branches' spans and the
 * traceparent sent upstream all descend from it, and log lines carry its ids.
 *
 * Placement: outermost, before audit. The span then covers everything the agent waits for (the
 * audit's own measuring included), its trace id exists before any stage runs (the audit event takes
 * it from `ctx.span`), and every stage, audit included, runs inside it. Audit outermost instead
 * would leave its own work and its refusals-as-thrown outside the trace for no gain.
 *
 * Attributes: rpc.system=mcp, rpc.method, switchboard.tenant and .agent at the start (mcp.resource.uri
 * for resources/read); at the end mcp.tool and mcp.server (the tool actually called: an experiment's
 * target), switchboard.pin, .arm, .experiment, .outcome and error.type; status ERROR for every outcome
 * but success. Kept to these: serialising each attribute for export costs about a microsecond per
 * span here, and the instance and retries are on the attempt spans. The span is named after the
 * method and, once resolved, the tool (`tools/call alpha__echo`): an unknown name from the agent never
 * becomes a span name. call_capability's chosen call runs the tool chain with the request's span in
 * its context: that chain's trace stage adds the chosen tool's attributes instead of a second span.
 */
import { context, SpanKind, trace, type Attributes, type Tracer } from '@opentelemetry/api';
import type { AuditOutcome } from '../../../core/audit-event.js';
import { ATTR, failSpan, remoteParent, type Span } from '../../../telemetry/trace-context.js';
import type { Stage } from '../chain.js';
import type { RequestContext, ToolResult } from '../context.js';
import { readToolResult, thrownOutcome } from './audit.js';

/** How a chain's answer reads as an outcome (as the audit stage reads it). */
type Reading<R> = (result: R) => { outcome: AuditOutcome; errorCode?: string | undefined };

const OK = { outcome: 'success' as const };

/** The trace stage of a chain whose answers are tool results (tools, meta-tools). */
export function toolTraceStage(tracer: Tracer): Stage<ToolResult> {
  return traceStage(tracer, readToolResult);
}

/** The trace stage of a chain (prompts, resources, completions: failures are thrown). */
export function traceStage<R>(tracer: Tracer, read: Reading<R> = () => OK): Stage<R> {
  return {
    name: 'trace',
    run(ctx, next) {
      if (ctx.span) return annotate(ctx, ctx.span, next);
      const parent = remoteParent(ctx.meta, ctx.sdk?.http?.req?.headers);
      const method = rpcMethod(ctx);
      const span = tracer.startSpan(
        method,
        { kind: SpanKind.SERVER, attributes: startAttributes(ctx, method) },
        parent,
      );
      ctx.span = span;
      return context.with(trace.setSpan(parent, span), () => settle(ctx, span, next, read));
    },
  };
}

async function settle<R>(ctx: RequestContext, span: Span, next: () => Promise<R>, read: Reading<R>): Promise<R> {
  try {
    const result = await next();
    finish(ctx, span, read(result));
    return result;
  } catch (error) {
    finish(ctx, span, thrownOutcome(error));
    throw error;
  } finally {
    span.end();
  }
}

/** A forwarded call (call_capability's choice): the request's span gets the chosen tool's attributes. */
async function annotate<R>(ctx: RequestContext, span: Span, next: () => Promise<R>): Promise<R> {
  try {
    return await next();
  } finally {
    span.setAttributes(targetAttributes(ctx));
  }
}

function finish(ctx: RequestContext, span: Span, reading: ReturnType<Reading<unknown>>): void {
  const outcome = ctx.deniedBy !== undefined ? 'denied' : reading.outcome;
  span.updateName(spanName(ctx));
  span.setAttributes(targetAttributes(ctx));
  span.setAttribute(ATTR.outcome, outcome);
  if (outcome !== 'success') failSpan(span, reading.errorCode ?? outcome);
}

const TOOL_METHODS = new Set(['tools/call', 'find_capability', 'call_capability', 'report_outcome']);

/** The MCP method on the wire (the meta-tools are tools/call). */
function rpcMethod(ctx: RequestContext): string {
  return TOOL_METHODS.has(ctx.method) ? 'tools/call' : ctx.method;
}

function spanName(ctx: RequestContext): string {
  if (ctx.method === 'tools/call') return ctx.tool ? `tools/call ${ctx.tool.id}` : 'tools/call';
  if (TOOL_METHODS.has(ctx.method)) return `tools/call ${ctx.method}`;
  if (ctx.method === 'prompts/get' && ctx.owner) return `prompts/get ${ctx.name}`;
  return ctx.method;
}

function startAttributes(ctx: RequestContext, method: string): Attributes {
  const attributes: Attributes = {
    [ATTR.rpcSystem]: 'mcp',
    [ATTR.rpcMethod]: method,
    [ATTR.tenant]: ctx.principal.tenant,
    [ATTR.agent]: ctx.units.agent,
  };
  if (ctx.method === 'resources/read') attributes[ATTR.resourceUri] = ctx.name;
  return attributes;
}

/** What the stages decided: the tool called, its server, pin and experiment arm. */
function targetAttributes(ctx: RequestContext): Attributes {
  const target = ctx.target ?? ctx.tool;
  const attributes: Attributes = {};
  if (target) {
    attributes[ATTR.tool] = target.id;
    attributes[ATTR.server] = target.server;
  } else if (ctx.owner) attributes[ATTR.server] = ctx.owner;
  if (ctx.pin) attributes[ATTR.pin] = ctx.pin;
  if (ctx.arm) {
    attributes[ATTR.arm] = ctx.arm.arm;
    attributes[ATTR.experiment] = ctx.arm.experiment;
  }
  return attributes;
}

/**
 * `stage` with a span of its own work (policy, limits): the span ends when the stage passes the
 * request on (or answers itself: a refusal, marked with `switchboard.refused` and the deciding
 * policies), so it times the decision, not the rest of the chain. `decides` says whether the stage
 * decides anything for this request (no span when not). Without a tracer, `stage` itself.
 */
export function stageSpan<R>(
  tracer: Tracer | undefined,
  stage: Stage<R>,
  decides?: (ctx: RequestContext) => boolean,
): Stage<R> {
  if (!tracer) return stage;
  return {
    name: stage.name,
    async run(ctx, next) {
      if (decides && !decides(ctx)) return stage.run(ctx, next);
      const span = tracer.startSpan(stage.name, { kind: SpanKind.INTERNAL });
      let passed = false;
      const pass = () => {
        passed = true;
        span.end();
        return next();
      };
      try {
        const result = await stage.run(ctx, pass);
        if (!passed) refused(ctx, span);
        return result;
      } catch (error) {
        if (!passed) refused(ctx, span);
        throw error;
      } finally {
        if (!passed) span.end();
      }
    },
  };
}

/**
 * An authorize stage with its span, for callers whose view is restricted: for a caller with the full
 * view the stage decides nothing (it passes at once), and a span per call would only cost.
 */
export function policySpan<R>(tracer: Tracer | undefined, stage: Stage<R>): Stage<R> {
  return stageSpan(tracer, stage, (ctx) => !ctx.view.full);
}

function refused(ctx: RequestContext, span: Span): void {
  span.setAttribute(ATTR.refused, true);
  if (ctx.deniedBy && ctx.deniedBy.length > 0) span.setAttribute(ATTR.policies, [...ctx.deniedBy]);
}

/** What a routing decision (find_capability, call_capability by need) puts on the request's span. */
export function noteDecision(
  ctx: RequestContext,
  found: { decisionId: string; confidence: number; confident: boolean; matches: readonly unknown[] },
): void {
  ctx.span?.setAttributes({
    [ATTR.decisionId]: found.decisionId,
    [ATTR.candidates]: found.matches.length,
    [ATTR.confidence]: found.confidence,
    [ATTR.confident]: found.confident,
  });
}
