/**
 * Features that pass through the gateway besides tools: sampling, elicitation and roots requests
 * made by an upstream during a call (answered by the test's own client, in both protocol eras and
 * across eras), logging levels, completions and resource subscriptions. The upstream is the
 * published server-everything (a 2025-era server), behind a real hub on loopback.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '../src/compose.js';
import {
  cleanup,
  everythingEntry,
  makeConfig,
  onCleanup,
  ROOT,
  startTestHub,
  tempDir,
  waitFor,
  type Era,
} from './helpers.js';

let hub: Hub;

beforeAll(async () => {
  hub = await startTestHub(makeConfig({ everything: everythingEntry() }, { routing: { model: 'none' } }));
});
afterAll(cleanup);

/** What a test agent saw: the server-to-client requests it answered and the notifications it got. */
interface Seen {
  sampling: unknown[];
  elicitation: unknown[];
  roots: number;
  logs: { level: string; logger?: string; data: unknown }[];
  updated: string[];
}

/** A real client with sampling, elicitation (form and URL) and roots handlers. */
async function agent(
  era: Era,
  caps: { sampling?: boolean; elicitation?: boolean; roots?: boolean } = {},
  url = hub.url,
) {
  const { sampling = true, elicitation = true, roots = true } = caps;
  const client = new Client(
    { name: `agent-${era}`, version: '1.0.0' },
    {
      capabilities: {
        ...(sampling ? { sampling: {} } : {}),
        ...(elicitation ? { elicitation: { form: {}, url: {} } } : {}),
        ...(roots ? { roots: { listChanged: true } } : {}),
      },
      ...(era === 'modern' ? { versionNegotiation: { mode: { pin: '2026-07-28' as const } } } : {}),
    },
  );
  const seen: Seen = { sampling: [], elicitation: [], roots: 0, logs: [], updated: [] };
  if (sampling) {
    client.setRequestHandler('sampling/createMessage', async (request) => {
      seen.sampling.push(request.params);
      return { model: 'test-model', role: 'assistant', content: { type: 'text', text: 'sampled by the test agent' } };
    });
  }
  if (elicitation) {
    client.setRequestHandler('elicitation/create', async (request) => {
      seen.elicitation.push(request.params);
      if (request.params.mode === 'url') return { action: 'accept' };
      return {
        action: 'accept',
        content: {
          name: 'Ada Lovelace',
          check: true,
          firstLine: 'Analytical',
          email: 'ada@example.com',
          homepage: 'https://example.com',
          birthdate: '1815-12-10',
          integer: 42,
          number: 3.14,
          untitledSingleSelectEnum: 'option1',
          titledSingleSelectEnum: 'option1',
          legacyTitledEnum: 'option1',
          untitledMultipleSelectEnum: ['option1'],
          titledMultipleSelectEnum: ['option1'],
        },
      };
    });
  }
  if (roots) {
    client.setRequestHandler('roots/list', async () => {
      seen.roots++;
      return { roots: [{ uri: 'file:///srv/project', name: 'project' }] };
    });
  }
  client.setNotificationHandler('notifications/message', (n) => void seen.logs.push(n.params as Seen['logs'][number]));
  client.setNotificationHandler('notifications/resources/updated', (n) => void seen.updated.push(n.params.uri));
  const transport = new StreamableHTTPClientTransport(new URL(`${url}/mcp`));
  await client.connect(transport);
  onCleanup(() => client.close());
  return { client, seen, transport };
}

