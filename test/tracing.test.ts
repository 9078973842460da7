/**
 * Distributed tracing end to end, with real parts: a hub exporting over OTLP/HTTP to a real receiver on
 * loopback (test/fixtures/otlp-receiver.ts), real fixture servers over Streamable HTTP, real SDK agents.
 * Server `alpha` has two instances: the primary is a loopback HTTP proxy in front of the fixture that
 * answers 502 to trace_probe calls (so every such call fails over to the backup), and `beta` offers the
 * same tool, so call_capability with `fanout` runs both. The fixture's trace_probe tool answers with the
 * `_meta` and the traceparent header it received.
 *
 * Checked: the span tree (request -> attempts; request -> fan-out branches -> attempts), the agent's
 * traceparent (in `_meta`, or as an HTTP header) as the request span's parent, the traceparent each
 * upstream received (header and `_meta`) naming its attempt span, the audit event's and the log lines'
 * trace id; and with tracing off: no trace stage in any chain, nothing injected, nothing exported.
 */
import { createServer, request, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { trace } from '@opentelemetry/api';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, describe, expect, it } from 'vitest';
import { startHub, type Hub } from '../src/compose.js';
import { AccessControl } from '../src/gateway/access.js';
import { chains, type Chains } from '../src/mcp/pipeline/chains.js';
import { ArgumentValidator } from '../src/mcp/validate.js';
import { createLogger } from '../src/telemetry/logger.js';
import { startOtlpReceiver, type ReceivedSpan } from './fixtures/otlp-receiver.js';
import {
  cleanup,
  connectAgent,
  makeConfig,
  onCleanup,
  startHttpFixture,
  startTestHub,
  waitFor,
  type Era,
} from './helpers.js';

afterAll(cleanup);

const ADMIN = 'trace-admin-token';
const SERVER = 2;
const CLIENT = 3;
const ERROR = 2;

/** What trace_probe saw. */
interface Seen {
  server: string;
  meta: Record<string, unknown>;
  traceparent: string | null;
  tracestate: string | null;
}

