/**
 * Authentication at the HTTP edge: every request to `/mcp`, `/sse` and `/messages` is authenticated
 * before any MCP work (the principal rides on the Node request as `req.auth`, which the SDK passes to
 * the agent-server factory as `authInfo`); `/v1` needs the admin token or a credential with the
 * `admin` scope. Failures are 401 with `WWW-Authenticate: Bearer resource_metadata="..."` (403 with
 * `error="insufficient_scope"`), so OAuth-capable MCP clients start their flow by themselves, and the
 * RFC 9728 protected-resource metadata is served at `/.well-known/oauth-protected-resource[/mcp]`.
 */
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Authenticator } from '../auth/authenticator.js';
import {
  protectedResourceMetadata,
  protectedResourceMetadataUrl,
  wwwAuthenticate,
  type BearerError,
} from '../auth/oauth-metadata.js';
import { asGatewayError, GatewayError } from '../core/errors.js';
import { DEFAULT_TENANT, type Principal } from '../core/principal.js';
import type { Logger } from '../telemetry/logger.js';
import { bearerMatches } from './admin.js';
import { peerCertificateIdentity } from './client-cert.js';

/** The SDK's AuthInfo shape as the gateway fills it: the principal travels in `extra`; the token is never kept. */
export interface GatewayAuthInfo {
  readonly token: '';
  readonly clientId: string;
  readonly scopes: string[];
  readonly extra: { readonly principal: Principal };
}

/** The principal an HTTP edge authenticated for this Node request (undefined: auth `none`). */
export function principalOf(req: IncomingMessage): Principal | undefined {
  return (req as IncomingMessage & { auth?: GatewayAuthInfo }).auth?.extra.principal;
}

/** What the hooks need. */
export interface AuthHookOptions {
  readonly authenticator: Authenticator;
  /** http.adminToken: always accepted on /v1. */
  readonly adminToken?: string | undefined;
  /** The gateway's resource URL (auth.resource); absent: no OAuth metadata (API keys / mTLS only). */
  readonly resource?: string | undefined;
  /** Issuers whose tokens are accepted (for the metadata document). */
  readonly authorizationServers: readonly string[];
  /** Whether a tenant is configured (a credential naming another one is refused). */
  readonly knownTenant?: (tenant: string) => boolean;
  readonly log: Logger;
}

/** The tenant each admin request manages (set by the guard). */
const adminTenants = new WeakMap<IncomingMessage, string>();

/**
 * The tenant an admin request manages: an admin-scoped credential's own tenant; with the admin token
 * (or on an open loopback hub), the `X-Switchboard-Tenant` header's, else `default`.
 */
export function adminTenantOf(request: FastifyRequest): string {
  return adminTenants.get(request.raw) ?? DEFAULT_TENANT;
}

/** Runs first on every /v1 route: throws UNAUTHORIZED or FORBIDDEN to refuse. */
export type AdminGuard = (request: FastifyRequest, reply: FastifyReply) => Promise<void>;

/** Routes that carry agent traffic. */
const AGENT_ROUTES = ['/mcp', '/sse', '/messages'];

function isAgentRoute(url: string): boolean {
  return AGENT_ROUTES.some((route) => url === route || url.startsWith(`${route}?`) || url.startsWith(`${route}/`));
}

