/**
 * The `auth` and `policy` sections of the config: who may connect, how their identity is read, and
 * which Cedar policy files decide what they may see and call.
 *
 * `auth.mode` lists the credentials accepted on /mcp, /sse, /messages and /v1 (several may be):
 * `none` (loopback only, and alone), `apiKey` (keys made with `switchboard keys create`), `jwt`
 * (OAuth 2.1 bearer tokens of `auth.jwt.issuer`), `mtls` (a verified client certificate mapped by
 * `auth.mtls`). A sidecar (stdio) has no credential: its principal is `auth.stdio`.
 */
import { z } from 'zod';
import { strictObject as strict } from './keys.js';

/** Tenant and agent names: what API keys, claims and certificates map to. */
export const principalName = z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'use 1 to 64 letters, digits, ".", "_" or "-"');
const scopeList = z.array(z.string().min(1).max(200)).max(100);
const groupList = z.array(z.string().min(1).max(200)).max(100);

/** Accepted credential kinds. */
export const authModes = ['none', 'apiKey', 'jwt', 'mtls'] as const;
export type AuthMode = (typeof authModes)[number];
const authMode = z.enum(authModes);

/** OAuth 2.1 resource server settings (bearer JWTs, RFC 9068 style, verified against the issuer's JWKS). */
const jwtSchema = strict({
  /** The authorization server; its discovery document gives the JWKS unless `jwksUri` is set. */
  issuer: z.url({ protocol: /^https?$/ }),
  /** Accepted `aud` values; default: `auth.resource` (RFC 8707 resource indicator). */
  audience: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).optional(),
  jwksUri: z.url({ protocol: /^https?$/ }).optional(),
  /** Signature algorithms accepted; `none` and HS* never are. */
  algorithms: z
    .array(z.enum(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'EdDSA']))
    .min(1)
    .optional(),
  clockToleranceSec: z.number().int().min(0).max(300).default(30),
  /** Scopes every token must carry (else 403 insufficient_scope). */
  requiredScopes: scopeList.default([]),
  /** Claim names for the principal (defaults: tenant, client_id/azp/sub, sub, groups, scope/scp, capabilities). */
  claims: strict({
    tenant: z.string().min(1).optional(),
    agent: z.string().min(1).optional(),
    user: z.string().min(1).optional(),
    groups: z.string().min(1).optional(),
    scope: z.string().min(1).optional(),
    capabilities: z.string().min(1).optional(),
  }).optional(),
});

/** A client certificate mapped to a principal. */
const mtlsMapping = strict({
  /** Which certificates: by subject CN or by a subjectAltName, exactly or as a `*` glob. */
  match: strict({ subject: z.string().min(1).optional(), san: z.string().min(1).optional() }).refine(
    (m) => m.subject !== undefined || m.san !== undefined,
    'give subject or san',
  ),
  tenant: principalName.default('default'),
  agent: principalName,
  scopes: scopeList.optional(),
  groups: groupList.default([]),
});

/** The `auth` section. */
export const authSchema = strict({
  mode: z
    .union([authMode, z.array(authMode).min(1)])
    .default('none')
    .transform((mode) => [...new Set(Array.isArray(mode) ? mode : [mode])]),
  /**
   * The gateway's resource URL (what tokens' `aud` must name, and RFC 9728's `resource`), e.g.
   * https://gateway.example.com/mcp. Default: the bound address's /mcp.
   */
  resource: z.url({ protocol: /^https?$/ }).optional(),
  jwt: jwtSchema.optional(),
  mtls: z.array(mtlsMapping).default([]),
  /** The principal of a sidecar (stdio) agent: the person or service that started it. */
  stdio: strict({
    tenant: principalName.default('default'),
    agent: principalName.default('sidecar'),
    user: z.string().min(1).max(200).optional(),
    groups: groupList.default([]),
    /** Absent: unrestricted (the owner sees what the config gives them). */
    scopes: scopeList.optional(),
  }).optional(),
})
  .superRefine((auth, ctx) => {
    if (auth.mode.includes('none') && auth.mode.length > 1)
      ctx.addIssue({
        code: 'custom',
        path: ['mode'],
        message: '"none" cannot be combined with other modes: with any credential accepted, every caller needs one',
      });
    if (auth.mode.includes('jwt') && !auth.jwt)
      ctx.addIssue({ code: 'custom', path: ['jwt'], message: 'mode jwt needs auth.jwt.issuer' });
    if (auth.mode.includes('mtls') && auth.mtls.length === 0)
      ctx.addIssue({
        code: 'custom',
        path: ['mtls'],
        message: 'mode mtls needs at least one auth.mtls mapping (match a certificate to a tenant and agent)',
      });
  })
  .prefault({});

/** The `policy` section: Cedar policy files (hot-reloaded). Default deny once any is loaded. */
export const policySchema = strict({
  /** `.cedar` files or folders of them (relative to the config file). */
  files: z.array(z.string().min(1)).default([]),
}).prefault({});
