/**
 * Which transport an upstream connects with, for a url that may serve either HTTP transport.
 *
 * Cursor and Cline files name legacy SSE servers by a url ending in `/sse` and no `type`. The SDK's advice for
 * a server of unknown transport is to try Streamable HTTP and, when that fails, retry at once with the legacy
 * HTTP+SSE transport on a fresh client; whichever worked is kept for reconnects. Failures are reported short:
 * HTTP status and the text of an HTML error page, never the page itself, and both attempts when both failed.
 */
import type { HttpSpec, UpstreamSpec } from '../config/spec.js';
import type { Logger } from '../telemetry/logger.js';

/** What to do after a failed connection attempt. */
export type FailedAttempt = { readonly retry: true } | { readonly retry: false; readonly message: string };

/** One upstream's choice between Streamable HTTP and legacy SSE (a no-op for every other spec). */
export class TransportChoice {
  readonly #spec: UpstreamSpec;
  readonly #log: Logger;
  /** The HTTP transport the next attempt uses (fallback specs only). */
  #kind: HttpSpec['kind'] = 'streamable-http';
  /** True once `#kind` connected: reconnects use it without trying the other. */
  #known = false;
  /** Why Streamable HTTP failed, while legacy SSE is being tried. */
  #streamableError: string | undefined;

  constructor(spec: UpstreamSpec, log: Logger) {
    this.#spec = spec;
    this.#log = log;
  }

  /** The spec to build this attempt's transport from. */
  current(): UpstreamSpec {
    const spec = this.#spec;
    if (spec.kind === 'stdio' || spec.fallback === 'none') return spec;
    return { ...spec, kind: this.#kind, fallback: 'none' };
  }

  /** The transport connected (the MCP handshake passed): keep it for reconnects. */
  connected(): void {
    this.#known = true;
    this.#streamableError = undefined;
  }

  /** Records a failed attempt: retry at once with legacy SSE, or give up this attempt with a short message. */
  failed(error: unknown): FailedAttempt {
    const spec = this.#spec;
    const why = briefError(error);
    if (spec.kind === 'stdio' || spec.fallback === 'none' || this.#known) return { retry: false, message: why };
    if (this.#kind === 'streamable-http') {
      this.#kind = 'sse';
      this.#streamableError = why;
      this.#log.info({ url: spec.url, err: why }, 'Streamable HTTP failed; trying the legacy SSE transport');
      return { retry: true };
    }
    // Neither worked: name both, and start over with Streamable HTTP on the next attempt.
    const message = `${spec.url} answered neither Streamable HTTP (${this.#streamableError ?? 'failed'}) nor legacy SSE (${why}); check the url, or set type: http or type: sse`;
    this.#kind = 'streamable-http';
    this.#streamableError = undefined;
    return { retry: false, message };
  }
}

const HTML = /<(?:!doctype|html|head|body)\b/i;

/** The text of an HTML page's body, tags and runs of white space gone. */
function htmlText(html: string): string {
  return html
    .replace(/<(head|script|style)\b[\s\S]*?<\/\1>/gi, ' ')
    .replace(/<[^>]*>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

function clip(text: string, max = 300): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/**
 * A connection error in one line: `HTTP 404 Not Found: Cannot POST /sse` for an HTTP error (the SDK puts
 * status and body in `data`), an HTML page reduced to its text, anything long clipped.
 */
export function briefError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const data = (error as { data?: { status?: unknown; statusText?: unknown; text?: unknown } } | null)?.data;
  if (data && typeof data.status === 'number') {
    const body = typeof data.text === 'string' ? (HTML.test(data.text) ? htmlText(data.text) : data.text.trim()) : '';
    const status = `HTTP ${data.status}${typeof data.statusText === 'string' && data.statusText ? ` ${data.statusText}` : ''}`;
    return clip(body ? `${status}: ${body}` : status);
  }
  return clip(HTML.test(message) ? htmlText(message) : message);
}
