/**
 * API keys: created, verified into a principal, refused when wrong, revoked or expired, stored only as
 * hashes; through ApiKeys on a real SQLite file, the real CLI (a child process) and the REST routes on a
 * real fastify app on loopback.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ApiKeys, type KeysRepo } from '../src/auth/api-keys.js';
import { asGatewayError, GatewayError } from '../src/core/errors.js';
import { parseDuration, runKeysCommand } from '../src/cli-keys.js';
import { SqliteAuditRepo } from '../src/store/audit-repo.js';
import { registerKeyRoutes } from '../src/http/keys-route.js';
import { openDb, type Db } from '../src/store/db.js';
import { SqliteKeysRepo } from '../src/store/keys-repo.js';
import { cleanup, onCleanup, ROOT, tempDir } from './helpers.js';

afterAll(cleanup);

/** A store file in a fresh temp folder, closed after the test file. */
function freshDb(): { db: Db; path: string } {
  const path = join(tempDir(), 'keys.db');
  const db = openDb(path);
  onCleanup(() => db.close());
  return { db, path };
}

/** A clock the test moves by hand. */
function manualClock(start = Date.UTC(2030, 0, 1)) {
  let now = start;
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}

function refusal(fn: () => unknown): GatewayError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(GatewayError);
    return error as GatewayError;
  }
  throw new Error('expected a refusal');
}

const secretOf = (key: string) => key.slice('sbk_'.length + 12 + 1);
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