describe.each(['legacy', 'modern'] as const)('server-to-client requests, %s agent', (era) => {
  it('relays sampling/createMessage to the calling agent and its answer back to the server', async () => {
    const { client, seen } = await agent(era);
    const result = await client.callTool({
      name: 'everything__trigger-sampling-request',
      arguments: { prompt: 'say hi', maxTokens: 20 },
    });
    expect(result.isError).not.toBe(true);
    expect(JSON.stringify(result.content)).toContain('sampled by the test agent');
    expect(seen.sampling).toHaveLength(1);
    expect(JSON.stringify(seen.sampling[0])).toContain('say hi');
  });

  it('relays a form elicitation and the accepted content', async () => {
    const { client, seen } = await agent(era);
    const result = await client.callTool({ name: 'everything__trigger-elicitation-request', arguments: {} });
    expect(seen.elicitation).toHaveLength(1);
    expect(JSON.stringify(seen.elicitation[0])).toContain('requestedSchema');
    expect(JSON.stringify(result.content)).toContain('Ada Lovelace');
  });

  it('relays roots/list during a call', async () => {
    // server-everything caches the roots of its (one, shared) client session: use a fresh hub.
    const own = await startTestHub(makeConfig({ everything: everythingEntry() }, { routing: { model: 'none' } }));
    const { client, seen } = await agent(era, {}, own.url);
    const before = seen.roots;
    const result = await client.callTool({ name: 'everything__get-roots-list', arguments: {} });
    expect(JSON.stringify(result.content)).toContain('file:///srv/project');
    expect(seen.roots).toBeGreaterThan(before);
  });

  it('gives the server a clear error when the agent did not declare sampling', async () => {
    const { client, seen } = await agent(era, { sampling: false });
    const outcome = await client
      .callTool({ name: 'everything__trigger-sampling-request', arguments: { prompt: 'x', maxTokens: 5 } })
      .then(
        (r) => JSON.stringify(r),
        (e: Error) => e.message,
      );
    expect(outcome).toMatch(/did not declare the sampling capability/);
    expect(seen.sampling).toHaveLength(0);
  });
});

describe('logging', () => {
  it('delivers upstream log messages to agents that set a level, tagged with the server and filtered by level', async () => {
    const quiet = await agent('legacy');
    const chatty = await agent('legacy');
    await chatty.client.setLoggingLevel('debug');
    await quiet.client.setLoggingLevel('emergency');
    await chatty.client.callTool({ name: 'everything__toggle-simulated-logging', arguments: {} });
    await waitFor(() => chatty.seen.logs.length >= 2, 20_000, 'two log messages');
    expect(chatty.seen.logs.every((m) => m.logger?.startsWith('everything'))).toBe(true);
    expect(quiet.seen.logs.filter((m) => m.level !== 'emergency')).toEqual([]);
    await chatty.client.callTool({ name: 'everything__toggle-simulated-logging', arguments: {} });
  });
});

describe('completions', () => {
  it('routes completion/complete for a prompt argument to the server that owns the prompt', async () => {
    const { client } = await agent('legacy');
    const result = await client.complete({
      ref: { type: 'ref/prompt', name: 'everything__completable-prompt' },
      argument: { name: 'department', value: 'E' },
    });
    expect(result.completion.values).toEqual(['Engineering']);
    const modern = await agent('modern');
    const again = await modern.client.complete({
      ref: { type: 'ref/prompt', name: 'everything__completable-prompt' },
      argument: { name: 'name', value: 'A' },
      context: { arguments: { department: 'Engineering' } },
    });
    expect(again.completion.values).toEqual(['Alice']);
  });
});

describe('resource subscriptions', () => {
  it('sends resources/updated only to the agents that subscribed, counting subscribers upstream', async () => {
    const uri = 'demo://resource/static/document/architecture.md';
    const subscriber = await agent('legacy');
    const other = await agent('legacy');
    const resources = await subscriber.client.listResources();
    const target = resources.resources.find((r) => r.uri.startsWith('demo://'))?.uri ?? uri;
    await subscriber.client.subscribeResource({ uri: target });
    await other.client.subscribeResource({ uri: target });
    expect(hub.gateway.agents.subscribers('everything', target)).toBe(2);
    await other.client.unsubscribeResource({ uri: target });
    expect(hub.gateway.agents.subscribers('everything', target)).toBe(1);
    await subscriber.client.callTool({ name: 'everything__toggle-subscriber-updates', arguments: {} });
    await waitFor(() => subscriber.seen.updated.includes(target), 20_000, 'a resources/updated notification');
    expect(other.seen.updated).toEqual([]);
    await subscriber.transport.terminateSession();
    await waitFor(
      () => hub.gateway.agents.subscribers('everything', target) === 0,
      5_000,
      'the subscription to be dropped',
    );
  });
});

describe('capabilities', () => {
  it('advertises logging, completions and resource subscriptions to agents', async () => {
    const { client } = await agent('legacy');
    const caps = client.getServerCapabilities();
    expect(caps?.logging).toBeDefined();
    expect(caps?.completions).toBeDefined();
    expect(caps?.resources?.subscribe).toBe(true);
  });
});