/** A proxy to `port` that fails every trace_probe call with 502 (recording its headers) and passes the rest. */
async function failingProxy(port: number): Promise<{ url: string; failed: IncomingHttpHeaders[] }> {
  const failed: IncomingHttpHeaders[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const text = body.toString('utf8');
      if (req.method === 'POST' && text.includes('"tools/call"') && text.includes('trace_probe')) {
        failed.push(req.headers);
        return void res.writeHead(502, { 'content-type': 'text/plain' }).end('bad gateway');
      }
      const upstream = request(
        { host: '127.0.0.1', port, method: req.method, path: req.url, headers: req.headers },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      upstream.on('error', () => res.destroy());
      upstream.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onCleanup(() => {
    server.closeAllConnections();
    server.close();
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`, failed };
}

/** An agent of `era` that sends `headers` on every HTTP request. */
async function agentWithHeaders(url: string, era: Era, headers: Record<string, string>): Promise<Client> {
  const client = new Client(
    { name: 'header-agent', version: '1.0.0' },
    era === 'modern' ? { versionNegotiation: { mode: { pin: '2026-07-28' } } } : {},
  );
  await client.connect(new StreamableHTTPClientTransport(new URL(`${url}/mcp`), { requestInit: { headers } }));
  onCleanup(() => client.close());
  return client;
}

async function probe(agent: Client, tool: string, meta?: Record<string, unknown>): Promise<Seen> {
  const result = await agent.callTool({ name: tool, arguments: {}, ...(meta ? { _meta: meta } : {}) });
  expect(result.isError, JSON.stringify(result.content)).toBeFalsy();
  return result.structuredContent as Seen;
}

const hex = (n: number, digit: string) => digit.repeat(n);
const childrenOf = (spans: ReceivedSpan[], parent: ReceivedSpan) =>
  spans.filter((s) => s.traceId === parent.traceId && s.parentSpanId === parent.spanId);
const byRetry = (a: ReceivedSpan, b: ReceivedSpan) =>
  Number(a.attributes['switchboard.retry']) - Number(b.attributes['switchboard.retry']);
const traceparentOf = (span: ReceivedSpan) => `00-${span.traceId}-${span.spanId}-01`;

/** Every chain's stage names. */
function stageNames(c: Chains): string[][] {
  return [c.tool, c.meta!.find, c.meta!.call, c.meta!.report, c.prompt, c.resource, c.completion].map((p) => [
    ...p.stages,
  ]);
}

describe('tracing', () => {
  let hub: Hub;
  let receiver: Awaited<ReturnType<typeof startOtlpReceiver>>;

  it('one call through a retry and a fan-out: the span tree, the agent as parent, the traceparent upstream', async () => {
    receiver = await startOtlpReceiver();
    onCleanup(() => receiver.close());
    const alpha = await startHttpFixture('alpha', ['--tools', 'trace_probe,echo']);
    const beta = await startHttpFixture('beta', ['--tools', 'trace_probe']);
    const proxy = await failingProxy(alpha.port);
    const logs: string[] = [];
    hub = await startHub(
      makeConfig(
        {
          alpha: { instances: [{ url: proxy.url }, { url: alpha.url, tier: 'backup' }] },
          beta: { url: beta.url },
        },
        {
          telemetry: { tracing: { endpoint: receiver.url, serviceName: 'switchboard-test' } },
          http: { adminToken: ADMIN },
          audit: { batchMs: 20 },
          // A rule that never refuses: the limit stage's span shows its decision.
          limits: { rules: [{ name: 'roomy', per: 'agent', points: 1_000_000, intervalMs: 60_000 }] },
          routing: { model: 'none' },
        },
      ),
      { log: createLogger({ level: 'info', destination: { write: (line: string) => void logs.push(line) } }) },
    );
    onCleanup(() => hub.close());
    await hub.ready;
    await waitFor(
      () => hub.gateway.listServers().every((s) => s.instances.every((i) => i.state === 'ready')),
      30_000,
      'every instance connected',
    );

    // 1. tools/call with the agent's trace context in _meta; the primary fails, the backup answers.
    const t1 = hex(32, 'a');
    const p1 = hex(16, 'b');
    const agent = await connectAgent(hub.url);
    const seen1 = await probe(agent, 'alpha__trace_probe', {
      traceparent: `00-${t1}-${p1}-01`,
      tracestate: 'vendor=x1',
    });
    expect(seen1.server).toBe('alpha');
    expect(proxy.failed).toHaveLength(1);

    // 2. The agent's trace context as an HTTP header, no _meta (agents of both protocol eras).
    const byHeader: { era: Era; traceId: string; parent: string; seen?: Seen }[] = [
      { era: 'modern', traceId: hex(32, 'c'), parent: hex(16, 'd') },
      { era: 'legacy', traceId: hex(32, '1'), parent: hex(16, '2') },
    ];
    for (const h of byHeader) {
      const headerAgent = await agentWithHeaders(hub.url, h.era, { traceparent: `00-${h.traceId}-${h.parent}-01` });
      h.seen = await probe(headerAgent, 'beta__trace_probe');
    }

    // 3. call_capability with fanout over the equivalents alpha__trace_probe and beta__trace_probe.
    const fanned = await agent.callTool({
      name: 'call_capability',
      arguments: { tool: 'alpha__trace_probe', fanout: true, arguments: {} },
    });
    expect(fanned.isError, JSON.stringify(fanned.content)).toBeFalsy();
    const branches = (fanned.structuredContent as { branches: { tool: string; structuredContent: Seen }[] }).branches;
    expect(branches.map((b) => b.tool).sort()).toEqual(['alpha__trace_probe', 'beta__trace_probe']);
    expect(proxy.failed).toHaveLength(2);

    // The audit event of call 1 carries its trace id.
    const audit = await waitFor(async () => {
      const res = await fetch(`${hub.url}/v1/audit?tool=alpha__trace_probe&method=tools/call`, {
        headers: { authorization: `Bearer ${ADMIN}` },
      });
      const events = ((await res.json()) as { events: { traceId?: string }[] }).events;
      return events.length > 0 ? events : undefined;
    });
    expect(audit.map((e) => e.traceId)).toEqual([t1]);

    await hub.close(); // flushes every span
    const spans = receiver.spans;
    expect(spans.every((s) => s.resource['service.name'] === 'switchboard-test')).toBe(true);

    // Call 1: the request span is the agent's child; two attempt spans under it; the upstreams saw them.
    const request1 = spans.find((s) => s.traceId === t1 && s.kind === SERVER)!;
    expect(request1).toMatchObject({
      name: 'tools/call alpha__trace_probe',
      parentSpanId: p1,
      status: { code: 0 },
      attributes: {
        'rpc.system': 'mcp',
        'rpc.method': 'tools/call',
        'mcp.tool': 'alpha__trace_probe',
        'mcp.server': 'alpha',
        'switchboard.tenant': 'default',
        'switchboard.agent': 'test-agent',
        'switchboard.outcome': 'success',
      },
    });
    const attempts1 = childrenOf(spans, request1)
      .filter((s) => s.kind === CLIENT)
      .sort(byRetry);
    expect(attempts1.map((s) => [s.name, s.attributes['switchboard.instance'], s.status.code])).toEqual([
      ['tools/call trace_probe', 'alpha#1', ERROR],
      ['tools/call trace_probe', 'alpha#2', 0],
    ]);
    expect(attempts1[0]!.attributes['error.type']).toBe('UPSTREAM_FAILED');
    expect(attempts1[1]!.attributes).toMatchObject({
      'switchboard.retry': 1,
      'switchboard.failover.code': 'UPSTREAM_FAILED',
      'server.address': '127.0.0.1',
      'server.port': alpha.port,
    });
    expect(String(attempts1[1]!.attributes['switchboard.failover.reason'])).toMatch(/alpha#1|502/);
    // The limit stage's decision has its span; authorize decides nothing for a caller with the full view.
    expect(childrenOf(spans, request1).map((s) => s.name)).toContain('limit');
    expect(childrenOf(spans, request1).map((s) => s.name)).not.toContain('authorize');
    // The backup got attempt 2's context, as header and in _meta (the agent's tracestate carried on);
    // the failing primary got attempt 1's header.
    expect(seen1.traceparent).toBe(traceparentOf(attempts1[1]!));
    expect(seen1.meta.traceparent).toBe(traceparentOf(attempts1[1]!));
    expect([seen1.tracestate, seen1.meta.tracestate]).toEqual(['vendor=x1', 'vendor=x1']);
    expect(proxy.failed[0]!.traceparent).toBe(traceparentOf(attempts1[0]!));

    // Call 2: the header's trace context is the parent.
    for (const h of byHeader) {
      const request2 = spans.find((s) => s.traceId === h.traceId && s.kind === SERVER);
      expect(request2, h.era).toMatchObject({ name: 'tools/call beta__trace_probe', parentSpanId: h.parent });
      const [attempt2] = childrenOf(spans, request2!).filter((s) => s.kind === CLIENT);
      expect([h.seen?.traceparent, h.seen?.meta.traceparent]).toEqual([
        traceparentOf(attempt2!),
        traceparentOf(attempt2!),
      ]);
    }

    // Call 3: request -> one branch span per equivalent -> attempt spans (alpha's fails over).
    const request3 = spans.find((s) => s.name === 'tools/call call_capability')!;
    expect(request3.parentSpanId).toBeUndefined();
    const branchSpans = childrenOf(spans, request3).filter((s) => s.name.startsWith('fanout '));
    expect(branchSpans.map((s) => s.name).sort()).toEqual(['fanout alpha__trace_probe', 'fanout beta__trace_probe']);
    for (const branch of branchSpans) {
      const attempts = childrenOf(spans, branch)
        .filter((s) => s.kind === CLIENT)
        .sort(byRetry);
      const tool = String(branch.attributes['mcp.tool']);
      expect(attempts.map((s) => s.attributes['switchboard.instance'])).toEqual(
        tool === 'alpha__trace_probe' ? ['alpha#1', 'alpha#2'] : ['beta'],
      );
      const got = branches.find((b) => b.tool === tool)!.structuredContent;
      expect([got.traceparent, got.meta.traceparent]).toEqual([
        traceparentOf(attempts.at(-1)!),
        traceparentOf(attempts.at(-1)!),
      ]);
    }

    // Log lines of call 1 carry its trace id (the gateway's tools/call line: the request span's ids).
    const lines = logs.map((l) => JSON.parse(l) as { msg: string; trace_id?: string; span_id?: string });
    const callLine = lines.find((l) => l.msg === 'tools/call' && l.trace_id === t1);
    expect(callLine?.span_id).toBe(request1.spanId);
    expect(lines.find((l) => l.msg === 'hub listening')?.trace_id).toBeUndefined();
  });

  it('tracing off: no trace stage in any chain, the agent trace context passes through, nothing exported', async () => {
    const exports = receiver.requests();
    const beta = await startHttpFixture('beta', ['--tools', 'trace_probe']);
    const off = await startTestHub(
      makeConfig(
        { beta: { url: beta.url } },
        { http: { adminToken: ADMIN }, audit: { batchMs: 20 }, routing: { model: 'none' } },
      ),
    );
    const deps = {
      gateway: off.gateway,
      access: new AccessControl(),
      validator: new ArgumentValidator(),
      maxRequestBytes: 1_000_000,
      capabilities: off.capabilities,
    };
    expect(stageNames(chains(deps)).flat()).not.toContain('trace');
    // The same chains with a tracer (the API's no-op one is enough here) start with it.
    expect(stageNames(chains({ ...deps, tracer: trace.getTracer('t') })).map((s) => s[0])).toEqual(
      Array(7).fill('trace'),
    );

    const t3 = hex(32, 'e');
    const sent = `00-${t3}-${hex(16, 'f')}-01`;
    const seen = await probe(await connectAgent(off.url), 'beta__trace_probe', { traceparent: sent });
    expect(seen.meta.traceparent).toBe(sent); // the agent's own, unchanged
    expect(seen.traceparent).toBeNull(); // no header added
    const audit = await waitFor(async () => {
      const res = await fetch(`${off.url}/v1/audit?tool=beta__trace_probe`, {
        headers: { authorization: `Bearer ${ADMIN}` },
      });
      const events = ((await res.json()) as { events: { traceId?: string }[] }).events;
      return events.length > 0 ? events : undefined;
    });
    expect(audit[0]?.traceId).toBe(t3); // read from the agent's traceparent, as before
    await off.close();
    expect(receiver.requests()).toBe(exports);
    expect(receiver.spans.filter((s) => s.traceId === t3)).toEqual([]);
  });
});
