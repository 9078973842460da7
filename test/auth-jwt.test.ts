/**
 * Inbound JWT validation against a real authorization server (oidc-provider on loopback, real HTTP):
 * what is accepted and how it maps to a principal, each way a token can be wrong and the error it
 * gets, key rotation with a bounded refetch, an unreachable JWKS, and the OAuth metadata helpers.
 */
import { createServer } from 'node:net';
import { Writable } from 'node:stream';
import { decodeJwt, decodeProtectedHeader, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JwtVerifier, principalFromClaims, type JwtOptions } from '../src/auth/jwt.js';
import {
  bearerToken,
  protectedResourceMetadata,
  protectedResourceMetadataUrl,
  wwwAuthenticate,
} from '../src/auth/oauth-metadata.js';
import { GatewayError } from '../src/core/errors.js';
import { createLogger } from '../src/telemetry/logger.js';
import { startOidcProvider, unsignedToken, type OidcFixture } from './fixtures/oidc.js';

const RESOURCE = 'http://127.0.0.1:9/mcp';
const SCOPES = ['tools:*', 'servers:files', 'mcp:access'];

let idp: OidcFixture;
let other: OidcFixture;

beforeAll(async () => {
  idp = await startOidcProvider({
    resource: RESOURCE,
    scopes: SCOPES,
    clients: [
      { clientId: 'agent-a', clientSecret: 'secret-a', claims: { tenant: 'acme', groups: ['ops', 'sre'] } },
      { clientId: 'agent-b', clientSecret: 'secret-b' },
    ],
  });
  other = await startOidcProvider({ resource: RESOURCE, scopes: SCOPES });
});

afterAll(async () => {
  await idp?.close();
  await other?.close();
});

function verifier(extra: Partial<JwtOptions> = {}, log?: ReturnType<typeof createLogger>): JwtVerifier {
  return new JwtVerifier({ issuer: idp.issuer, audience: RESOURCE, jwksUri: idp.jwksUri, ...extra }, { log });
}

/** The GatewayError a verification rejects with, checked to never echo the token. */
async function rejection(v: JwtVerifier, token: string): Promise<GatewayError> {
  const error = await v.verify(token).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(GatewayError);
  const gatewayError = error as GatewayError;
  expect(gatewayError.message).not.toContain(token);
  expect(JSON.stringify(gatewayError.details)).not.toContain(token);
  return gatewayError;
}

async function expectInvalid(v: JwtVerifier, token: string, message: string): Promise<void> {
  const error = await rejection(v, token);
  expect(error.code).toBe('UNAUTHORIZED');
  expect(error.httpStatus).toBe(401);
  expect(error.message).toBe(message);
  expect(error.details).toEqual({ wwwAuthenticate: { error: 'invalid_token', description: message } });
}

/** A logger whose lines the test reads. */
function capturingLogger(): { log: ReturnType<typeof createLogger>; lines: string[] } {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { log: createLogger({ level: 'debug', destination }), lines };
}

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const now = () => Math.floor(Date.now() / 1000);

describe('JwtVerifier: accepted tokens', () => {
  it('maps a client_credentials token from the real token endpoint to a principal', async () => {
    const token = await idp.token('agent-a', { scope: 'tools:* servers:files' });
    const principal = await verifier().verify(token);
    expect(principal).toEqual({
      tenant: 'acme',
      agent: 'agent-a',
      user: undefined,
      groups: ['ops', 'sre'],
      scopes: ['tools:*', 'servers:files'],
      source: 'jwt',
      subject: 'agent-a',
    });
  });

  it('gives a token without tenant claim the default tenant, and no scopes when none were granted', async () => {
    const token = await idp.token('agent-b');
    expect(await verifier().verify(token)).toMatchObject({ tenant: 'default', agent: 'agent-b', scopes: [] });
    expect(await verifier({ defaultTenant: 'shared' }).verify(token)).toMatchObject({ tenant: 'shared' });
  });

  it("finds the JWKS through the issuer's discovery document once", async () => {
    const v = new JwtVerifier({ issuer: idp.issuer, audience: [RESOURCE, 'https://gateway.example/mcp'] });
    const token = await idp.token('agent-a', { scope: 'tools:*' });
    const [a, b] = await Promise.all([v.verify(token), v.verify(token)]);
    expect(a.agent).toBe('agent-a');
    expect(b.agent).toBe('agent-a');
  });

  it('accepts an expired token and a not-yet-valid one within the clock tolerance', async () => {
    const v = verifier({ clockToleranceSec: 30 });
    expect((await v.verify(await idp.sign({ exp: now() - 5, iat: now() - 300 }))).agent).toBe('agent-a');
    expect((await v.verify(await idp.sign({ nbf: now() + 5 }))).agent).toBe('agent-a');
  });

  it('passes a token that carries every required scope', async () => {
    const token = await idp.token('agent-a', { scope: 'mcp:access tools:*' });
    expect((await verifier({ requiredScopes: ['mcp:access'] }).verify(token)).scopes).toContain('mcp:access');
  });
});

