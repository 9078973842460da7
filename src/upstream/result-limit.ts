/**
 * The cap on one message from an upstream (`gateway.maxResultBytes`), enforced without losing the connection.
 *
 * The SDK's stdio reader throws once its buffer passes a fixed 10 MB, and the transport then closes: the
 * server is restarted, its circuit opens, and the retryable error invites a retry that crashes it again.
 * Here a message over the cap is instead measured and discarded as it streams in (memory stays bounded
 * by the cap), its top-level `id` is picked out of the bytes on the way, and the request it answers is
 * failed with a synthetic JSON-RPC error that carries {@link OVERSIZE_MARK}; Upstream turns that into the
 * non-retryable RESULT_TOO_LARGE. Every other message on the connection is untouched.
 *
 * - stdio: {@link LimitedReadBuffer} replaces the transport's read buffer (same three methods).
 * - Streamable HTTP and legacy SSE: {@link cappedFetch} caps JSON bodies and each SSE line.
 */
import { deserializeMessage, type FetchLike, type JSONRPCMessage } from '@modelcontextprotocol/client';

/** The `error.data.switchboard` value of a synthetic "too large" error. */
export const OVERSIZE_MARK = 'result-too-large';

/** What the reader saw of a message it discarded. */
export interface Oversize {
  /** The JSON-RPC id it carried (undefined: none found, e.g. a notification). */
  readonly id: string | number | undefined;
  /** True when it was a request or notification (it had a `method`), not a response. */
  readonly hasMethod: boolean;
  /** Its size in bytes (counted to its end). */
  readonly bytes: number;
  readonly limit: number;
}

/** The synthetic error response that fails the request a discarded message answered. */
export function oversizeResponse(o: Oversize & { id: string | number }): JSONRPCMessage {
  return {
    jsonrpc: '2.0',
    id: o.id,
    error: {
      code: -32603,
      message: `the result is ${o.bytes} bytes, over the gateway's limit of ${o.limit} bytes (gateway.maxResultBytes)`,
      data: { switchboard: OVERSIZE_MARK, bytes: o.bytes, limit: o.limit },
    },
  };
}

