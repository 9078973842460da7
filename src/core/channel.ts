/**
 * The agent side of a forwarded request, as the lower layers see it.
 *
 * A server may ask its client for something while it serves a call (sampling, elicitation, roots)
 * and may log or report resource changes. Through a gateway, "its client" is the agent whose call
 * is running; the edge (mcp/) builds one channel per agent request and the upstream adapter hands
 * each server-to-client request to the channel of the call it belongs to. Kept type-only and free
 * of SDK runtime imports so upstream/ and gateway/ can pass it along without knowing the edge.
 */

/** Server-to-client request methods the gateway relays to agents. */
export type ClientRequestMethod = 'sampling/createMessage' | 'elicitation/create' | 'roots/list';

/** RFC 5424 levels as MCP names them, least to most severe. */
export const LOG_LEVELS = ['debug', 'info', 'notice', 'warning', 'error', 'critical', 'alert', 'emergency'] as const;

/** One MCP logging level. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/** `notifications/message` params. */
export interface LogMessage {
  readonly level: LogLevel;
  readonly logger?: string;
  readonly data: unknown;
}

/** Where an upstream's requests and messages made during one agent request go. */
export interface AgentChannel {
  /** The agent connection the request came from (a stdio connection, a legacy session, an HTTP exchange). */
  readonly connection: string;
  /**
   * Relays a server-to-client request to the agent and returns the agent's answer. Rejects with a
   * protocol error the upstream can read when the agent did not declare the capability.
   */
  request(
    method: ClientRequestMethod,
    params: Record<string, unknown> | undefined,
    signal?: AbortSignal,
  ): Promise<Record<string, unknown>>;
  /** Delivers a server's log message to the agent, if the agent's level lets it through. */
  log(server: string, message: LogMessage): void;
}

/** True when `level` is at least as severe as `threshold`. */
export function passesLevel(level: string, threshold: LogLevel): boolean {
  const at = LOG_LEVELS.indexOf(level as LogLevel);
  return (at === -1 ? LOG_LEVELS.indexOf('info') : at) >= LOG_LEVELS.indexOf(threshold);
}
