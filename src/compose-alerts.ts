/**
 * Composition of the built-in alert engine (alerts/), one per process, when the config has an
 * `alerts` section (absent: nothing here is built, no observer, no timer).
 *
 * - Built before the tenant cores, like the metrics: its windows are an observer of the audit stage
 *   (the same AuditEvent as the audit trail, usage and metrics).
 * - Reads the gateway's live state through the same `liveState(...)` the metrics' gauges read
 *   (compose-metrics.ts), set once the cores exist (`setSource`).
 * - Started once start-up is over (every initial server has had its first connection attempt), so a
 *   server still connecting is not reported down; stopped first on shutdown (servers closing are
 *   not an outage), its queued notifications flushed within a bound.
 */
import type { Config } from './config/load.js';
import { AlertEngine, type Alert } from './alerts/engine.js';
import { Deliveries } from './alerts/deliver.js';
import { compileRule } from './alerts/rules.js';
import { AlertWindows } from './alerts/window.js';
import type { AuditObserver } from './mcp/pipeline/stages/audit.js';
import type { Logger } from './telemetry/logger.js';
import type { LiveState } from './telemetry/metrics.js';
import { VERSION } from './version.js';

/** How long shutdown waits for queued notifications. */
const FLUSH_MS = 2000;

/** The process's alert engine. */
export interface Alerts {
  /** The audit stage's observer that feeds the windows. */
  readonly observer: AuditObserver;
  /** Where the engine reads the gateway's live state (set once the cores exist). */
  setSource(read: () => LiveState): void;
  /** Starts evaluating every `alerts.evaluateEveryMs`; `externalUrl` is the hub's own URL (for links). */
  start(externalUrl?: string): void;
  /** Pending and firing alerts (GET /v1/alerts). */
  list(): Alert[];
  /** Stops evaluating and flushes queued notifications (bounded). Idempotent. */
  close(): Promise<void>;
}

/** The engine of `config.alerts`, or undefined when the section is absent. */
export function buildAlerts(config: Config, log: Logger): Alerts | undefined {
  const settings = config.alerts;
  if (!settings) return undefined;
  const alog = log.child({ component: 'alerts' });
  const windows = new AlertWindows();
  const rules = settings.rules.map((rule) => compileRule(rule, windows));
  let externalUrl = '';
  let read: (() => LiveState) | undefined;
  const deliveries = new Deliveries({
    receivers: settings.receivers,
    log: alog,
    externalUrl: () => externalUrl,
    userAgent: `switchboard/${VERSION}`,
  });
  const engine = new AlertEngine({
    rules,
    read: () => read?.(),
    notify: (n) => deliveries.send(n),
    log: alog,
  });
  let closing: Promise<void> | undefined;
  return {
    observer: (event) => windows.observe(event),
    setSource: (source) => (read = source),
    start: (url) => {
      if (closing) return;
      externalUrl = url ?? '';
      engine.start(settings.evaluateEveryMs);
      alog.info({ rules: rules.length, everyMs: settings.evaluateEveryMs }, 'alert engine started');
    },
    list: () => engine.list(),
    close: () =>
      (closing ??= (async () => {
        engine.stop();
        await deliveries.close(FLUSH_MS);
      })()),
  };
}

/** The audit stage's observers the alerts add (none when they are off). */
export function alertsObservers(alerts: Alerts | undefined): AuditObserver[] {
  return alerts ? [alerts.observer] : [];
}
