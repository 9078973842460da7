/**
 * Inbound authentication: turns what a request presents (an `Authorization` header, a client
 * certificate) into the Principal every later stage sees, by the modes `auth.mode` accepts.
 *
 * - `none` (loopback only, and alone): no credential; callers are anonymous (`undefined` here, so the
 *   agent edge can name them after their client info, and honour the `_meta` user hint).
 * - A bearer token beginning `sbk_` is an API key (`apiKey`); any other bearer token is a JWT (`jwt`).
 * - A bearer token beginning `sbm_` is a server's mesh key (mesh-keys.ts), accepted whatever the modes,
 *   `none` included: a server calling through the gateway is always its own, scoped principal.
 * - `mtls`: a verified client certificate that a mapping in `auth.mtls` matches.
 * A bearer token, when present, decides: a bad one is refused even if a good certificate came with it.
 * Failures are UNAUTHORIZED (401) or FORBIDDEN (403) with `details.wwwAuthenticate` for the challenge;
 * messages never echo the credential.
 */
import type { AuthMode } from '../config/auth-schema.js';
import { GatewayError } from '../core/errors.js';
import type { Principal } from '../core/principal.js';
import { API_KEY_PREFIX, type ApiKeys } from './api-keys.js';
import { MESH_KEY_PREFIX, type MeshKeys } from './mesh-keys.js';
import type { JwtVerifier } from './jwt.js';
import { principalFromCertificate, type CertificateFacts, type CertificateMapping } from './mtls.js';
import { bearerToken, MAX_AUTHORIZATION_BYTES } from './oauth-metadata.js';

/** What one request presents. */
export interface Presented {
  /** The raw `Authorization` header. */
  readonly authorization?: string | undefined;
  /** The client certificate of the connection, when TLS asked for one. */
  readonly certificate?: (CertificateFacts & { readonly error?: string | undefined }) | undefined;
}

/** The verifiers of the accepted modes (each present when its mode is). */
export interface AuthenticatorDeps {
  readonly modes: readonly AuthMode[];
  readonly keys?: ApiKeys | undefined;
  readonly jwt?: JwtVerifier | undefined;
  readonly mtls?: readonly CertificateMapping[] | undefined;
  /** Keys of servers that call through the gateway (absent: `sbm_` tokens are refused like any unknown one). */
  readonly mesh?: MeshKeys | undefined;
}

/** Authenticates requests by the configured modes. */
export class Authenticator {
  readonly #deps: AuthenticatorDeps;
  readonly #modes: ReadonlySet<AuthMode>;

  constructor(deps: AuthenticatorDeps) {
    this.#deps = deps;
    this.#modes = new Set(deps.modes);
    if (this.#modes.has('apiKey') && !deps.keys) throw new Error('auth mode apiKey needs the key store');
    if (this.#modes.has('jwt') && !deps.jwt) throw new Error('auth mode jwt needs a verifier');
  }

  /** True when mesh keys are verified (even under auth `none`, so the edge must authenticate every request). */
  get meshEnabled(): boolean {
    return this.#deps.mesh !== undefined;
  }

  /** True when client certificates count (mode mtls): only then does the edge read the peer certificate. */
  get wantsCertificate(): boolean {
    return this.#modes.has('mtls');
  }

  /** True when no credential is needed (auth `none`). */
  get open(): boolean {
    return this.#modes.has('none');
  }

  /** True when bearer tokens are accepted (the 401 challenge then names the OAuth metadata). */
  get acceptsBearer(): boolean {
    return this.#modes.has('jwt') || this.#modes.has('apiKey');
  }

  /**
   * The principal of a request: undefined for auth `none` (unless a mesh key is presented); otherwise
   * a verified identity, or a thrown UNAUTHORIZED / FORBIDDEN.
   */
  async authenticate(presented: Presented): Promise<Principal | undefined> {
    const header = presented.authorization;
    const token = bearerToken(header); // undefined past MAX_AUTHORIZATION_BYTES, before any work
    if (this.#deps.mesh && token?.startsWith(MESH_KEY_PREFIX)) return this.#deps.mesh.verify(token);
    if (this.open) return undefined;
    if (header !== undefined && header.length > 0) {
      if (header.length > MAX_AUTHORIZATION_BYTES) throw unauthorized('the Authorization header is too long');
      if (!token) throw unauthorized('the Authorization header must be "Bearer <token>"', 'invalid_request');
      if (token.startsWith(API_KEY_PREFIX)) {
        if (!this.#modes.has('apiKey') || !this.#deps.keys) throw unauthorized('API keys are not accepted here');
        return this.#deps.keys.verify(token);
      }
      if (!this.#modes.has('jwt') || !this.#deps.jwt) throw unauthorized('bearer tokens are not accepted here');
      return this.#deps.jwt.verify(token);
    }
    if (this.#modes.has('mtls')) {
      const certificate = presented.certificate;
      if (certificate && !certificate.authorized)
        throw unauthorized(`the client certificate was not accepted: ${certificate.error ?? 'not verified'}`);
      const principal = principalFromCertificate(certificate, this.#deps.mtls ?? []);
      if (principal) return principal;
      if (certificate)
        throw unauthorized(`no auth.mtls mapping matches the client certificate (CN "${clip(certificate.subject)}")`);
    }
    throw new GatewayError('UNAUTHORIZED', `authentication required: ${this.#expected()}`, {
      wwwAuthenticate: {},
    });
  }

  /** What a caller should present, for the 401 message. */
  #expected(): string {
    const ways: string[] = [];
    if (this.#modes.has('jwt')) ways.push('an OAuth bearer token');
    if (this.#modes.has('apiKey')) ways.push('an API key as a bearer token');
    if (this.#modes.has('mtls')) ways.push('a client certificate');
    return `present ${ways.join(' or ')}`;
  }
}

function unauthorized(message: string, error: 'invalid_token' | 'invalid_request' = 'invalid_token'): GatewayError {
  return new GatewayError('UNAUTHORIZED', message, { wwwAuthenticate: { error, description: message } });
}

function clip(text: string): string {
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}
