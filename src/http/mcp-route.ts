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
import { createAgentServer, viewWatch, watchView, type AgentServerDeps } from '../mcp/agent-server.js';
import type { AgentNotifier } from '../mcp/notifier.js';
import { DEFAULT_TENANT, principalKey, samePrincipal, type Principal } from '../core/principal.js';
import { principalOf } from './auth-hook.js';
import { SessionTable, type SessionLimits } from './sessions.js';

/** Principals with a 2026-07-28 handler of their own at once (see modernFor). */
const MAX_HANDLERS = 1_000;

/** Serves `/mcp`; `close()` ends every session and in-flight exchange. */
export interface McpEndpoint {
  handle(req: IncomingMessage, res: ServerResponse, body: unknown): Promise<void>;
  readonly sessions: number;
  close(): Promise<void>;
}

/** One tenant's side of the agent edges: its agent-server deps, its notifier, its start-up hold. */
export interface TenantEdge {
  readonly deps: AgentServerDeps;
  readonly notifier: AgentNotifier;
  /** Agent servers are built only once this settles (the gateway's bounded start-up hold); absent: no hold. */
  readonly startup?: Promise<void> | undefined;
}

/** The edge of a principal's tenant (`default` for unauthenticated callers); undefined: not configured. */
export type EdgeRouter = (tenant: string) => TenantEdge | undefined;

/** Options of the endpoint. */
export interface McpEndpointOptions {
  /** Session expiry and caps; default: the default tenant's config `http.sessions`. */
  readonly sessions?: SessionLimits;
}

/** Builds the endpoint over each tenant's agent-server dependencies. */
export function createMcpEndpoint(route: EdgeRouter, log: Logger, options: McpEndpointOptions = {}): McpEndpoint {
  const home = route(DEFAULT_TENANT);
  if (!home) throw new Error('the default tenant has no edge');
  /** The edge of a principal's tenant (the auth hook refused principals of other tenants already). */
  const edgeOf = (principal: Principal | undefined): TenantEdge => {
    const edge = route(principal?.tenant ?? DEFAULT_TENANT);
    if (!edge) throw new Error(`no edge for tenant "${principal?.tenant ?? DEFAULT_TENANT}"`);
    return edge;
  };
  /**
   * 2026-07-28 handlers: one for unauthenticated callers, and one per principal with auth, so that a
   * `subscriptions/listen` stream (the handler's event bus) hears only of changes its principal can
   * see. Bounded: past MAX_HANDLERS the least recently used handler is closed (its streams end; the
   * clients listen again).
   */
  const handlers = new Map<string, { node: ReturnType<typeof toNodeHandler>; close: () => Promise<void> }>();
  const modernFor = (principal: Principal | undefined) => {
    const { deps, notifier, startup } = edgeOf(principal);
    const key = principal ? principalKey(principal) : '';
    let entry = handlers.get(key);
    if (entry) {
      handlers.delete(key);
      handlers.set(key, entry);
      return entry.node;
    }
    const handler = createMcpHandler(
      async () => {
        await startup;
        return createAgentServer(deps, { principal });
      },
      {
        maxRequestBodySize: deps.maxRequestBytes,
        onerror: (error) => log.debug({ err: error.message }, 'mcp handler error'),
      },
    );
    const watch = principal ? viewWatch(deps, () => principal) : undefined;
    const unpublish = notifier.addPublisher(handler.notify, watch);
    entry = {
      node: toNodeHandler(handler),
      close: async () => {
        unpublish();
        await handler.close();
      },
    };
    handlers.set(key, entry);
    if (handlers.size > MAX_HANDLERS) {
      const [oldest, evicted] = handlers.entries().next().value as [string, { close: () => Promise<void> }];
      handlers.delete(oldest);
      void evicted.close();
    }
    return entry.node;
  };
  const sessions = new SessionTable<NodeStreamableHTTPServerTransport>(
    options.sessions ?? home.deps.gateway.config.http.sessions,
    log,
  );
  /** Who opened each session: later requests must come from the same principal. */
  const owners = new WeakMap<NodeStreamableHTTPServerTransport, Principal | undefined>();

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
    const principal = principalOf(req);
    const { deps, notifier, startup } = edgeOf(principal);
    owners.set(transport, principal);
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
      const server = createAgentServer(deps, { sessionful: true, principal });
      notifier.track(server, watchView(deps, server, principal));
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
        // Another principal's session reads as unknown: a session id alone is worth nothing to someone else.
        if (!entry || !samePrincipal(owners.get(entry.resource), principalOf(req))) {
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
      await modernFor(principalOf(req))(req, res, body);
    },
    get sessions() {
      return sessions.size;
    },
    async close() {
      await sessions.close();
      await Promise.all([...handlers.values()].map((h) => h.close()));
      handlers.clear();
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
