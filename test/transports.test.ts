/**
 * Upstream transports with the published server-everything: legacy HTTP+SSE and Streamable HTTP
 * at once behind one hub (resources of the same URI are served by the first server).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { cleanup, connectAgent, makeConfig, startEverythingHttp, startTestHub, textOf } from './helpers.js';

afterAll(cleanup);

describe('upstream transports', () => {
  it('federates server-everything over legacy SSE and over Streamable HTTP', async () => {
    const sse = await startEverythingHttp('sse');
    const http = await startEverythingHttp('streamableHttp');
    const hub = await startTestHub(makeConfig({ evsse: { type: 'sse', url: sse.url }, evhttp: { url: http.url } }));
    const servers = (
      (await (await fetch(`${hub.url}/v1/servers`)).json()) as {
        servers: { name: string; kind: string; state: string }[];
      }
    ).servers;
    expect(servers.map((s) => [s.name, s.kind, s.state])).toEqual([
      ['evsse', 'sse', 'ready'],
      ['evhttp', 'streamable-http', 'ready'],
    ]);
    const agent = await connectAgent(hub.url, 'modern');
    expect(textOf(await agent.callTool({ name: 'evsse__echo', arguments: { message: 'over sse' } }))).toContain(
      'over sse',
    );
    expect(textOf(await agent.callTool({ name: 'evhttp__get-sum', arguments: { a: 2, b: 40 } }))).toContain('42');
    const updates: number[] = [];
    await agent.callTool(
      { name: 'evsse__trigger-long-running-operation', arguments: { duration: 1, steps: 2 } },
      { onprogress: (p) => updates.push(p.progress) },
    );
    expect(updates.length).toBeGreaterThanOrEqual(1);
  });
});
