/**
 * Delivery of alert notifications to the configured receivers: webhooks in Alertmanager's webhook
 * format (version 4) or a Slack-compatible message, and the gateway's own log.
 *
 * - Never blocks evaluation: `send` appends to the receiver's queue (bounded; a notification past the
 *   bound is dropped with a warning) and returns. Each receiver has one worker that sends its queue in
 *   order, so a resolution never overtakes its firing, and a slow or hanging receiver delays no other.
 * - Each attempt has the receiver's timeout. Network errors, timeouts, 5xx and 429 are retried with
 *   exponential backoff (429's Retry-After honoured, bounded), at most ATTEMPTS tries; then the
 *   notification is logged and dropped. Other statuses (4xx, redirects, which are not followed) are
 *   logged and dropped at once. A notification that was accepted (2xx) is never sent again.
 * - Logs name the receiver, the status and the alert id, never the URL or the headers: Slack webhook
 *   URLs and Authorization headers are secrets.
 * - `close` stops taking notifications and waits for the queues up to a deadline, then aborts the rest.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { AlertSeverity, ReceiverConfig, WebhookConfig } from '../config/alerts-schema.js';
import type { Logger } from '../telemetry/logger.js';
import type { Notification } from './engine.js';

/** Tries per notification, the first included. */
export const ATTEMPTS = 4;
/** Notifications one receiver may have queued. */
export const MAX_QUEUE = 1000;
/** Longest wait between tries (a 429's Retry-After included). */
const MAX_BACKOFF_MS = 30_000;

/** Settings of the deliveries (defaults for a real hub; tests shorten the backoff). */
export interface DeliveryOptions {
  readonly receivers: Readonly<Record<string, ReceiverConfig>>;
  readonly log: Logger;
  /** The hub's own URL, for externalURL and generatorURL ('' while unknown). */
  readonly externalUrl?: () => string;
  /** First retry's wait; doubled per retry. Default 500. */
  readonly backoffMs?: number;
  /** `User-Agent` of webhook requests. */
  readonly userAgent?: string;
}

interface Queue {
  readonly name: string;
  readonly receiver: ReceiverConfig;
  readonly items: Notification[];
  running: Promise<void> | undefined;
}

/** The receivers' queues and workers. */
export class Deliveries {
  readonly #options: DeliveryOptions;
  readonly #queues = new Map<string, Queue>();
  readonly #abort = new AbortController();
  #closed = false;

  constructor(options: DeliveryOptions) {
    this.#options = options;
    for (const [name, receiver] of Object.entries(options.receivers))
      this.#queues.set(name, { name, receiver, items: [], running: undefined });
  }

  /** Queues a notification for its receiver (returns at once). */
  send(notification: Notification): void {
    const queue = this.#queues.get(notification.receiver);
    if (!queue || this.#closed) return;
    if (queue.items.length >= MAX_QUEUE) {
      this.#options.log.warn(
        { receiver: queue.name, alert: notification.alert.id, status: notification.status, queued: MAX_QUEUE },
        'alert notification dropped: the receiver queue is full',
      );
      return;
    }
    queue.items.push(notification);
    queue.running ??= this.#drain(queue).finally(() => (queue.running = undefined));
  }