/** Installs authentication on an app; returns the guard the admin routes run first. */
export function installAuth(app: FastifyInstance, options: AuthHookOptions): AdminGuard {
  const { authenticator, resource } = options;
  const metadataUrl = resource ? protectedResourceMetadataUrl(resource) : undefined;

  if (resource && metadataUrl) {
    const document = protectedResourceMetadata({
      resource,
      authorizationServers: options.authorizationServers,
    });
    const path = new URL(metadataUrl).pathname;
    app.get(path, async () => document);
    if (path !== '/.well-known/oauth-protected-resource')
      app.get('/.well-known/oauth-protected-resource', async () => document);
  }

  /** Sets the challenge header for a refusal and rethrows it for the app's error handler. */
  const refuse = (reply: FastifyReply, error: unknown): never => {
    const gatewayError = asGatewayError(error);
    if (gatewayError.code !== 'UNAUTHORIZED' && gatewayError.code !== 'FORBIDDEN') throw gatewayError;
    const challenge = (gatewayError.details?.wwwAuthenticate ?? {}) as {
      error?: BearerError;
      description?: string;
      scope?: string;
    };
    if (authenticator.acceptsBearer) {
      const error =
        challenge.error ??
        (gatewayError.code === 'FORBIDDEN'
          ? 'insufficient_scope'
          : gatewayError.message.startsWith('authentication required')
            ? undefined
            : 'invalid_token');
      const header = metadataUrl
        ? wwwAuthenticate({
            resourceMetadataUrl: metadataUrl,
            ...(error ? { error } : {}),
            ...(error ? { description: challenge.description ?? gatewayError.message } : {}),
            ...(challenge.scope ? { scope: challenge.scope } : {}),
          })
        : `Bearer${error ? ` error="${error}"` : ''}`;
      void reply.header('www-authenticate', header);
    }
    // Only what the caller needs: no details (they could carry claim values).
    throw new GatewayError(gatewayError.code, gatewayError.message);
  };

  const authenticate = (request: FastifyRequest): Promise<Principal | undefined> =>
    authenticator.authenticate({
      authorization: request.headers.authorization,
      ...(authenticator.wantsCertificate ? { certificate: peerCertificateIdentity(request) } : {}),
    });

  // Under auth `none` too when mesh keys exist: a server calling through the gateway is its own principal.
  if (!authenticator.open || authenticator.meshEnabled) {
    app.addHook('onRequest', async (request, reply) => {
      if (!isAgentRoute(request.url)) return;
      let principal: Principal | undefined;
      try {
        principal = await authenticate(request);
      } catch (error) {
        options.log.info(
          { url: request.url.split('?')[0], ip: request.ip, reason: (error as Error).message },
          'agent refused',
        );
        return refuse(reply, error);
      }
      if (!principal) return;
      if (options.knownTenant && !options.knownTenant(principal.tenant)) {
        options.log.info({ url: request.url.split('?')[0], tenant: principal.tenant }, 'agent refused: unknown tenant');
        return refuse(
          reply,
          new GatewayError('FORBIDDEN', `tenant "${principal.tenant.slice(0, 64)}" is not configured on this gateway`),
        );
      }
      const auth: GatewayAuthInfo = {
        token: '',
        clientId: principal.agent,
        scopes: [...(principal.scopes ?? [])],
        extra: { principal },
      };
      (request.raw as IncomingMessage & { auth?: GatewayAuthInfo }).auth = auth;
    });
  }

  /** The tenant the admin token (or an open hub's caller) names. */
  const namedTenant = (request: FastifyRequest): void => {
    const header = request.headers['x-switchboard-tenant'];
    const tenant = (Array.isArray(header) ? header[0] : header)?.slice(0, 64);
    if (tenant) adminTenants.set(request.raw, tenant);
  };
  return async (request, reply) => {
    const { adminToken } = options;
    if (adminToken && bearerMatches(request.headers.authorization, adminToken)) return namedTenant(request);
    if (authenticator.open) {
      if (adminToken)
        throw new GatewayError('UNAUTHORIZED', 'the admin API needs "Authorization: Bearer <http.adminToken>"');
      return namedTenant(request);
    }
    let principal: Principal | undefined;
    try {
      principal = await authenticate(request);
    } catch (error) {
      return refuse(reply, error);
    }
    if (!principal?.scopes?.includes('admin'))
      throw new GatewayError('FORBIDDEN', 'the admin API needs the admin token or a credential with the "admin" scope');
    adminTenants.set(request.raw, principal.tenant); // a tenant's admin manages that tenant only
  };
}
