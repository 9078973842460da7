/**
 * The dashboard (/ui) end to end: a real hub (a stdio and an HTTP fixture, a server that is down and the
 * built-in engine's alert about it, an experiment, a second tenant) with known traffic, opened in
 * Debian's headless Chromium through playwright-core. The page must load with no console error, no page
 * error and no failed request (CSP violations are console errors, so this also proves Preact and
 * Chart.js run under the policy); it shows the hub's servers with their health, the firing alert,
 * ranked matches with scores for a need typed into the playground, audit rows, drawn usage and
 * experiment charts, the compatibility matrix, the catalog filter and the tenant selector; a full-page
 * screenshot goes to test-results/dashboard.png. A second hub with an admin token and API keys covers
 * sign-in: the redirect to the sign-in page, a wrong token refused, the cookie's attributes, the cookie
 * accepted for /v1 reads only (never for a write, /metrics or /mcp), a revoked key ending its session,
 * sign-out, the headers of every /ui answer, and no credential or cookie value in the log. Last, a ui/
 * folder that does not build: one shared build, /ui answers 500 and the log carries esbuild's message;
 * and the session store's bounds (the oldest session dropped past the cap, expiry after 8 hours).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import Fastify from 'fastify';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHub, type Hub } from '../src/compose.js';
import { UiAssets } from '../src/http/ui-assets.js';
import { registerUiRoutes, UI_CSP } from '../src/http/ui-route.js';
import { SESSION_TTL_MS, UiSessions } from '../src/http/ui-session.js';
import { GatewayError } from '../src/core/errors.js';
import { createLogger, type Logger } from '../src/telemetry/logger.js';
import {
  cleanup,
  connectAgent,
  fixtureEntry,
  freePort,
  makeConfig,
  onCleanup,
  ROOT,
  startHttpFixture,
  startTestHub,
  tempDir,
  waitFor,
  type HttpFixture,
} from './helpers.js';

const CHROMIUM = '/usr/bin/chromium';
const ADMIN = 'dashboard-admin-token-0123456789abcdef';

let browser: Browser;
let beta: HttpFixture;

beforeAll(async () => {
  beta = await startHttpFixture('beta');
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    // Chromium's sandbox refuses to run as root (CI containers); elsewhere it stays on.
    args: process.getuid?.() === 0 ? ['--no-sandbox'] : [],
  });
  onCleanup(() => browser.close());
});
afterAll(cleanup);

/** Everything that went wrong on a page: console errors, page errors, failed requests, error statuses. */
function watch(page: Page, allowed: (url: string, status: number) => boolean = () => false): string[] {
  const problems: string[] = [];
  page.on('console', (message) => {
    if (message.type() !== 'error') return;
    // Chromium reports an HTTP error status as a console error "Failed to load resource"; the response
    // listener below judges those by URL, so only other console errors count here.
    const failedLoad = /^Failed to load resource: the server responded with a status of (\d+)/.exec(message.text());
    if (failedLoad && allowed(message.location().url, Number(failedLoad[1]))) return;
    problems.push(`console error: ${message.text()} (${message.location().url})`);
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('requestfailed', (request) => {
    // A panel aborts its own read in flight when what it shows changes (another tenant picked): that
    // read is cancelled on purpose, not failed. Every other failure counts.
    const cancelled =
      request.method() === 'GET' &&
      new URL(request.url()).pathname.startsWith('/v1/') &&
      request.failure()?.errorText === 'net::ERR_ABORTED';
    if (!cancelled)
      problems.push(`request failed: ${request.method()} ${request.url()}: ${request.failure()?.errorText}`);
  });
  page.on('response', (response) => {
    if (response.status() >= 400 && !allowed(response.url(), response.status()))
      problems.push(`HTTP ${response.status()}: ${response.request().method()} ${response.url()}`);
  });
  return problems;
}

/** A logger at `level` whose lines are kept in `lines` (to check what was logged, and what never was). */
function capturedLog(level: 'debug' | 'info'): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { log: createLogger({ level, destination }), lines };
}

/** How many pixels of a canvas are painted (0: the chart drew nothing). */
async function paintedPixels(page: Page, selector: string): Promise<number[]> {
  return page.$$eval(selector, (canvases) =>
    (canvases as HTMLCanvasElement[]).map((canvas) => {
      const context = canvas.getContext('2d');
      if (!context || canvas.width === 0 || canvas.height === 0) return 0;
      const { data } = context.getImageData(0, 0, canvas.width, canvas.height);
      let painted = 0;
      for (let i = 3; i < data.length; i += 4) if (data[i]! > 0) painted++;
      return painted;
    }),
  );
}

describe('the dashboard on an open loopback hub', () => {
  let hub: Hub;

  beforeAll(async () => {
    // gamma's port has no listener: a server that is down, and the built-in engine's alert about it.
    const gamma = { url: `http://127.0.0.1:${await freePort()}/mcp` };
    hub = await startTestHub(
      makeConfig(
        { alpha: fixtureEntry('alpha'), beta: { url: beta.url }, gamma },
        {
          alerts: {
            evaluateEveryMs: 200,
            receivers: { ops: { log: {} } },
            rules: [{ name: 'server-down', signal: 'server_down', severity: 'critical', notify: ['ops'] }],
          },
          experiments: {
            'echo-ab': {
              target: { tools: ['alpha__echo'] },
              unit: 'user',
              arms: [
                { name: 'control', weight: 50 },
                { name: 'treatment', weight: 50, route: { server: 'beta' } },
              ],
            },
          },
          // A second tenant on the shared HTTP server only (no extra process): the selector's subject.
          tenants: { acme: { shared: ['beta'] } },
        },
      ),
    );
    const agent = await connectAgent(hub.url);
    await waitFor(async () => (await agent.listTools()).tools.some((t) => t.name === 'beta__echo'), 30_000, 'catalog');
    for (let i = 0; i < 12; i++)
      await agent.callTool({
        name: 'alpha__echo',
        arguments: { text: `hi ${i}` },
        _meta: { 'io.switchboard/user': `user-${i}` },
      });
    expect((await agent.callTool({ name: 'alpha__fail', arguments: {} })).isError).toBe(true);
    await agent.callTool({ name: 'find_capability', arguments: { capability: 'add two numbers' } });
    await waitFor(
      async () => {
        const res = await fetch(`${hub.url}/v1/audit?limit=100`);
        return ((await res.json()) as { events: unknown[] }).events.length >= 14;
      },
      10_000,
      'the audit rows',
    );
  });

  it('shows servers, matches, audit, usage, experiments and compatibility with no console error', async () => {
    const page = await browser.newPage({ viewport: { width: 1440, height: 1000 } });
    const problems = watch(page);
    const answer = await page.goto(`${hub.url}/ui`);
    expect(answer?.status()).toBe(200);
    expect(answer?.headers()['content-security-policy']).toBe(UI_CSP);

    // Servers with their health, live.
    for (const name of ['alpha', 'beta'])
      await page.locator(`[data-server="${name}"] .server-head .health`, { hasText: 'healthy' }).waitFor();
    await page.locator('[data-server="gamma"] .server-head .health', { hasText: 'down' }).waitFor();
    expect(await page.locator('#servers .panel-aside').textContent()).toBe('3 servers, 1 down');
    expect(await page.locator('[data-server="alpha"] .circuit').first().textContent()).toBe('closed');

    // The playground: a need typed in, ranked matches with scores and reasons.
    const need = page.locator('#playground input[name="need"]');
    await need.fill('add two numbers');
    await need.press('Enter');
    await page.locator('#playground .match').first().waitFor();
    const matches = await page.$$eval('#playground .match', (items) =>
      items.map((item) => ({
        tool: (item as HTMLElement).dataset.tool,
        score: Number(item.querySelector('.match-score')?.textContent),
        reasons: item.querySelectorAll('.reasons .chip').length,
      })),
    );
    // alpha and beta offer the same add tool (one capability, grouped): which provider ranks first
    // is decided by a hair of BM25F length normalisation over their server fields, not by the need.
    expect(['alpha__add', 'beta__add']).toContain(matches[0]?.tool);
    expect(matches.length).toBeGreaterThan(1);
    for (const m of matches) expect(Number.isFinite(m.score)).toBe(true);
    expect(matches.map((m) => m.score)).toEqual([...matches.map((m) => m.score)].sort((a, b) => b - a));
    expect(matches[0]?.reasons).toBeGreaterThan(0);
    expect(await page.locator('#playground .confidence').textContent()).toMatch(/^(confident|not-confident)$/);

    // The catalog, filtered.
    await page.locator('#catalog input.filter').fill('echo text back');
    await waitFor(async () => (await page.locator('#catalog tbody tr').count()) === 2, 10_000, 'the filter');
    expect(await page.$$eval('#catalog tbody tr', (rows) => rows.map((r) => (r as HTMLElement).dataset.tool))).toEqual(
      expect.arrayContaining(['alpha__echo', 'beta__echo']),
    );

    // Audit rows, usage charts drawn, the compatibility matrix, the experiment's report and plots.
    await waitFor(async () => (await page.locator('#audit tbody tr').count()) >= 14, 15_000, 'audit rows');
    expect(await page.locator('#audit tbody tr', { hasText: 'alpha__fail' }).count()).toBe(1);
    await page.locator('#usage canvas').nth(1).waitFor();
    for (const painted of await paintedPixels(page, '#usage canvas')) expect(painted).toBeGreaterThan(100);
    // Calls and errors per tenant, from one report grouped by tenant: the traffic above was all the default
    // tenant's (alpha__fail its one error); acme, with no traffic, is drawn as zero.
    const usage = (await page.locator('#usage [data-chart="tenants"]').getAttribute('data-usage')) ?? '';
    expect(usage).toMatch(/^default:\d+:1,acme:0:0$/);
    expect(Number(/^default:(\d+)/.exec(usage)?.[1])).toBeGreaterThanOrEqual(13);
    await page.locator('#compat tbody tr').first().waitFor();
    expect(await page.locator('#compat tbody tr', { hasText: 'echo' }).count()).toBeGreaterThan(0);
    expect(await page.locator('#compat .badge-compatible').count()).toBeGreaterThan(0);
    for (const arm of ['control', 'treatment']) await page.locator(`#experiments [data-arm="${arm}"]`).waitFor();
    const calls = await page.$$eval('#experiments [data-arm] td:nth-child(5)', (cells) =>
      cells.map((c) => Number(c.textContent)),
    );
    expect(calls.reduce((a, b) => a + b, 0)).toBe(12);
    await page.locator('#experiments canvas').nth(1).waitFor();
    for (const painted of await paintedPixels(page, '#experiments canvas')) expect(painted).toBeGreaterThan(100);
    // The engine's alert about gamma, firing.
    const alert = page.locator('#alerts tbody tr.alert-firing', { hasText: 'gamma' });
    await alert.waitFor();
    expect(await alert.locator('.badge-critical').count()).toBe(1);
    expect(await alert.textContent()).toContain('server-down');

    mkdirSync(join(ROOT, 'test-results'), { recursive: true });
    await page.locator('#catalog input.filter').fill('');
    await page.screenshot({ path: join(ROOT, 'test-results/dashboard.png'), fullPage: true });

    // The tenant selector: acme's view has only the shared HTTP server, asked with the tenant header.
    const asked = page.waitForRequest(
      (r) => new URL(r.url()).pathname === '/v1/servers' && r.headers()['x-switchboard-tenant'] === 'acme',
    );
    await page.locator('select[aria-label="Tenant"]').selectOption('acme');
    await asked;
    await page.locator('[data-server="alpha"]').waitFor({ state: 'detached' });
    await page.locator('[data-server="beta"] .server-head .health', { hasText: 'healthy' }).waitFor();

    expect(problems).toEqual([]);
    await page.close();
  });
});

describe('the dashboard on a hub with an admin token and API keys', () => {
  let hub: Hub;
  const { log, lines } = capturedLog('debug');
  const cookieOf = async (context: BrowserContext) =>
    (await context.cookies()).find((c) => c.name === 'switchboard_ui');
  const admin = (path: string, init: RequestInit = {}) =>
    fetch(`${hub.url}${path}`, {
      ...init,
      headers: {
        authorization: `Bearer ${ADMIN}`,
        ...(init.body ? { 'content-type': 'application/json' } : {}),
        ...(init.headers as Record<string, string> | undefined),
      },
    });

  beforeAll(async () => {
    hub = await startHub(
      makeConfig({ beta: { url: beta.url } }, { http: { adminToken: ADMIN }, auth: { mode: 'apiKey' } }),
      { log },
    );
    onCleanup(() => hub.close());
    await hub.ready;
  });

  it('answers /ui without credentials with a sign-in redirect or a 401, never data, under the strict headers', async () => {
    const page = await fetch(`${hub.url}/ui`, { headers: { accept: 'text/html' }, redirect: 'manual' });
    expect(page.status).toBe(303);
    expect(page.headers.get('location')).toBe('/ui/signin');
    expect(await page.text()).not.toContain('beta');
    for (const path of ['/ui', '/ui/', '/ui/app.js', '/ui/app.css', '/v1/servers']) {
      const res = await fetch(`${hub.url}${path}`);
      expect(res.status, path).toBe(401);
      expect(await res.text(), path).not.toMatch(/beta|<script/);
    }
    const signin = await fetch(`${hub.url}/ui/signin`);
    expect(signin.status).toBe(200);
    expect(signin.headers.get('content-security-policy')).toBe(UI_CSP);
    expect(signin.headers.get('x-content-type-options')).toBe('nosniff');
    expect(signin.headers.get('referrer-policy')).toBe('no-referrer');
    expect(signin.headers.get('cache-control')).toBe('no-store');
    const html = await signin.text();
    expect(html).toContain('<script type="module" src="/ui/signin.js"></script>');
    expect(html).not.toMatch(/<script>|<style|style=|beta/);
    const dashboard = await admin('/ui');
    expect(dashboard.status).toBe(200);
    expect(dashboard.headers.get('content-security-policy')).toBe(UI_CSP);
    expect(dashboard.headers.get('cache-control')).toBe('no-store');
    const script = await admin('/ui/app.js');
    expect(script.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(script.headers.get('x-content-type-options')).toBe('nosniff');
    const again = await admin('/ui/app.js', { headers: { 'if-none-match': script.headers.get('etag') ?? '' } });
    expect(again.status).toBe(304);
    const wrong = await fetch(`${hub.url}/ui/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: 'not-the-token' }),
    });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('set-cookie')).toBeNull();
  });

  it('signs in with the admin token; the cookie reads /ui and /v1 only, never writes; signs out', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    // The wrong token's refusal is the one error status this flow shows.
    const problems = watch(page, (url, status) => status === 401 && new URL(url).pathname === '/ui/session');
    await page.goto(`${hub.url}/ui`);
    expect(new URL(page.url()).pathname).toBe('/ui/signin');

    await page.locator('#token').fill('not-the-token');
    await page.locator('#signin button').click();
    await page.locator('#signin-error', { hasText: 'Not accepted (401)' }).waitFor();
    expect(await cookieOf(context)).toBeUndefined();

    await page.locator('#token').fill(ADMIN);
    await page.locator('#signin button').click();
    await page.locator('[data-server="beta"] .server-head .health', { hasText: 'healthy' }).waitFor();
    expect(new URL(page.url()).pathname).toBe('/ui/');
    await page.locator('.top button', { hasText: 'Sign out' }).waitFor();
    await page.locator('#alerts', { hasText: 'Alert engine off' }).waitFor(); // no alerts section here
    expect(problems).toEqual([]);

    const cookie = await cookieOf(context);
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/', secure: false });
    expect(cookie!.value).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(cookie!.expires * 1000 - Date.now()).toBeGreaterThan(7.9 * 3_600_000);
    const withCookie = { cookie: `switchboard_ui=${cookie!.value}` };
    const servers = await fetch(`${hub.url}/v1/servers`, { headers: withCookie });
    expect(servers.status).toBe(200);
    expect(((await servers.json()) as { servers: { name: string }[] }).servers.map((s) => s.name)).toEqual(['beta']);
    const write = await fetch(`${hub.url}/v1/servers`, {
      method: 'POST',
      headers: { ...withCookie, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'evil', url: 'http://127.0.0.1:9/mcp' }),
    });
    expect(write.status).toBe(401);
    expect((await fetch(`${hub.url}/metrics`, { headers: withCookie })).status).toBe(401);
    expect((await fetch(`${hub.url}/mcp`, { method: 'POST', headers: withCookie })).status).toBe(401);

    await page.locator('.top button', { hasText: 'Sign out' }).click();
    await page.waitForURL(/\/ui\/signin$/);
    expect((await fetch(`${hub.url}/v1/servers`, { headers: withCookie })).status).toBe(401);
    await context.close();

    const logged = lines.join('');
    expect(logged).toContain('dashboard signed in');
    expect(logged).toContain('dashboard sign-in refused');
    expect(logged).not.toContain(ADMIN);
    expect(logged).not.toContain(cookie!.value);
  });

  it('signs in with an admin-scoped API key, and its revocation ends the session', async () => {
    const made = await admin('/v1/keys', {
      method: 'POST',
      body: JSON.stringify({ tenant: 'default', agent: 'operator', scopes: ['admin'] }),
    });
    expect(made.status).toBe(201);
    const { id, key } = (await made.json()) as { id: string; key: string };
    const signIn = await fetch(`${hub.url}/ui/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: key }),
    });
    expect(signIn.status).toBe(200);
    const session = /^switchboard_ui=([^;]+);/.exec(signIn.headers.get('set-cookie') ?? '')?.[1];
    expect(session).toBeDefined();
    const withCookie = { cookie: `switchboard_ui=${session}` };
    expect((await fetch(`${hub.url}/ui`, { headers: withCookie })).status).toBe(200);
    expect((await fetch(`${hub.url}/v1/audit?limit=5`, { headers: withCookie })).status).toBe(200);

    expect((await admin(`/v1/keys/${id}`, { method: 'DELETE' })).status).toBe(204);
    expect((await fetch(`${hub.url}/v1/servers`, { headers: withCookie })).status).toBe(401);
    const state = await fetch(`${hub.url}/ui/session`, { headers: withCookie });
    expect(await state.json()).toEqual({ session: false });
    expect(lines.join('')).not.toContain(key);
  });
});

