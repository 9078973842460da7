/**
 * The built-in alert engine (alerts/): its state machine with a stepped clock (pending dropped, forMs,
 * escalation order and severity, one resolution), each signal's condition over real windows fed real
 * AuditEvents, delivery to real HTTP receivers on loopback (retries, timeouts, refusals, logs that never
 * show a URL or header), config errors at their paths, and end to end: a real hub whose HTTP upstream
 * is killed and restarted, with two webhook receivers (Alertmanager and Slack formats) that get each
 * notification exactly once, and GET /v1/alerts along the way, tenant-scoped.
 */
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AlertEngine, type Alert, type Notification } from '../src/alerts/engine.js';
import { Deliveries } from '../src/alerts/deliver.js';
import { compileRule } from '../src/alerts/rules.js';
import { AlertWindows, quantileMs } from '../src/alerts/window.js';
import { buildConfig, loadConfigFile } from '../src/config/load.js';
import type { AuditEvent } from '../src/core/audit-event.js';
import { visibleAlerts } from '../src/http/alerts-route.js';
import { createLogger } from '../src/telemetry/logger.js';
import type { LiveState, ServerState } from '../src/telemetry/metrics.js';
import {
  cleanup,
  freePort,
  makeConfig,
  onCleanup,
  startHttpFixture,
  startTestHub,
  tempDir,
  waitFor,
  readmeYamlFile,
  switchboardCheck,
  configIssues,
} from './helpers.js';

afterAll(cleanup);

// ---------------------------------------------------------------------------------------------
// Engine and signals, with a stepped clock

const T0 = 1_700_000_000_000;
const RECEIVERS = { a: { log: {} }, b: { log: {} }, c: { log: {} } };

/** A server as the live state shows it. */
function server(name: string, up = true, opens = 0, instance = name): ServerState {
  return {
    server: name,
    up,
    tools: 3,
    instances: [
      {
        instance,
        health: up ? 'healthy' : 'down',
        circuit: up ? 'closed' : 'open',
        inFlight: 0,
        reconnects: 0,
        circuitOpens: opens,
      },
    ],
  };
}

/** A live state of one or more tenants. */
function live(
  servers: ServerState[],
  options: { tools?: number; audit?: LiveState['audit']; tenant?: string; more?: LiveState['tenants'] } = {},
): LiveState {
  return {
    tenants: [
      {
        tenant: options.tenant ?? 'default',
        catalogVersion: 1,
        catalog: { tools: options.tools ?? 10, prompts: 0, resources: 0 },
        servers,
      },
      ...(options.more ?? []),
    ],
    ...(options.audit ? { audit: options.audit } : {}),
  };
}

/** An engine over `rules` with a clock the test moves (`at(ms)` evaluates at T0 + ms). */
function rig(rules: unknown[], initial: LiveState = live([])) {
  const config = buildConfig({ alerts: { receivers: RECEIVERS, rules } });
  const windows = new AlertWindows();
  const compiled = config.alerts!.rules.map((r) => compileRule(r, windows));
  let now = T0;
  let state = initial;
  const sent: Notification[] = [];
  const engine = new AlertEngine({ rules: compiled, read: () => state, notify: (n) => sent.push(n), now: () => now });
  return {
    engine,
    windows,
    sent,
    set state(next: LiveState) {
      state = next;
    },
    at(ms: number) {
      now = T0 + ms;
      engine.evaluate();
      return engine.list();
    },
  };
}

/** A finished tool call as the audit stage reports it. */
function call(ms: number, outcome: AuditEvent['outcome'], extra: Partial<AuditEvent> = {}): AuditEvent {
  return {
    time: T0 + ms,
    tenant: 'default',
    agent: 'agent',
    method: 'tools/call',
    tool: 'beta__echo',
    server: 'beta',
    instance: 'beta',
    decision: 'allow',
    outcome,
    latencyMs: 10,
    bytesIn: 0,
    bytesOut: 0,
    ...extra,
  };
}

