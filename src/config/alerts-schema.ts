/**
 * The `alerts` section: the built-in alert engine for installs without Prometheus (alerts/). Absent:
 * the engine is off and nothing of it is built. Rules are evaluated every `evaluateEveryMs` over the
 * same signals as deploy/prometheus/alerts.yml; each rule names a signal, its threshold, how long
 * the condition must hold (`forMs`), a severity and who is told when (`notify`, `escalate`).
 *
 * Every problem is reported at its path, together with the rest of the file's: an unknown signal or
 * receiver with a "did you mean", a threshold missing where the signal needs one (or given where it
 * has none), escalation steps out of order, a rule that tells no one. Lists are bounded so a
 * generated file cannot make evaluation or delivery unbounded.
 */
import { z } from 'zod';
import { closestKey, strictObject as strict } from './keys.js';

/** What a signal's `above` is measured in: none (no threshold), a fraction 0..1, milliseconds or a count. */
export type ThresholdKind = 'none' | 'fraction' | 'ms' | 'count';

/** A label an alert can carry (which of them depends on the signal). */
export type AlertLabel = 'tenant' | 'server' | 'instance';

/** What one signal is about, and which of a rule's settings apply to it. */
export interface SignalSpec {
  /** The labels of each alert it yields (one alert per distinct set). */
  readonly labels: readonly AlertLabel[];
  readonly threshold: ThresholdKind;
  /** `above` when the rule gives none (absent: the rule must give it, unless threshold is none). */
  readonly aboveDefault?: number;
  /** The window's default (absent: the signal is read as it is now, and a rule may not give windowMs). */
  readonly windowMs?: number;
  /** Fewest events in the window before the rate means anything (absent: minCalls does not apply). */
  readonly minCalls?: number;
}

/**
 * The closed list of signals, mirroring deploy/prometheus/alerts.yml (see alerts/rules.ts for how each
 * is evaluated).
 */
export const ALERT_SIGNALS = {
  /** No instance of the server can take calls (every one disconnected or its circuit open). */
  server_down: { labels: ['tenant', 'server'], threshold: 'none' },
  /** Failed calls (isError results, upstream failures) among the calls not refused, over the window. */
  error_rate: { labels: ['tenant', 'server'], threshold: 'fraction', windowMs: 300_000, minCalls: 10 },
  /** The 95th percentile of the latency of calls that reached an instance, in ms, over the window. */
  latency_p95: { labels: ['tenant', 'server'], threshold: 'ms', windowMs: 300_000, minCalls: 10 },
  /** Times an instance's circuit opened within the window. */
  circuit_flapping: { labels: ['tenant', 'server', 'instance'], threshold: 'count', windowMs: 900_000 },
  /** The fraction of the catalog's tools lost against its largest size within the window. */
  catalog_shrank: { labels: ['tenant'], threshold: 'fraction', windowMs: 1_800_000 },
  /** find_capability searches with no confident match among those that ran, over the window. */
  no_match_rate: { labels: ['tenant'], threshold: 'fraction', windowMs: 900_000, minCalls: 10 },
  /** Audit events buffered, not yet written. */
  audit_queue: { labels: [], threshold: 'count' },
  /** Audit events dropped within the window. */
  audit_dropped: { labels: [], threshold: 'count', aboveDefault: 0, windowMs: 300_000 },
} as const satisfies Record<string, SignalSpec>;

/** A signal's name. */
export type AlertSignal = keyof typeof ALERT_SIGNALS;
const SIGNAL_NAMES = Object.keys(ALERT_SIGNALS) as AlertSignal[];

/** Severities, most urgent first. */
export const ALERT_SEVERITIES = ['critical', 'warning', 'info'] as const;
export type AlertSeverity = (typeof ALERT_SEVERITIES)[number];

/** Placeholders a rule's `summary` may use. */
export const SUMMARY_PLACEHOLDERS = ['rule', 'tenant', 'server', 'instance', 'value'] as const;

/** Bounds on the lists of the section. */
export const ALERT_LIMITS = { rules: 200, receivers: 50, steps: 10, notify: 20, headers: 20 } as const;

const DAY_MS = 86_400_000;
const name = z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'use 1 to 64 letters, digits, ".", "_" or "-"');
const glob = z.string().min(1, 'give a name or a pattern ("*" matches any run of characters)').max(200);
const severity = z.enum(ALERT_SEVERITIES, { error: `severity is one of ${ALERT_SEVERITIES.join(', ')}` });
const receiverList = z
  .array(name)
  .min(1, 'name at least one receiver')
  .max(ALERT_LIMITS.notify, `at most ${ALERT_LIMITS.notify} receivers`);