describe('dashboard assets that fail to build', () => {
  it('answers 500 and logs the build error once; concurrent first requests share one build', async () => {
    const root = tempDir();
    mkdirSync(join(root, 'src'));
    writeFileSync(join(root, 'src/main.tsx'), 'export const = ;\n');
    writeFileSync(join(root, 'src/signin.ts'), 'export {};\n');
    writeFileSync(join(root, 'tsconfig.json'), '{}');
    const { log, lines } = capturedLog('info');
    const assets = new UiAssets(root);
    const app = Fastify();
    onCleanup(() => app.close());
    const open = async () => {};
    registerUiRoutes(app, {
      guard: open,
      sessionGuard: open,
      sessions: new UiSessions({ secure: false, log }),
      log,
      assets,
    });
    const answers = await Promise.all(['/ui', '/ui/app.js', '/ui/signin'].map((url) => app.inject({ url })));
    expect(answers.map((a) => a.statusCode)).toEqual([500, 500, 500]);
    expect(answers[0]?.headers['content-security-policy']).toBe(UI_CSP);
    expect(assets.get()).toBe(assets.get());
    const failures = lines.filter((line) => line.includes('dashboard assets failed to build'));
    expect(failures).toHaveLength(1);
    expect(failures[0]).toContain('main.tsx');
    expect(failures[0]).toMatch(/Expected identifier|Unexpected/);
  });
});

