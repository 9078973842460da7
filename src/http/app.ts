/**
 * The hub's HTTP server (fastify): `/mcp` for agents, `/v1` admin API, `/healthz`, `/readyz` and
 * `/metrics` (Prometheus, behind the /v1 guard: metrics-route.ts), `/ui` (the dashboard: ui-route.ts).
 *
 * Host and Origin headers are checked on every route while bound to loopback (DNS-rebinding
 * protection); beyond loopback only `http.allowedHosts` pass, and the process refuses to start
 * without an admin token. Oversize bodies are refused with 413 before anything is parsed.
 */
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import { hostHeaderValidation, localhostHostValidation, localhostOriginValidation } from '@modelcontextprotocol/node';
import type { Config } from '../config/load.js';
import { asGatewayError, GatewayError } from '../core/errors.js';
import { DEFAULT_TENANT } from '../core/principal.js';
import type { Capabilities } from '../gateway/capabilities.js';
import type { ExperimentRunner } from '../gateway/experiments.js';
import type { Gateway } from '../gateway/gateway.js';
import type { Logger } from '../telemetry/logger.js';
import type { McpEndpoint } from './mcp-route.js';
import type { SseEdge } from './sse-edge.js';
import type { ApiKeys } from '../auth/api-keys.js';
import type { Authenticator } from '../auth/authenticator.js';
import { registerAdminRoutes, type AdminScope } from './admin.js';
import type { Admission } from '../mcp/pipeline/stages/limit.js';
import { registerOpsRoutes, type OpsPort } from './ops-routes.js';
import { registerTasksRoutes } from './tasks-routes.js';
import { registerMetricsRoute, type MetricsSource } from './metrics-route.js';
import { registerAlertsRoute, type AlertsSource } from './alerts-route.js';
import { adminTenantOf, installAuth, principalOf } from './auth-hook.js';
import { registerKeyRoutes } from './keys-route.js';
import { registerUiRoutes } from './ui-route.js';
import { UiSessions } from './ui-session.js';
import { httpsServerOptions } from './client-cert.js';
import { exceedsJsonDepth, isJsonDepthError, jsonDepthError, MAX_JSON_DEPTH } from './json-depth.js';

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

/** True when `host` only accepts connections from this machine. */
export function isLoopback(host: string): boolean {
  return LOOPBACK.has(host) || host.startsWith('127.');
}

/**
 * Refuses to serve other machines without authentication: beyond loopback, `auth.mode` must accept a
 * credential (apiKey, jwt, mtls). `host` is the address actually bound (a `--host` flag, the file or
 * the environment: whatever set it); it defaults to `http.host`.
 */
export function assertSafeBind(config: Pick<Config, 'http' | 'auth'>, host: string = config.http.host): void {
  if (!isLoopback(host) && config.auth.mode.includes('none')) {
    throw new GatewayError(
      'CONFIG_INVALID',
      `refusing to bind ${host}: /mcp and the admin API (/v1) would be open to other machines without authentication; set auth.mode (apiKey, jwt or mtls; see the README's "Authentication") or bind 127.0.0.1`,
    );
  }
}

/** The tenants of a hub, for the admin API and readiness. */
export interface TenantDirectory {
  /** A tenant's gateway, router and experiments; undefined for a tenant that is not configured. */
  scope(tenant: string): AdminScope | undefined;
  /** Configured tenants (`default` first), with their server counts. */
  list(): { name: string; servers: number; tools: number; ready: boolean }[];
  /** True when every tenant's initial servers have had their first connection attempt. */
  ready(): boolean;
}

/** Dependencies of the HTTP edge. */
export interface HttpAppDeps {
  readonly config: Config;
  readonly gateway: Gateway;
  readonly capabilities: Capabilities;
  readonly experiments: ExperimentRunner;
  /** Every tenant's scope (the default tenant's is `gateway`, `capabilities`, `experiments`). */
  readonly tenants: TenantDirectory;
  readonly endpoint: McpEndpoint;
  /** Legacy HTTP+SSE for older agents (`GET /sse`, `POST /messages`). */
  readonly sse?: SseEdge;
  readonly log: Logger;
  readonly isShuttingDown: () => boolean;
  /** Inbound authentication (auth.mode and its verifiers). */
  readonly authenticator: Authenticator;
  /** API keys (`/v1/keys`); absent when the store has none (a sidecar). */
  readonly keys?: ApiKeys | undefined;
  /** Rate limits and quotas (the REST twin of find_capability is admitted like the meta-tool). */
  readonly admit?: Admission | undefined;
  /** The audit and usage routes, and the admin trail of /v1 writes (absent: none). */
  readonly ops?: OpsPort | undefined;
  /** Prometheus metrics at GET /metrics, behind the /v1 guard (absent: metrics off, no route). */
  readonly metrics?: MetricsSource | undefined;
  /** The built-in alert engine at GET /v1/alerts (absent: `alerts` not configured; the route says so). */
  readonly alerts?: AlertsSource | undefined;
  /** The address the app will listen on, when not `config.http.host` (a `--host` flag): the bind rule and
   *  the Host/Origin guard follow it. */
  readonly host?: string;
}

