/**
 * Alert rules: the configured rule compiled once (defaults of its signal, receivers per escalation
 * step, `where` patterns, its summary), and each signal's evaluation: which label sets hold the
 * condition now, with the value that made them. The signals mirror deploy/prometheus/alerts.yml and
 * read what the metrics read: the live state (`LiveState`, the one reading of the gateway the metrics
 * use too) and the windows of alerts/window.ts.
 *
 * Pure apart from the windows it samples into: no clock (the engine passes `now`), no I/O, no logging.
 */
import {
  ALERT_SIGNALS,
  type AlertRuleConfig,
  type AlertSeverity,
  type AlertSignal,
  type SignalSpec,
} from '../config/alerts-schema.js';
import { compileGlob, type GlobTest } from '../core/glob.js';
import type { LiveState } from '../telemetry/metrics.js';
import { quantileMs, sampleKey, UNKNOWN_SERVER, type AlertWindows } from './window.js';

/** The labels of one alert (which ones depends on the signal). */
export interface AlertLabels {
  readonly tenant?: string;
  readonly server?: string;
  readonly instance?: string;
}

/** A label set whose condition holds, and the signal's value for it. */
export interface Match {
  readonly labels: AlertLabels;
  readonly value: number;
}

/** One escalation step, compiled: when (after the alert started firing), whom, at what severity. */
export interface Step {
  readonly afterMs: number;
  readonly receivers: readonly string[];
  readonly severity: AlertSeverity;
}

/** A rule ready to evaluate. */
export interface Rule {
  readonly name: string;
  readonly signal: AlertSignal;
  readonly severity: AlertSeverity;
  readonly forMs: number;
  /** The notify shorthand as the first step at 0, then the escalation steps, in time order. */
  readonly steps: readonly Step[];
  /** The condition in words, e.g. "error_rate above 5% over 5m (at least 10 calls) for 1m". */
  readonly description: string;
  /** The summary of one alert of the rule (the configured text filled in, or the signal's own). */
  summary(labels: AlertLabels, value: number): string;
  /** The label sets whose condition holds at `now` (samples live counters into the windows first). */
  evaluate(state: LiveState, now: number): Match[];
}

/** Compiles a configured rule over `windows` (which it registers the windows it reads in). */
export function compileRule(config: AlertRuleConfig, windows: AlertWindows): Rule {
  const signal = config.signal as AlertSignal; // the schema checked it
  const spec: SignalSpec = ALERT_SIGNALS[signal];
  const above = config.above ?? spec.aboveDefault ?? 0;
  const windowMs = config.windowMs ?? spec.windowMs ?? 0;
  const minCalls = config.minCalls ?? spec.minCalls ?? 0;
  const where = {
    tenant: globOf(config.where?.tenant),
    server: globOf(config.where?.server),
    instance: globOf(config.where?.instance),
  };
  const matches = (labels: AlertLabels) =>
    (!where.tenant || where.tenant(labels.tenant ?? '')) &&
    (!where.server || where.server(labels.server ?? '')) &&
    (!where.instance || where.instance(labels.instance ?? ''));
  const severity = config.severity;
  const steps: Step[] = [
    ...(config.notify ? [{ afterMs: 0, receivers: config.notify, severity }] : []),
    ...(config.escalate ?? []).map((s) => ({
      afterMs: s.afterMs,
      receivers: s.notify,
      severity: s.severity ?? severity,
    })),
  ];
  const read = signalReader(signal, { above, windowMs, minCalls }, windows);
  const show = (value: number) => formatValue(spec.threshold, value);
  const template = config.summary;
  return {
    name: config.name,
    signal,
    severity,
    forMs: config.forMs,
    steps,
    description: describe(signal, spec, { above, windowMs, minCalls, forMs: config.forMs }),
    summary: (labels, value) =>
      template
        ? template.replace(/\{(\w+)\}/g, (_, key: string) =>
            key === 'rule' ? config.name : key === 'value' ? show(value) : (labels[key as keyof AlertLabels] ?? ''),
          )
        : defaultSummary(signal, labels, show(value), duration(windowMs)),
    evaluate: (state, now) => read(state, now).filter((m) => matches(m.labels)),
  };
}

type Reader = (state: LiveState, now: number) => Match[];