describe('dashboard sessions', () => {
  it('are bounded in number and in time, and stand in for the header on reads only', async () => {
    let now = 1_000_000;
    const sessions = new UiSessions({
      secure: true,
      log: createLogger({ level: 'silent' }),
      maxSessions: 2,
      now: () => now,
    });
    const guard = async (request: { headers: { authorization?: string } }) => {
      if (request.headers.authorization !== 'Bearer good') throw new GatewayError('UNAUTHORIZED', 'no credential');
    };
    const app = Fastify();
    onCleanup(() => app.close());
    app.setErrorHandler((error, _request, reply) =>
      reply.code(error instanceof GatewayError ? error.httpStatus : 500).send({ error: String(error) }),
    );
    const log = createLogger({ level: 'silent' });
    registerUiRoutes(app, { guard, sessionGuard: sessions.wrap(guard), sessions, log });
    app.get('/v1/thing', { onRequest: sessions.wrap(guard) }, async () => ({ ok: true }));
    app.post('/v1/thing', { onRequest: sessions.wrap(guard) }, async () => ({ ok: true }));
    app.get('/other', { onRequest: sessions.wrap(guard) }, async () => ({ ok: true }));
    const signIn = async () => {
      const res = await app.inject({ method: 'POST', url: '/ui/session', payload: { token: 'good' } });
      expect(res.statusCode).toBe(200);
      const header = String(res.headers['set-cookie']);
      expect(header).toMatch(/; Path=\/; Max-Age=28800; HttpOnly; SameSite=Strict; Secure$/);
      return `switchboard_ui=${/^switchboard_ui=([^;]+)/.exec(header)?.[1]}`;
    };
    const has = async (cookie: string) =>
      (JSON.parse((await app.inject({ url: '/ui/session', headers: { cookie } })).body) as { session: boolean })
        .session;
    const [first, second, third] = [await signIn(), await signIn(), await signIn()];
    expect(sessions.size).toBe(2);
    expect([await has(first), await has(second), await has(third)]).toEqual([false, true, true]);
    expect((await app.inject({ url: '/v1/thing', headers: { cookie: second } })).statusCode).toBe(200);
    expect((await app.inject({ method: 'HEAD', url: '/v1/thing', headers: { cookie: second } })).statusCode).toBe(200);
    expect((await app.inject({ method: 'POST', url: '/v1/thing', headers: { cookie: second } })).statusCode).toBe(401);
    expect((await app.inject({ url: '/other', headers: { cookie: second } })).statusCode).toBe(401);
    expect((await app.inject({ method: 'POST', url: '/ui/session', payload: { token: 'bad' } })).statusCode).toBe(401);
    now += SESSION_TTL_MS;
    expect(await has(third)).toBe(false);
    expect((await app.inject({ url: '/v1/thing', headers: { cookie: third } })).statusCode).toBe(401);
    expect(sessions.size).toBe(0);
  });
});