/** A webhook: Alertmanager's webhook format (v4) or a Slack-compatible message. */
const webhookSchema = strict({
  url: z
    .string()
    .refine(
      (url) => URL.canParse(url) && /^https?:$/.test(new URL(url).protocol),
      'an http(s) URL, e.g. https://hooks.slack.com/services/...',
    ),
  format: z.enum(['alertmanager', 'slack'], { error: 'format is "alertmanager" or "slack"' }),
  /** Sent with every request (e.g. Authorization). Values are secrets: never logged. */
  headers: z
    .record(z.string().min(1).max(200), z.string().max(4096))
    .refine((h) => Object.keys(h).length <= ALERT_LIMITS.headers, `at most ${ALERT_LIMITS.headers} headers`)
    .default({}),
  /** Per attempt. */
  timeoutMs: z.number().int().min(100).max(60_000).default(5000),
});

/** One receiver: a webhook, or the gateway's own log. */
const receiverSchema = strict({ webhook: webhookSchema.optional(), log: strict({}).optional() }).superRefine(
  (receiver, ctx) => {
    const kinds = [receiver.webhook, receiver.log].filter((k) => k !== undefined).length;
    if (kinds !== 1)
      ctx.addIssue({
        code: 'custom',
        message: 'a receiver is either { webhook: { url, format } } or { log: {} }',
      });
  },
);

/** One escalation step: `afterMs` after the alert started firing, tell `notify`. */
const stepSchema = strict({
  afterMs: z
    .number()
    .int('afterMs is a whole number of milliseconds')
    .min(0)
    .max(7 * DAY_MS),
  notify: receiverList,
  /** The alert's severity from this step on (default: the rule's). */
  severity: severity.optional(),
});

/** One rule. */
const ruleSchema = strict({
  /** Unique; the alert's name (`alertname`). */
  name,
  signal: z.string().min(1).max(64),
  /** The threshold: the condition holds while the signal is above it. */
  above: z.number().min(0, 'above is 0 or more').optional(),
  windowMs: z
    .number()
    .int()
    .min(1000, 'windowMs is at least 1000')
    .max(DAY_MS, 'windowMs is at most one day')
    .optional(),
  minCalls: z.number().int().min(1, 'minCalls is at least 1').optional(),
  /** How long the condition must hold before the alert fires (0: at once). */
  forMs: z.number().int().min(0).max(DAY_MS).default(0),
  severity: severity.default('warning'),
  /** Only label sets matching every field given. */
  where: strict({ tenant: glob.optional(), server: glob.optional(), instance: glob.optional() }).optional(),
  /** The notification's text; {rule}, {tenant}, {server}, {instance} and {value} are filled in. */
  summary: z
    .string()
    .min(1)
    .max(500)
    .superRefine((text, ctx) => {
      for (const [, key] of text.matchAll(/\{(\w*)\}/g))
        if (!(SUMMARY_PLACEHOLDERS as readonly string[]).includes(key ?? ''))
          ctx.addIssue({
            code: 'custom',
            message: `unknown placeholder {${key}}: use ${SUMMARY_PLACEHOLDERS.map((p) => `{${p}}`).join(', ')}`,
          });
    })
    .optional(),
  /** Receivers told as soon as the alert fires (a first step at 0). */
  notify: receiverList.optional(),
  /** Receivers told later while the alert keeps firing. */
  escalate: z.array(stepSchema).min(1).max(ALERT_LIMITS.steps, `at most ${ALERT_LIMITS.steps} steps`).optional(),
});

/** A rule as configured (defaults applied). */
export type AlertRuleConfig = z.infer<typeof ruleSchema>;
/** A receiver as configured. */
export type ReceiverConfig = z.infer<typeof receiverSchema>;
/** A webhook receiver's settings. */
export type WebhookConfig = z.infer<typeof webhookSchema>;