function find(ms: number, confident: boolean): AuditEvent {
  return {
    ...call(ms, 'success'),
    method: 'find_capability',
    tool: undefined,
    server: undefined,
    instance: undefined,
    detail: { confident },
  };
}

const brief = (n: Notification) => `${n.status} ${n.receiver} ${n.alert.severity}`;

describe('alert engine', () => {
  it('a pending alert that clears before forMs is dropped without a notification', () => {
    const r = rig([{ name: 'down', signal: 'server_down', forMs: 1000, notify: ['a'] }], live([server('beta', false)]));
    expect(r.at(0)).toMatchObject([
      { rule: 'down', state: 'pending', labels: { tenant: 'default', server: 'beta' }, step: 0 },
    ]);
    expect(r.at(999)[0]?.state).toBe('pending');
    r.state = live([server('beta')]);
    expect(r.at(1500)).toEqual([]);
    expect(r.sent).toEqual([]);
  });

  it('forMs 0 fires at the first evaluation and notifies the first step at once', () => {
    const r = rig([{ name: 'down', signal: 'server_down', notify: ['a'] }], live([server('beta', false)]));
    const [alert] = r.at(0);
    expect(alert).toMatchObject({ state: 'firing', step: 1, notified: ['a'], severity: 'warning' });
    expect(alert?.firingSince).toBe(alert?.activeSince);
    expect(r.sent.map(brief)).toEqual(['firing a warning']);
    expect(r.sent[0]?.alert.summary).toBe('MCP server beta is down (tenant default)');
  });

  it('fires after forMs, escalates step by step with each severity, and resolves once to every receiver told', () => {
    const r = rig(
      [
        {
          name: 'down',
          signal: 'server_down',
          forMs: 1000,
          severity: 'info',
          notify: ['a'],
          escalate: [
            { afterMs: 2000, notify: ['b'], severity: 'critical' },
            { afterMs: 5000, notify: ['a', 'c'] },
          ],
        },
      ],
      live([server('beta', false)]),
    );
    r.at(0);
    r.at(999);
    expect(r.sent).toEqual([]);
    expect(r.at(1000)[0]).toMatchObject({ state: 'firing', severity: 'info', step: 1 });
    expect(r.sent.map(brief)).toEqual(['firing a info']);
    r.at(2999); // 1999 ms firing: step 2 not yet
    expect(r.sent).toHaveLength(1);
    expect(r.at(3000)[0]).toMatchObject({ severity: 'critical', step: 2, notified: ['a', 'b'] });
    r.at(4000);
    // Step 3 has no severity of its own: the rule's.
    expect(r.at(6000)[0]).toMatchObject({ severity: 'info', step: 3, notified: ['a', 'b', 'c'] });
    r.at(60_000); // no step left: nothing more
    expect(r.sent.map(brief)).toEqual(['firing a info', 'firing b critical', 'firing a info', 'firing c info']);
    r.state = live([server('beta')]);
    expect(r.at(61_000)).toEqual([]);
    r.at(62_000);
    const resolved = r.sent.slice(4);
    expect(resolved.map((n) => `${n.status} ${n.receiver}`)).toEqual(['resolved a', 'resolved b', 'resolved c']);
    expect(resolved[0]?.alert.resolvedAt).toBe(new Date(T0 + 61_000).toISOString());
    expect(new Set(resolved.map((n) => n.alert.id)).size).toBe(1);
  });

  it('an alert that clears before its first step (afterMs > 0) resolves to no one', () => {
    const r = rig(
      [{ name: 'down', signal: 'server_down', escalate: [{ afterMs: 5000, notify: ['a'] }] }],
      live([server('beta', false)]),
    );
    expect(r.at(0)[0]).toMatchObject({ state: 'firing', step: 0, notified: [] });
    r.state = live([server('beta')]);
    r.at(1000);
    expect(r.sent).toEqual([]);
  });

  it('lists firing first, then by severity, then oldest; ids are stable per rule and labels', () => {
    const r = rig(
      [
        { name: 'slow', signal: 'server_down', forMs: 10_000, severity: 'critical', notify: ['a'] },
        { name: 'info', signal: 'server_down', severity: 'info', notify: ['a'] },
        { name: 'crit', signal: 'server_down', severity: 'critical', notify: ['a'] },
      ],
      live([server('beta', false)]),
    );
    const list = r.at(0);
    expect(list.map((a) => `${a.rule} ${a.state}`)).toEqual(['crit firing', 'info firing', 'slow pending']);
    expect(new Set(list.map((a) => a.id)).size).toBe(3);
    expect(r.at(100).map((a) => a.id)).toEqual(list.map((a) => a.id));
  });

  it('where narrows the label sets; a summary template fills in labels and value', () => {
    const r = rig(
      [
        {
          name: 'down',
          signal: 'server_down',
          where: { server: 'be*' },
          summary: '{rule}: {server}@{tenant} x{value}',
          notify: ['a'],
        },
      ],
      live([server('beta', false), server('alpha', false), server('bert', false)]),
    );
    expect(r.at(0).map((a) => a.labels.server)).toEqual(['beta', 'bert']);
    expect(r.sent[0]?.alert.summary).toBe('down: beta@default x1');
  });
});

