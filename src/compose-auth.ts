/**
 * Composition of inbound identity: the API-key store, the JWT verifier and the certificate mappings
 * that `auth.mode` asks for, assembled into one Authenticator for the HTTP edge, and the principal of
 * a sidecar's agent. Kept apart from compose.ts so the composition root stays readable.
 */
import { ApiKeys } from './auth/api-keys.js';
import { Authenticator } from './auth/authenticator.js';
import { JwtVerifier } from './auth/jwt.js';
import type { Config } from './config/load.js';
import { GatewayError } from './core/errors.js';
import type { Principal } from './core/principal.js';
import type { Db } from './store/db.js';
import { SqliteKeysRepo } from './store/keys-repo.js';
import type { Logger } from './telemetry/logger.js';

/** What the HTTP edge authenticates with. */
export interface Identity {
  readonly authenticator: Authenticator;
  /** The key store (always present: `/v1/keys` manages keys even while apiKey mode is off). */
  readonly keys: ApiKeys;
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
  return {
    keys,
    authenticator: new Authenticator({ modes: auth.mode, keys, jwt, mtls: auth.mtls }),
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

/**
 * True when some caller can be restricted: a credential is needed (its scopes narrow), the sidecar's
 * owner has scopes, or a policy is configured. Otherwise the authorize stage is left out of the chain.
 */
export function restrictable(config: Config): boolean {
  return (
    !config.auth.mode.includes('none') || config.auth.stdio?.scopes !== undefined || config.policy.files.length > 0
  );
}
