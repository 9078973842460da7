/**
 * Prometheus metrics end to end: a real hub (API keys, an admin token, a rate limit, a metrics port)
 * in front of a stdio fixture and an HTTP fixture, real SDK clients sending known traffic (successes,
 * isError results, a scope denial, a rate-limited call, an unknown tool name, finds with and without
 * a confident match), then GET /metrics parsed: exact counter values and histogram counts, gauges of
 * instance health and circuit state (the HTTP fixture killed opens its circuit), no label made of an
 * unknown tool name, the /v1 guard on /metrics, and the separate port without one. Also: tenant labels
 * switched off, metrics switched off (no route), a sidecar's metrics port, and the observer fed audit
 * events directly for what a hub cannot be made to do on cue (failovers, policy and quota refusals).
 */
import { writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '../src/compose.js';
import type { AuditEvent } from '../src/core/audit-event.js';
import { metricsObserver } from '../src/mcp/pipeline/stages/metrics.js';
import { Metrics } from '../src/telemetry/metrics.js';
import {
  cleanup,
  connectAgent,
  fixtureEntry,
  freePort,
  onCleanup,
  makeConfig,
  ROOT,
  startHttpFixture,
  startSidecarProcess,
  startTestHub,
  tempDir,
  waitFor,
  type HttpFixture,
} from './helpers.js';

afterAll(cleanup);

const ADMIN = 'metrics-admin-token-0123456789abcdef';

/** One series of the exposition text. */
interface Series {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** Parses the Prometheus text format (comments skipped). */
function parse(text: string): Series[] {
  return text
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$/.exec(line);
      if (!match) throw new Error(`not an exposition line: ${line}`);
      const labels: Record<string, string> = {};
      for (const [, key, raw] of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
        labels[key!] = raw!.replace(/\\"/g, '"').replace(/\\n/g, '\n').replace(/\\\\/g, '\\');
      return { name: match[1]!, labels, value: Number(match[3]) };
    });
}

/** The sum of the series named `name` whose labels include `labels`; undefined when there is none. */
function valueOf(series: readonly Series[], name: string, labels: Record<string, string> = {}): number | undefined {
  const hits = series.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  return hits.length === 0 ? undefined : hits.reduce((sum, s) => sum + s.value, 0);
}

async function scrape(url: string, token: string | undefined = ADMIN): Promise<Series[]> {
  const res = await fetch(url, token ? { headers: { authorization: `Bearer ${token}` } } : {});
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return parse(await res.text());
}

describe('metrics on a hub with auth', () => {
  let hub: Hub;
  let beta: HttpFixture;
  let metricsPort: number;
  let agentKey: string;
  let agent: Client;
  const confident: boolean[] = [];

  beforeAll(async () => {
    metricsPort = await freePort();
    beta = await startHttpFixture('beta');
    hub = await startTestHub(
      makeConfig(
        { alpha: fixtureEntry('alpha'), beta: { url: beta.url, circuit: { openMs: 600_000 } } },
        {
          http: { adminToken: ADMIN },
          auth: { mode: 'apiKey' },
          limits: {
            rules: [{ name: 'one-add', per: 'tool', match: { tool: 'alpha__add' }, points: 1, intervalMs: 600_000 }],
          },
          telemetry: { metrics: { port: metricsPort } },
        },
      ),
    );
    const res = await fetch(`${hub.url}/v1/keys`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN}` },
      body: JSON.stringify({
        tenant: 'default',
        agent: 'metrics-bot',
        // Sees alpha's tools, may call three of them: calling alpha__search is a scope denial.
        scopes: ['tools:alpha__*:list', 'tools:alpha__echo:call', 'tools:alpha__fail:call', 'tools:alpha__add:call'],
      }),
    });
    expect(res.status).toBe(201);
    agentKey = ((await res.json()) as { key: string }).key;
    agent = await connectAgent(hub.url, 'legacy', 'metrics-test', agentKey);

    for (let i = 0; i < 5; i++) await agent.callTool({ name: 'alpha__echo', arguments: { text: `hi ${i}` } });
    for (let i = 0; i < 3; i++)
      expect((await agent.callTool({ name: 'alpha__fail', arguments: {} })).isError).toBe(true);
    expect((await agent.callTool({ name: 'alpha__search', arguments: { query: 'x' } })).isError).toBe(true);
    expect((await agent.callTool({ name: 'alpha__add', arguments: { a: 1, b: 2 } })).isError).not.toBe(true);
    expect((await agent.callTool({ name: 'alpha__add', arguments: { a: 1, b: 2 } })).isError).toBe(true);
    await expect(agent.callTool({ name: 'evil_tool_xyz', arguments: {} })).rejects.toThrow();
    for (const need of ['echo the text back', 'add two numbers', 'zqxv frobnicate llama quantum']) {
      const found = await agent.callTool({ name: 'find_capability', arguments: { capability: need } });
      confident.push((found.structuredContent as { confident: boolean }).confident);
    }
  });

  it('counts tool calls by server, instance, tool and outcome, exactly', async () => {
    const m = await scrape(`${hub.url}/metrics`);
    const calls = (labels: Record<string, string>) =>
      valueOf(m, 'switchboard_tool_calls_total', { tenant: 'default', ...labels });
    expect(calls({ server: 'alpha', server_instance: 'alpha', tool: 'alpha__echo', outcome: 'success' })).toBe(5);
    expect(calls({ server: 'alpha', server_instance: 'alpha', tool: 'alpha__fail', outcome: 'isError' })).toBe(3);
    expect(calls({ server: 'alpha', server_instance: 'none', tool: 'alpha__search', outcome: 'denied' })).toBe(1);
    expect(calls({ tool: 'alpha__add', outcome: 'success' })).toBe(1);
    expect(calls({ server_instance: 'none', tool: 'alpha__add', outcome: 'limited' })).toBe(1);
    expect(calls({ server: 'unknown', tool: 'unknown', outcome: 'error' })).toBe(1);
    expect(calls({})).toBe(12);
    const requests = (outcome: string) =>
      valueOf(m, 'switchboard_requests_total', { tenant: 'default', method: 'tools/call', outcome });
    expect([requests('success'), requests('isError'), requests('denied'), requests('limited')]).toEqual([6, 3, 1, 1]);
    expect(valueOf(m, 'switchboard_refusals_total', { method: 'tools/call', reason: 'scope' })).toBe(1);
    expect(valueOf(m, 'switchboard_refusals_total', { method: 'tools/call', reason: 'rate_limit' })).toBe(1);
    expect(valueOf(m, 'switchboard_failovers_total')).toBeUndefined();
  });

  it('has latency histograms only for calls that reached an instance', async () => {
    const m = await scrape(`${hub.url}/metrics`);
    const count = (tool: string) =>
      valueOf(m, 'switchboard_tool_call_duration_seconds_count', { server: 'alpha', server_instance: 'alpha', tool });
    expect([count('alpha__echo'), count('alpha__fail'), count('alpha__add')]).toEqual([5, 3, 1]);
    expect(count('alpha__search')).toBeUndefined();
    expect(valueOf(m, 'switchboard_tool_call_duration_seconds_bucket', { tool: 'alpha__echo', le: '+Inf' })).toBe(5);
    expect(valueOf(m, 'switchboard_tool_call_duration_seconds_sum', { tool: 'alpha__echo' })).toBeGreaterThan(0);
    expect(valueOf(m, 'switchboard_request_duration_seconds_count', { method: 'tools/call' })).toBe(12);
  });

  it('never makes a label of a tool name the catalog does not have', async () => {
    const res = await fetch(`${hub.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN}` } });
    const text = await res.text();
    expect(text).not.toContain('evil_tool_xyz');
    const tools = new Set(parse(text).flatMap((s) => (s.labels.tool === undefined ? [] : [s.labels.tool])));
    const catalog = new Set(hub.gateway.catalog.tools.map((t) => t.id));
    for (const tool of tools) expect(tool === 'unknown' || catalog.has(tool), tool).toBe(true);
  });

  it("counts find_capability's latency, confidence and searches without a confident match", async () => {
    const m = await scrape(`${hub.url}/metrics`);
    expect(confident).toContain(true);
    expect(confident).toContain(false);
    expect(valueOf(m, 'switchboard_request_duration_seconds_count', { method: 'find_capability' })).toBe(3);
    expect(valueOf(m, 'switchboard_requests_total', { method: 'find_capability', outcome: 'success' })).toBe(3);
    expect(valueOf(m, 'switchboard_find_confidence_count', { tenant: 'default' })).toBe(3);
    expect(valueOf(m, 'switchboard_find_no_match_total', { tenant: 'default' })).toBe(
      confident.filter((c) => !c).length,
    );
  });

  it('reads catalog, instance health, circuits and the audit queue live', async () => {
    const m = await scrape(`${hub.url}/metrics`);
    const at = { tenant: 'default', server: 'alpha', server_instance: 'alpha' };
    expect(valueOf(m, 'switchboard_server_up', { tenant: 'default', server: 'alpha' })).toBe(1);
    expect(valueOf(m, 'switchboard_instance_up', at)).toBe(1);
    expect(valueOf(m, 'switchboard_instance_health', { ...at, health: 'healthy' })).toBe(1);
    expect(valueOf(m, 'switchboard_instance_health', { ...at, health: 'down' })).toBe(0);
    expect(valueOf(m, 'switchboard_circuit_state', { ...at, state: 'closed' })).toBe(1);
    expect(valueOf(m, 'switchboard_circuit_state', { ...at, state: 'open' })).toBe(0);
    expect(valueOf(m, 'switchboard_instance_in_flight', at)).toBe(0);
    expect(valueOf(m, 'switchboard_instance_reconnects_total', at)).toBe(0);
    const { catalog } = hub.gateway;
    expect(valueOf(m, 'switchboard_catalog_items', { tenant: 'default', kind: 'tools' })).toBe(catalog.tools.length);
    expect(valueOf(m, 'switchboard_catalog_version', { tenant: 'default' })).toBe(catalog.version);
    expect(valueOf(m, 'switchboard_server_tools', { server: 'beta' })).toBeGreaterThan(0);
    expect(valueOf(m, 'switchboard_audit_queue_depth')).toBeGreaterThanOrEqual(0);
    expect(valueOf(m, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
  });

  it('requires the admin token on the hub port: 401 without, 403 for an agent key', async () => {
    expect((await fetch(`${hub.url}/metrics`)).status).toBe(401);
    const res = await fetch(`${hub.url}/metrics`, { headers: { authorization: `Bearer ${agentKey}` } });
    expect(res.status).toBe(403);
  });

  it('serves the same series on the metrics port without a credential', async () => {
    const url = `http://127.0.0.1:${metricsPort}`;
    const m = await scrape(`${url}/metrics`, undefined);
    expect(valueOf(m, 'switchboard_tool_calls_total', { tool: 'alpha__echo', outcome: 'success' })).toBe(5);
    expect((await fetch(`${url}/other`)).status).toBe(404);
    expect((await fetch(`${url}/metrics`, { method: 'POST' })).status).toBe(405);
  });

  it('shows a killed server down with its circuit open', async () => {
    await beta.kill('SIGKILL');
    const at = { tenant: 'default', server: 'beta', server_instance: 'beta' };
    const m = await waitFor(
      async () => {
        const s = await scrape(`${hub.url}/metrics`);
        return valueOf(s, 'switchboard_circuit_state', { ...at, state: 'open' }) === 1 ? s : undefined;
      },
      20_000,
      "beta's circuit open",
    );
    expect(valueOf(m, 'switchboard_server_up', { tenant: 'default', server: 'beta' })).toBe(0);
    expect(valueOf(m, 'switchboard_instance_up', at)).toBe(0);
    expect(valueOf(m, 'switchboard_instance_health', { ...at, health: 'down' })).toBe(1);
    expect(valueOf(m, 'switchboard_circuit_state', { ...at, state: 'closed' })).toBe(0);
    expect(valueOf(m, 'switchboard_circuit_opens_total', at)).toBe(1);
    expect(valueOf(m, 'switchboard_server_up', { tenant: 'default', server: 'alpha' })).toBe(1);
  });
});

describe('metrics switches', () => {
  it('tenantLabels: false leaves the tenant label out of every series', async () => {
    const hub = await startTestHub(
      makeConfig({ alpha: fixtureEntry('alpha') }, { telemetry: { metrics: { tenantLabels: false } } }),
    );
    const agent = await connectAgent(hub.url);
    await agent.callTool({ name: 'alpha__echo', arguments: { text: 'hi' } });
    const m = await scrape(`${hub.url}/metrics`, undefined);
    expect(valueOf(m, 'switchboard_tool_calls_total', { tool: 'alpha__echo', outcome: 'success' })).toBe(1);
    expect(valueOf(m, 'switchboard_server_up', { server: 'alpha' })).toBe(1);
    expect(m.filter((s) => s.name.startsWith('switchboard_') && 'tenant' in s.labels)).toEqual([]);
  });

  it('a metrics port in use fails the start and leaves nothing listening', async () => {
    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    onCleanup(() => new Promise((resolve) => busy.close(resolve)));
    const metricsPort = (busy.address() as AddressInfo).port;
    const port = await freePort();
    const config = makeConfig({}, { http: { port }, telemetry: { metrics: { port: metricsPort } } });
    await expect(startTestHub(config)).rejects.toThrow(/EADDRINUSE/);
    // The hub's own port had bound before the metrics port failed: it is closed again.
    await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
    // And the same config starts once the port is free.
    await new Promise((resolve) => busy.close(resolve));
    const hub = await startTestHub(config);
    expect((await fetch(`${hub.url}/healthz`)).status).toBe(200);
  });

  it('enabled: false serves no /metrics', async () => {
    const hub = await startTestHub(makeConfig({}, { telemetry: { metrics: { enabled: false } } }));
    expect((await fetch(`${hub.url}/metrics`)).status).toBe(404);
  });
});

describe('a sidecar with a metrics port', () => {
  it('serves its metrics there', async () => {
    const dir = tempDir('switchboard-metrics-sidecar-');
    const port = await freePort();
    const file = join(dir, 'switchboard.json');
    writeFileSync(
      file,
      JSON.stringify({
        routing: { modelsDir: join(ROOT, 'models') },
        store: { path: join(dir, 'switchboard.db') },
        log: { level: 'warn' },
        telemetry: { metrics: { port } },
        servers: { alpha: fixtureEntry('alpha') },
      }),
    );
    const { agent } = await startSidecarProcess(file, 'metrics-sidecar-test');
    await waitFor(async () => (await agent.listTools()).tools.some((t) => t.name === 'alpha__echo'));
    await agent.callTool({ name: 'alpha__echo', arguments: { text: 'hi' } });
    const m = await scrape(`http://127.0.0.1:${port}/metrics`, undefined);
    expect(valueOf(m, 'switchboard_tool_calls_total', { tool: 'alpha__echo', outcome: 'success' })).toBe(1);
    expect(valueOf(m, 'switchboard_server_up', { server: 'alpha' })).toBe(1);
  });
});

describe('the metrics observer', () => {
  const event = (over: Partial<AuditEvent>): AuditEvent => ({
    time: Date.now(),
    tenant: 'acme',
    agent: 'a',
    method: 'tools/call',
    decision: 'allow',
    outcome: 'success',
    latencyMs: 3,
    bytesIn: 0,
    bytesOut: 0,
    ...over,
  });

  it('counts failovers per instance left, refusal reasons, and ignores admin events', async () => {
    const metrics = new Metrics({ tenantLabels: true, version: 'test', processMetrics: false });
    const observe = metricsObserver(metrics);
    const call = { tool: 'gh__search', server: 'gh' };
    observe(event({ ...call, instance: 'gh-3', detail: { attempts: ['gh-1', 'gh-2', 'gh-3'] } }));
    observe(event({ ...call, instance: 'gh-2', detail: { attempts: ['gh-1', 'gh-2'] } }));
    observe(event({ ...call, decision: 'deny', policies: ['no-gh'], outcome: 'denied' }));
    observe(event({ ...call, decision: 'deny', policies: [], outcome: 'denied' }));
    observe(event({ ...call, outcome: 'limited', errorCode: 'QUOTA_EXCEEDED' }));
    observe(event({ method: 'call_capability', ...call, instance: 'gh-1', outcome: 'isError' }));
    observe(event({ method: 'resources/read', tool: 'file:///secret/unbounded/uri', server: 'fs' }));
    observe(event({ method: 'admin', detail: { action: 'config.reload' } }));
    const m = parse(await metrics.render());
    const at = (instance: string) => ({ tenant: 'acme', server: 'gh', server_instance: instance });
    expect(valueOf(m, 'switchboard_failovers_total', at('gh-1'))).toBe(2);
    expect(valueOf(m, 'switchboard_failovers_total', at('gh-2'))).toBe(1);
    expect(valueOf(m, 'switchboard_failovers_total', at('gh-3'))).toBeUndefined();
    const reason = (r: string) => valueOf(m, 'switchboard_refusals_total', { tenant: 'acme', reason: r });
    expect([reason('policy'), reason('scope'), reason('quota'), reason('rate_limit')]).toEqual([1, 1, 1, undefined]);
    expect(valueOf(m, 'switchboard_tool_calls_total', { ...at('gh-1'), outcome: 'isError' })).toBe(1);
    expect(valueOf(m, 'switchboard_tool_calls_total')).toBe(6);
    expect(valueOf(m, 'switchboard_tool_call_duration_seconds_count', { tool: 'gh__search' })).toBe(3);
    expect(valueOf(m, 'switchboard_requests_total', { method: 'resources/read' })).toBe(1);
    expect(valueOf(m, 'switchboard_requests_total', { method: 'admin' })).toBeUndefined();
    expect(m.some((s) => Object.values(s.labels).includes('file:///secret/unbounded/uri'))).toBe(false);
    // The latency histogram: 3 ms falls in the 5 ms bucket and every one above it, not below.
    const bucket = (le: string) =>
      valueOf(m, 'switchboard_tool_call_duration_seconds_bucket', { ...at('gh-3'), tool: 'gh__search', le });
    expect([bucket('0.0025'), bucket('0.005'), bucket('+Inf')]).toEqual([0, 1, 1]);
    expect(valueOf(m, 'switchboard_tool_call_duration_seconds_sum', at('gh-3'))).toBeCloseTo(0.003, 9);
  });
});
