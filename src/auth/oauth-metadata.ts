/**
 * The gateway's side of OAuth discovery, as pure helpers: the RFC 9728 protected-resource metadata
 * document, the `WWW-Authenticate` challenge of RFC 6750 that points clients at it, and reading a
 * bearer token out of an `Authorization` header.
 *
 * MCP clients start their OAuth flow from the 401's `resource_metadata` URL, so the header must be
 * exact and must never carry anything a caller put in (a description is sanitised to the characters
 * RFC 6750 allows). No I/O here: the HTTP edge serves and sends what these return.
 */

/** Input of {@link protectedResourceMetadata}. */
export interface ProtectedResourceOptions {
  /** The gateway's resource URL (the audience tokens must carry), e.g. `https://host/mcp`. */
  readonly resource: string;
  /** Issuers of the authorization servers whose tokens the gateway accepts. */
  readonly authorizationServers: readonly string[];
  /** Scopes a client may ask for; omitted from the document when not given. */
  readonly scopesSupported?: readonly string[] | undefined;
}

/** The RFC 9728 protected-resource metadata document. */
export interface ProtectedResourceMetadata {
  resource: string;
  authorization_servers: string[];
  bearer_methods_supported: string[];
  scopes_supported?: string[];
  resource_name: string;
}

/** Builds the JSON served at `/.well-known/oauth-protected-resource` (RFC 9728 section 2). */
export function protectedResourceMetadata(options: ProtectedResourceOptions): ProtectedResourceMetadata {
  return {
    resource: options.resource,
    authorization_servers: [...options.authorizationServers],
    // Tokens in query strings or form bodies leak into logs and caches: the header only.
    bearer_methods_supported: ['header'],
    ...(options.scopesSupported ? { scopes_supported: [...options.scopesSupported] } : {}),
    resource_name: 'Switchboard',
  };
}

/**
 * The metadata URL of a resource per RFC 9728 section 3.1: the well-known segment goes between the
 * host and the resource's path (`https://host/mcp` -> `https://host/.well-known/oauth-protected-resource/mcp`).
 * MCP clients try this one first and the root form (`.../oauth-protected-resource`) second, so the
 * edge may serve both; the challenge names this one.
 */
export function protectedResourceMetadataUrl(resource: string): string {
  const url = new URL(resource);
  const path = url.pathname === '/' ? '' : url.pathname.replace(/\/+$/, '');
  return `${url.origin}/.well-known/oauth-protected-resource${path}`;
}

/** The RFC 6750 error codes (section 3.1). */
export type BearerError = 'invalid_request' | 'invalid_token' | 'insufficient_scope';

/** Input of {@link wwwAuthenticate}. */
export interface ChallengeOptions {
  /** Where the protected-resource metadata is served (see {@link protectedResourceMetadataUrl}). */
  readonly resourceMetadataUrl: string;
  /** Absent when the request carried no credential at all (RFC 6750 section 3.1: no error then). */
  readonly error?: BearerError | undefined;
  /** Human-readable reason; sanitised, never the token. */
  readonly description?: string | undefined;
  /** Space-delimited scopes the resource needs (with `insufficient_scope`). */
  readonly scope?: string | undefined;
}

/** Longest `error_description` sent; a reason is one short sentence. */
const MAX_DESCRIPTION = 200;

/**
 * Keeps only what RFC 6750 allows inside a quoted auth-param value: printable ASCII except `"` and
 * `\` (%x20-21 / %x23-5B / %x5D-7E). Dropping, rather than escaping, means no client has to get
 * quoted-pair parsing right, and no header injection is possible through a newline.
 */
function quotable(value: string): string {
  return value.replace(/[^\x20-\x21\x23-\x5b\x5d-\x7e]/g, '');
}

/** Scope tokens are NQCHARs (no space, quote or backslash), separated by single spaces. */
function scopeValue(scope: string): string {
  return scope
    .split(/\s+/)
    .map((token) => token.replace(/[^\x21\x23-\x5b\x5d-\x7e]/g, ''))
    .filter(Boolean)
    .join(' ');
}

/**
 * Builds a `WWW-Authenticate` value:
 * `Bearer resource_metadata="...", error="invalid_token", error_description="...", scope="..."`
 * (parameters that are absent or empty after sanitising are left out).
 */
export function wwwAuthenticate(options: ChallengeOptions): string {
  const params: string[] = [`resource_metadata="${quotable(options.resourceMetadataUrl)}"`];
  if (options.error) params.push(`error="${quotable(options.error)}"`);
  const description = options.description ? quotable(options.description).trim().slice(0, MAX_DESCRIPTION).trim() : '';
  if (description) params.push(`error_description="${description}"`);
  const scope = options.scope ? scopeValue(options.scope) : '';
  if (scope) params.push(`scope="${scope}"`);
  return `Bearer ${params.join(', ')}`;
}

/** Largest `Authorization` header read; real access tokens are a few KiB at most. */
export const MAX_AUTHORIZATION_BYTES = 8 * 1024;

/** RFC 6750 section 2.1: `Bearer` 1*SP b64token. */
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;

/**
 * The bearer token of an `Authorization` header, or undefined when there is none, the scheme is not
 * Bearer (case-insensitive), the token is not b64token syntax, or the header is over 8 KiB (refused
 * before any parsing, so an oversized header costs nothing).
 */
export function bearerToken(authorizationHeader: string | undefined): string | undefined {
  if (authorizationHeader === undefined) return undefined;
  // Length in UTF-16 units bounds the work before the byte count is taken.
  if (authorizationHeader.length > MAX_AUTHORIZATION_BYTES) return undefined;
  if (Buffer.byteLength(authorizationHeader, 'utf8') > MAX_AUTHORIZATION_BYTES) return undefined;
  return BEARER.exec(authorizationHeader)?.[1];
}
