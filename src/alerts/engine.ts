/**
 * The alert engine: evaluates every rule at a fixed interval and keeps each alert's state, with the
 * semantics of Prometheus' alerting rules and Alertmanager-style escalation.
 *
 * - A label set whose condition holds becomes a pending alert (`activeSince`); held for the rule's
 *   `forMs`, it fires (`forMs` 0: at once). A pending alert whose condition clears is dropped silently.
 * - Escalation: step i is delivered once, when the alert has been firing for the step's `afterMs`, to
 *   its receivers, at its severity (default the rule's); the alert's severity is then that step's.
 * - A firing alert whose condition clears sends one resolved notification to every receiver that had
 *   a firing one, and leaves the list.
 *
 * Delivery never blocks evaluation: notifications are handed to `notify`, which only queues them
 * (alerts/deliver.ts). The clock is injected, so tests step time; `start` runs evaluations on an
 * unref'd timer. State lives in memory: after a restart an alert whose condition still holds starts
 * pending again (and, firing, notifies again).
 */
import { createHash } from 'node:crypto';
import { ALERT_SEVERITIES, type AlertSeverity } from '../config/alerts-schema.js';
import type { Logger } from '../telemetry/logger.js';
import type { LiveState } from '../telemetry/metrics.js';
import type { AlertLabels, Rule } from './rules.js';

/** Alerts one rule holds at most (label sets past it are not tracked: bounded by servers anyway). */
export const MAX_ALERTS_PER_RULE = 1000;

/** One alert as GET /v1/alerts shows it. */
export interface Alert {
  /** Stable fingerprint of the rule and the labels (16 hex digits). */
  readonly id: string;
  readonly rule: string;
  readonly signal: string;
  /** The current severity (after escalation). */
  readonly severity: AlertSeverity;
  readonly state: 'pending' | 'firing';
  readonly labels: AlertLabels;
  readonly value: number;
  readonly summary: string;
  /** When the condition was first seen true (ISO). */
  readonly activeSince: string;
  readonly firingSince?: string;
  /** Escalation steps delivered so far. */
  readonly step: number;
  /** Receivers told so far, by name (never their URLs). */
  readonly notified: string[];
}

/** What a receiver is sent: one alert's firing or resolution. */
export interface Notification {
  readonly receiver: string;
  readonly status: 'firing' | 'resolved';
  readonly alert: Alert & {
    /** The rule's condition in words. */
    readonly description: string;
    /** When the condition cleared (resolved notifications only), ISO. */
    readonly resolvedAt?: string;
  };
}

/** What the engine needs. */
export interface AlertEngineDeps {
  readonly rules: readonly Rule[];
  /** The gateway's live state (undefined: not readable yet; the evaluation is skipped). */
  readonly read: () => LiveState | undefined;
  /** Queues a notification (must return at once). */
  readonly notify: (notification: Notification) => void;
  /** Epoch ms; default Date.now. */
  readonly now?: () => number;
  readonly log?: Logger;
}

/** One tracked alert. Severity, receivers told and summary follow from `step`, `labels` and `value`. */
interface State {
  readonly id: string;
  readonly rule: Rule;
  readonly labels: AlertLabels;
  value: number;
  readonly activeSince: number;
  firingSince: number | undefined;
  /** Escalation steps delivered so far. */
  step: number;
}

/** The engine (see the header). */
export class AlertEngine {
  readonly #deps: AlertEngineDeps;
  readonly #now: () => number;
  /** Per rule, alerts by id (insertion order: first seen first). */
  readonly #alerts = new Map<string, Map<string, State>>();
  #timer: NodeJS.Timeout | undefined;

  constructor(deps: AlertEngineDeps) {
    this.#deps = deps;
    this.#now = deps.now ?? Date.now;
    for (const rule of deps.rules) this.#alerts.set(rule.name, new Map());
  }

  /** Evaluates every rule once at the clock's now. */
  evaluate(): void {
    let state: LiveState | undefined;
    try {
      state = this.#deps.read();
    } catch (error) {
      // On a timer: a throw here would end the process.
      this.#deps.log?.error({ err: (error as Error).message }, 'alert evaluation could not read the live state');
      return;
    }
    if (!state) return;
    const now = this.#now();
    for (const rule of this.#deps.rules) {
      let matches;
      try {
        matches = rule.evaluate(state, now);
      } catch (error) {
        this.#deps.log?.error({ rule: rule.name, err: (error as Error).message }, 'alert rule evaluation failed');
        continue;
      }
      this.#apply(rule, matches, now);
    }
  }

