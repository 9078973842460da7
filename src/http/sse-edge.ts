/**
 * The agent-facing legacy HTTP+SSE transport (protocol 2024-11-05), for older clients that cannot
 * speak Streamable HTTP: `GET /sse` opens an event stream whose first event names the endpoint
 * (`/messages?sessionId=...`), and each `POST` there delivers one JSON-RPC message to the session.
 * The v2 SDK no longer ships a server side for it, so this is a small implementation of the SDK's
 * `Transport` interface; each session gets its own sessionful agent-facing server.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { JSONRPCMessage, Transport } from '@modelcontextprotocol/server';
import { DEFAULT_TENANT, samePrincipal, type Principal } from '../core/principal.js';
import { createAgentServer, watchView } from '../mcp/agent-server.js';
import { principalOf } from './auth-hook.js';
import type { EdgeRouter } from './mcp-route.js';
import type { Logger } from '../telemetry/logger.js';

/** One SSE stream and the messages posted for it. */
class SseServerTransport implements Transport {
  readonly sessionId = randomUUID();
  onclose?: (() => void) | undefined;
  onerror?: ((error: Error) => void) | undefined;
  onmessage?: ((message: JSONRPCMessage) => void) | undefined;
  readonly #res: ServerResponse;
  readonly #endpoint: string;
  #closed = false;

  constructor(endpoint: string, res: ServerResponse) {
    this.#endpoint = endpoint;
    this.#res = res;
  }

  async start(): Promise<void> {
    this.#res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
    });
    this.#res.write(`event: endpoint\ndata: ${this.#endpoint}?sessionId=${this.sessionId}\n\n`);
    this.#res.on('close', () => void this.close());
  }

  async send(message: JSONRPCMessage): Promise<void> {
    if (this.#closed) throw new Error('the SSE stream is closed');
    this.#res.write(`event: message\ndata: ${JSON.stringify(message)}\n\n`);
  }

  /** Hands a posted message to the server. */
  receive(message: JSONRPCMessage): void {
    this.onmessage?.(message);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#res.end();
    this.onclose?.();
  }
}

/** The `/sse` and `/messages` endpoints; `close()` ends every stream. */
export interface SseEdge {
  open(req: IncomingMessage, res: ServerResponse): Promise<void>;
  /**
   * Delivers a POSTed body; answers 202, or 400/404 when the session is missing (or belongs to another
   * principal: that reads as missing, so a session id alone is worth nothing to someone else).
   */
  post(sessionId: string | undefined, body: unknown, req: IncomingMessage, res: ServerResponse): void;
  readonly sessions: number;
  close(): Promise<void>;
}

/** Builds the legacy SSE edge over the shared agent-server dependencies. */
export function createSseEdge(route: EdgeRouter, log: Logger): SseEdge {
  const sessions = new Map<string, SseServerTransport>();
  const owners = new Map<string, Principal | undefined>();
  const reply = (res: ServerResponse, status: number, text: string) =>
    res.writeHead(status, { 'content-type': 'text/plain' }).end(text);
  return {
    async open(req, res) {
      const principal = principalOf(req);
      const edge = route(principal?.tenant ?? DEFAULT_TENANT);
      if (!edge) return void reply(res, 403, 'tenant not configured');
      const { deps, notifier } = edge;
      await edge.startup; // like /mcp: the first answers wait for the initial servers (gateway.startupWaitMs)
      const transport = new SseServerTransport('/messages', res);
      sessions.set(transport.sessionId, transport);
      owners.set(transport.sessionId, principal);
      transport.onclose = () => {
        sessions.delete(transport.sessionId);
        owners.delete(transport.sessionId);
      };
      const server = createAgentServer(deps, { sessionful: true, principal });
      notifier.track(server, watchView(deps, server, principal));
      await server.connect(transport);
      log.debug({ session: transport.sessionId }, 'legacy SSE session opened');
    },
    post(sessionId, body, req, res) {
      if (!sessionId) return reply(res, 400, 'Missing sessionId query parameter');
      const transport = sessions.get(sessionId);
      if (!transport || !samePrincipal(owners.get(sessionId), principalOf(req)))
        return reply(res, 404, 'Session not found; open a new stream with GET /sse');
      const messages = (Array.isArray(body) ? body : [body]) as JSONRPCMessage[];
      if (messages.some((m) => typeof m !== 'object' || m === null || (m as { jsonrpc?: unknown }).jsonrpc !== '2.0')) {
        return reply(res, 400, 'Body must be a JSON-RPC 2.0 message');
      }
      reply(res, 202, 'Accepted');
      for (const message of messages) transport.receive(message);
    },
    get sessions() {
      return sessions.size;
    },
    async close() {
      await Promise.all([...sessions.values()].map((t) => t.close()));
      sessions.clear();
      owners.clear();
    },
  };
}
