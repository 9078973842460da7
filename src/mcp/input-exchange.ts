/**
 * Relaying an upstream's questions to the agent mid-call, in either protocol era, as
 * `input_required` rounds.
 *
 * The agent's request handler starts the upstream call once and waits for whichever comes first:
 * the upstream's result, or requests the upstream made of its client (sampling, elicitation,
 * roots). In the second case the handler answers `input_required` with those requests and a
 * `requestState` naming this exchange; the agent (a 2026-07-28 client itself, or the SDK's legacy
 * shim pushing real requests to a 2025-era agent) answers them and re-enters the handler, which
 * hands the answers to the waiting upstream and waits again. The upstream call outlives the rounds;
 * an exchange the agent abandons is aborted after `idleMs`, which cancels the upstream call.
 */
import { randomUUID } from 'node:crypto';
import {
  ProtocolError,
  ProtocolErrorCode,
  type InputRequests,
  type InputRequiredResult,
  type ServerContext,
} from '@modelcontextprotocol/server';
import type { ClientRequestMethod } from '../core/channel.js';

/** What a call running inside an exchange gets: its signal, progress out, and the way to ask the agent. */
export interface ExchangeScope {
  readonly signal: AbortSignal;
  /** The agent request round active now (undefined between rounds). */
  readonly round: ServerContext | undefined;
  /** Queues a request for the agent; resolves with its answer from the next round. */
  ask(method: ClientRequestMethod, params: Record<string, unknown> | undefined, signal?: AbortSignal): Promise<unknown>;
}

/** Limits on open exchanges. */
export interface ExchangeLimits {
  /** Most exchanges waiting for an agent's answers at once. */
  readonly max: number;
  /** An exchange the agent does not come back to within this is aborted. */
  readonly idleMs: number;
}

const STATE_PREFIX = 'sbx-';

interface Ask {
  readonly method: ClientRequestMethod;
  readonly params: Record<string, unknown> | undefined;
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

/** One upstream call and the rounds it takes. */
class Exchange<T> implements ExchangeScope {
  #id: string | undefined;
  readonly #abort = new AbortController();
  readonly #queued = new Map<string, Ask>();
  readonly #sent = new Map<string, Ask>();
  #outcome: Outcome<T> | undefined;
  #wake: (() => void) | undefined;
  #seq = 0;
  round: ServerContext | undefined;
  idleTimer: NodeJS.Timeout | undefined;

  constructor(start: (scope: ExchangeScope) => Promise<T>) {
    start(this).then(
      (value) => this.#settle({ ok: true, value }),
      (error: unknown) => this.#settle({ ok: false, error }),
    );
  }

