/**
 * The dashboard's routes: GET /ui (and /ui/) the page, /ui/app.js and /ui/app.css its assets, all
 * behind the /v1 guard (the dashboard reads the /v1 API with the same credential); /ui/signin.js and
 * /ui/signin.css, the sign-in page (/ui/signin) and its own assets, which hold no data and are public;
 * and /ui/session (POST signs in, DELETE signs out, GET says whether this browser holds a session:
 * ui-session.ts).
 *
 * A browser's GET /ui that the guard refuses is sent to the sign-in page (303 to /ui/signin, the usual
 * login redirect: the browser shows no failed load, and the refused URL returns nothing but the
 * redirect); an API client (no text/html in Accept) gets the guard's JSON 401. An open loopback hub (auth
 * none, no admin token) serves the dashboard without signing in. Every /ui response
 * carries a strict Content-Security-Policy (scripts, styles and connections from this origin only; no
 * inline script or style, no framing), nosniff and no-referrer; the pages are never cached, the assets
 * revalidate by ETag. A failed build of the assets is a 500 with esbuild's messages in the log.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { GatewayError } from '../core/errors.js';
import type { Logger } from '../telemetry/logger.js';
import type { AdminGuard } from './auth-hook.js';
import { UiAssets, type UiBundle, type UiFileName } from './ui-assets.js';
import { isRefusal, type UiSessions } from './ui-session.js';

/** The Content-Security-Policy of every /ui response. */
export const UI_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
  "form-action 'self'",
].join('; ');

/** What the routes need. */
export interface UiRouteDeps {
  /** The unwrapped /v1 guard: checks a credential given at sign-in. */
  readonly guard: AdminGuard;
  /** The /v1 guard with the session cookie accepted (UiSessions.wrap). */
  readonly sessionGuard: AdminGuard;
  readonly sessions: UiSessions;
  readonly log: Logger;
  /** Where the files come from (default: the package's ui/ folder, built on first use). */
  readonly assets?: UiAssets;
}

/** True when the request is a browser's navigation (it asks for HTML), not an API client's. */
function wantsHtml(request: FastifyRequest): boolean {
  return /\btext\/html\b/.test(request.headers.accept ?? '');
}

/** Registers the dashboard's routes (see the header). */
export function registerUiRoutes(app: FastifyInstance, deps: UiRouteDeps): void {
  const assets = deps.assets ?? new UiAssets();
  // Kept like the build itself, so a failed build is logged once and every request after it answers 500.
  let built: Promise<UiBundle> | undefined;
  const bundle = (): Promise<UiBundle> =>
    (built ??= assets.get().catch((error: unknown) => {
      deps.log.error(
        { err: (error as Error).message, ui: assets.root },
        'dashboard assets failed to build: /ui answers 500',
      );
      throw new GatewayError('INTERNAL', 'the dashboard failed to build; the hub log says why');
    }));
  const send = async (request: FastifyRequest, reply: FastifyReply, name: UiFileName) => {
    const file = (await bundle())[name];
    const page = name.endsWith('.html');
    void reply.header('cache-control', page ? 'no-store' : 'no-cache').header('etag', file.etag);
    if (!page && request.headers['if-none-match'] === file.etag) return reply.code(304).send();
    return reply.type(file.type).send(file.body);
  };

  app.register(async (ui) => {
    ui.addHook('onSend', async (_request, reply) => {
      void reply
        .header('content-security-policy', UI_CSP)
        .header('x-content-type-options', 'nosniff')
        .header('referrer-policy', 'no-referrer')
        .header('x-frame-options', 'DENY');
    });

    const page = async (request: FastifyRequest, reply: FastifyReply) => {
      try {
        await deps.sessionGuard(request, reply);
      } catch (error) {
        if (isRefusal(error) && wantsHtml(request))
          return reply.header('cache-control', 'no-store').redirect('/ui/signin', 303);
        throw error;
      }
      return send(request, reply, 'index.html');
    };
    ui.get('/ui', page);
    ui.get('/ui/', page);
    ui.get('/ui/app.js', { onRequest: deps.sessionGuard }, (request, reply) => send(request, reply, 'app.js'));
    ui.get('/ui/app.css', { onRequest: deps.sessionGuard }, (request, reply) => send(request, reply, 'app.css'));
    ui.get('/ui/signin', (request, reply) => send(request, reply, 'signin.html'));
    ui.get('/ui/signin.js', (request, reply) => send(request, reply, 'signin.js'));
    ui.get('/ui/signin.css', (request, reply) => send(request, reply, 'signin.css'));

    ui.get('/ui/session', async (request, reply) => {
      void reply.header('cache-control', 'no-store');
      return { session: deps.sessions.has(request) };
    });
    ui.post('/ui/session', async (request, reply) => {
      void reply.header('cache-control', 'no-store');
      return deps.sessions.signIn(request, reply, deps.guard);
    });
    ui.delete('/ui/session', async (request, reply) => deps.sessions.signOut(request, reply));
  });
}
