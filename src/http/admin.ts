/**
 * The admin REST API under /v1: servers (list, register, remove), the federated catalog,
 * capability search and learned examples, experiments (list, report, start, stop, feedback) and
 * the compatibility matrix and schema changes.
 * Every error is a GatewayError rendered by the app's one error handler.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { GatewayError } from '../core/errors.js';
import type { Capabilities } from '../gateway/capabilities.js';
import type { ExperimentRunner } from '../gateway/experiments.js';
import type { Gateway } from '../gateway/gateway.js';
import type { TaskRegistry } from '../gateway/tasks/registry.js';

/**
 * True when the Authorization header carries `token`, compared in constant time: both sides are hashed
 * first, so neither the token's content nor its length shows in how long a wrong guess takes.
 */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const digest = (text: string) => createHash('sha256').update(text).digest();
  return timingSafeEqual(digest(header ?? ''), digest(`Bearer ${token}`));
}

/** What the admin API works on: one tenant's gateway, router and experiments. */
export interface AdminScope {
  readonly gateway: Gateway;
  readonly capabilities: Capabilities;
  readonly experiments: ExperimentRunner;
  /** The tenant's tasks (absent: tasks.enabled is false). */
  readonly tasks?: TaskRegistry | undefined;
}

/**
 * Registers the /v1 routes behind `guard` (the admin token or an admin-scoped credential: see
 * auth-hook.ts). `scopeOf` names the tenant a request manages (an admin-scoped credential: its own;
 * the admin token: the one it names), so runtime registrations belong to that tenant.
 */
export function registerAdminRoutes(
  app: FastifyInstance,
  scopeOf: (request: FastifyRequest) => AdminScope,
  guard: (request: FastifyRequest, reply: FastifyReply) => Promise<void>,
  extra: {
    tenants?: (request: FastifyRequest) => unknown;
    /** Rate limits and quotas of find_capability, for its REST twin (a refusal is 429 with Retry-After). */
    admitFind?: ((request: FastifyRequest) => Promise<GatewayError | undefined>) | undefined;
  } = {},
): void {
  app.register(
    async (v1) => {
      v1.addHook('onRequest', guard);
      if (extra.tenants) {
        const list = extra.tenants;
        v1.get('/tenants', async (request) => ({ tenants: list(request) }));
      }

      v1.get('/servers', async (request) => {
        const { gateway } = scopeOf(request);
        return { servers: [...gateway.listServers(), ...gateway.listDisabled()] };
      });

      v1.post('/servers', async (request, reply) => {
        const body = request.body;
        if (body === null || typeof body !== 'object' || Array.isArray(body)) {
          throw new GatewayError(
            'BAD_REQUEST',
            'expected a JSON object: {"name": "...", "command": "...", "args": [...]} or {"name": "...", "url": "..."}',
          );
        }
        const { name, ...entry } = body as Record<string, unknown>;
        if (typeof name !== 'string' || name === '')
          throw new GatewayError('CONFIG_INVALID', 'server "?": name: a non-empty string is required', {
            issues: [{ path: 'name', message: 'required' }],
          });
        const server = await scopeOf(request).gateway.register(name, entry);
        return reply.code(201).send({ server });
      });

      v1.delete<{ Params: { name: string } }>('/servers/:name', async (request) =>
        scopeOf(request).gateway.remove(request.params.name),
      );

      v1.get<{ Querystring: { q?: string; k?: string; servers?: string } }>('/capabilities/search', async (request) => {
        const { q, k, servers } = request.query;
        if (!q || !q.trim())
          throw new GatewayError(
            'BAD_REQUEST',
            'q (the need, in words) is required: /v1/capabilities/search?q=create+an+issue&k=5',
          );
        const count = k === undefined ? undefined : Number(k);
        if (count !== undefined && (!Number.isInteger(count) || count < 1 || count > 50))
          throw new GatewayError('BAD_REQUEST', 'k must be an integer from 1 to 50');
        const refusal = await extra.admitFind?.(request);
        if (refusal) throw refusal;
        return scopeOf(request).capabilities.find({
          capability: q,
          ...(count ? { k: count } : {}),
          ...(servers ? { servers: servers.split(',').filter(Boolean) } : {}),
        });
      });

      v1.get<{ Querystring: { tool?: string } }>('/examples', async (request) => ({
        examples: scopeOf(request).capabilities.listExamples(request.query.tool),
      }));

      v1.delete<{ Params: { id: string } }>('/examples/:id', async (request) => {
        const id = Number(request.params.id);
        if (!Number.isInteger(id) || !scopeOf(request).capabilities.removeExample(id))
          throw new GatewayError('NOT_FOUND', `no learned example with id "${request.params.id}"`);
        return { removed: id };
      });

      v1.get('/experiments', async (request) => ({ experiments: scopeOf(request).experiments.list() }));
      v1.get<{ Params: { name: string } }>('/experiments/:name', async (request) =>
        scopeOf(request).experiments.report(request.params.name),
      );
      v1.post<{ Params: { name: string } }>('/experiments/:name/start', async (request) =>
        scopeOf(request).experiments.setRunning(request.params.name, true),
      );
      v1.post<{ Params: { name: string } }>('/experiments/:name/stop', async (request) =>
        scopeOf(request).experiments.setRunning(request.params.name, false),
      );
      /** The REST twin of report_outcome: {"decisionId": "...", "success": true, "note": "..."}. */
      v1.post('/outcomes', async (request) => {
        const body = (request.body ?? {}) as { decisionId?: unknown; success?: unknown; note?: unknown };
        if (typeof body.decisionId !== 'string' || typeof body.success !== 'boolean')
          throw new GatewayError(
            'BAD_REQUEST',
            'expected {"decisionId": "<from find_capability>", "success": true|false, "note"?: "..."}',
          );
        return {
          recorded: scopeOf(request).experiments.feedback(
            body.decisionId,
            body.success,
            typeof body.note === 'string' ? body.note : undefined,
          ),
        };
      });

      v1.get('/compat/matrix', async (request) => ({ matrix: scopeOf(request).gateway.compat?.matrix() ?? [] }));
      v1.get<{ Querystring: { limit?: string } }>('/compat/changes', async (request) => ({
        changes:
          scopeOf(request).gateway.compat?.changes(
            Math.min(1000, Math.max(1, Number(request.query.limit ?? 100) || 100)),
          ) ?? [],
      }));

      v1.get('/catalog', async (request) => {
        const snapshot = scopeOf(request).gateway.catalog;
        return {
          version: snapshot.version,
          tools: snapshot.tools.map((t) => ({
            id: t.id,
            server: t.server,
            name: t.name,
            title: t.tool.title,
            description: t.tool.description,
          })),
          prompts: snapshot.prompts.map((p) => ({
            id: p.id,
            server: p.server,
            name: p.name,
            description: p.prompt.description,
          })),
          resources: snapshot.resources.map((r) => ({ uri: r.uri, name: r.name, server: r.server })),
          conflicts: snapshot.conflicts,
        };
      });
    },
    { prefix: '/v1' },
  );
}
