/**
 * The client side of an upstream connection that a server can talk back to: sampling, elicitation
 * and roots requests, log messages and resource updates.
 *
 * A server's request to its client carries no reference to the call it serves (not on stdio, not
 * in the 2025 revisions), so the relay finds the agent by this rule, in order:
 *   0. a request tagged with an upstream task (related-task `_meta`) the gateway follows: that
 *      task's channel (bindTask; 2025 tasks deliver their questions long after the call returned);
 *   1. the call whose async context the request arrives in (2026-07-28 `input_required` rounds,
 *      which the SDK fulfils inside the call, and HTTP responses streamed on the call's POST);
 *   2. the calls in flight on this connection, when they all come from one agent connection;
 *   3. `outside` (the gateway's rule for requests outside any call: the one connected agent, if
 *      there is exactly one).
 * Anything else is refused with an error the server can read, never guessed: a request meant
 * for one agent must not reach another.
 *
 * Log messages pass a token bucket per upstream (notify-limits.ts): a flood is cut to a steady rate,
 * and how many were dropped is reported in a later warning message.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { ProtocolError, ProtocolErrorCode, RELATED_TASK_META_KEY, type Client } from '@modelcontextprotocol/client';
import type { AgentChannel, ClientRequestMethod, LogMessage } from '../core/channel.js';
import { DEFAULT_LOG_RATE, LogLimiter, type LogRate } from './notify-limits.js';

/** What the relay reports outside the calls it tracks. */
export interface RelayHooks {
  /** A log message from the server; `channel` is the agent whose call it belongs to, when known. */
  onLog?(message: LogMessage, channel: AgentChannel | undefined): void;
  /** The server said a subscribed resource changed. */
  onResourceUpdated?(uri: string): void;
  /** The channel for a request made outside any call (undefined: refuse). */
  outside?(): AgentChannel | undefined;
}

/** Capabilities the gateway declares to every upstream: it relays these to the calling agent. */
export const RELAYED_CLIENT_CAPABILITIES = {
  sampling: {},
  elicitation: { form: {}, url: {} },
  roots: { listChanged: true },
} as const;

const METHODS: readonly ClientRequestMethod[] = ['sampling/createMessage', 'elicitation/create', 'roots/list'];

/** Tracks the agent channels of one upstream's in-flight calls and answers the server's requests through them. */
export class ClientRelay {
  readonly #scope = new AsyncLocalStorage<AgentChannel>();
  /** In-flight calls per channel (a channel may have several). */
  readonly #active = new Map<AgentChannel, number>();
  /** Channels of followed upstream tasks, by the upstream's task id (rule 0). */
  readonly #tasks = new Map<string, AgentChannel>();
  readonly #hooks: RelayHooks;
  readonly #label: string;
  readonly #logs: LogLimiter;
  readonly #logRate: LogRate;

  constructor(label: string, hooks: RelayHooks, logRate: LogRate = DEFAULT_LOG_RATE) {
    this.#label = label;
    this.#hooks = hooks;
    this.#logRate = logRate;
    this.#logs = new LogLimiter(logRate, (dropped) => this.#hooks.onLog?.(this.#droppedMessage(dropped), undefined));
  }

  /** The warning that reports dropped log messages. */
  #droppedMessage(dropped: number): LogMessage {
    return {
      level: 'warning',
      logger: 'switchboard',
      data: `switchboard dropped ${dropped} log message(s) from ${this.#label}: it sent more than ${this.#logRate.perSecond} per second`,
    };
  }

  /** Registers the request and notification handlers on a fresh client. */
  attach(client: Client): void {
    for (const method of METHODS) {
      client.setRequestHandler(method, async (request, ctx) => {
        const channel = this.#taskChannel(request.params) ?? this.#channel();
        if (!channel) {
          throw new ProtocolError(
            ProtocolErrorCode.InvalidRequest,
            `${this.#label}: ${method} cannot be relayed: it arrived outside any agent call, or while calls of several agents were in flight, so Switchboard cannot tell which agent it is for`,
          );
        }
        return (await channel.request(method, request.params, ctx.mcpReq.signal)) as never;
      });
    }
    client.setNotificationHandler('notifications/message', (notification) => {
      if (!this.#logs.take()) return;
      const channel = this.#channel(false);
      const dropped = this.#logs.due();
      if (dropped > 0) this.#hooks.onLog?.(this.#droppedMessage(dropped), channel);
      this.#hooks.onLog?.(notification.params, channel);
    });
    client.setNotificationHandler('notifications/resources/updated', (notification) => {
      this.#hooks.onResourceUpdated?.(notification.params.uri);
    });
  }

  /**
   * Runs one forwarded call with its agent channel in scope. `scoped: false` skips the async
   * context (it costs every promise of the call a little): on a 2025-era stdio connection the
   * server's requests arrive from the pipe, outside any call's context, so only rule 2 can apply.
   */
  async run<T>(channel: AgentChannel | undefined, call: () => Promise<T>, scoped = true): Promise<T> {
    if (!channel) return call();
    this.#active.set(channel, (this.#active.get(channel) ?? 0) + 1);
    try {
      return await (scoped ? this.#scope.run(channel, call) : call());
    } finally {
      const left = (this.#active.get(channel) ?? 1) - 1;
      if (left === 0) this.#active.delete(channel);
      else this.#active.set(channel, left);
    }
  }

  /** Routes the server's requests tagged with upstream task `taskId` to `channel` until the returned function is called. */
  bindTask(taskId: string, channel: AgentChannel): () => void {
    this.#tasks.set(taskId, channel);
    return () => {
      if (this.#tasks.get(taskId) === channel) this.#tasks.delete(taskId);
    };
  }

  /** Rule 0: the channel of the followed task a request is tagged with. */
  #taskChannel(params: unknown): AgentChannel | undefined {
    const meta = (params as { _meta?: Record<string, unknown> } | undefined)?._meta;
    const taskId = (meta?.[RELATED_TASK_META_KEY] as { taskId?: unknown } | undefined)?.taskId;
    return typeof taskId === 'string' ? this.#tasks.get(taskId) : undefined;
  }

  /** The channel a server-to-client message belongs to, by the rule in the header. */
  #channel(useOutside = true): AgentChannel | undefined {
    const scoped = this.#scope.getStore();
    if (scoped) return scoped;
    let only: AgentChannel | undefined;
    for (const channel of this.#active.keys()) {
      if (only && only.connection !== channel.connection) return undefined;
      only = channel; // the latest call of that connection (insertion order)
    }
    return only ?? (useOutside ? this.#hooks.outside?.() : undefined);
  }
}
