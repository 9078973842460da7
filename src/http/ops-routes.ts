/**
 * The operator's read side and the admin trail: GET /v1/audit (events, filtered, cursor-paginated,
 * oldest first), GET /v1/audit/verify (the chain check), GET /v1/usage (invoice lines with cost), and
 * an onResponse hook that records every /v1 write (servers, keys, reloads) as an `admin` audit event.
 *
 * A tenant's admin sees only its tenant: its queries are bound to it (asking for another one is
 * FORBIDDEN), and the chain check, which reads every tenant's rows, is the gateway admin's alone. An
 * admin event records the route and its parameters, never a body (key creation answers with a secret,
 * server entries carry credentials): the body only as a hash.
 */
import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AUDIT_METHODS, AUDIT_OUTCOMES, type AuditEvent, type AuditOutcome } from '../core/audit-event.js';
import type { AuditFilter, AuditPage, AuditPageResult } from '../store/audit-query.js';
import type { AuditVerifyResult } from '../store/audit-repo.js';
import { usageGroupBys, type UsageGroupBy } from '../store/usage-repo.js';
import { GatewayError } from '../core/errors.js';
import { DEFAULT_TENANT } from '../core/principal.js';
import { adminTenantOf, principalOf } from './auth-hook.js';

/** What the routes read and write (built by the composition root from the audit and usage stores). */
export interface OpsPort {
  readonly query: (filter: AuditFilter, page: AuditPage) => AuditPageResult;
  readonly verify: () => AuditVerifyResult;
  readonly usage: (request: {
    tenant?: string | undefined;
    from: number;
    to: number;
    groupBy: UsageGroupBy;
  }) => unknown;
  readonly recordAdmin: (event: AuditEvent) => void;
}

const WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const MAX_PARAM = 256;

type Query = Record<string, string | undefined>;

/** Registers the routes behind `guard`, and the admin trail on every /v1 write. */
export function registerOpsRoutes(
  app: FastifyInstance,
  ops: OpsPort,
  guard: (request: FastifyRequest, reply: FastifyReply) => Promise<void>,
): void {
  app.addHook('onResponse', async (request, reply) => {
    if (!WRITES.has(request.method) || !request.url.startsWith('/v1/')) return;
    ops.recordAdmin(adminEvent(request, reply.statusCode, reply.elapsedTime));
  });

  app.register(
    async (scope) => {
      scope.addHook('onRequest', guard);

      scope.get<{ Querystring: Query }>('/audit', async (request) => {
        const q = request.query;
        const limit = q.limit === undefined ? 100 : integer('limit', q.limit, 1, 1000);
        return ops.query(
          {
            tenant: tenantFor(request, q.tenant),
            agent: text('agent', q.agent),
            user: text('user', q.user),
            tool: text('tool', q.tool),
            server: text('server', q.server),
            method: oneOf('method', q.method, AUDIT_METHODS),
            outcome: oneOf('outcome', q.outcome, AUDIT_OUTCOMES),
            since: time('since', q.since),
            until: time('until', q.until),
          },
          { after: text('cursor', q.cursor), limit },
        );
      });

      scope.get('/audit/verify', async (request) => {
        if (adminTenantOf(request) !== DEFAULT_TENANT)
          throw new GatewayError('FORBIDDEN', 'the audit chain spans every tenant: only the gateway admin checks it');
        return ops.verify();
      });

      scope.get<{ Querystring: Query }>('/usage', async (request) => {
        const q = request.query;
        const now = Date.now();
        const from = time('from', q.from) ?? now - 30 * 86_400_000;
        const to = time('to', q.to) ?? now;
        if (to <= from) throw new GatewayError('BAD_REQUEST', '"to" must be after "from"');
        return ops.usage({
          tenant: tenantFor(request, q.tenant),
          from,
          to,
          groupBy: oneOf('groupBy', q.groupBy, usageGroupBys) ?? 'tool',
        });
      });
    },
    { prefix: '/v1' },
  );
}

/**
 * The tenant a read is bound to: a tenant admin's own (asking for another is FORBIDDEN); the gateway
 * admin's choice (`?tenant=`, else every tenant).
 */
function tenantFor(request: FastifyRequest, asked: string | undefined): string | undefined {
  const own = adminTenantOf(request);
  const wanted = text('tenant', asked);
  if (own === DEFAULT_TENANT) return wanted;
  if (wanted !== undefined && wanted !== own)
    throw new GatewayError('FORBIDDEN', `tenant: you may read tenant "${own}" only`);
  return own;
}

function text(name: string, value: string | undefined): string | undefined {
  if (value === undefined || value === '') return undefined;
  if (value.length > MAX_PARAM) throw new GatewayError('BAD_REQUEST', `${name}: at most ${MAX_PARAM} characters`);
  return value;
}

function oneOf<T extends string>(name: string, value: string | undefined, allowed: readonly T[]): T | undefined {
  const v = text(name, value);
  if (v === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(v))
    throw new GatewayError('BAD_REQUEST', `${name}: one of ${allowed.join(', ')} (got "${v.slice(0, 40)}")`);
  return v as T;
}

function integer(name: string, value: string, min: number, max: number): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < min || n > max)
    throw new GatewayError('BAD_REQUEST', `${name}: a whole number from ${min} to ${max}`);
  return n;
}

/** An ISO 8601 time with its zone, or epoch milliseconds. */
function time(name: string, value: string | undefined): number | undefined {
  const v = text(name, value);
  if (v === undefined) return undefined;
  const ms = /^\d{1,15}$/.test(v) ? Number(v) : /(Z|[+-]\d\d:?\d\d)$/.test(v) ? Date.parse(v) : Number.NaN;
  if (!Number.isFinite(ms))
    throw new GatewayError(
      'BAD_REQUEST',
      `${name}: an ISO 8601 time with its zone (2026-12-01T00:00:00Z) or epoch milliseconds`,
    );
  return ms;
}

/** The admin event of one /v1 write. */
function adminEvent(request: FastifyRequest, status: number, elapsedMs: number): AuditEvent {
  const principal = principalOf(request.raw);
  const outcome: AuditOutcome = status < 400 ? 'success' : status === 401 || status === 403 ? 'denied' : 'error';
  const route = request.routeOptions.url ?? request.url.split('?')[0] ?? request.url;
  const body = request.body === undefined ? undefined : JSON.stringify(request.body);
  return {
    time: Date.now(),
    tenant: adminTenantOf(request),
    agent: principal?.agent ?? 'admin',
    user: principal?.user,
    subject: principal?.subject,
    method: 'admin',
    decision: status === 401 || status === 403 ? 'deny' : 'allow',
    outcome,
    errorCode: status >= 400 ? String(status) : undefined,
    latencyMs: elapsedMs,
    bytesIn: body === undefined ? 0 : Buffer.byteLength(body),
    bytesOut: 0,
    argsHash: body === undefined ? undefined : createHash('sha256').update(body).digest('hex'),
    detail: { action: `${request.method} ${route}`, params: request.params, status },
  };
}
