/**
 * Inbound OAuth 2.1 resource-server validation: a bearer JWT becomes a {@link Principal}, or a
 * GatewayError the HTTP edge turns into 401/403 with a `WWW-Authenticate` challenge.
 *
 * Keys come from the issuer's JWKS through jose's remote key set: cached (`cacheMaxAge`), and a token
 * with an unknown `kid` (a rotated key) refetches at most once per cooldown window, so forged kids
 * cannot make the gateway hammer the issuer. Without a configured `jwksUri` the issuer's discovery
 * document names it (fetched once, shared by concurrent first requests). Checked: algorithm
 * allow-list (never `none`, no HMAC: there is no shared secret), signature, `iss`, `aud` (the
 * gateway's resource URL, RFC 8707), `exp` (required) and `nbf` with clock tolerance. Messages never
 * echo the token, and logs never carry it.
 */
import {
  createRemoteJWKSet,
  decodeProtectedHeader,
  errors,
  jwtVerify,
  type JWTPayload,
  type JWTVerifyGetKey,
} from 'jose';
import { GatewayError } from '../core/errors.js';
import { DEFAULT_TENANT, type Principal } from '../core/principal.js';
import type { Logger } from '../telemetry/logger.js';
import { VerifiedTokens } from './token-cache.js';

/** Which claims carry the principal's parts (names, or dotted paths such as `realm_access.roles`). */
export interface JwtClaimNames {
  /** Tenant claim (default `tenant`; absent: `defaultTenant`). */
  readonly tenant?: string;
  /** Agent claim (default: `client_id`, then `azp`, then `sub`). */
  readonly agent?: string;
  /** User claim (default: `sub`, unless `sub` is the client itself, as in client_credentials tokens). */
  readonly user?: string;
  /** Groups claim (default `groups`): an array of strings, or one string. */
  readonly groups?: string;
  /** Scope claim (default `scope`, with `scp` as fallback): space-delimited string or array. */
  readonly scope?: string;
  /** Extra scopes claim (default `capabilities`): an array of scope strings appended to the scopes. */
  readonly capabilities?: string;
}

/** How JWTs are validated. */
export interface JwtOptions {
  /** Expected `iss`, exactly as the authorization server writes it. */
  readonly issuer: string;
  /** Expected `aud`: the gateway's resource URL(s); a token naming any of them passes. */
  readonly audience: string | readonly string[];
  /** The issuer's JWKS; absent: read from its discovery document once. */
  readonly jwksUri?: string | undefined;
  /** Allowed signature algorithms (default RS256, PS256, ES256, EdDSA); `none` and HS* are refused. */
  readonly algorithms?: readonly string[] | undefined;
  /** Clock skew tolerated on `exp` and `nbf`, in seconds (default 30). */
  readonly clockToleranceSec?: number | undefined;
  /** Claim names of the principal's parts. */
  readonly claims?: JwtClaimNames | undefined;
  /** Scopes every token must carry; a token lacking one gets 403 insufficient_scope. */
  readonly requiredScopes?: readonly string[] | undefined;
  /** Tenant of tokens without a tenant claim (default `default`). */
  readonly defaultTenant?: string | undefined;
  /** Key-set fetching: refetch cooldown (default 30 s), cache lifetime (default 600 s), timeout (default 5000 ms). */
  readonly jwks?: { cooldownSec?: number; cacheMaxAgeSec?: number; timeoutMs?: number } | undefined;
}

/** Default allow-list: the asymmetric algorithms authorization servers actually use. */
export const DEFAULT_ALGORITHMS = ['RS256', 'PS256', 'ES256', 'EdDSA'] as const;

const ASYMMETRIC = new Set([
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
]);

/** Longest token looked at (the edge refuses bigger headers already). */
const MAX_TOKEN_CHARS = 8 * 1024;

/** At most one "JWKS fetch failed" warning per this many ms, so an outage does not flood the log. */
const WARN_EVERY_MS = 10_000;

