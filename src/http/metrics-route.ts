/**
 * `GET /metrics` (Prometheus text format) on the hub's app, behind the same guard as `/v1` (the admin
 * token, or a credential with the `admin` scope), and, when `telemetry.metrics.port` is set, on a
 * listener of its own without auth, for a scraper that holds no credential.
 *
 * - On the hub's app only the gateway's admins (the default tenant's) may read it: the series name
 *   every tenant, so a tenant's admin gets 403, as for the audit chain check.
 * - The separate listener binds `telemetry.metrics.host` (loopback unless the operator names another
 *   address) and serves only `GET /metrics`; on loopback it checks the Host header like the hub does
 *   (a web page the operator visits cannot read it through DNS rebinding). It is plain node:http: a
 *   sidecar starts it too, without loading fastify.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { localhostHostValidation } from '@modelcontextprotocol/node';
import { GatewayError } from '../core/errors.js';
import { DEFAULT_TENANT } from '../core/principal.js';
import type { Logger } from '../telemetry/logger.js';
import type { Metrics } from '../telemetry/metrics.js';
import { adminTenantOf, type AdminGuard } from './auth-hook.js';

/** What the routes read. */
export type MetricsSource = Pick<Metrics, 'render' | 'contentType'>;

/** Registers `GET /metrics` behind `guard`. */
export function registerMetricsRoute(app: FastifyInstance, metrics: MetricsSource, guard: AdminGuard): void {
  app.get('/metrics', { onRequest: guard }, async (request, reply) => {
    if (adminTenantOf(request) !== DEFAULT_TENANT)
      throw new GatewayError('FORBIDDEN', "metrics span every tenant: only the gateway's admins read them");
    return reply.header('content-type', metrics.contentType).send(await metrics.render());
  });
}

/** A running metrics listener. */
export interface MetricsListener {
  /** `http://host:port/metrics` */
  readonly url: string;
  close(): Promise<void>;
}

/** Serves `GET /metrics` on `host:port` without auth (see the header). */
export async function listenMetrics(options: {
  readonly metrics: MetricsSource;
  readonly host: string;
  readonly port: number;
  readonly log: Logger;
}): Promise<MetricsListener> {
  const { metrics, host, log } = options;
  const loopback = host === 'localhost' || host === '::1' || host.startsWith('127.');
  const checkHost = loopback ? localhostHostValidation() : undefined;
  const server: Server = createServer((req, res) => {
    if (checkHost && !checkHost(req, res)) return;
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/metrics') return void res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    if (req.method !== 'GET' && req.method !== 'HEAD')
      return void res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('GET only\n');
    metrics.render().then(
      (text) => void res.writeHead(200, { 'content-type': metrics.contentType }).end(req.method === 'HEAD' ? '' : text),
      (error: unknown) => {
        log.error({ err: (error as Error).message }, 'metrics scrape failed');
        res.writeHead(500, { 'content-type': 'text/plain' }).end('metrics failed\n');
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}/metrics`;
  log.info({ url }, 'metrics listening');
  let closing: Promise<void> | undefined;
  return {
    url,
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      })),
  };
}