/** The `alerts` section. */
export const alertsSchema = strict({
  evaluateEveryMs: z.number().int().min(100).max(600_000).default(15_000),
  receivers: z
    .record(name, receiverSchema)
    .refine((r) => Object.keys(r).length <= ALERT_LIMITS.receivers, `at most ${ALERT_LIMITS.receivers} receivers`)
    .default({}),
  rules: z.array(ruleSchema).max(ALERT_LIMITS.rules, `at most ${ALERT_LIMITS.rules} rules`).default([]),
}).superRefine((alerts, ctx) => {
  const receivers = Object.keys(alerts.receivers);
  const seen = new Map<string, number>();
  alerts.rules.forEach((rule, i) => {
    const at = (...path: (string | number)[]) => ['rules', i, ...path];
    const issue = (path: (string | number)[], message: string) => ctx.addIssue({ code: 'custom', path, message });
    const first = seen.get(rule.name);
    if (first !== undefined)
      issue(at('name'), `rule name "${rule.name}" is already used by rules[${first}]: give each rule its own name`);
    else seen.set(rule.name, i);
    const checkReceivers = (list: readonly string[], path: (string | number)[]) =>
      list.forEach((r, j) => {
        if (receivers.includes(r)) return;
        const close = closestKey(r, receivers);
        issue(
          [...path, j],
          `no receiver "${r}"${close ? `; did you mean "${close}"?` : receivers.length ? ` (receivers: ${receivers.join(', ')})` : ' (alerts.receivers is empty)'}`,
        );
      });
    if (rule.notify) checkReceivers(rule.notify, at('notify'));
    rule.escalate?.forEach((step, j) => {
      checkReceivers(step.notify, at('escalate', j, 'notify'));
      const previous = j > 0 ? rule.escalate?.[j - 1]?.afterMs : rule.notify ? 0 : undefined;
      if (previous !== undefined && step.afterMs <= previous)
        issue(
          at('escalate', j, 'afterMs'),
          `afterMs must be greater than the step before's (${previous}${j === 0 ? ': notify is a step at 0' : ''})`,
        );
    });
    if (!rule.notify && !rule.escalate)
      issue(at(), 'a rule must tell someone: give notify (receivers told when it fires) or escalate (steps)');
    const spec = (ALERT_SIGNALS as Record<string, SignalSpec>)[rule.signal];
    if (!spec) {
      const close = closestKey(rule.signal, SIGNAL_NAMES);
      issue(
        at('signal'),
        `unknown signal "${rule.signal.slice(0, 64)}"${close ? `; did you mean "${close}"?` : ''} (signals: ${SIGNAL_NAMES.join(', ')})`,
      );
      return;
    }
    if (spec.threshold === 'none' && rule.above !== undefined)
      issue(at('above'), `${rule.signal} has no threshold: remove above`);
    if (spec.threshold !== 'none' && rule.above === undefined && spec.aboveDefault === undefined)
      issue(at('above'), `${rule.signal} needs above (${thresholdWords(spec.threshold)})`);
    if (spec.threshold === 'fraction' && rule.above !== undefined && rule.above >= 1)
      issue(at('above'), `${rule.signal}'s above is a fraction below 1 (0.05 = 5%)`);
    if (spec.windowMs === undefined && rule.windowMs !== undefined)
      issue(at('windowMs'), `${rule.signal} is read as it is now: remove windowMs`);
    if (spec.minCalls === undefined && rule.minCalls !== undefined)
      issue(at('minCalls'), `minCalls applies only to error_rate, latency_p95 and no_match_rate`);
    for (const label of ['tenant', 'server', 'instance'] as const)
      if (rule.where?.[label] !== undefined && !(spec.labels as readonly string[]).includes(label))
        issue(at('where', label), `${rule.signal} has no ${label} label`);
  });
});

/** The `alerts` section, validated. */
export type AlertsConfig = z.infer<typeof alertsSchema>;

function thresholdWords(kind: ThresholdKind): string {
  if (kind === 'fraction') return 'a fraction: 0.05 = 5%';
  if (kind === 'ms') return 'milliseconds';
  return 'a count';
}

/**
 * Rules whose `where.tenant` names (without a pattern) a tenant the file does not configure: they could
 * never match. Checked with the rest of the file (config/load.ts), where the tenants are known.
 */
export function alertTenantIssues(
  alerts: AlertsConfig | undefined,
  tenants: readonly string[],
): { path: string; message: string }[] {
  if (!alerts) return [];
  return alerts.rules.flatMap((rule, i) => {
    const tenant = rule.where?.tenant;
    if (tenant === undefined || tenant.includes('*') || tenants.includes(tenant)) return [];
    return [
      {
        path: `alerts.rules[${i}].where.tenant`,
        message: `no tenant "${tenant}" is configured (tenants: ${tenants.join(', ')})`,
      },
    ];
  });
}
