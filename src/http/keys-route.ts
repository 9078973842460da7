/**
 * The API-key admin routes: POST /v1/keys (create; the secret is in this one answer only),
 * GET /v1/keys (list, `?tenant=`), DELETE /v1/keys/:id (revoke).
 *
 * These routes mint credentials, so they are registered only behind a guard the caller passes (the same
 * one the other /v1 routes use): there is no unguarded variant. Errors are GatewayErrors, rendered by the
 * app's one error handler as `{error: {code, message, ...}}`.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { parseCreateKeyInput, toKeyView, type ApiKeys } from '../auth/api-keys.js';
import { GatewayError } from '../core/errors.js';

/** How {@link registerKeyRoutes} is wired. */
export interface KeyRoutesOptions {
  /** Runs first on every key route (an onRequest hook); throws (UNAUTHORIZED, FORBIDDEN) to refuse. */
  readonly guard: (request: FastifyRequest, reply: FastifyReply) => void | Promise<void>;
  /**
   * The tenant the caller may manage keys of, or undefined for every tenant (a gateway admin). With a
   * tenant, listing shows only its keys, creating for another tenant is FORBIDDEN and another tenant's key
   * reads as not found.
   */
  readonly tenantOf?: (request: FastifyRequest) => string | undefined;
  /** Whether a tenant is configured (keys are only made for configured tenants). */
  readonly knownTenant?: (tenant: string) => boolean;
  /** Route prefix (default `/v1`). */
  readonly prefix?: string;
}

/** Registers the key routes under `options.prefix` behind `options.guard`. */
export function registerKeyRoutes(app: FastifyInstance, keys: ApiKeys, options: KeyRoutesOptions): void {
  const tenantOf = options.tenantOf ?? (() => undefined);
  app.register(
    async (scope) => {
      scope.addHook('onRequest', async (request, reply) => {
        await options.guard(request, reply);
      });

      scope.post('/keys', async (request, reply) => {
        const input = parseCreateKeyInput(request.body ?? {});
        if (options.knownTenant && !options.knownTenant(input.tenant))
          throw new GatewayError('BAD_REQUEST', `tenant: no tenant "${input.tenant}" is configured`);
        const own = tenantOf(request);
        if (own !== undefined && input.tenant !== own)
          throw new GatewayError('FORBIDDEN', `tenant: you may create keys for tenant "${own}" only`);
        const created = keys.create(input);
        return reply.code(201).send({ ...toKeyView(created.record), key: created.key });
      });

      scope.get<{ Querystring: { tenant?: string } }>('/keys', async (request) => {
        const own = tenantOf(request);
        const asked =
          typeof request.query.tenant === 'string' && request.query.tenant !== '' ? request.query.tenant : undefined;
        if (own !== undefined && asked !== undefined && asked !== own)
          throw new GatewayError('FORBIDDEN', `tenant: you may list keys of tenant "${own}" only`);
        return { keys: keys.list(own ?? asked).map(toKeyView) };
      });

      scope.delete<{ Params: { id: string } }>('/keys/:id', async (request, reply) => {
        const { id } = request.params;
        if (!keys.revoke(id, tenantOf(request)))
          throw new GatewayError('NOT_FOUND', `no API key with id "${id.slice(0, 64)}"`);
        return reply.code(204).send();
      });
    },
    { prefix: options.prefix ?? '/v1' },
  );
}