describe('JwtVerifier: rejected tokens', () => {
  it('rejects an expired token', async () => {
    await expectInvalid(verifier(), await idp.sign({ iat: now() - 600, exp: now() - 300 }), 'token expired');
  });

  it('rejects a token without exp', async () => {
    await expectInvalid(verifier(), await idp.sign({ exp: undefined }), 'token has no expiry');
  });

  it('rejects a real token issued for another resource', async () => {
    const token = await idp.token('agent-a', { resource: 'https://elsewhere.example/mcp' });
    expect(decodeJwt(token).aud).toBe('https://elsewhere.example/mcp');
    await expectInvalid(verifier(), token, 'token audience is not this gateway');
  });

  it('rejects a token naming another issuer, even when signed with a trusted key', async () => {
    await expectInvalid(verifier(), await idp.sign({ iss: 'https://evil.example' }), 'token issuer is not trusted');
  });

  it("rejects a real token of another authorization server (its key is not the issuer's)", async () => {
    const token = await other.token('agent-a', { scope: 'tools:*' });
    await expectInvalid(verifier(), token, 'token signing key is not one of the issuer keys');
  });

  it('rejects an unsigned (alg none) token', async () => {
    const claims = decodeJwt(await idp.token('agent-a', { scope: 'tools:*' }));
    await expectInvalid(verifier(), unsignedToken(claims), 'token algorithm "none" is not allowed');
  });

  it('rejects an HMAC token and any algorithm outside the allow-list', async () => {
    const hs = await rejection(verifier(), await hmacToken());
    expect(hs.message).toBe('token algorithm "HS256" is not allowed');
    const ps = await idp.sign({}, { alg: 'PS256' });
    await expectInvalid(verifier({ algorithms: ['RS256'] }), ps, 'token algorithm "PS256" is not allowed');
  });

  it('rejects a tampered payload (signature mismatch)', async () => {
    const token = await idp.token('agent-a', { scope: 'tools:*' });
    const [header, payload, signature] = token.split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString()) as Record<string, unknown>;
    const forged = Buffer.from(JSON.stringify({ ...claims, scope: 'tools:* admin' })).toString('base64url');
    await expectInvalid(verifier(), `${header}.${forged}.${signature}`, 'token signature is invalid');
  });

  it("rejects a foreign key's signature, under the issuer's kid or its own", async () => {
    const [issuerKey] = idp.jwks.keys;
    const impostor = { kid: issuerKey!.kid, privateJwk: { ...idp.foreignKey.privateJwk, kid: issuerKey!.kid } };
    await expectInvalid(verifier(), await idp.sign({}, { key: impostor }), 'token signature is invalid');
    await expectInvalid(
      verifier(),
      await idp.sign({}, { key: idp.foreignKey }),
      'token signing key is not one of the issuer keys',
    );
  });

  it('rejects a token whose nbf is beyond the clock tolerance', async () => {
    await expectInvalid(
      verifier({ clockToleranceSec: 30 }),
      await idp.sign({ nbf: now() + 300 }),
      'token is not yet valid',
    );
  });

  it('rejects malformed tokens', async () => {
    for (const token of ['abc', 'a.b.c', 'a.b', `${'x'.repeat(9000)}.y.z`])
      await expectInvalid(verifier(), token, 'malformed token');
  });

  it('answers a token lacking a required scope with 403 insufficient_scope naming the scope', async () => {
    const token = await idp.token('agent-a', { scope: 'tools:*' });
    const error = await rejection(verifier({ requiredScopes: ['mcp:access', 'tools:*'] }), token);
    expect(error.code).toBe('FORBIDDEN');
    expect(error.httpStatus).toBe(403);
    expect(error.message).toBe('token lacks the required scope mcp:access');
    expect(error.details).toEqual({
      wwwAuthenticate: { error: 'insufficient_scope', description: error.message, scope: 'mcp:access tools:*' },
      missingScopes: ['mcp:access'],
    });
  });

  it('refuses to be configured with none or HMAC algorithms', () => {
    for (const algorithms of [['none'], ['HS256'], []]) {
      expect(() => new JwtVerifier({ issuer: idp.issuer, audience: RESOURCE, algorithms })).toThrow(GatewayError);
    }
  });
});