/** Builds (but does not start) the fastify app. */
export function buildHttpApp(deps: HttpAppDeps): FastifyInstance {
  const { config, gateway, endpoint } = deps;
  const host = deps.host ?? config.http.host;
  assertSafeBind(config, host);
  const tls = config.http.tls;
  const app = Fastify({
    logger: false,
    bodyLimit: config.gateway.maxRequestBytes,
    forceCloseConnections: true,
    // A `__proto__` key is data, not invalid JSON: dropped from the parsed body (it could only ever set
    // an object's prototype), never answered with a parse error.
    onProtoPoisoning: 'remove',
    // http.tls: HTTPS, and client certificates requested (verified by the app: see client-cert.ts).
    ...(tls ? { https: httpsServerOptions(tls) } : {}),
  }) as unknown as FastifyInstance; // an https.Server serves the same routes; only its type differs

  // JSON bodies: nesting bounded before parsing (see json-depth.ts), then fastify's own parser.
  const parseJson = app.getDefaultJsonParser(
    app.initialConfig.onProtoPoisoning ?? 'error',
    app.initialConfig.onConstructorPoisoning ?? 'error',
  );
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = body as string; // parseAs: 'string'
    if (exceedsJsonDepth(text)) {
      deps.log.warn({ url: request.url, ip: request.ip, limit: MAX_JSON_DEPTH }, 'JSON body nested too deep');
      done(jsonDepthError(), undefined);
      return;
    }
    void parseJson(request, text, done); // typed as possibly async; fastify's default parser calls done synchronously
  });

  // Every POST body is JSON (/mcp, /v1, /messages): other content types are 415 everywhere, not a string
  // body that each route would refuse in its own way.
  void app.removeContentTypeParser('text/plain');

  const loopback = isLoopback(host);
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
    if (fastifyError.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
      gatewayError = new GatewayError(
        'UNSUPPORTED_MEDIA_TYPE',
        `unsupported content type "${String(request.headers['content-type']).slice(0, 100)}"; send application/json`,
      );
    } else if (fastifyError.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
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
      return reply.code(gatewayError.httpStatus).send({
        jsonrpc: '2.0',
        error: {
          // -32000 for 415 and auth refusals, as the SDK's own transport answers such HTTP-level errors.
          code:
            gatewayError.code === 'UNSUPPORTED_MEDIA_TYPE' ||
            gatewayError.code === 'UNAUTHORIZED' ||
            gatewayError.code === 'FORBIDDEN'
              ? -32000
              : gatewayError.code === 'PAYLOAD_TOO_LARGE' || isJsonDepthError(gatewayError)
                ? -32600
                : -32700,
          message: gatewayError.message,
        },
        id: null,
      });
    }
    // Rate limits and quotas say when to retry: in seconds, as RFC 9110 Retry-After asks.
    const retryAfterMs = gatewayError.details?.retryAfterMs;
    if (typeof retryAfterMs === 'number' && gatewayError.httpStatus === 429)
      void reply.header('retry-after', String(Math.max(1, Math.ceil(retryAfterMs / 1000))));
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
      sse.post((request.query as { sessionId?: string }).sessionId, request.body, request.raw, reply.raw);
    });
  }

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const ready = deps.tenants.ready() && !deps.isShuttingDown();
    return reply.code(ready ? 200 : 503).send({
      ready,
      catalogVersion: gateway.catalog.version,
      tools: gateway.catalog.tools.length,
      shuttingDown: deps.isShuttingDown(),
    });
  });

  const credentialGuard = installAuth(app, {
    authenticator: deps.authenticator,
    adminToken: config.http.adminToken,
    resource: config.auth.resource,
    authorizationServers: config.auth.jwt ? [config.auth.jwt.issuer] : [],
    knownTenant: (tenant) => deps.tenants.scope(tenant) !== undefined,
    log: deps.log,
  });
  // The dashboard's session cookie stands in for the header on /ui and /v1 reads (ui-session.ts).
  const sessions = new UiSessions({ secure: Boolean(tls), log: deps.log });
  const guard = sessions.wrap(credentialGuard);
  registerUiRoutes(app, { guard: credentialGuard, sessionGuard: guard, sessions, log: deps.log });
  const scopeOf = (request: FastifyRequest): AdminScope => {
    const tenant = adminTenantOf(request);
    const scope = deps.tenants.scope(tenant);
    if (!scope) throw new GatewayError('NOT_FOUND', `no tenant "${tenant}" is configured`, { tenant });
    return scope;
  };
  if (deps.ops) registerOpsRoutes(app, deps.ops, guard);
  if (deps.metrics) registerMetricsRoute(app, deps.metrics, guard);
  registerAlertsRoute(app, deps.alerts, guard);
  registerTasksRoutes(app, (request) => scopeOf(request).tasks, guard);
  registerAdminRoutes(app, scopeOf, guard, {
    // The default tenant's admins run the gateway: they see every tenant; a tenant's admin sees its own.
    tenants: (request) => {
      const tenant = adminTenantOf(request);
      const all = deps.tenants.list();
      return tenant === DEFAULT_TENANT ? all : all.filter((t) => t.name === tenant);
    },
    admitFind: deps.admit
      ? async (request) =>
          deps.admit!({
            kind: 'find',
            tenant: adminTenantOf(request),
            agent: principalOf(request.raw)?.agent ?? 'admin',
          })
      : undefined,
  });
  if (deps.keys)
    registerKeyRoutes(app, deps.keys, {
      guard,
      tenantOf: (request) => {
        const tenant = adminTenantOf(request);
        return tenant === DEFAULT_TENANT ? undefined : tenant;
      },
      knownTenant: (tenant) => deps.tenants.scope(tenant) !== undefined,
    });
  return app;
}