describe('ApiKeys on a SQLite file', () => {
  it('the SQLite repo is the port ApiKeys declares', () => {
    const repo: KeysRepo = new SqliteKeysRepo(freshDb().db);
    expect(repo.list()).toEqual([]);
  });

  it('creates a key that verifies into its tenant, agent, scopes and groups', () => {
    const keys = new ApiKeys(new SqliteKeysRepo(freshDb().db));
    const created = keys.create({
      tenant: 'acme',
      agent: 'billing-bot',
      scopes: ['tools:github_*', 'servers:db'],
      groups: ['ops'],
    });
    expect(created.key).toMatch(/^sbk_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
    expect(created.key.startsWith(`sbk_${created.id}_`)).toBe(true);
    const principal = keys.verify(created.key);
    expect(principal).toEqual({
      tenant: 'acme',
      agent: 'billing-bot',
      groups: ['ops'],
      scopes: ['tools:github_*', 'servers:db'],
      source: 'apiKey',
      subject: created.id,
    });
    expect(JSON.stringify(principal)).not.toContain(secretOf(created.key));
  });

  it('refuses a wrong secret and an unknown id with the same message, never echoing the key', () => {
    const keys = new ApiKeys(new SqliteKeysRepo(freshDb().db));
    const { key, id } = keys.create({ tenant: 'acme', agent: 'bot', scopes: ['tools:*'] });
    const secret = secretOf(key);
    const flipped = `${secret[0] === 'A' ? 'B' : 'A'}${secret.slice(1)}`;
    const wrongSecret = refusal(() => keys.verify(`sbk_${id}_${flipped}`));
    const unknownId = refusal(() =>
      keys.verify(`sbk_${id === '000000000000' ? '111111111111' : '000000000000'}_${secret}`),
    );
    const malformed = refusal(() => keys.verify('sbk_nothex_short'));
    const tooLong = refusal(() => keys.verify(`${key}${'x'.repeat(300)}`));
    for (const error of [wrongSecret, unknownId, malformed, tooLong]) {
      expect(error.code).toBe('UNAUTHORIZED');
      expect(error.message).toBe('API key is not valid');
      expect(JSON.stringify(error.toJSON())).not.toContain(secret);
    }
    expect(keys.verify(key).subject).toBe(id); // the real key still works after the failures
  });

  it('a revoke through the same instance is refused at once, even while the key is cached', () => {
    const keys = new ApiKeys(new SqliteKeysRepo(freshDb().db), manualClock().now);
    const { key, id } = keys.create({ tenant: 'acme', agent: 'bot', scopes: ['tools:*'] });
    keys.verify(key); // now cached
    expect(keys.revoke(id)).toBe(true);
    expect(refusal(() => keys.verify(key)).message).toBe('API key was revoked');
    expect(keys.list()[0]?.revokedAt).not.toBeNull();
    expect(keys.revoke('000000000000')).toBe(false);
  });

  it('a revoke by another process writing the same file takes effect within the cache TTL', () => {
    const { path } = freshDb();
    const clock = manualClock();
    const hubDb = openDb(path);
    const otherDb = openDb(path);
    onCleanup(() => hubDb.close());
    onCleanup(() => otherDb.close());
    const hub = new ApiKeys(new SqliteKeysRepo(hubDb), clock.now, { cacheTtlMs: 5000 });
    const cli = new ApiKeys(new SqliteKeysRepo(otherDb), clock.now);
    const { key, id } = cli.create({ tenant: 'acme', agent: 'bot', scopes: ['tools:*'] });
    expect(hub.verify(key).agent).toBe('bot'); // a key created elsewhere is seen at once (not cached yet)
    expect(cli.revoke(id)).toBe(true);
    clock.advance(4999);
    expect(hub.verify(key).agent).toBe('bot'); // still within the TTL: the cached row
    clock.advance(1);
    expect(refusal(() => hub.verify(key)).message).toBe('API key was revoked');
  });

  it('a revoke scoped to another tenant finds nothing', () => {
    const keys = new ApiKeys(new SqliteKeysRepo(freshDb().db));
    const { key, id } = keys.create({ tenant: 'acme', agent: 'bot', scopes: ['tools:*'] });
    expect(keys.revoke(id, 'globex')).toBe(false);
    expect(keys.verify(key).tenant).toBe('acme');
    expect(keys.list('globex')).toEqual([]);
    expect(keys.list('acme').map((r) => r.id)).toEqual([id]);
  });

  it('expires at expiresInSec by the injected clock', () => {
    const clock = manualClock();
    const keys = new ApiKeys(new SqliteKeysRepo(freshDb().db), clock.now);
    const { key, record } = keys.create({ tenant: 'acme', agent: 'bot', scopes: ['tools:*'], expiresInSec: 3600 });
    expect(record.expiresAt).toBe(clock.now() + 3_600_000);
    clock.advance(3_599_999);
    expect(keys.verify(key).agent).toBe('bot');
    clock.advance(1);
    expect(refusal(() => keys.verify(key)).message).toBe('API key expired');
  });

  it('records the last use at most once a minute', () => {
    const clock = manualClock();
    const keys = new ApiKeys(new SqliteKeysRepo(freshDb().db), clock.now, { cacheTtlMs: 0 });
    const { key } = keys.create({ tenant: 'acme', agent: 'bot', scopes: ['tools:*'] });
    const start = clock.now();
    keys.verify(key);
    expect(keys.list()[0]?.lastUsedAt).toBe(start);
    clock.advance(59_999);
    keys.verify(key);
    expect(keys.list()[0]?.lastUsedAt).toBe(start);
    clock.advance(1);
    keys.verify(key);
    expect(keys.list()[0]?.lastUsedAt).toBe(start + 60_000);
  });

  it('stores and lists neither the secret nor anything but its sha256 in the table', () => {
    const { db } = freshDb();
    const keys = new ApiKeys(new SqliteKeysRepo(db));
    const { key, id } = keys.create({ tenant: 'acme', agent: 'bot', scopes: ['tools:*'], note: 'ci' });
    const secret = secretOf(key);
    const listed = JSON.stringify(keys.list());
    expect(listed).toContain(id);
    expect(listed).not.toContain(secret);
    expect(listed).not.toContain(sha256(secret));
    const row = db.prepare('SELECT * FROM api_keys WHERE id = ?').get(id) as Record<string, unknown>;
    expect(row.hash).toBe(sha256(secret));
    expect(JSON.stringify(row)).not.toContain(secret);
  });

  it('refuses bad bindings with the path of each problem', () => {
    const keys = new ApiKeys(new SqliteKeysRepo(freshDb().db));
    const error = refusal(() =>
      keys.create({ tenant: 'ac me', agent: 'x'.repeat(65), scopes: ['tools:*', ''], groups: ['y'.repeat(201)] }),
    );
    expect(error.code).toBe('BAD_REQUEST');
    for (const path of ['tenant', 'agent', 'scopes[1]', 'groups[0]']) expect(error.message).toContain(`${path}:`);
    expect(refusal(() => keys.create({ tenant: 'a', agent: 'b', scopes: [] })).message).toContain('scopes:');
    const many = Array.from({ length: 101 }, (_, i) => `s${i}`);
    expect(refusal(() => keys.create({ tenant: 'a', agent: 'b', scopes: many })).message).toContain('at most 100');
    expect(keys.list()).toEqual([]);
  });
});

describe('switchboard keys (the CLI)', () => {
  const tsx = pathToFileURL(join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href;
  const dir = tempDir();
  const config = join(dir, 'switchboard.yaml');
  // Relative: resolved against the config's folder, not the cwd the CLI runs in.
  writeFileSync(config, 'store:\n  path: data/keys.db\n');
  const storePath = join(dir, 'data/keys.db');

  const cli = (...args: string[]) =>
    spawnSync(process.execPath, ['--import', tsx, join(ROOT, 'src/cli.ts'), 'keys', ...args], {
      cwd: tempDir(),
      encoding: 'utf8',
      timeout: 60_000,
    });

  it('creates, lists and revokes keys in the store the config names', () => {
    const created = cli(
      'create',
      '--config',
      config,
      '--tenant',
      'acme',
      '--agent',
      'deploy-bot',
      '--scope',
      'tools:*',
      '--scope',
      'servers:github',
      '--group',
      'ops',
      '--expires',
      '30d',
      '--note',
      'ci',
    );
    expect(created.stderr).toContain('only time it is shown');
    expect(created.status).toBe(0);
    const key = created.stdout.split('\n')[0] ?? '';
    expect(created.stdout).toBe(`${key}\n`);
    expect(existsSync(storePath)).toBe(true);

    // The hub's side: ApiKeys on the same file.
    const db = openDb(storePath);
    onCleanup(() => db.close());
    const keys = new ApiKeys(new SqliteKeysRepo(db));
    const principal = keys.verify(key);
    expect(principal).toMatchObject({
      tenant: 'acme',
      agent: 'deploy-bot',
      scopes: ['tools:*', 'servers:github'],
      groups: ['ops'],
    });
    const id = principal.subject ?? '';
    const expiresAt = keys.list()[0]?.expiresAt ?? 0;
    expect(expiresAt - (keys.list()[0]?.createdAt ?? 0)).toBe(30 * 86_400_000);

    const table = cli('list', '--config', config);
    expect(table.status).toBe(0);
    expect(table.stdout.split('\n')[0]).toMatch(
      /^id\s+tenant\s+agent\s+scopes\s+created\s+expires\s+revoked\s+last used$/,
    );
    expect(table.stdout).toContain(id);
    expect(table.stdout).toContain('tools:*,servers:github');
    expect(table.stdout).not.toContain(secretOf(key));

    const json = cli('list', '--config', config, '--tenant', 'acme', '--json');
    expect(json.status).toBe(0);
    const listed = JSON.parse(json.stdout) as { keys: { id: string; revokedAt: string | null }[] };
    expect(listed.keys.map((k) => k.id)).toEqual([id]);
    expect(json.stdout).not.toContain(secretOf(key));
    expect(json.stdout).not.toContain(sha256(secretOf(key)));
    expect(JSON.parse(cli('list', '--config', config, '--tenant', 'globex', '--json').stdout)).toEqual({ keys: [] });

    const revoked = cli('revoke', '--config', config, id);
    expect(revoked.status).toBe(0);
    // A fresh instance (the first one may still hold the row in its few-second cache).
    expect(refusal(() => new ApiKeys(new SqliteKeysRepo(db)).verify(key)).message).toBe('API key was revoked');
    for (const file of [storePath, `${storePath}-wal`].filter((f) => existsSync(f)))
      expect(readFileSync(file).includes(Buffer.from(secretOf(key)))).toBe(false);
    // Both changes are in the audit trail, as /v1 ones are: who, what, which key; never the secret.
    const trail = new SqliteAuditRepo(db).query({ method: 'admin' }, { limit: 10 }).events;
    expect(trail.map((e) => [e.tenant, e.agent, e.detail?.action, e.detail?.id])).toEqual([
      ['acme', 'switchboard-cli', 'keys.create', id],
      ['acme', 'switchboard-cli', 'keys.revoke', id],
    ]);
    expect(JSON.stringify(trail)).not.toContain(secretOf(key));
  });

  it('exits 1 for an unknown id and 2 for usage and config errors', () => {
    // Through the process (the exit code survives cli.ts's dispatch) ...
    expect(cli('revoke', '--config', config, '000000000000').status).toBe(1);
    const bad = cli('create', '--config', config, '--tenant', 'ac me', '--agent', 'bot', '--scope', 's');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('tenant:');
    // ... and the rest in process, where a child per case would only add start-up time.
    const run = (...args: string[]) => {
      let stderr = '';
      const code = runKeysCommand(args, { stdout: () => {}, stderr: (text) => void (stderr += text) });
      return { code, stderr };
    };
    expect(run('create', '--config', config, '--tenant', 'acme', '--agent', 'bot').stderr).toContain('--scope');
    expect(run('create', '--config', config, '--tenant', 'acme', '--agent', 'bot').code).toBe(2);
    expect(
      run('create', '--config', config, '--tenant', 'a', '--agent', 'b', '--scope', 's', '--expires', 'soon').code,
    ).toBe(2);
    expect(run('list').code).toBe(2); // no --config
    expect(run('list', '--config', join(dir, 'missing.yaml')).code).toBe(2);
    expect(run('rotate', '--config', config).code).toBe(2);
    expect(run('list', '--config', config, '--bogus').code).toBe(2);
    expect(run('revoke', '--config', config).code).toBe(2); // no id
    expect(run('revoke', '--config', config, '000000000000').code).toBe(1);
  });

  it('reads durations as 30d, 12h, 90m, 3600s, 2w or seconds', () => {
    expect(['30d', '12h', '90m', '3600s', '2w', '45'].map(parseDuration)).toEqual([
      2_592_000, 43_200, 5400, 3600, 1_209_600, 45,
    ]);
    for (const bad of ['0', '-1d', '1y', 'soon', '']) expect(parseDuration(bad)).toBeUndefined();
  });
});

describe('/v1/keys on a real fastify app', () => {
  let app: FastifyInstance;
  let base: string;
  let guarded = 0;

  afterEach(async () => {
    await app?.close();
  });

  async function start(options: { tenantOf?: () => string | undefined } = {}): Promise<ApiKeys> {
    const keys = new ApiKeys(new SqliteKeysRepo(freshDb().db));
    app = Fastify({ logger: false });
    // The shape of app.ts's one error handler: {error: GatewayError.toJSON()} with its status.
    app.setErrorHandler(async (error, _request, reply) => {
      const gatewayError = asGatewayError(error);
      return reply.code(gatewayError.httpStatus).send({ error: gatewayError.toJSON() });
    });
    registerKeyRoutes(app, keys, {
      guard: () => {
        guarded++;
      },
      ...options,
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/v1`;
    return keys;
  }

  const post = (body: unknown) =>
    fetch(`${base}/keys`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  it('creates (201, the key once), lists (200, no secret) and revokes (204, then 404)', async () => {
    const keys = await start();
    const before = guarded;
    const created = await post({ tenant: 'acme', agent: 'bot', scopes: ['tools:*'], expiresInSec: 60, note: 'n' });
    expect(created.status).toBe(201);
    const body = (await created.json()) as {
      id: string;
      key: string;
      tenant: string;
      scopes: string[];
      expiresAt: string;
    };
    expect(body).toMatchObject({ tenant: 'acme', agent: 'bot', scopes: ['tools:*'], note: 'n', revokedAt: null });
    expect(typeof body.expiresAt).toBe('string');
    expect(keys.verify(body.key).subject).toBe(body.id);

    const list = await fetch(`${base}/keys?tenant=acme`);
    expect(list.status).toBe(200);
    const text = await list.text();
    expect((JSON.parse(text) as { keys: { id: string }[] }).keys.map((k) => k.id)).toEqual([body.id]);
    expect(text).not.toContain(secretOf(body.key));
    expect(text).not.toContain(sha256(secretOf(body.key)));
    expect(((await (await fetch(`${base}/keys?tenant=globex`)).json()) as { keys: unknown[] }).keys).toEqual([]);

    expect((await fetch(`${base}/keys/${body.id}`, { method: 'DELETE' })).status).toBe(204);
    expect(() => keys.verify(body.key)).toThrow('API key was revoked');
    const missing = await fetch(`${base}/keys/000000000000`, { method: 'DELETE' });
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe('NOT_FOUND');
    expect(guarded - before).toBe(5); // every request passed the guard
  });

  it('answers 400 with the path of each problem', async () => {
    await start();
    const bad = await post({ tenant: 'acme', agent: 'bot', scopes: ['ok', ''], expiresInSec: -1, extra: true });
    expect(bad.status).toBe(400);
    const { error } = (await bad.json()) as { error: { code: string; message: string } };
    expect(error.code).toBe('BAD_REQUEST');
    for (const path of ['scopes[1]:', 'expiresInSec:', 'extra:']) expect(error.message).toContain(path);
    expect((await post(['not', 'an', 'object'])).status).toBe(400);
  });

  it('a refusing guard keeps every key route closed', async () => {
    const keys = new ApiKeys(new SqliteKeysRepo(freshDb().db));
    app = Fastify({ logger: false });
    app.setErrorHandler(async (error, _request, reply) => {
      const gatewayError = asGatewayError(error);
      return reply.code(gatewayError.httpStatus).send({ error: gatewayError.toJSON() });
    });
    registerKeyRoutes(app, keys, {
      guard: () => {
        throw new GatewayError('UNAUTHORIZED', 'admin token required');
      },
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/v1`;
    expect((await post({ tenant: 'acme', agent: 'bot', scopes: ['tools:*'] })).status).toBe(401);
    expect((await fetch(`${base}/keys`)).status).toBe(401);
    expect((await fetch(`${base}/keys/x`, { method: 'DELETE' })).status).toBe(401);
    expect(keys.list()).toEqual([]);
  });

  it('a tenant-confined caller sees and manages only its own tenant', async () => {
    const keys = await start({ tenantOf: () => 'acme' });
    const other = keys.create({ tenant: 'globex', agent: 'bot', scopes: ['tools:*'] });
    expect((await post({ tenant: 'globex', agent: 'bot', scopes: ['tools:*'] })).status).toBe(403);
    expect((await post({ tenant: 'acme', agent: 'bot', scopes: ['tools:*'] })).status).toBe(201);
    const listed = (await (await fetch(`${base}/keys`)).json()) as { keys: { tenant: string }[] };
    expect(listed.keys.map((k) => k.tenant)).toEqual(['acme']);
    expect((await fetch(`${base}/keys?tenant=globex`)).status).toBe(403);
    expect((await fetch(`${base}/keys/${other.id}`, { method: 'DELETE' })).status).toBe(404);
    expect(keys.verify(other.key).tenant).toBe('globex');
  });
});