  #apply(rule: Rule, matches: readonly { labels: AlertLabels; value: number }[], now: number): void {
    const alerts = this.#alerts.get(rule.name)!;
    const seen = new Set<string>();
    for (const { labels, value } of matches) {
      const id = fingerprint(rule.name, labels);
      seen.add(id);
      let alert = alerts.get(id);
      if (!alert) {
        if (alerts.size >= MAX_ALERTS_PER_RULE) continue;
        alert = { id, rule, labels, value, activeSince: now, firingSince: undefined, step: 0 };
        alerts.set(id, alert);
      }
      alert.value = value;
      if (alert.firingSince === undefined && now - alert.activeSince >= rule.forMs) alert.firingSince = now;
      if (alert.firingSince !== undefined) this.#escalate(alert, now);
    }
    for (const [id, alert] of alerts) {
      if (seen.has(id)) continue;
      alerts.delete(id);
      if (alert.firingSince === undefined) continue; // pending: dropped silently
      const resolved = { ...this.#view(alert), description: rule.description, resolvedAt: new Date(now).toISOString() };
      for (const receiver of resolved.notified) this.#deps.notify({ receiver, status: 'resolved', alert: resolved });
    }
  }

  /** Delivers every step whose time has come (in order; each once). */
  #escalate(alert: State, now: number): void {
    const steps = alert.rule.steps;
    while (alert.step < steps.length && now - alert.firingSince! >= steps[alert.step]!.afterMs) {
      const step = steps[alert.step]!;
      alert.step++;
      const firing = { ...this.#view(alert), description: alert.rule.description };
      for (const receiver of step.receivers) this.#deps.notify({ receiver, status: 'firing', alert: firing });
    }
  }

  /** Pending and firing alerts: firing first, then by severity, then oldest first. */
  list(): Alert[] {
    const all = [...this.#alerts.values()].flatMap((alerts) => [...alerts.values()]);
    const rank = (a: State) => ALERT_SEVERITIES.indexOf(severityOf(a));
    return all
      .sort(
        (a, b) =>
          Number(a.firingSince === undefined) - Number(b.firingSince === undefined) ||
          rank(a) - rank(b) ||
          a.activeSince - b.activeSince,
      )
      .map((a) => this.#view(a));
  }

  #view(a: State): Alert {
    return {
      id: a.id,
      rule: a.rule.name,
      signal: a.rule.signal,
      severity: severityOf(a),
      state: a.firingSince === undefined ? 'pending' : 'firing',
      labels: a.labels,
      value: a.value,
      // Built only when shown or sent, not at every evaluation.
      summary: a.rule.summary(a.labels, a.value),
      activeSince: new Date(a.activeSince).toISOString(),
      ...(a.firingSince !== undefined ? { firingSince: new Date(a.firingSince).toISOString() } : {}),
      step: a.step,
      notified: toldOf(a),
    };
  }

  /** Evaluates every `everyMs` on a timer that does not keep the process alive. Idempotent. */
  start(everyMs: number): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => this.evaluate(), everyMs);
    this.#timer.unref();
    this.evaluate();
  }

  /** Stops evaluating (alerts are kept as they are; nothing is sent). Idempotent. */
  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}

/** The severity of the last step delivered (the rule's before any). */
function severityOf(a: State): AlertSeverity {
  return a.step === 0 ? a.rule.severity : a.rule.steps[a.step - 1]!.severity;
}

/** The receivers of the steps delivered so far, each once, in the order first told. */
function toldOf(a: State): string[] {
  return [...new Set(a.rule.steps.slice(0, a.step).flatMap((s) => s.receivers))];
}

/** The alert's id: sha256 of the rule name and its labels in a fixed order, 16 hex digits. */
export function fingerprint(rule: string, labels: AlertLabels): string {
  const text = [rule, labels.tenant ?? '', labels.server ?? '', labels.instance ?? ''].join('\u0000');
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}
