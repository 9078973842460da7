/**
 * The `/mcp` endpoint for both protocol eras.
 *
 * - 2026-07-28 requests (and stateless 2025 requests) go to the SDK's per-request handler, whose
 *   event bus carries list changes to `subscriptions/listen` streams.
 * - A 2025-era `initialize` opens a session: a Streamable HTTP server transport of its own with an
 *   `Mcp-Session-Id`, so the agent can hold a GET stream and receive unsolicited `list_changed`.
 *   Later requests with that id are routed to it; an unknown id gets 404 (start a new session).
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { NodeStreamableHTTPServerTransport, toNodeHandler } from '@modelcontextprotocol/node';
import { createMcpHandler, isInitializeRequest } from '@modelcontextprotocol/server';
import type { Logger } from '../telemetry/logger.js';
import { createAgentServer, type AgentServerDeps } from '../mcp/agent-server.js';
import type { AgentNotifier } from '../mcp/notifier.js';

/** Serves `/mcp`; `close()` ends every session and in-flight exchange. */
export interface McpEndpoint {
  handle(req: IncomingMessage, res: ServerResponse, body: unknown): Promise<void>;
  readonly sessions: number;
  close(): Promise<void>;
}

/** Builds the endpoint over shared agent-server dependencies. */
export function createMcpEndpoint(deps: AgentServerDeps, notifier: AgentNotifier, log: Logger): McpEndpoint {
  const modern = createMcpHandler(() => createAgentServer(deps), {
    maxRequestBodySize: deps.maxRequestBytes,
    onerror: (error) => log.debug({ err: error.message }, 'mcp handler error'),
  });
  notifier.addPublisher(modern.notify);
  const modernNode = toNodeHandler(modern);
  const sessions = new Map<string, NodeStreamableHTTPServerTransport>();

  async function openSession(req: IncomingMessage, res: ServerResponse, body: unknown): Promise<void> {
    const transport: NodeStreamableHTTPServerTransport = new NodeStreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => {
        sessions.set(id, transport);
        log.debug({ session: id }, 'legacy session opened');
      },
    });
    transport.onclose = () => {
      if (transport.sessionId) sessions.delete(transport.sessionId);
    };
    const server = createAgentServer(deps);
    notifier.track(server);
    await server.connect(transport);
    await transport.handleRequest(req, res, body);
  }

  return {
    async handle(req, res, body) {
      const header = req.headers['mcp-session-id'];
      const sessionId = Array.isArray(header) ? header[0] : header;
      if (sessionId !== undefined) {
        const transport = sessions.get(sessionId);
        if (!transport) {
          res
            .writeHead(404, { 'content-type': 'application/json' })
            .end(
              JSON.stringify({
                jsonrpc: '2.0',
                error: { code: -32001, message: 'Session not found; start a new session with initialize' },
                id: null,
              }),
            );
          return;
        }
        await transport.handleRequest(req, res, body);
        return;
      }
      if (req.method === 'POST' && isInitializeBody(body)) {
        await openSession(req, res, body);
        return;
      }
      await modernNode(req, res, body);
    },
    get sessions() {
      return sessions.size;
    },
    async close() {
      await Promise.all([...sessions.values()].map((t) => t.close().catch(() => {})));
      sessions.clear();
      await modern.close();
    },
  };
}

function isInitializeBody(body: unknown): boolean {
  if (Array.isArray(body)) return body.some((message) => isInitializeRequest(message));
  return isInitializeRequest(body);
}
