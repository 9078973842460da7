/**
 * The agent connections the gateway can reach outside a call, with what each asked for: a log
 * level and resource subscriptions.
 *
 * Sessionful agents (a stdio sidecar's agent, 2025-era HTTP sessions, legacy SSE clients) are
 * registered here by the edge. Subscriptions are reference-counted per server and URI: the first
 * agent to subscribe subscribes upstream, the last to leave (or disconnect) unsubscribes, and an
 * update reaches only the agents subscribed to that URI. Upstream log levels follow the most
 * verbose level any agent asked for; messages sent outside a call go to the agents that asked.
 */
import { LOG_LEVELS, passesLevel, type AgentChannel, type LogLevel, type LogMessage } from '../core/channel.js';

/** An agent connection the gateway can talk to at any time. */
export interface AgentSession {
  readonly connection: string;
  /** Requests and messages outside a call. */
  readonly channel: AgentChannel;
  /** Tells the agent a resource it subscribed to changed. */
  resourceUpdated(uri: string): void;
  /**
   * Whether the agent may hear from `server` (its principal sees something of it): log messages and
   * requests outside a call never come from a server the agent cannot see. Absent: every server.
   */
  mayHear?(server: string): boolean;
}

/** What the registry asks of the upstreams. */
export interface AgentRegistryDeps {
  /** Subscribe upstream (first subscriber of this server and URI). */
  subscribe(server: string, uri: string): Promise<void>;
  /** Unsubscribe upstream (last subscriber gone). */
  unsubscribe(server: string, uri: string): Promise<void>;
  /** Apply a log level to every upstream that supports logging. */
  setUpstreamLevel(level: LogLevel): void;
}

const key = (server: string, uri: string) => `${server}\u0000${uri}`;

/** Sessionful agents, their log levels and their resource subscriptions. */
export class AgentRegistry {
  readonly #deps: AgentRegistryDeps;
  readonly #sessions = new Map<string, AgentSession>();
  readonly #levels = new Map<string, LogLevel>();
  /** server+uri -> subscribed connections. */
  readonly #subscribers = new Map<string, Set<string>>();
  #upstreamLevel: LogLevel | undefined;

  constructor(deps: AgentRegistryDeps) {
    this.#deps = deps;
  }

  /** Registers a connection (until `remove`). */
  add(session: AgentSession): void {
    this.#sessions.set(session.connection, session);
  }

  /** The channel of a registered connection (a task of its agent asks through it). */
  channelOf(connection: string): AgentChannel | undefined {
    return this.#sessions.get(connection)?.channel;
  }

  /** Forgets a connection: its level, and its subscriptions (unsubscribing upstream where it was the last). */
  remove(connection: string): void {
    if (!this.#sessions.delete(connection)) return;
    if (this.#levels.delete(connection)) this.#applyLevel();
    for (const [k, connections] of this.#subscribers) {
      if (!connections.delete(connection) || connections.size > 0) continue;
      this.#subscribers.delete(k);
      const [server, uri] = k.split('\u0000') as [string, string];
      this.#deps.unsubscribe(server, uri).catch(() => {});
    }
  }

  /** The level upstreams were last set to (applied to servers added later). */
  get upstreamLevel(): LogLevel | undefined {
    return this.#upstreamLevel;
  }

  /** Sessionful agents connected now. */
  get size(): number {
    return this.#sessions.size;
  }

  /** The channel for `server`'s request outside any call: the one connected agent, if there is exactly one and it may hear from the server. */
  sole(server: string): AgentChannel | undefined {
    if (this.#sessions.size !== 1) return undefined;
    const session = this.#sessions.values().next().value;
    return session && (session.mayHear?.(server) ?? true) ? session.channel : undefined;
  }

  /** The level a connection asked for (undefined: never asked). */
  levelOf(connection: string): LogLevel | undefined {
    return this.#levels.get(connection);
  }

  /** Records a connection's `logging/setLevel`. */
  setLevel(connection: string, level: LogLevel): void {
    this.#levels.set(connection, level);
    this.#applyLevel();
  }

  /** A server's log message sent outside a call: to every agent that asked for logs at that level. */
  broadcastLog(server: string, message: LogMessage): void {
    for (const [connection, level] of this.#levels) {
      if (!passesLevel(message.level, level)) continue;
      const session = this.#sessions.get(connection);
      if (session && (session.mayHear?.(server) ?? true)) session.channel.log(server, message);
    }
  }

  /** Subscribes a connection to a server's resource; the first subscriber subscribes upstream. */
  async subscribe(connection: string, server: string, uri: string): Promise<void> {
    const k = key(server, uri);
    let connections = this.#subscribers.get(k);
    if (!connections) {
      await this.#deps.subscribe(server, uri);
      connections = this.#subscribers.get(k) ?? new Set();
      this.#subscribers.set(k, connections);
    }
    connections.add(connection);
  }

  /** Ends a connection's subscription; the last one unsubscribes upstream. */
  async unsubscribe(connection: string, server: string, uri: string): Promise<void> {
    const k = key(server, uri);
    const connections = this.#subscribers.get(k);
    if (!connections?.delete(connection) || connections.size > 0) return;
    this.#subscribers.delete(k);
    await this.#deps.unsubscribe(server, uri);
  }

  /** How many agents are subscribed to a server's resource (0: no upstream subscription). */
  subscribers(server: string, uri: string): number {
    return this.#subscribers.get(key(server, uri))?.size ?? 0;
  }

  /** A server reported a resource change: tell the agents subscribed to it. */
  resourceUpdated(server: string, uri: string): void {
    for (const connection of this.#subscribers.get(key(server, uri)) ?? []) {
      this.#sessions.get(connection)?.resourceUpdated(uri);
    }
  }

  /** Upstreams log at the most verbose level any agent asked for. */
  #applyLevel(): void {
    let most: LogLevel | undefined;
    for (const level of this.#levels.values()) {
      if (!most || LOG_LEVELS.indexOf(level) < LOG_LEVELS.indexOf(most)) most = level;
    }
    if (!most || most === this.#upstreamLevel) return;
    this.#upstreamLevel = most;
    this.#deps.setUpstreamLevel(most);
  }
}