/** True for the error the SDK raises from an {@link oversizeResponse}. */
export function isOversizeError(error: unknown): error is { data: { bytes: number; limit: number } } {
  const data = (error as { data?: { switchboard?: unknown } } | undefined)?.data;
  return typeof data === 'object' && data !== null && data.switchboard === OVERSIZE_MARK;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const NEWLINE = 0x0a;

/**
 * Finds the top-level `id` and `method` keys of a JSON object fed to it in pieces, without keeping the
 * bytes: a small state machine over structure and strings (the SDK writes `id` after `result`, so the
 * id of a huge response is at its very end).
 */
class TopLevelScanner {
  #depth = 0;
  #inString = false;
  #escape = false;
  #expectKey = false;
  #key = '';
  #keyOverflow = false;
  #capturing = false;
  #idRaw = '';
  #hasMethod = false;
  bytes = 0;

  feed(buf: Uint8Array, start = 0, end = buf.length): void {
    this.bytes += end - start;
    for (let i = start; i < end; i++) {
      const b = buf[i]!;
      if (this.#capturing && this.#idRaw.length < 256) this.#idRaw += String.fromCharCode(b);
      if (this.#inString) {
        if (this.#escape) this.#escape = false;
        else if (b === BACKSLASH) this.#escape = true;
        else if (b === QUOTE) {
          this.#inString = false;
          if (this.#depth === 1 && this.#expectKey) this.#expectKey = false;
        } else if (this.#depth === 1 && this.#expectKey && !this.#keyOverflow) {
          if (this.#key.length < 16) this.#key += String.fromCharCode(b);
          else this.#keyOverflow = true;
        }
        continue;
      }
      if (b === QUOTE) {
        this.#inString = true;
        if (this.#depth === 1 && this.#expectKey) {
          this.#key = '';
          this.#keyOverflow = false;
        }
      } else if (b === 0x7b || b === 0x5b) {
        this.#depth++;
        if (this.#depth === 1 && b === 0x7b) this.#expectKey = true;
      } else if (b === 0x7d || b === 0x5d) {
        if (this.#depth === 1) this.#endValue(true);
        this.#depth--;
      } else if (this.#depth === 1) {
        if (b === 0x3a) {
          // ':' after a key: its value follows.
          if (this.#key === 'method' && !this.#keyOverflow) this.#hasMethod = true;
          if (this.#key === 'id' && !this.#keyOverflow) {
            this.#capturing = true;
            this.#idRaw = '';
          }
        } else if (b === 0x2c) {
          this.#endValue(true);
          this.#expectKey = true;
        }
      }
    }
  }

  #endValue(drop: boolean): void {
    if (!this.#capturing) return;
    this.#capturing = false;
    // The delimiter that ended the value was captured too.
    if (drop) this.#idRaw = this.#idRaw.slice(0, -1);
  }

  result(limit: number): Oversize {
    let id: string | number | undefined;
    try {
      const parsed: unknown = JSON.parse(this.#idRaw.trim());
      if (typeof parsed === 'string' || typeof parsed === 'number') id = parsed;
    } catch {
      id = undefined;
    }
    return { id, hasMethod: this.#hasMethod, bytes: this.bytes, limit };
  }
}

/**
 * Splits a byte stream into lines of at most `limit` bytes. A longer line is not kept: it is scanned as
 * it passes and reported to `oversize` once its end arrives. Chunks of a line are joined only when the
 * line ends (the SDK's reader re-copies its whole buffer on every chunk).
 */
export class LineLimiter {
  readonly limit: number;
  #parts: Buffer[] = [];
  #size = 0;
  #discard: TopLevelScanner | undefined;

  constructor(limit: number) {
    this.limit = limit;
  }

  /** Feeds a chunk; calls `line` for each complete line (without its newline), `oversize` for each discarded one. */
  push(chunk: Buffer, line: (bytes: Buffer) => void, oversize: (o: Oversize) => void): void {
    let start = 0;
    while (start < chunk.length) {
      const nl = chunk.indexOf(NEWLINE, start);
      const end = nl === -1 ? chunk.length : nl;
      if (this.#discard) this.#discard.feed(chunk, start, end);
      else if (this.#size + (end - start) > this.limit) {
        this.#discard = new TopLevelScanner();
        for (const part of this.#parts) this.#discard.feed(part);
        this.#discard.feed(chunk, start, end);
        this.#parts = [];
        this.#size = 0;
      } else if (end > start) {
        this.#parts.push(chunk.subarray(start, end));
        this.#size += end - start;
      }
      if (nl === -1) break;
      if (this.#discard) {
        const scanned = this.#discard.result(this.limit);
        this.#discard = undefined;
        oversize(scanned);
      } else {
        const parts = this.#parts;
        this.#parts = [];
        this.#size = 0;
        line(parts.length === 1 ? parts[0]! : Buffer.concat(parts));
      }
      start = nl + 1;
    }
  }

  /** The partial line left at the end of a stream (undefined: none, or it was over the limit). */
  rest(): Buffer | undefined {
    if (this.#discard || this.#size === 0) return undefined;
    return Buffer.concat(this.#parts);
  }

  /** Forgets any partial line. */
  clear(): void {
    this.#parts = [];
    this.#size = 0;
    this.#discard = undefined;
  }
}

/** Callbacks of a {@link LimitedReadBuffer}. */
export interface ReadBufferHooks {
  /** A message over the limit was discarded (a response's request is failed with {@link oversizeResponse}). */
  onOversize?(o: Oversize): void;
  /** A line that is not JSON was skipped (as the SDK skips it). */
  onGarbage?(line: string): void;
  /** A notification was read (the flood brake counts them). */
  onNotification?(): void;
}

/** A drop-in for the SDK's stdio ReadBuffer (append, readMessage, clear) that enforces {@link LineLimiter}. */
export class LimitedReadBuffer {
  readonly #lines: LineLimiter;
  readonly #hooks: ReadBufferHooks;
  #queue: (Buffer | JSONRPCMessage)[] = [];

  constructor(limit: number, hooks: ReadBufferHooks = {}) {
    this.#lines = new LineLimiter(limit);
    this.#hooks = hooks;
  }

  append(chunk: Buffer): void {
    this.#lines.push(
      chunk,
      (line) => this.#queue.push(line),
      (o) => {
        this.#hooks.onOversize?.(o);
        if (o.id !== undefined && !o.hasMethod) this.#queue.push(oversizeResponse({ ...o, id: o.id }));
      },
    );
  }

  /** The next message, or null; throws (as the SDK's does) on a JSON line that is not JSON-RPC. */
  readMessage(): JSONRPCMessage | null {
    for (;;) {
      const next = this.#queue.shift();
      if (next === undefined) return null;
      if (!Buffer.isBuffer(next)) return next;
      const text = next.toString('utf8').replace(/\r$/, '');
      try {
        const message = deserializeMessage(text);
        if ('method' in message && !('id' in message)) this.#hooks.onNotification?.();
        return message;
      } catch (error) {
        if (!(error instanceof SyntaxError)) throw error;
        if (text.trim()) this.#hooks.onGarbage?.(text);
      }
    }
  }

  clear(): void {
    this.#lines.clear();
    this.#queue = [];
  }
}

/** The JSON-RPC request ids in a POST body the gateway sent (for answering an oversize JSON reply). */
function requestIds(body: unknown): (string | number)[] {
  if (typeof body !== 'string') return [];
  try {
    const parsed: unknown = JSON.parse(body);
    const list: unknown[] = Array.isArray(parsed) ? parsed : [parsed];
    const ids: (string | number)[] = [];
    for (const m of list) {
      const { id, method } = (m ?? {}) as { id?: unknown; method?: unknown };
      if (typeof method === 'string' && (typeof id === 'string' || typeof id === 'number')) ids.push(id);
    }
    return ids;
  } catch {
    return [];
  }
}

/**
 * A fetch for the HTTP transports that caps what one message may weigh: a JSON reply over `limit` is
 * replaced by errors for the requests it answered; an SSE line over it by one error event for the
 * request it answered (a discarded notification is just dropped). `onOversize` hears each.
 */
export function cappedFetch(limit: number, onOversize: (o: Oversize) => void, base: FetchLike = fetch): FetchLike {
  return async (url, init) => {
    const response = await base(url, init);
    const type = response.headers.get('content-type') ?? '';
    // Only bodies that carry messages: a 202 or an error status passes as it is.
    if (!response.body || response.status !== 200) return response;
    if (type.includes('text/event-stream')) return withBody(response, capEvents(response.body, limit, onOversize));
    if (!type.includes('json')) return response;
    const declared = Number(response.headers.get('content-length') ?? NaN);
    const body = Number.isFinite(declared) && declared > limit ? undefined : await readCapped(response.body, limit);
    if (body) return withBody(response, body);
    const bytes = Number.isFinite(declared) ? declared : limit + 1;
    const ids = requestIds(init?.body);
    if (!Number.isFinite(declared)) await response.body.cancel().catch(() => {});
    const errors = ids.map((id) => {
      const o = { id, hasMethod: false, bytes, limit };
      onOversize(o);
      return oversizeResponse(o);
    });
    if (ids.length === 0) onOversize({ id: undefined, hasMethod: false, bytes, limit });
    return withBody(response, JSON.stringify(errors.length === 1 ? errors[0] : errors));
  };
}

function withBody(response: Response, body: BodyInit): Response {
  const headers = new Headers(response.headers);
  headers.delete('content-length');
  const next = new Response(body, { status: response.status, statusText: response.statusText, headers });
  // Redirect handling in the SDK reads where the response came from.
  Object.defineProperty(next, 'url', { value: response.url });
  Object.defineProperty(next, 'redirected', { value: response.redirected });
  return next;
}

/** The whole body, or undefined (reading stopped) once it passes `limit`. */
async function readCapped(
  body: ReadableStream<Uint8Array>,
  limit: number,
): Promise<Uint8Array<ArrayBuffer> | undefined> {
  const reader = body.getReader();
  const parts: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) {
      const out = new Uint8Array(size);
      let at = 0;
      for (const part of parts) {
        out.set(part, at);
        at += part.length;
      }
      return out;
    }
    size += value.length;
    if (size > limit) {
      await reader.cancel().catch(() => {});
      return undefined;
    }
    parts.push(value);
  }
}

/** An SSE stream with every line over `limit` dropped (a response's one becomes an error `data:` line). */
function capEvents(
  body: ReadableStream<Uint8Array>,
  limit: number,
  onOversize: (o: Oversize) => void,
): ReadableStream<Uint8Array> {
  const lines = new LineLimiter(limit);
  const newline = Buffer.from('\n');
  return body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        lines.push(
          Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength),
          (line) => controller.enqueue(Buffer.concat([line, newline])),
          (o) => {
            onOversize(o);
            if (o.id !== undefined && !o.hasMethod)
              controller.enqueue(Buffer.from(`data: ${JSON.stringify(oversizeResponse({ ...o, id: o.id }))}\n`));
          },
        );
      },
      flush(controller) {
        const rest = lines.rest();
        if (rest) controller.enqueue(rest);
      },
    }),
  );
}