/** The 401 of an unusable token: `description` is also the challenge's error_description. */
function invalidToken(description: string): GatewayError {
  return new GatewayError('UNAUTHORIZED', description, { wwwAuthenticate: { error: 'invalid_token', description } });
}

/** A key-set failure (network, status, JSON): the issuer's fault, not the token's. */
class KeysUnavailable extends Error {}

/** Validates bearer JWTs against one issuer and maps their claims to a Principal. */
export class JwtVerifier {
  readonly #options: JwtOptions;
  readonly #log: Logger | undefined;
  readonly #algorithms: string[];
  readonly #audience: string[];
  #keys: Promise<JWTVerifyGetKey> | undefined;
  #lastWarnAt = -Infinity;
  /** Tokens verified recently (token-cache.ts): a session's requests repeat one token. */
  readonly #verified = new VerifiedTokens();

  constructor(options: JwtOptions, deps: { log?: Logger } = {}) {
    if (!options.issuer || !URL.canParse(options.issuer))
      throw new GatewayError('CONFIG_INVALID', 'jwt: issuer must be a URL');
    if (options.jwksUri !== undefined && !URL.canParse(options.jwksUri))
      throw new GatewayError('CONFIG_INVALID', 'jwt: jwksUri must be a URL');
    const audience = typeof options.audience === 'string' ? [options.audience] : [...options.audience];
    if (audience.length === 0 || audience.some((a) => !a))
      throw new GatewayError('CONFIG_INVALID', 'jwt: audience (the gateway resource URL) is required');
    const algorithms = [...(options.algorithms ?? DEFAULT_ALGORITHMS)];
    const refused = algorithms.filter((alg) => !ASYMMETRIC.has(alg));
    if (refused.length > 0 || algorithms.length === 0)
      throw new GatewayError(
        'CONFIG_INVALID',
        `jwt: algorithms must be asymmetric signature algorithms (refused: ${refused.join(', ') || 'empty list'})`,
      );
    this.#options = options;
    this.#log = deps.log;
    this.#algorithms = algorithms;
    this.#audience = audience;
    if (options.jwksUri) this.#keys = Promise.resolve(this.#remoteSet(options.jwksUri));
  }

