/**
 * Two agents whose calls run on one upstream connection at the same time each get their own
 * server-to-client requests. Over Streamable HTTP the upstream's request arrives on the answer
 * stream of the call it belongs to, inside that call's async context, so the gateway can tell
 * the agents apart (client-relay.ts, rule 1); the published server-everything is the upstream.
 */
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanup, makeConfig, onCleanup, startEverythingHttp, startTestHub } from './helpers.js';

afterAll(cleanup);

describe('concurrent relays', () => {
  it('two agents sampling at once through one HTTP upstream each get their own request', async () => {
    const everything = await startEverythingHttp('streamableHttp');
    const hub = await startTestHub(makeConfig({ everything: { url: everything.url } }, { routing: { model: 'none' } }));
    const agents = await Promise.all(
      ['a', 'b'].map(async (name) => {
        const client = new Client({ name: `agent-${name}`, version: '1.0.0' }, { capabilities: { sampling: {} } });
        const seen: string[] = [];
        client.setRequestHandler('sampling/createMessage', async (request) => {
          seen.push(JSON.stringify(request.params.messages));
          await new Promise((r) => setTimeout(r, 300)); // keep both calls in flight together
          return { model: name, role: 'assistant', content: { type: 'text', text: `answer from ${name}` } };
        });
        await client.connect(new StreamableHTTPClientTransport(new URL(`${hub.url}/mcp`)));
        onCleanup(() => client.close());
        return { name, client, seen };
      }),
    );
    const results = await Promise.all(
      agents.map((a) =>
        a.client.callTool({
          name: 'everything__trigger-sampling-request',
          arguments: { prompt: `from ${a.name}`, maxTokens: 5 },
        }),
      ),
    );
    for (const [i, a] of agents.entries()) {
      expect(JSON.stringify(results[i]?.content)).toContain(`answer from ${a.name}`);
      expect(a.seen).toHaveLength(1);
      expect(a.seen[0]).toContain(`from ${a.name}`);
    }
  });
});