describe('JwtVerifier: keys', () => {
  it('picks up a rotated key (new kid) with one JWKS refetch', async () => {
    const v = verifier({ jwks: { cooldownSec: 0 } });
    const before = await idp.token('agent-a', { scope: 'tools:*' });
    await v.verify(before);
    const fetches = idp.jwksRequests;
    const key = await idp.rotate();
    const after = await idp.token('agent-a', { scope: 'tools:*' });
    expect(decodeProtectedHeader(after).kid).toBe(key.kid);
    expect((await v.verify(after)).agent).toBe('agent-a');
    expect(idp.jwksRequests).toBe(fetches + 1);
    // The old key is still published, and now cached: no further fetch.
    expect((await v.verify(before)).agent).toBe('agent-a');
    expect(idp.jwksRequests).toBe(fetches + 1);
  });

  it('refetches for unknown kids at most once per cooldown window', async () => {
    const v = verifier({ jwks: { cooldownSec: 600 } });
    await v.verify(await idp.token('agent-a'));
    const fetches = idp.jwksRequests;
    const unknownKid = await idp.sign({}, { key: idp.foreignKey });
    for (let i = 0; i < 5; i += 1)
      await expectInvalid(v, unknownKid, 'token signing key is not one of the issuer keys');
    expect(idp.jwksRequests).toBe(fetches);
  });

  it('rejects with 401 and logs a warning without the token when the JWKS is unreachable', async () => {
    const { log, lines } = capturingLogger();
    const v = verifier({ jwksUri: `http://127.0.0.1:${await closedPort()}/jwks` }, log);
    const token = await idp.token('agent-a');
    await expectInvalid(v, token, 'token signing keys of the issuer could not be fetched');
    log.flush();
    const warnings = lines.map((l) => JSON.parse(l) as { level: number; msg: string });
    expect(warnings.some((w) => w.level === 40 && w.msg === 'JWKS fetch failed')).toBe(true);
    expect(lines.join('\n')).not.toContain(token);
  });

  it('rejects with 401 and logs when discovery fails, or names another issuer', async () => {
    const { log, lines } = capturingLogger();
    const token = await idp.token('agent-a');
    const down = new JwtVerifier({ issuer: `http://127.0.0.1:${await closedPort()}`, audience: RESOURCE }, { log });
    await expectInvalid(down, token, 'token signing keys of the issuer could not be fetched');
    const mismatch = new JwtVerifier({ issuer: `${idp.issuer}/`, audience: RESOURCE }, { log: capturingLogger().log });
    await expectInvalid(mismatch, token, 'token signing keys of the issuer could not be fetched');
    log.flush();
    expect(lines.some((l) => (JSON.parse(l) as { msg: string }).msg === 'JWKS discovery failed')).toBe(true);
    expect(lines.join('\n')).not.toContain(token);
  });
});