describe('signals', () => {
  it('error_rate: failures among calls not refused, only from minCalls on, over the window', () => {
    const r = rig([
      { name: 'errors', signal: 'error_rate', above: 0.5, windowMs: 60_000, minCalls: 10, notify: ['a'] },
    ]);
    for (let i = 0; i < 9; i++) r.windows.observe(call(i, 'isError'));
    // Refused calls and calls of names outside the catalog count for no server.
    for (let i = 0; i < 5; i++) r.windows.observe(call(i, 'denied'));
    for (let i = 0; i < 5; i++) r.windows.observe(call(i, 'limited'));
    for (let i = 0; i < 20; i++) r.windows.observe(call(i, 'error', { tool: undefined, server: 'beta' }));
    expect(r.at(100)).toEqual([]); // 9 calls: under minCalls
    r.windows.observe(call(100, 'success'));
    const [alert] = r.at(200);
    expect(alert).toMatchObject({ rule: 'errors', labels: { tenant: 'default', server: 'beta' }, value: 0.9 });
    expect(alert?.summary).toBe('beta: 90% of tool calls fail (tenant default)');
    for (let i = 0; i < 10; i++) r.windows.observe(call(300 + i, 'success'));
    expect(r.at(400)).toEqual([]); // 9 of 20: 45%
    for (let i = 0; i < 20; i++) r.windows.observe(call(1000 + i, 'error'));
    expect(r.at(2000)).toHaveLength(1);
    expect(r.at(200_000)).toEqual([]); // the window moved past every call
  });

  it('latency_p95: calls that reached an instance, interpolated in buckets, minCalls', () => {
    const r = rig([{ name: 'slow', signal: 'latency_p95', above: 2000, minCalls: 10, notify: ['a'] }]);
    for (let i = 0; i < 9; i++) r.windows.observe(call(i, 'success', { latencyMs: 4000 }));
    // Reached no instance: not a latency of the server.
    for (let i = 0; i < 30; i++) r.windows.observe(call(i, 'error', { latencyMs: 4000, instance: undefined }));
    expect(r.at(10_000)).toEqual([]);
    r.windows.observe(call(20, 'success', { latencyMs: 4000 }));
    const [alert] = r.at(10_000);
    expect(alert?.value).toBeGreaterThan(2500);
    expect(alert?.value).toBeLessThanOrEqual(5000);
    expect(quantileMs([0, 0, 0, 0, 100])).toBeCloseTo(97.5); // 95% of the way through (50, 100]
  });

  it('circuit_flapping: circuit opens within the window, per instance', () => {
    const r = rig([{ name: 'flap', signal: 'circuit_flapping', above: 3, windowMs: 60_000, notify: ['a'] }]);
    r.state = live([server('beta', true, 1)]);
    r.at(0);
    r.state = live([server('beta', true, 4)]);
    expect(r.at(10_000)).toEqual([]); // 3 opens: not above 3
    r.state = live([server('beta', true, 5)]);
    expect(r.at(20_000)).toMatchObject([{ labels: { tenant: 'default', server: 'beta', instance: 'beta' }, value: 4 }]);
    expect(r.at(200_000)).toEqual([]); // no opens within the last minute
  });

  it('catalog_shrank: tools lost against the largest catalog in the window', () => {
    const r = rig([{ name: 'shrank', signal: 'catalog_shrank', above: 0.2, notify: ['a'] }]);
    r.state = live([], { tools: 10 });
    r.at(0);
    r.state = live([], { tools: 8 });
    expect(r.at(10_000)).toEqual([]); // 20%: not above
    r.state = live([], { tools: 7 });
    expect(r.at(20_000)).toMatchObject([{ labels: { tenant: 'default' } }]);
    expect(r.sent[0]?.alert.summary).toBe('The catalog lost 30% of its tools within 30m (tenant default)');
  });

  it('no_match_rate: searches without a confident match, from minCalls on', () => {
    const r = rig([{ name: 'nomatch', signal: 'no_match_rate', above: 0.3, minCalls: 4, notify: ['a'] }]);
    r.windows.observe(find(0, false));
    r.windows.observe(find(1, false));
    r.windows.observe(find(2, true));
    // A search that did not run (refused) says nothing about matches.
    r.windows.observe({ ...find(3, false), outcome: 'limited', detail: undefined });
    expect(r.at(1000)).toEqual([]);
    r.windows.observe(find(4, true));
    expect(r.at(1000)).toMatchObject([{ labels: { tenant: 'default' }, value: 0.5 }]);
  });

  it('audit_queue and audit_dropped read the audit writer, without a tenant label', () => {
    const audit = (buffered: number, dropped: number) => ({ buffered, written: 0, dropped, failedBatches: 0 });
    const r = rig([
      { name: 'queue', signal: 'audit_queue', above: 1000, notify: ['a'] },
      { name: 'dropped', signal: 'audit_dropped', notify: ['a'] },
    ]);
    r.state = live([], { audit: audit(10, 2) });
    expect(r.at(0)).toEqual([]); // drops before the engine looked are not an increase
    r.state = live([], { audit: audit(1500, 5) });
    const list = r.at(1000);
    expect(list.map((a) => [a.rule, a.value, a.labels])).toEqual([
      ['queue', 1500, {}],
      ['dropped', 3, {}],
    ]);
    // Tenant admins see alerts of their tenant only; tenantless ones are the gateway admin's.
    expect(visibleAlerts(list, 'default')).toHaveLength(2);
    expect(visibleAlerts(list, 'acme')).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// Delivery, against real HTTP receivers on loopback

/** What the receivers were sent: Alertmanager's webhook payload or a Slack message (the fields tests read). */
interface Payload {
  readonly status?: string;
  readonly alerts?: { status: string; startsAt: string; endsAt: string; fingerprint: string }[];
  readonly text?: string;
  readonly attachments?: { color: string; title: string; fields: unknown[] }[];
}

interface Hit {
  readonly at: number;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Payload;
}

/** An HTTP receiver recording every POST; `answer(n)` picks the status of the n-th (1-based), or hangs. */
async function receiver(answer: (n: number) => number | 'hang' = () => 200): Promise<{ url: string; hits: Hit[] }> {
  const hits: Hit[] = [];
  const hanging: ServerResponse[] = [];
  const srv: Server = createServer((req, res) => {
    let text = '';
    req.on('data', (chunk: Buffer) => (text += chunk.toString()));
    req.on('end', () => {
      hits.push({ at: Date.now(), path: req.url ?? '', headers: req.headers, body: JSON.parse(text) });
      const status = answer(hits.length);
      if (status === 'hang') hanging.push(res);
      else res.writeHead(status, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  await new Promise<void>((ready) => srv.listen(0, '127.0.0.1', ready));
  onCleanup(
    () =>
      new Promise((closed) => {
        srv.closeAllConnections();
        srv.close(closed);
      }),
  );
  return { url: `http://127.0.0.1:${(srv.address() as { port: number }).port}`, hits };
}

/** A logger whose lines the test reads. */
function capturedLog() {
  const lines: Record<string, unknown>[] = [];
  const text: string[] = [];
  const log = createLogger({
    level: 'debug',
    destination: {
      write: (line: string) => {
        text.push(line);
        lines.push(JSON.parse(line) as Record<string, unknown>);
      },
    },
  });
  return { log, lines, text };
}

/** A firing notification of one alert for `receiver`. */
function notification(receiverName: string, id = '0123456789abcdef'): Notification {
  const now = new Date().toISOString();
  return {
    receiver: receiverName,
    status: 'firing',
    alert: {
      id,
      rule: 'down',
      signal: 'server_down',
      severity: 'warning',
      state: 'firing',
      labels: { tenant: 'default', server: 'beta' },
      value: 1,
      summary: 'MCP server beta is down (tenant default)',
      activeSince: now,
      firingSince: now,
      step: 1,
      notified: [receiverName],
      description: 'server_down',
    },
  };
}

describe('delivery', () => {
  it('retries a 500 and delivers exactly once; a 400 is refused without a retry', async () => {
    const flaky = await receiver((n) => (n === 1 ? 500 : 200));
    const refusing = await receiver(() => 400);
    const { log, lines } = capturedLog();
    const deliveries = new Deliveries({
      log,
      backoffMs: 20,
      receivers: {
        flaky: { webhook: { url: `${flaky.url}/hook`, format: 'alertmanager', headers: {}, timeoutMs: 5000 } },
        refusing: { webhook: { url: `${refusing.url}/hook`, format: 'slack', headers: {}, timeoutMs: 5000 } },
      },
    });
    onCleanup(() => deliveries.close(0));
    deliveries.send(notification('flaky'));
    deliveries.send(notification('refusing'));
    await waitFor(() => deliveries.pending() === 0, 15_000, 'both queues empty');
    expect(flaky.hits).toHaveLength(2);
    expect(flaky.hits[0]?.body).toEqual(flaky.hits[1]?.body);
    expect(refusing.hits).toHaveLength(1);
    expect(lines.filter((l) => l.msg === 'alert notification delivered')).toMatchObject([
      { receiver: 'flaky', status: 200, attempt: 2, alert: '0123456789abcdef' },
    ]);
    expect(lines.filter((l) => l.msg === 'alert notification refused by the receiver')).toMatchObject([
      { receiver: 'refusing', status: 400, attempt: 1 },
    ]);
  });

  it('a hanging receiver times out and gives up without holding up another; logs show no URL or header', async () => {
    const hanging = await receiver(() => 'hang');
    const fine = await receiver();
    const { log, lines, text } = capturedLog();
    const deliveries = new Deliveries({
      log,
      backoffMs: 20,
      receivers: {
        hanging: {
          webhook: { url: `${hanging.url}/services/T0/B0/SECRETPATH`, format: 'slack', headers: {}, timeoutMs: 300 },
        },
        fine: {
          webhook: {
            url: `${fine.url}/hooks/SECRETPATH`,
            format: 'alertmanager',
            headers: { authorization: 'Bearer SECRETHEADER' },
            timeoutMs: 5000,
          },
        },
      },
    });
    onCleanup(() => deliveries.close(0));
    deliveries.send(notification('hanging'));
    deliveries.send(notification('fine'));
    await waitFor(() => fine.hits.length === 1, 10_000, 'the fine receiver');
    expect(fine.hits[0]?.headers.authorization).toBe('Bearer SECRETHEADER');
    expect(hanging.hits.length).toBeLessThan(4); // still trying: it did not hold the other up
    await waitFor(() => lines.find((l) => l.msg === 'alert notification failed: giving up'), 20_000, 'giving up');
    expect(hanging.hits).toHaveLength(4);
    expect(lines.find((l) => l.msg === 'alert notification failed: giving up')).toMatchObject({
      receiver: 'hanging',
      error: 'timeout',
      attempt: 4,
    });
    expect(text.join('')).not.toMatch(/SECRETPATH|SECRETHEADER|\/hooks\/|\/services\//);
  });

  it('the log receiver writes one line per notification: warn when firing, info when resolved', async () => {
    const { log, lines } = capturedLog();
    const deliveries = new Deliveries({ log, receivers: { journal: { log: {} } } });
    deliveries.send(notification('journal'));
    const firing = notification('journal');
    deliveries.send({
      ...firing,
      status: 'resolved',
      alert: { ...firing.alert, resolvedAt: new Date().toISOString() },
    });
    await deliveries.close();
    const alertLines = lines.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('alert '));
    expect(alertLines.map((l) => [l.level, l.msg, l.receiver])).toEqual([
      [40, 'alert firing: MCP server beta is down (tenant default)', 'journal'],
      [30, 'alert resolved: MCP server beta is down (tenant default)', 'journal'],
    ]);
  });
});

// ---------------------------------------------------------------------------------------------
// Config

describe('alerts config', () => {
  it('reports every problem at its path, through the loader', () => {
    const file = join(tempDir(), 'switchboard.yaml');
    writeFileSync(
      file,
      [
        'alerts:',
        '  receivers:',
        '    ops: { log: {} }',
        '    hook: { webhook: { url: "ftp://example.com/x", format: slack } }',
        '    both: { log: {}, webhook: { url: "https://example.com", format: slack } }',
        '  rules:',
        '    - { name: a, signal: server_dwn, notify: [ops] }',
        '    - { name: a, signal: error_rate, notify: [opz] }',
        '    - { name: c, signal: server_down, above: 1, escalate: [{ afterMs: 10, notify: [ops] }, { afterMs: 10, notify: [ops] }] }',
        '    - { name: d, signal: latency_p95, above: 100, windowMs: 60000 }',
        '    - { name: e, signal: server_down, notify: [ops], escalate: [{ afterMs: 0, notify: [ops] }], windowMs: 60000 }',
        '    - { name: f, signal: audit_queue, above: 5, where: { tenant: acme }, notify: [ops], summary: "{server} {oops}" }',
        '    - { name: g, signal: error_rate, above: 5, notify: [ops] }',
        '',
      ].join('\n'),
    );
    const issues = configIssues(() => loadConfigFile(file, {}));
    const at = (path: string) => issues.filter((i) => i.path === path).map((i) => i.message);
    expect(at('alerts.receivers.hook.webhook.url')).toHaveLength(1);
    expect(at('alerts.receivers.both')).toEqual(['a receiver is either { webhook: { url, format } } or { log: {} }']);
    expect(at('alerts.rules[0].signal')[0]).toMatch(/unknown signal "server_dwn"; did you mean "server_down"\?/);
    expect(at('alerts.rules[1].name')[0]).toMatch(/already used by rules\[0\]/);
    expect(at('alerts.rules[1].notify[0]')).toEqual(['no receiver "opz"; did you mean "ops"?']);
    expect(at('alerts.rules[1].above')[0]).toMatch(/error_rate needs above/);
    expect(at('alerts.rules[2].above')[0]).toMatch(/server_down has no threshold/);
    expect(at('alerts.rules[2].escalate[1].afterMs')[0]).toMatch(/greater than the step before's \(10\)/);
    expect(at('alerts.rules[3]')[0]).toMatch(/a rule must tell someone/);
    expect(at('alerts.rules[4].escalate[0].afterMs')[0]).toMatch(/notify is a step at 0/);
    expect(at('alerts.rules[4].windowMs')[0]).toMatch(/remove windowMs/);
    expect(at('alerts.rules[5].where.tenant')[0]).toMatch(/audit_queue has no tenant label/);
    expect(at('alerts.rules[5].summary')[0]).toMatch(/unknown placeholder \{oops\}/);
    expect(at('alerts.rules[6].above')[0]).toMatch(/fraction below 1/);
  });

  it('a where.tenant that names no configured tenant is an error; patterns and known tenants pass', () => {
    const rule = (tenant: string) => ({
      name: `r-${tenant.replace('*', 'x')}`,
      signal: 'server_down',
      where: { tenant },
      notify: ['ops'],
    });
    const alerts = {
      receivers: { ops: { log: {} } },
      rules: [rule('acme'), rule('acm*'), rule('default'), rule('nope')],
    };
    const issues = configIssues(() => buildConfig({ tenants: { acme: {} }, alerts }));
    expect(issues).toEqual([
      { path: 'alerts.rules[3].where.tenant', message: 'no tenant "nope" is configured (tenants: default, acme)' },
    ]);
    expect(buildConfig({}).alerts).toBeUndefined();
    expect(buildConfig({ alerts: {} }).alerts).toMatchObject({ evaluateEveryMs: 15_000, rules: [], receivers: {} });
  });

  it("the README's alerts example passes switchboard check as printed", () => {
    const { dir, file, block } = readmeYamlFile('## Alerts without Prometheus');
    expect(block).toContain('alerts:');
    expect(loadConfigFile(file, {}).alerts?.rules.map((r) => r.name)).toEqual([
      'server-down',
      'tool-errors',
      'slow-search',
      'audit-dropped',
    ]);
    const run = switchboardCheck(file, dir, ['SLACK_WEBHOOK_URL']);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
  });
});

// ---------------------------------------------------------------------------------------------
// End to end

const ADMIN = 'alerts-admin-token-0123456789';

async function alertsOf(url: string, tenant?: string) {
  const res = await fetch(`${url}/v1/alerts`, {
    headers: { authorization: `Bearer ${ADMIN}`, ...(tenant ? { 'x-switchboard-tenant': tenant } : {}) },
  });
  expect(res.status).toBe(200);
  return (await res.json()) as { enabled: boolean; alerts: Alert[] };
}

describe('end to end: a server killed and restarted', () => {
  it('fires after forMs, escalates, resolves once to each receiver, and lists the alert meanwhile', async () => {
    const a = await receiver();
    const b = await receiver();
    let beta = await startHttpFixture('beta');
    const forMs = 1000;
    const escalateMs = 1500;
    const hub = await startTestHub(
      makeConfig(
        { beta: { url: beta.url } },
        {
          http: { adminToken: ADMIN },
          alerts: {
            evaluateEveryMs: 200,
            receivers: {
              A: { webhook: { url: `${a.url}/alertmanager`, format: 'alertmanager' } },
              B: { webhook: { url: `${b.url}/slack`, format: 'slack' } },
            },
            rules: [
              {
                name: 'beta-down',
                signal: 'server_down',
                forMs,
                escalate: [
                  { afterMs: 0, notify: ['A'] },
                  { afterMs: escalateMs, notify: ['B'], severity: 'critical' },
                ],
              },
            ],
          },
        },
      ),
    );
    expect(await alertsOf(hub.url)).toEqual({ enabled: true, alerts: [] });

    await beta.kill('SIGKILL');
    await waitFor(() => a.hits.length >= 1, 30_000, 'the firing notification at A');
    const { alerts } = await alertsOf(hub.url);
    expect(alerts).toHaveLength(1);
    const alert = alerts[0]!;
    expect(alert).toMatchObject({
      rule: 'beta-down',
      signal: 'server_down',
      state: 'firing',
      labels: { tenant: 'default', server: 'beta' },
      notified: ['A'],
    });
    const activeSince = Date.parse(alert.activeSince);
    const firingSince = Date.parse(alert.firingSince!);
    expect(firingSince - activeSince).toBeGreaterThanOrEqual(forMs);
    expect(a.hits[0]!.at).toBeGreaterThanOrEqual(activeSince + forMs); // not before forMs
    const fired = a.hits[0]!.body;
    expect(a.hits[0]!.path).toBe('/alertmanager');
    expect(fired).toMatchObject({
      version: '4',
      truncatedAlerts: 0,
      status: 'firing',
      receiver: 'A',
      groupLabels: { alertname: 'beta-down' },
      commonLabels: { alertname: 'beta-down', severity: 'warning', tenant: 'default', server: 'beta' },
      externalURL: hub.url,
    });
    expect(fired.alerts).toEqual([
      {
        status: 'firing',
        labels: { alertname: 'beta-down', severity: 'warning', tenant: 'default', server: 'beta' },
        annotations: { summary: 'MCP server beta is down (tenant default)', description: 'server_down for 1s' },
        startsAt: alert.firingSince,
        endsAt: '0001-01-01T00:00:00Z',
        generatorURL: `${hub.url}/v1/alerts`,
        fingerprint: alert.id,
      },
    ]);

    await waitFor(() => b.hits.length >= 1, 30_000, 'the escalation at B');
    expect(b.hits[0]!.at).toBeGreaterThanOrEqual(firingSince + escalateMs);
    const slack = b.hits[0]!.body;
    expect(slack.text).toBe('[FIRING] beta-down: MCP server beta is down (tenant default)');
    const attachment = slack.attachments?.[0];
    expect(attachment).toMatchObject({ color: '#d00000', title: 'beta-down (critical)' });
    expect(attachment?.fields).toContainEqual({ title: 'Severity', value: 'critical', short: true });
    expect(attachment?.fields).toContainEqual({ title: 'Server', value: 'beta', short: true });
    expect((await alertsOf(hub.url)).alerts).toMatchObject([
      { id: alert.id, state: 'firing', severity: 'critical', step: 2, notified: ['A', 'B'] },
    ]);
    expect(a.hits).toHaveLength(1);

    beta = await startHttpFixture('beta', [], beta.port);
    await waitFor(() => a.hits.length >= 2 && b.hits.length >= 2, 60_000, 'the resolved notifications');
    expect(a.hits[1]!.body).toMatchObject({
      status: 'resolved',
      receiver: 'A',
      commonLabels: { severity: 'critical' },
    });
    const resolvedAlert = a.hits[1]!.body.alerts?.[0];
    expect(resolvedAlert).toMatchObject({ status: 'resolved', fingerprint: alert.id, startsAt: alert.firingSince });
    expect(Date.parse(resolvedAlert!.endsAt)).toBeGreaterThan(firingSince);
    expect(b.hits[1]!.body.text).toBe('[RESOLVED] beta-down: MCP server beta is down (tenant default)');
    expect(b.hits[1]!.body.attachments?.[0]?.color).toBe('#2eb886');
    expect(await alertsOf(hub.url)).toEqual({ enabled: true, alerts: [] });

    // A few more evaluations: nothing else is sent.
    await new Promise((r) => setTimeout(r, 5 * 200));
    expect(a.hits).toHaveLength(2);
    expect(b.hits).toHaveLength(2);
  });
});

describe('GET /v1/alerts, per tenant', () => {
  it("a tenant's admin sees its own tenant's alerts; the gateway admin sees all; off without an alerts section", async () => {
    const nowhere = async () => `http://127.0.0.1:${await freePort()}/mcp`;
    const hub = await startTestHub(
      makeConfig(
        { lost: { url: await nowhere() } },
        {
          http: { adminToken: ADMIN },
          tenants: { acme: { shared: [], servers: { gone: { url: await nowhere() } } } },
          alerts: {
            evaluateEveryMs: 100,
            receivers: { journal: { log: {} } },
            rules: [{ name: 'down', signal: 'server_down', notify: ['journal'] }],
          },
        },
      ),
    );
    const all = await waitFor(
      async () => {
        const { alerts } = await alertsOf(hub.url);
        return alerts.length === 2 ? alerts : undefined;
      },
      15_000,
      'both tenants down',
    );
    expect(all.map((x) => `${x.labels.tenant}/${x.labels.server}`).sort()).toEqual(['acme/gone', 'default/lost']);
    const acme = await alertsOf(hub.url, 'acme');
    expect(acme.alerts.map((x) => `${x.labels.tenant}/${x.labels.server}`)).toEqual(['acme/gone']);

    const plain = await startTestHub(makeConfig({}, { http: { adminToken: ADMIN } }));
    expect(await alertsOf(plain.url)).toEqual({ enabled: false, alerts: [] });
    expect((await fetch(`${plain.url}/v1/alerts`)).status).toBe(401);
  });
});
