/**
 * Composition of inbound identity: the API-key store, the JWT verifier and the certificate mappings
 * that `auth.mode` asks for, assembled into one Authenticator for the HTTP edge, the mesh keys of
 * servers that call through the hub, and the principal of a sidecar's agent. Kept apart from
 * compose.ts so the composition root stays readable.
 */
import { ApiKeys } from './auth/api-keys.js';
import { Authenticator } from './auth/authenticator.js';
import { JwtVerifier } from './auth/jwt.js';
import { MeshKeys } from './auth/mesh-keys.js';
import type { Config } from './config/load.js';
import { GatewayError } from './core/errors.js';
import type { Principal } from './core/principal.js';
import type { MeshProvider } from './gateway/gateway.js';
import type { Db } from './store/db.js';
import { SqliteKeysRepo } from './store/keys-repo.js';
import type { Logger } from './telemetry/logger.js';

/** What the HTTP edge authenticates with. */
export interface Identity {
  readonly authenticator: Authenticator;
  /** The key store (always present: `/v1/keys` manages keys even while apiKey mode is off). */
  readonly keys: ApiKeys;
  /** Servers' mesh keys (in memory; always present: a runtime registration may ask for mesh). */
  readonly mesh: MeshKeys;
}

/** Builds the authenticator for `config.auth`. */
export function buildIdentity(config: Config, db: Db, log: Logger): Identity {
  const { auth } = config;
  const keys = new ApiKeys(new SqliteKeysRepo(db));
  let jwt: JwtVerifier | undefined;
  if (auth.mode.includes('jwt') && auth.jwt) {
    const audience = auth.jwt.audience ?? auth.resource;
    if (!audience)
      throw new GatewayError(
        'CONFIG_INVALID',
        'auth.mode jwt needs auth.resource (the gateway URL clients reach, e.g. https://gateway.example.com/mcp) or auth.jwt.audience: tokens must name it as their audience',
      );
    jwt = new JwtVerifier(
      {
        issuer: auth.jwt.issuer,
        audience,
        jwksUri: auth.jwt.jwksUri,
        algorithms: auth.jwt.algorithms,
        clockToleranceSec: auth.jwt.clockToleranceSec,
        requiredScopes: auth.jwt.requiredScopes,
        claims: auth.jwt.claims,
      },
      { log: log.child({ component: 'auth' }) },
    );
  }
  const mesh = new MeshKeys();
  return {
    keys,
    mesh,
    authenticator: new Authenticator({ modes: auth.mode, keys, jwt, mtls: auth.mtls, mesh }),
  };
}

/**
 * The mesh credentials of a hub listening at `listenUrl`: each server with `mesh` gets a key bound to
 * itself (tenant `default`, agent = the server's name, the entry's scopes and groups) and the URL of
 * `/mcp`: `auth.resource` when set (the URL clients reach, so an HTTP upstream on another machine can
 * use it), else the bound address (a wildcard bind reached over loopback).
 */
export function meshCredentials(config: Config, keys: MeshKeys, listenUrl: string): MeshProvider {
  const url = new URL(listenUrl);
  if (url.hostname === '0.0.0.0') url.hostname = '127.0.0.1';
  if (url.hostname === '[::]') url.hostname = '[::1]';
  const mcpUrl = config.auth.resource ?? `${url.origin}/mcp`;
  return {
    issue: (spec) => {
      const mesh = spec.mesh ?? { scopes: [], groups: [] };
      return {
        url: mcpUrl,
        token: keys.issue({ server: spec.name, tenant: config.tenant, scopes: mesh.scopes, groups: mesh.groups }).token,
      };
    },
    revoke: (server) => void keys.revokeServer(server),
  };
}

/** The principal of a sidecar's agent: `auth.stdio`, or unrestricted (undefined) when not configured. */
export function sidecarPrincipal(config: Config): Principal | undefined {
  const owner = config.auth.stdio;
  if (!owner) return undefined;
  return {
    tenant: owner.tenant,
    agent: owner.agent,
    user: owner.user,
    groups: owner.groups,
    scopes: owner.scopes,
    source: 'config',
  };
}