describe('principalFromClaims', () => {
  it('names the user of a user token, reads scp arrays and appends capabilities', () => {
    const principal = principalFromClaims({
      sub: 'alice',
      azp: 'cursor',
      scp: ['tools:read'],
      capabilities: ['servers:files'],
    });
    expect(principal).toMatchObject({ agent: 'cursor', user: 'alice', scopes: ['tools:read', 'servers:files'] });
  });

  it('reads configured claim names, by exact name first, then as dotted paths', () => {
    const principal = principalFromClaims(
      {
        sub: 'u1',
        appid: 'svc',
        'https://example.com/org': 'globex',
        realm_access: { roles: ['admins'] },
        perms: 'a b',
      },
      { tenant: 'https://example.com/org', agent: 'appid', groups: 'realm_access.roles', scope: 'perms' },
    );
    expect(principal).toMatchObject({
      tenant: 'globex',
      agent: 'svc',
      user: 'u1',
      groups: ['admins'],
      scopes: ['a', 'b'],
    });
  });

  it('refuses a non-string tenant claim and a token that names no client', () => {
    expect(() => principalFromClaims({ sub: 'a', tenant: 7 })).toThrow('token claim "tenant" is not a tenant name');
    expect(() => principalFromClaims({})).toThrow(GatewayError);
  });
});

describe('oauth-metadata', () => {
  it('builds the RFC 9728 document', () => {
    expect(
      protectedResourceMetadata({
        resource: 'https://gw.example/mcp',
        authorizationServers: ['https://idp.example'],
        scopesSupported: ['tools:*'],
      }),
    ).toEqual({
      resource: 'https://gw.example/mcp',
      authorization_servers: ['https://idp.example'],
      bearer_methods_supported: ['header'],
      scopes_supported: ['tools:*'],
      resource_name: 'Switchboard',
    });
    expect(
      protectedResourceMetadata({ resource: 'https://gw.example/mcp', authorizationServers: [] }),
    ).not.toHaveProperty('scopes_supported');
    expect(protectedResourceMetadataUrl('https://gw.example/mcp')).toBe(
      'https://gw.example/.well-known/oauth-protected-resource/mcp',
    );
    expect(protectedResourceMetadataUrl('https://gw.example/')).toBe(
      'https://gw.example/.well-known/oauth-protected-resource',
    );
  });

  it('writes WWW-Authenticate challenges exactly, sanitising what could break the quoting', () => {
    const url = 'https://gw.example/.well-known/oauth-protected-resource/mcp';
    expect(wwwAuthenticate({ resourceMetadataUrl: url })).toBe(`Bearer resource_metadata="${url}"`);
    expect(wwwAuthenticate({ resourceMetadataUrl: url, error: 'invalid_token', description: 'token expired' })).toBe(
      `Bearer resource_metadata="${url}", error="invalid_token", error_description="token expired"`,
    );
    expect(
      wwwAuthenticate({ resourceMetadataUrl: url, error: 'insufficient_scope', description: 'x', scope: 'a  b' }),
    ).toBe(`Bearer resource_metadata="${url}", error="insufficient_scope", error_description="x", scope="a b"`);
    expect(
      wwwAuthenticate({
        resourceMetadataUrl: url,
        error: 'invalid_token',
        description: 'bad "quote"\\\r\nSet-Cookie: x',
      }),
    ).toBe(`Bearer resource_metadata="${url}", error="invalid_token", error_description="bad quoteSet-Cookie: x"`);
  });

  it('reads bearer tokens, case-insensitively, within 8 KiB', () => {
    expect(bearerToken('Bearer abc.def-_~+/=')).toBe('abc.def-_~+/=');
    expect(bearerToken('bearer  abc')).toBe('abc');
    expect(bearerToken('BEARER abc')).toBe('abc');
    expect(bearerToken(undefined)).toBeUndefined();
    expect(bearerToken('Basic abc')).toBeUndefined();
    expect(bearerToken('Bearer')).toBeUndefined();
    expect(bearerToken('Bearer a b')).toBeUndefined();
    expect(bearerToken('Bearer "abc"')).toBeUndefined();
    expect(bearerToken(`Bearer ${'a'.repeat(8 * 1024 - 7)}`)).toHaveLength(8 * 1024 - 7);
    expect(bearerToken(`Bearer ${'a'.repeat(8 * 1024)}`)).toBeUndefined();
  });
});

/** An HS256 token with the right claims: refused because no shared secret is configured. */
async function hmacToken(): Promise<string> {
  return new SignJWT({ iss: idp.issuer, aud: RESOURCE, client_id: 'agent-a', sub: 'agent-a' })
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuedAt()
    .setExpirationTime('5m')
    .sign(new TextEncoder().encode('a-shared-secret-of-enough-length!'));
}
