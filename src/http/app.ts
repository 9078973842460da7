/**
 * The hub's HTTP server (fastify): `/mcp` for agents, `/v1` admin API, `/healthz` and `/readyz`.
 *
 * Host and Origin headers are checked on every route while bound to loopback (DNS-rebinding
 * protection); beyond loopback only `http.allowedHosts` pass, and the process refuses to start
 * without an admin token. Oversize bodies are refused with 413 before anything is parsed.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { hostHeaderValidation, localhostHostValidation, localhostOriginValidation } from '@modelcontextprotocol/node';
import type { Config } from '../config/load.js';
import { asGatewayError, GatewayError } from '../core/errors.js';
import type { Capabilities } from '../gateway/capabilities.js';
import type { ExperimentRunner } from '../gateway/experiments.js';
import type { Gateway } from '../gateway/gateway.js';
import type { Logger } from '../telemetry/logger.js';
import type { McpEndpoint } from './mcp-route.js';
import type { SseEdge } from './sse-edge.js';
import { registerAdminRoutes } from './admin.js';

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

/** True when `host` only accepts connections from this machine. */
export function isLoopback(host: string): boolean {
  return LOOPBACK.has(host) || host.startsWith('127.');
}

/** Refuses configurations that would expose the admin API without a token. */
export function assertSafeBind(config: Config['http']): void {
  if (!isLoopback(config.host) && !config.adminToken) {
    throw new GatewayError(
      'CONFIG_INVALID',
      `refusing to bind ${config.host}: the admin API (/v1) would be reachable from other machines without a token; set http.adminToken (e.g. adminToken: \${SWITCHBOARD_ADMIN_TOKEN}) or bind 127.0.0.1`,
    );
  }
}

/** Dependencies of the HTTP edge. */
export interface HttpAppDeps {
  readonly config: Config;
  readonly gateway: Gateway;
  readonly capabilities: Capabilities;
  readonly experiments: ExperimentRunner;
  readonly endpoint: McpEndpoint;
  /** Legacy HTTP+SSE for older agents (`GET /sse`, `POST /messages`). */
  readonly sse?: SseEdge;
  readonly log: Logger;
  readonly isShuttingDown: () => boolean;
}

/** Builds (but does not start) the fastify app. */
export function buildHttpApp(deps: HttpAppDeps): FastifyInstance {
  const { config, gateway, endpoint } = deps;
  assertSafeBind(config.http);
  const app: FastifyInstance = Fastify({
    logger: false,
    bodyLimit: config.gateway.maxRequestBytes,
    forceCloseConnections: true,
  });

  const loopback = isLoopback(config.http.host);
  const checkHost = loopback
    ? localhostHostValidation()
    : config.http.allowedHosts.length > 0
      ? hostHeaderValidation(config.http.allowedHosts)
      : undefined;
  const checkOrigin = loopback ? localhostOriginValidation() : undefined;
  app.addHook('onRequest', async (request, reply) => {
    if (checkHost && !checkHost(request.raw, reply.raw)) return reply.hijack();
    if (checkOrigin && !checkOrigin(request.raw, reply.raw)) return reply.hijack();
  });

  app.setErrorHandler(async (error, request, reply) => {
    const fastifyError = error as { code?: string; statusCode?: number; message: string };
    let gatewayError: GatewayError;
    if (fastifyError.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      gatewayError = new GatewayError(
        'PAYLOAD_TOO_LARGE',
        `request body exceeds ${config.gateway.maxRequestBytes} bytes (gateway.maxRequestBytes)`,
      );
    } else if (
      fastifyError.statusCode !== undefined &&
      fastifyError.statusCode >= 400 &&
      fastifyError.statusCode < 500 &&
      !(error instanceof GatewayError)
    ) {
      gatewayError = new GatewayError('BAD_REQUEST', fastifyError.message);
    } else {
      gatewayError = asGatewayError(error);
    }
    if (gatewayError.code === 'INTERNAL') deps.log.error({ err: error }, 'request failed');
    if (request.url.startsWith('/mcp')) {
      return reply
        .code(gatewayError.httpStatus)
        .send({
          jsonrpc: '2.0',
          error: { code: gatewayError.code === 'PAYLOAD_TOO_LARGE' ? -32600 : -32700, message: gatewayError.message },
          id: null,
        });
    }
    return reply.code(gatewayError.httpStatus).send({ error: gatewayError.toJSON() });
  });

  app.all('/mcp', async (request, reply) => {
    reply.hijack();
    try {
      await endpoint.handle(request.raw, reply.raw, request.body);
    } catch (error) {
      deps.log.error({ err: (error as Error).message }, 'mcp request failed');
      if (!reply.raw.headersSent)
        reply.raw
          .writeHead(500, { 'content-type': 'application/json' })
          .end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32603, message: 'internal error' }, id: null }));
    }
  });

  const sse = deps.sse;
  if (sse) {
    app.get('/sse', async (request, reply) => {
      reply.hijack();
      await sse.open(request.raw, reply.raw);
    });
    app.post('/messages', async (request, reply) => {
      reply.hijack();
      sse.post((request.query as { sessionId?: string }).sessionId, request.body, reply.raw);
    });
  }

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const ready = gateway.ready && !deps.isShuttingDown();
    return reply
      .code(ready ? 200 : 503)
      .send({
        ready,
        catalogVersion: gateway.catalog.version,
        tools: gateway.catalog.tools.length,
        shuttingDown: deps.isShuttingDown(),
      });
  });

  registerAdminRoutes(
    app,
    { gateway, capabilities: deps.capabilities, experiments: deps.experiments },
    config.http.adminToken,
  );
  return app;
}
