/**
 * The `/mcp` endpoint for both protocol eras.
 *
 * - 2026-07-28 requests (and stateless 2025 requests) go to the SDK's per-request handler, whose
 *   event bus carries list changes to `subscriptions/listen` streams.
 * - A 2025-era `initialize` opens a session: a Streamable HTTP server transport of its own with an
 *   `Mcp-Session-Id`, so the agent can hold a GET stream and receive unsolicited `list_changed`.
 *   Later requests with that id are routed to it; an unknown id gets 404 (start a new session).
 *   Sessions expire when idle and are capped per client address and overall (`http.sessions`, see
 *   sessions.ts); `DELETE /mcp` with the id ends one. Ending a session closes its agent server, which
 *   unregisters it from the gateway's agents and the notifier.
 *
 * During start-up (`startup` pending) both wait before an agent server is built: a session's
 * `initialize` and every 2026-07-28 request are answered once every initial upstream has had its
 * first connection attempt (bounded by `gateway.startupWaitMs`), so an agent that connects before
 * /readyz turns ready still sees the whole catalog in its first tools/list. Other routes are not held.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { NodeStreamableHTTPServerTransport, toNodeHandler } from '@modelcontextprotocol/node';
import { createMcpHandler, isInitializeRequest } from '@modelcontextprotocol/server';
import type { Logger } from '../telemetry/logger.js';
import { createAgentServer, type AgentServerDeps } from '../mcp/agent-server.js';
import type { AgentNotifier } from '../mcp/notifier.js';
import { SessionTable, type SessionLimits } from './sessions.js';

/** Serves `/mcp`; `close()` ends every session and in-flight exchange. */
export interface McpEndpoint {
  handle(req: IncomingMessage, res: ServerResponse, body: unknown): Promise<void>;
  readonly sessions: number;
  close(): Promise<void>;
}

/** Options of the endpoint. */
export interface McpEndpointOptions {
  /** Agent servers are built only once this settles (the gateway's bounded start-up hold); absent: no hold. */
  readonly startup?: Promise<void>;
  /** Session expiry and caps; default: the gateway config's `http.sessions`. */
  readonly sessions?: SessionLimits;
}

/** Builds the endpoint over shared agent-server dependencies. */
export function createMcpEndpoint(
  deps: AgentServerDeps,
  notifier: AgentNotifier,
  log: Logger,
  options: McpEndpointOptions = {},
): McpEndpoint {
  const { startup } = options;
  const modern = createMcpHandler(
    async () => {
      await startup;
      return createAgentServer(deps);
    },
    {
      maxRequestBodySize: deps.maxRequestBytes,
      onerror: (error) => log.debug({ err: error.message }, 'mcp handler error'),
    },
  );
  notifier.addPublisher(modern.notify);
  const modernNode = toNodeHandler(modern);
  const sessions = new SessionTable<NodeStreamableHTTPServerTransport>(
    options.sessions ?? deps.gateway.config.http.sessions,
    log,
  );

  async function openSession(req: IncomingMessage, res: ServerResponse, body: unknown): Promise<void> {
    const address = req.socket.remoteAddress ?? 'unknown';
    const transport: NodeStreamableHTTPServerTransport = new NodeStreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => {
        if (!('limit' in entry)) sessions.name(entry, id);
        log.debug({ session: id, address }, 'legacy session opened');
      },
    });
    const entry = sessions.admit(address, transport);
    if ('limit' in entry) {
      log.warn({ address, limit: entry.limit, value: entry.value }, 'session refused: every session busy');
      const scope = entry.limit === 'max' ? 'open sessions' : 'open sessions from your address';
      res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '5' }).end(
        JSON.stringify({
          jsonrpc: '2.0',
          error: {
            code: -32000,
            message: `too many ${scope} (http.sessions.${entry.limit} = ${entry.value}), none idle; end one with DELETE /mcp or retry later`,
          },
          id: requestId(body),
        }),
      );
      return;
    }
    sessions.hold(entry, res);
    // The transport closing (DELETE, expiry, eviction, shutdown) closes the server: notifier and agents let go.
    transport.onclose = () => sessions.remove(entry);
    try {
      await startup;
      const server = createAgentServer(deps, { sessionful: true });
      notifier.track(server);
      await server.connect(transport);
      await transport.handleRequest(req, res, body);
    } finally {
      if (transport.sessionId === undefined) await transport.close(); // no session began: release it now
    }
  }

  return {
    async handle(req, res, rawBody) {
      const body = withoutSelfCancellations(rawBody);
      const header = req.headers['mcp-session-id'];
      const sessionId = Array.isArray(header) ? header[0] : header;
      if (sessionId !== undefined) {
        const entry = sessions.get(sessionId);
        if (!entry) {
          res.writeHead(404, { 'content-type': 'application/json' }).end(
            JSON.stringify({
              jsonrpc: '2.0',
              error: { code: -32001, message: 'Session not found; start a new session with initialize' },
              id: null,
            }),
          );
          return;
        }
        sessions.hold(entry, res);
        await entry.resource.handleRequest(req, res, body);
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
      await sessions.close();
      await modern.close();
    },
  };
}

/** The JSON-RPC id of a single request body, for an error answer. */
function requestId(body: unknown): string | number | null {
  const id = (body as { id?: unknown } | null)?.id;
  return typeof id === 'string' || typeof id === 'number' ? id : null;
}

function isInitializeBody(body: unknown): boolean {
  if (Array.isArray(body)) return body.some((message) => isInitializeRequest(message));
  return isInitializeRequest(body);
}

/**
 * A batch that cancels one of its own requests (`[ping#1, notifications/cancelled{requestId: 1}]`)
 * left the POST waiting forever: the cancelled request is never answered, so the response never
 * completes. The client cannot have seen anything of a request in the same POST, so such a
 * cancellation is dropped and the request answered.
 */
function withoutSelfCancellations(body: unknown): unknown {
  if (!Array.isArray(body)) return body;
  const ids = new Set<unknown>();
  for (const message of body as { id?: unknown; method?: unknown }[]) {
    if (message && typeof message === 'object' && message.id !== undefined && typeof message.method === 'string') {
      ids.add(message.id);
    }
  }
  if (ids.size === 0) return body;
  return (body as { method?: unknown; params?: { requestId?: unknown } }[]).filter(
    (message) => !(message?.method === 'notifications/cancelled' && ids.has(message.params?.requestId)),
  );
}