/** How a signal is read: its condition over the live state and the windows. */
function signalReader(
  signal: AlertSignal,
  t: { above: number; windowMs: number; minCalls: number },
  windows: AlertWindows,
): Reader {
  const { above, windowMs, minCalls } = t;
  switch (signal) {
    case 'server_down':
      return (state) =>
        state.tenants.flatMap((tn) =>
          tn.servers
            .filter((s) => !s.up)
            .map((s) => ({ labels: { tenant: tn.tenant, server: s.server }, value: s.instances.length })),
        );
    case 'error_rate': {
      const calls = windows.calls(windowMs);
      return (_state, now) =>
        calls
          .totals(now)
          .filter((c) => c.server !== UNKNOWN_SERVER && c.calls >= minCalls && c.errors / c.calls > above)
          .map((c) => ({ labels: { tenant: c.tenant, server: c.server }, value: c.errors / c.calls }));
    }
    case 'latency_p95': {
      const calls = windows.calls(windowMs);
      return (_state, now) =>
        calls.totals(now).flatMap((c) => {
          const reached = c.latency.reduce((a, b) => a + b, 0);
          const p95 = quantileMs(c.latency);
          if (c.server === UNKNOWN_SERVER || reached < minCalls || p95 === undefined || p95 <= above) return [];
          return [{ labels: { tenant: c.tenant, server: c.server }, value: p95 }];
        });
    }
    case 'circuit_flapping': {
      const opens = windows.samples('circuit_opens', windowMs);
      return (state, now) => {
        const current: Match[] = [];
        for (const tn of state.tenants)
          for (const s of tn.servers)
            for (const i of s.instances) {
              const labels = [tn.tenant, s.server, i.instance];
              opens.record(labels, now, i.circuitOpens);
              current.push({
                labels: { tenant: tn.tenant, server: s.server, instance: i.instance },
                value: i.circuitOpens,
              });
            }
        return increases(current, opens.range(now), above, (l) => [l.tenant!, l.server!, l.instance!]);
      };
    }
    case 'catalog_shrank': {
      const tools = windows.samples('catalog_tools', windowMs);
      return (state, now) => {
        for (const tn of state.tenants) tools.record([tn.tenant], now, tn.catalog.tools);
        const range = tools.range(now);
        return state.tenants.flatMap((tn) => {
          const max = range.get(sampleKey([tn.tenant]))?.max ?? 0;
          const lost = max > 0 ? 1 - tn.catalog.tools / max : 0;
          return lost > above ? [{ labels: { tenant: tn.tenant }, value: lost }] : [];
        });
      };
    }
    case 'no_match_rate': {
      const finds = windows.finds(windowMs);
      return (_state, now) =>
        finds
          .totals(now)
          .filter((f) => f.finds >= minCalls && f.noMatch / f.finds > above)
          .map((f) => ({ labels: { tenant: f.tenant }, value: f.noMatch / f.finds }));
    }
    case 'audit_queue':
      return (state) =>
        state.audit && state.audit.buffered > above ? [{ labels: {}, value: state.audit.buffered }] : [];
    case 'audit_dropped': {
      const dropped = windows.samples('audit_dropped', windowMs);
      return (state, now) => {
        if (!state.audit) return [];
        dropped.record([], now, state.audit.dropped);
        return increases([{ labels: {}, value: state.audit.dropped }], dropped.range(now), above, () => []);
      };
    }
  }
}

/** Counters' increase over the window (current value minus the smallest sampled in it), above `above`. */
function increases(
  current: readonly Match[],
  range: Map<string, { min: number; max: number }>,
  above: number,
  keyOf: (labels: AlertLabels) => string[],
): Match[] {
  return current.flatMap((m) => {
    const min = range.get(sampleKey(keyOf(m.labels)))?.min ?? m.value;
    const increase = Math.max(0, m.value - min); // a counter that restarted (server re-added) counts from 0
    return increase > above ? [{ labels: m.labels, value: increase }] : [];
  });
}

function defaultSummary(signal: AlertSignal, l: AlertLabels, value: string, window: string): string {
  const tenant = `(tenant ${l.tenant})`;
  switch (signal) {
    case 'server_down':
      return `MCP server ${l.server} is down ${tenant}`;
    case 'error_rate':
      return `${l.server}: ${value} of tool calls fail ${tenant}`;
    case 'latency_p95':
      return `${l.server}: p95 tool call latency ${value} ${tenant}`;
    case 'circuit_flapping':
      return `${l.server}/${l.instance}: circuit opened ${value} times in ${window} ${tenant}`;
    case 'catalog_shrank':
      return `The catalog lost ${value} of its tools within ${window} ${tenant}`;
    case 'no_match_rate':
      return `${value} of find_capability searches find no match ${tenant}`;
    case 'audit_queue':
      return `${value} audit events are waiting to be written`;
    case 'audit_dropped':
      return `${value} audit events were dropped within ${window}`;
  }
}

function describe(
  signal: AlertSignal,
  spec: SignalSpec,
  t: { above: number; windowMs: number; minCalls: number; forMs: number },
): string {
  const parts: string[] = [signal];
  if (spec.threshold !== 'none') parts.push(`above ${formatValue(spec.threshold, t.above)}`);
  if (spec.windowMs !== undefined) parts.push(`over ${duration(t.windowMs)}`);
  if (spec.minCalls !== undefined)
    parts.push(`(at least ${t.minCalls} ${signal === 'no_match_rate' ? 'searches' : 'calls'})`);
  if (t.forMs > 0) parts.push(`for ${duration(t.forMs)}`);
  return parts.join(' ');
}

/** A value as a person reads it: fractions as percentages, latencies in ms, counts as integers. */
export function formatValue(kind: SignalSpec['threshold'], value: number): string {
  if (kind === 'fraction') return `${Number((value * 100).toFixed(1))}%`;
  if (kind === 'ms') return `${Math.round(value)} ms`;
  return String(Math.round(value));
}

/** `90000` -> "1m30s". */
export function duration(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  let s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  return `${h ? `${h}h` : ''}${m ? `${m}m` : ''}${s ? `${s}s` : ''}`;
}

/** A `where` pattern: `*` matches any run of characters, nothing else is special. */
function globOf(pattern: string | undefined): GlobTest | undefined {
  return pattern === undefined ? undefined : compileGlob(pattern);
}