  /** The requestState naming this exchange; made only for a call that waits for the agent (most never do). */
  get id(): string {
    return (this.#id ??= `${STATE_PREFIX}${randomUUID()}`);
  }

  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  abort(reason: unknown): void {
    this.#abort.abort(reason);
  }

  ask(
    method: ClientRequestMethod,
    params: Record<string, unknown> | undefined,
    signal?: AbortSignal,
  ): Promise<unknown> {
    const key = `${method.split('/')[0]}-${++this.#seq}`;
    return new Promise((resolve, reject) => {
      const ask: Ask = { method, params, resolve, reject };
      this.#queued.set(key, ask);
      signal?.addEventListener(
        'abort',
        () => {
          this.#queued.delete(key);
          this.#sent.delete(key);
          reject(signal.reason);
        },
        { once: true },
      );
      this.#wake?.();
    });
  }

  /** Hands a round's answers to the requests sent in the previous round. */
  answer(responses: Record<string, unknown> | undefined): void {
    for (const [key, ask] of this.#sent) {
      const response = responses?.[key];
      if (response === undefined) {
        ask.reject(new ProtocolError(ProtocolErrorCode.InternalError, `the agent did not answer ${ask.method}`));
      } else if (isError(response)) {
        ask.reject(new ProtocolError(response.error.code, response.error.message, response.error.data));
      } else {
        ask.resolve(response);
      }
    }
    this.#sent.clear();
  }

  /** Waits for the result, or for requests to send the agent (several made together go in one round). */
  async next(): Promise<{ done: Outcome<T> } | { asks: InputRequests }> {
    for (;;) {
      if (this.#outcome) return { done: this.#outcome };
      if (this.#queued.size > 0) {
        await new Promise((resolve) => setImmediate(resolve)); // let concurrent requests join this round
        if (this.#outcome) return { done: this.#outcome };
        const asks: InputRequests = {};
        for (const [key, ask] of this.#queued) {
          asks[key] = { method: ask.method, params: ask.params ?? {} } as InputRequests[string];
          this.#sent.set(key, ask);
        }
        this.#queued.clear();
        return { asks };
      }
      await new Promise<void>((resolve) => (this.#wake = resolve));
      this.#wake = undefined;
    }
  }

  #settle(outcome: Outcome<T>): void {
    this.#outcome = outcome;
    for (const ask of [...this.#queued.values(), ...this.#sent.values()]) {
      ask.reject(new ProtocolError(ProtocolErrorCode.InternalError, 'the call ended'));
    }
    this.#queued.clear();
    this.#sent.clear();
    this.#wake?.();
  }
}

/** The open exchanges of one gateway. */
export class InputExchanges {
  readonly #open = new Map<string, Exchange<unknown>>();
  readonly #limits: ExchangeLimits;

  constructor(limits: ExchangeLimits = { max: 1_000, idleMs: 5 * 60_000 }) {
    this.#limits = limits;
  }

  /** Exchanges waiting for an agent's answers. */
  get open(): number {
    return this.#open.size;
  }

  /**
   * Runs one round of an agent request: starts `start` on the first round, or resumes the
   * exchange the request's `requestState` names, and returns the result or the next
   * `input_required`.
   */
  async round<T>(ctx: ServerContext, start: (scope: ExchangeScope) => Promise<T>): Promise<T | InputRequiredResult> {
    const state = ctx.mcpReq.requestState<unknown>();
    let exchange: Exchange<T>;
    if (typeof state === 'string' && state.startsWith(STATE_PREFIX)) {
      const found = this.#open.get(state) as Exchange<T> | undefined;
      if (!found) {
        throw new ProtocolError(
          ProtocolErrorCode.InvalidParams,
          'unknown or expired requestState: the call it belonged to has ended; make the request again',
        );
      }
      exchange = found;
      this.#open.delete(state);
      clearTimeout(exchange.idleTimer);
      exchange.answer(ctx.mcpReq.inputResponses);
    } else {
      exchange = new Exchange(start);
    }
    exchange.round = ctx;
    const onAbort = () => exchange.abort(ctx.mcpReq.signal.reason);
    ctx.mcpReq.signal.addEventListener('abort', onAbort, { once: true });
    try {
      const step = await exchange.next();
      if ('done' in step) {
        if (step.done.ok) return step.done.value;
        throw step.done.error;
      }
      this.#park(exchange);
      return {
        resultType: 'input_required',
        inputRequests: step.asks,
        requestState: exchange.id,
      };
    } finally {
      ctx.mcpReq.signal.removeEventListener('abort', onAbort);
      exchange.round = undefined;
    }
  }

  /** Keeps an exchange for the agent's next round, bounded in count and idle time. */
  #park(exchange: Exchange<unknown>): void {
    if (this.#open.size >= this.#limits.max) {
      const [oldestId, oldest] = this.#open.entries().next().value as [string, Exchange<unknown>];
      this.#open.delete(oldestId);
      clearTimeout(oldest.idleTimer);
      oldest.abort(new Error('too many calls waiting for agent input; the oldest was cancelled'));
    }
    this.#open.set(exchange.id, exchange);
    exchange.idleTimer = setTimeout(() => {
      this.#open.delete(exchange.id);
      exchange.abort(new Error(`the agent did not answer within ${this.#limits.idleMs} ms`));
    }, this.#limits.idleMs);
    exchange.idleTimer.unref();
  }

  /** Aborts every open exchange (shutdown). */
  close(): void {
    for (const exchange of this.#open.values()) {
      clearTimeout(exchange.idleTimer);
      exchange.abort(new Error('the gateway is shutting down'));
    }
    this.#open.clear();
  }
}

function isError(value: unknown): value is { error: { code: number; message: string; data?: unknown } } {
  const error = (value as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  return typeof error?.code === 'number' && typeof error.message === 'string';
}