  /** Notifications waiting or in flight, over every receiver (for tests and shutdown). */
  pending(): number {
    let n = 0;
    for (const q of this.#queues.values()) n += q.items.length;
    return n;
  }

  /** Stops taking notifications; waits for the queues up to `deadlineMs`, then aborts what is left. */
  async close(deadlineMs = 2000): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const running = [...this.#queues.values()].flatMap((q) => (q.running ? [q.running] : []));
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, deadlineMs)));
    await Promise.race([Promise.all(running), deadline]);
    clearTimeout(timer);
    const left = this.pending();
    this.#abort.abort();
    await Promise.all(running);
    if (left > 0) this.#options.log.warn({ notifications: left }, 'alert notifications not delivered before shutdown');
  }

  async #drain(queue: Queue): Promise<void> {
    while (queue.items.length > 0 && !this.#abort.signal.aborted) {
      const notification = queue.items[0]!;
      await this.#deliver(queue, notification);
      queue.items.shift();
    }
    if (this.#abort.signal.aborted) queue.items.length = 0;
  }

  async #deliver(queue: Queue, n: Notification): Promise<void> {
    const { log } = this.#options;
    const about = { receiver: queue.name, alert: n.alert.id, rule: n.alert.rule, notification: n.status };
    if (queue.receiver.log) {
      const line = { ...about, severity: n.alert.severity, labels: n.alert.labels, value: n.alert.value };
      if (n.status === 'firing') log.warn(line, `alert firing: ${n.alert.summary}`);
      else log.info(line, `alert resolved: ${n.alert.summary}`);
      return;
    }
    const webhook = queue.receiver.webhook!;
    const body = JSON.stringify(
      webhook.format === 'slack' ? slackMessage(n) : alertmanagerMessage(n, this.#options.externalUrl?.() ?? ''),
    );
    for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
      const result = await this.#post(webhook, body);
      if (result.ok) {
        log.info({ ...about, status: result.status, attempt }, 'alert notification delivered');
        return;
      }
      const last = attempt === ATTEMPTS || !result.retry || this.#abort.signal.aborted;
      if (last) {
        log.warn(
          { ...about, status: result.status, error: result.error, attempt },
          result.retry ? 'alert notification failed: giving up' : 'alert notification refused by the receiver',
        );
        return;
      }
      const backoff = Math.min(
        MAX_BACKOFF_MS,
        result.retryAfterMs ?? (this.#options.backoffMs ?? 500) * 2 ** (attempt - 1),
      );
      log.debug(
        { ...about, status: result.status, error: result.error, attempt, backoffMs: backoff },
        'alert notification retry',
      );
      // Shutdown cuts the wait short (the loop then gives up at its next check).
      await delay(backoff, undefined, { signal: this.#abort.signal }).catch(() => {});
    }
  }

  /** One attempt: ok, or why not and whether a retry may help. */
  async #post(
    webhook: WebhookConfig,
    body: string,
  ): Promise<{ ok: boolean; retry: boolean; status?: number; error?: string; retryAfterMs?: number }> {
    const signal = AbortSignal.any([this.#abort.signal, AbortSignal.timeout(webhook.timeoutMs)]);
    try {
      const response = await fetch(webhook.url, {
        method: 'POST',
        headers: {
          ...webhook.headers,
          'content-type': 'application/json',
          'user-agent': this.#options.userAgent ?? 'switchboard',
        },
        body,
        signal,
        redirect: 'manual',
      });
      await response.body?.cancel().catch(() => {});
      const status = response.status;
      if (status >= 200 && status < 300) return { ok: true, retry: false, status };
      const retry = status >= 500 || status === 429;
      const after = Number(response.headers.get('retry-after'));
      return {
        ok: false,
        retry,
        status,
        ...(status === 429 && Number.isFinite(after) && after > 0 ? { retryAfterMs: after * 1000 } : {}),
      };
    } catch (error) {
      // The cause's code only (ECONNREFUSED, a timeout): messages can carry the address.
      const e = error as Error & { cause?: { code?: string } };
      const reason = e.name === 'TimeoutError' ? 'timeout' : (e.cause?.code ?? e.name);
      return { ok: false, retry: true, error: reason };
    }
  }
}

/** Go's zero time: Alertmanager's endsAt of an alert that has not ended. */
const ZERO_TIME = '0001-01-01T00:00:00Z';

/** Alertmanager's webhook payload (version 4), one alert per notification. */
export function alertmanagerMessage(n: Notification, externalUrl: string): Record<string, unknown> {
  const a = n.alert;
  const labels: Record<string, string> = { alertname: a.rule, severity: a.severity, ...definedLabels(a.labels) };
  const annotations = { summary: a.summary, description: a.description };
  return {
    version: '4',
    // One group per alert: receivers that deduplicate by groupKey see one incident per alert.
    groupKey: `{}:{alertname="${a.rule}",fingerprint="${a.id}"}`,
    truncatedAlerts: 0,
    status: n.status,
    receiver: n.receiver,
    groupLabels: { alertname: a.rule },
    commonLabels: labels,
    commonAnnotations: annotations,
    externalURL: externalUrl,
    alerts: [
      {
        status: n.status,
        labels,
        annotations,
        startsAt: a.firingSince ?? a.activeSince,
        endsAt: n.status === 'resolved' ? (a.resolvedAt ?? ZERO_TIME) : ZERO_TIME,
        generatorURL: externalUrl ? `${externalUrl}/v1/alerts` : '',
        fingerprint: a.id,
      },
    ],
  };
}

const COLORS: Record<AlertSeverity | 'resolved', string> = {
  critical: '#d00000',
  warning: '#daa038',
  info: '#439fe0',
  resolved: '#2eb886',
};

/** A Slack-compatible message (incoming webhooks; Mattermost and Rocket.Chat read the same). */
export function slackMessage(n: Notification): Record<string, unknown> {
  const a = n.alert;
  const fields = [
    { title: 'Severity', value: a.severity, short: true },
    ...Object.entries(definedLabels(a.labels)).map(([k, v]) => ({
      title: k[0]!.toUpperCase() + k.slice(1),
      value: v,
      short: true,
    })),
    { title: 'Value', value: String(Number(a.value.toPrecision(4))), short: true },
    {
      title: n.status === 'resolved' ? 'Resolved at' : 'Firing since',
      value: (n.status === 'resolved' ? a.resolvedAt : a.firingSince) ?? '',
      short: true,
    },
  ];
  return {
    text: `[${n.status.toUpperCase()}] ${a.rule}: ${a.summary}`,
    attachments: [
      {
        color: n.status === 'resolved' ? COLORS.resolved : COLORS[a.severity],
        title: `${a.rule} (${a.severity})`,
        text: a.description,
        fields,
      },
    ],
  };
}

function definedLabels(labels: Notification['alert']['labels']): Record<string, string> {
  return Object.fromEntries(Object.entries(labels).filter(([, v]) => v !== undefined));
}
