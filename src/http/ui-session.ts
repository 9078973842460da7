/**
 * Dashboard sign-in: browsers cannot send a bearer header when they navigate, so an operator pastes the
 * admin token or an admin-scoped credential into the sign-in page once, and the hub answers with a
 * session cookie (`switchboard_ui`: 32 random bytes, HttpOnly, SameSite=Strict, Path=/, Secure over TLS,
 * 8 hours). The hub keeps the credential in memory only, under the cookie's digest, and runs the /v1
 * guard with it on every request, so a revoked key or an expired JWT ends the session at once.
 *
 * The cookie stands in for the header only on GET and HEAD requests to /ui and /v1: the dashboard is
 * read-only, every write still needs the Authorization header, so a cross-site form cannot act with
 * it (SameSite=Strict keeps it off cross-site requests in the first place). Sessions are bounded in
 * number (the oldest is dropped). Neither the credential nor the cookie's value is ever logged.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { asGatewayError, GatewayError } from '../core/errors.js';
import type { Logger } from '../telemetry/logger.js';
import { adminTenantOf, type AdminGuard } from './auth-hook.js';

/** The cookie's name. */
export const SESSION_COOKIE = 'switchboard_ui';

/** How long a session lasts (the cookie's Max-Age), in ms. */
export const SESSION_TTL_MS = 8 * 3_600_000;

/** Longest credential accepted at sign-in (a JWT with many claims fits; anything longer is not one). */
const MAX_TOKEN = 16_384;

interface Session {
  readonly token: string;
  readonly expires: number;
}

/** What the sessions need. */
export interface UiSessionOptions {
  /** The hub serves TLS: the cookie is marked Secure. */
  readonly secure: boolean;
  readonly log: Logger;
  /** Most sessions held at once (default 256; the oldest is dropped past it). */
  readonly maxSessions?: number;
  readonly ttlMs?: number;
  readonly now?: () => number;
}

const READS = new Set(['GET', 'HEAD']);

/** True for the paths a session cookie may authenticate: /ui and everything under /ui/ and /v1/. */
function sessionPath(url: string): boolean {
  const path = url.split('?')[0] ?? '';
  return path === '/ui' || path.startsWith('/ui/') || path.startsWith('/v1/');
}

/** True for the guard's refusals (401 and 403), as opposed to a fault. */
export function isRefusal(error: unknown): boolean {
  const code = asGatewayError(error).code;
  return code === 'UNAUTHORIZED' || code === 'FORBIDDEN';
}

/** The value of one cookie in a Cookie header. */
function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

const digest = (id: string) => createHash('sha256').update(id).digest('base64url');

/** The dashboard's sessions of one app (see the header). */
export class UiSessions {
  readonly #sessions = new Map<string, Session>();
  readonly #secure: boolean;
  readonly #log: Logger;
  readonly #max: number;
  readonly #ttlMs: number;
  readonly #now: () => number;

  constructor(options: UiSessionOptions) {
    this.#secure = options.secure;
    this.#log = options.log;
    this.#max = options.maxSessions ?? 256;
    this.#ttlMs = options.ttlMs ?? SESSION_TTL_MS;
    this.#now = options.now ?? Date.now;
  }

  /** Sessions held now (expired ones not counted). */
  get size(): number {
    this.#prune();
    return this.#sessions.size;
  }

  /**
   * The /v1 guard, with the session cookie accepted in place of the Authorization header on GET and
   * HEAD requests to /ui and /v1. A refusal of a session's credential (a revoked key) ends the session.
   */
  wrap(guard: AdminGuard): AdminGuard {
    return async (request, reply) => {
      const live = this.#usable(request);
      if (!live) return guard(request, reply);
      request.headers.authorization = `Bearer ${live.session.token}`;
      try {
        await guard(request, reply);
      } catch (error) {
        if (isRefusal(error)) {
          this.#sessions.delete(live.key);
          this.#log.info({ ip: request.ip }, 'dashboard session ended: its credential was refused');
        }
        throw error;
      }
    };
  }

  /** True when the request carries a live session cookie. */
  has(request: FastifyRequest): boolean {
    return this.#live(request) !== undefined;
  }

  /**
   * POST /ui/session `{"token": "..."}`: checks the credential with `guard` (the unwrapped /v1 guard), and
   * on success starts a session and sets its cookie. A refusal is thrown as the guard words it.
   */
  async signIn(request: FastifyRequest, reply: FastifyReply, guard: AdminGuard): Promise<{ tenant: string }> {
    const body = request.body as { token?: unknown } | null | undefined;
    const token = typeof body?.token === 'string' ? body.token.trim() : '';
    if (token === '' || token.length > MAX_TOKEN || /[\s\0]/.test(token))
      throw new GatewayError('BAD_REQUEST', 'expected {"token": "<the admin token or an admin-scoped API key>"}');
    request.headers.authorization = `Bearer ${token}`;
    try {
      await guard(request, reply);
    } catch (error) {
      if (isRefusal(error)) this.#log.info({ ip: request.ip }, 'dashboard sign-in refused');
      throw error;
    }
    const id = randomBytes(32).toString('base64url');
    this.#prune();
    while (this.#sessions.size >= this.#max) {
      const oldest = this.#sessions.keys().next().value;
      if (oldest === undefined) break;
      this.#sessions.delete(oldest);
    }
    this.#sessions.set(digest(id), { token, expires: this.#now() + this.#ttlMs });
    const tenant = adminTenantOf(request);
    this.#log.info({ ip: request.ip, tenant }, 'dashboard signed in');
    void reply.header('set-cookie', this.#cookie(id, Math.floor(this.#ttlMs / 1000)));
    return { tenant };
  }

  /** DELETE /ui/session: ends the request's session (if any) and clears the cookie. */
  signOut(request: FastifyRequest, reply: FastifyReply): { signedOut: boolean } {
    const id = cookieValue(request.headers.cookie, SESSION_COOKIE);
    const signedOut = id !== undefined && this.#sessions.delete(digest(id));
    void reply.header('set-cookie', this.#cookie('', 0));
    return { signedOut };
  }

  /** The live session the request may use: a read of /ui or /v1 without its own header. */
  #usable(request: FastifyRequest): { key: string; session: Session } | undefined {
    if (request.headers.authorization !== undefined) return undefined;
    if (!READS.has(request.method) || !sessionPath(request.url)) return undefined;
    return this.#live(request);
  }

  /** The live session the request's cookie names (its digest and entry); an expired one is dropped. */
  #live(request: FastifyRequest): { key: string; session: Session } | undefined {
    const id = cookieValue(request.headers.cookie, SESSION_COOKIE);
    if (!id) return undefined;
    const key = digest(id);
    const session = this.#sessions.get(key);
    if (!session) return undefined;
    if (session.expires <= this.#now()) {
      this.#sessions.delete(key);
      return undefined;
    }
    return { key, session };
  }

  #prune(): void {
    const now = this.#now();
    for (const [key, session] of this.#sessions) if (session.expires <= now) this.#sessions.delete(key);
  }

  #cookie(value: string, maxAgeS: number): string {
    return `${SESSION_COOKIE}=${value}; Path=/; Max-Age=${maxAgeS}; HttpOnly; SameSite=Strict${this.#secure ? '; Secure' : ''}`;
  }
}