describe('older clients (the v1 SDK line)', () => {
  it('a v1 SSE client connects over GET /sse + POST /messages, lists, calls, and answers sampling', async () => {
    const { Client: V1Client } = await import('@modelcontextprotocol/sdk/client/index.js');
    const { SSEClientTransport } = await import('@modelcontextprotocol/sdk/client/sse.js');
    const { CreateMessageRequestSchema } = await import('@modelcontextprotocol/sdk/types.js');
    const client = new V1Client({ name: 'v1-sse-agent', version: '1.0.0' }, { capabilities: { sampling: {} } });
    client.setRequestHandler(CreateMessageRequestSchema, async () => ({
      model: 'v1-model',
      role: 'assistant' as const,
      content: { type: 'text' as const, text: 'sampled over SSE' },
    }));
    await client.connect(new SSEClientTransport(new URL(`${hub.url}/sse`)));
    onCleanup(() => client.close());
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toContain('everything__echo');
    const echo = await client.callTool({ name: 'everything__echo', arguments: { message: 'over sse' } });
    expect(JSON.stringify(echo.content)).toContain('over sse');
    const sampled = await client.callTool({
      name: 'everything__trigger-sampling-request',
      arguments: { prompt: 'hello', maxTokens: 10 },
    });
    expect(JSON.stringify(sampled.content)).toContain('sampled over SSE');
  });

  it('a v1 Streamable HTTP client gets elicitation relayed', async () => {
    const { Client: V1Client } = await import('@modelcontextprotocol/sdk/client/index.js');
    const { StreamableHTTPClientTransport: V1Http } =
      await import('@modelcontextprotocol/sdk/client/streamableHttp.js');
    const { ElicitRequestSchema } = await import('@modelcontextprotocol/sdk/types.js');
    const client = new V1Client({ name: 'v1-http-agent', version: '1.0.0' }, { capabilities: { elicitation: {} } });
    let asked = 0;
    client.setRequestHandler(ElicitRequestSchema, async () => {
      asked++;
      return { action: 'decline' as const };
    });
    await client.connect(new V1Http(new URL(`${hub.url}/mcp`)));
    onCleanup(() => client.close());
    const result = await client.callTool({ name: 'everything__trigger-elicitation-request', arguments: {} });
    expect(asked).toBe(1);
    expect(JSON.stringify(result.content)).toMatch(/declin/i);
  });

  it('answers 404 for an unknown SSE session and 400 without one', async () => {
    const unknown = await fetch(`${hub.url}/messages?sessionId=nope`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
    });
    expect(unknown.status).toBe(404);
    const missing = await fetch(`${hub.url}/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(missing.status).toBe(400);
  });
});

describe('sidecar (stdio agent)', () => {
  it('relays sampling from an upstream to the agent on stdin/stdout', async () => {
    const { StdioClientTransport } = await import('@modelcontextprotocol/client/stdio');
    const dir = tempDir();
    const file = join(dir, 'sidecar.json');
    const entry = everythingEntry();
    writeFileSync(
      file,
      JSON.stringify({
        store: { path: join(dir, 'sb.db') },
        routing: { model: 'none' },
        log: { level: 'warn' },
        mcpServers: { everything: entry },
      }),
    );
    const client = new Client({ name: 'stdio-agent', version: '1.0.0' }, { capabilities: { sampling: {} } });
    client.setRequestHandler('sampling/createMessage', async () => ({
      model: 'm',
      role: 'assistant',
      content: { type: 'text', text: 'sampled on stdio' },
    }));
    await client.connect(
      new StdioClientTransport({
        command: process.execPath,
        args: ['--import', 'tsx', join(ROOT, 'src/cli.ts'), 'stdio', '--config', file],
        cwd: ROOT,
        stderr: 'ignore',
      }),
    );
    onCleanup(() => client.close());
    const result = await client.callTool({
      name: 'everything__trigger-sampling-request',
      arguments: { prompt: 'from stdio', maxTokens: 10 },
    });
    expect(JSON.stringify(result.content)).toContain('sampled on stdio');
  });
});