  /** Verifies `token` and returns its principal; throws UNAUTHORIZED or FORBIDDEN (see file header). */
  async verify(token: string): Promise<Principal> {
    if (typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_CHARS)
      throw invalidToken('malformed token');
    const now = Date.now();
    const known = this.#verified.get(token, now);
    if (known) return known;
    if (token.split('.').length !== 3) throw invalidToken('malformed token');
    let alg: unknown;
    try {
      alg = decodeProtectedHeader(token).alg;
    } catch {
      throw invalidToken('malformed token');
    }
    if (typeof alg !== 'string') throw invalidToken('malformed token');
    if (!this.#algorithms.includes(alg))
      throw invalidToken(`token algorithm "${alg.replace(/[^A-Za-z0-9_-]/g, '').slice(0, 16)}" is not allowed`);
    const keys = await this.#keySet();
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, keys, {
        issuer: this.#options.issuer,
        audience: this.#audience,
        algorithms: this.#algorithms,
        clockTolerance: this.#options.clockToleranceSec ?? 30,
        requiredClaims: ['exp'],
      }));
    } catch (error) {
      throw this.#mapError(error);
    }
    const principal = principalFromClaims(payload, this.#options.claims ?? {}, this.#options.defaultTenant);
    const required = this.#options.requiredScopes ?? [];
    const missing = required.filter((scope) => !principal.scopes?.includes(scope));
    if (missing.length > 0) {
      const description = `token lacks the required scope${missing.length > 1 ? 's' : ''} ${missing.join(' ')}`;
      throw new GatewayError('FORBIDDEN', description, {
        wwwAuthenticate: { error: 'insufficient_scope', description, scope: required.join(' ') },
        missingScopes: missing,
      });
    }
    // exp is required, so it is a number here; the skew allowed on it counts too.
    const tolerance = (this.#options.clockToleranceSec ?? 30) * 1000;
    this.#verified.set(token, principal, (payload.exp ?? 0) * 1000 + tolerance, now);
    return principal;
  }

  /** The key set, discovering the JWKS URL on first use; a failed discovery is retried by the next call. */
  #keySet(): Promise<JWTVerifyGetKey> {
    if (!this.#keys) {
      const pending = this.#discover().then((uri) => this.#remoteSet(uri));
      this.#keys = pending;
      pending.catch(() => {
        if (this.#keys === pending) this.#keys = undefined;
      });
    }
    return this.#keys.catch((error: unknown) => {
      this.#warn({ issuer: this.#options.issuer, reason: (error as Error).message }, 'JWKS discovery failed');
      throw invalidToken('token signing keys of the issuer could not be fetched');
    });
  }

  /** Reads `jwks_uri` from the issuer's OpenID or RFC 8414 metadata, checking it names our issuer. */
  async #discover(): Promise<string> {
    const issuer = this.#options.issuer;
    const base = issuer.replace(/\/+$/, '');
    const url = new URL(base);
    const path = url.pathname === '/' ? '' : url.pathname;
    const candidates = [
      `${base}/.well-known/openid-configuration`,
      `${url.origin}/.well-known/oauth-authorization-server${path}`,
      `${base}/.well-known/oauth-authorization-server`,
    ].filter((c, i, all) => all.indexOf(c) === i);
    const reasons: string[] = [];
    for (const candidate of candidates) {
      try {
        const response = await fetch(candidate, {
          headers: { accept: 'application/json' },
          redirect: 'error',
          signal: AbortSignal.timeout(this.#options.jwks?.timeoutMs ?? 5000),
        });
        if (response.status !== 200) {
          reasons.push(`${candidate}: HTTP ${response.status}`);
          continue;
        }
        const doc = (await response.json()) as { issuer?: unknown; jwks_uri?: unknown };
        if (doc.issuer !== issuer) {
          reasons.push(`${candidate}: names issuer ${JSON.stringify(doc.issuer)}, not ${JSON.stringify(issuer)}`);
          continue;
        }
        if (typeof doc.jwks_uri !== 'string') {
          reasons.push(`${candidate}: no jwks_uri`);
          continue;
        }
        this.#log?.debug({ issuer, jwksUri: doc.jwks_uri }, 'JWKS discovered');
        return doc.jwks_uri;
      } catch (error) {
        reasons.push(`${candidate}: ${(error as Error).message}`);
      }
    }
    throw new Error(reasons.join('; '));
  }

  /** jose's remote set, with fetch failures told apart from "no such key". */
  #remoteSet(uri: string): JWTVerifyGetKey {
    const remote = createRemoteJWKSet(new URL(uri), {
      cooldownDuration: (this.#options.jwks?.cooldownSec ?? 30) * 1000,
      cacheMaxAge: (this.#options.jwks?.cacheMaxAgeSec ?? 600) * 1000,
      timeoutDuration: this.#options.jwks?.timeoutMs ?? 5000,
    });
    return async (header, token) => {
      try {
        return await remote(header, token);
      } catch (error) {
        // The local set's own verdicts pass through; jwtVerify tries each of several matching keys.
        if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys) throw error;
        const fetchFailure =
          !(error instanceof errors.JOSEError) ||
          error instanceof errors.JWKSTimeout ||
          error instanceof errors.JWKSInvalid ||
          error.code === errors.JOSEError.code;
        if (!fetchFailure) throw error;
        this.#warn(
          { issuer: this.#options.issuer, jwksUri: uri, reason: (error as Error).message },
          'JWKS fetch failed',
        );
        throw new KeysUnavailable((error as Error).message);
      }
    };
  }

  /** jose's errors as the messages of the file header. */
  #mapError(error: unknown): GatewayError {
    if (error instanceof KeysUnavailable) return invalidToken('token signing keys of the issuer could not be fetched');
    if (error instanceof errors.JWTExpired) return invalidToken('token expired');
    if (error instanceof errors.JWTClaimValidationFailed) {
      if (error.claim === 'iss') return invalidToken('token issuer is not trusted');
      if (error.claim === 'aud') return invalidToken('token audience is not this gateway');
      if (error.claim === 'nbf') return invalidToken('token is not yet valid');
      if (error.claim === 'exp' && error.reason === 'missing') return invalidToken('token has no expiry');
      return invalidToken(`token claim "${error.claim.replace(/[^A-Za-z0-9_.-]/g, '').slice(0, 32)}" is invalid`);
    }
    if (error instanceof errors.JWSSignatureVerificationFailed) return invalidToken('token signature is invalid');
    if (error instanceof errors.JWKSNoMatchingKey)
      return invalidToken('token signing key is not one of the issuer keys');
    if (error instanceof errors.JOSEAlgNotAllowed) return invalidToken('token algorithm is not allowed');
    if (
      error instanceof errors.JWTInvalid ||
      error instanceof errors.JWSInvalid ||
      error instanceof errors.JOSENotSupported
    )
      return invalidToken('malformed token');
    this.#log?.warn({ issuer: this.#options.issuer, reason: (error as Error)?.message }, 'JWT verification error');
    return invalidToken('token could not be verified');
  }

  #warn(fields: Record<string, unknown>, message: string): void {
    const now = Date.now();
    if (now - this.#lastWarnAt < WARN_EVERY_MS) return;
    this.#lastWarnAt = now;
    this.#log?.warn(fields, message);
  }
}

/** A claim by exact name first (URL-style names contain dots), then as a dotted path. */
function claim(payload: JWTPayload, name: string): unknown {
  if (Object.hasOwn(payload, name)) return payload[name];
  let value: unknown = payload;
  for (const part of name.split('.')) {
    if (value === null || typeof value !== 'object' || !Object.hasOwn(value, part)) return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

function nonEmptyString(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

/** A list claim: an array (its strings kept) or a string (split on spaces when `split`). */
function list(value: unknown, split: boolean): string[] {
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string' && v.length > 0);
  if (typeof value === 'string') return split ? value.split(/\s+/).filter(Boolean) : value ? [value] : [];
  return [];
}

/**
 * Maps verified claims to a principal (exported for the edge's tests and other credential kinds that
 * carry JWT-shaped claims). Throws UNAUTHORIZED when the token names no agent or has a non-string tenant.
 */
export function principalFromClaims(payload: JWTPayload, names: JwtClaimNames = {}, defaultTenant?: string): Principal {
  const tenantName = names.tenant ?? 'tenant';
  const tenantValue = claim(payload, tenantName);
  if (tenantValue !== undefined && !nonEmptyString(tenantValue))
    throw invalidToken(`token claim "${tenantName}" is not a tenant name`);
  const tenant = nonEmptyString(tenantValue) ?? defaultTenant ?? DEFAULT_TENANT;

  const sub = nonEmptyString(payload.sub);
  const clientId = nonEmptyString(payload['client_id']) ?? nonEmptyString(payload['azp']);
  const agent = names.agent ? nonEmptyString(claim(payload, names.agent)) : (clientId ?? sub);
  if (!agent) throw invalidToken(`token names no client (claim "${names.agent ?? 'client_id'}")`);
  // A client_credentials token's subject is the client itself: no end user behind it.
  const user = names.user
    ? nonEmptyString(claim(payload, names.user))
    : sub !== undefined && sub !== clientId && sub !== agent
      ? sub
      : undefined;

  const groups = list(claim(payload, names.groups ?? 'groups'), false);
  const scopeValue = names.scope ? claim(payload, names.scope) : (claim(payload, 'scope') ?? claim(payload, 'scp'));
  const scopes = [
    ...new Set([...list(scopeValue, true), ...list(claim(payload, names.capabilities ?? 'capabilities'), true)]),
  ];
  return { tenant, agent, user, groups, scopes, source: 'jwt', subject: sub };
}
