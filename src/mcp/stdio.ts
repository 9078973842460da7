/**
 * Sidecar mode: one agent over stdio. The SDK's `serveStdio` decides the protocol era from the
 * agent's opening message; every instance it builds is tracked so list changes reach the agent.
 *
 * The opening exchange (`initialize`, or a 2026-07-28 `server/discover` / first request) can be held
 * until start-up is over: the factory awaits `startup`, and `serveStdio` queues whatever the agent
 * sends meanwhile, in order. Holding the opening itself, not only the first tools/list, means the
 * agent's first look (capabilities, instructions, catalog) is complete, whatever it asks first.
 */
import { serveStdio } from '@modelcontextprotocol/server/stdio';
import type { Principal } from '../core/principal.js';
import { createAgentServer, watchView, type AgentServerDeps } from './agent-server.js';
import type { AgentNotifier } from './notifier.js';

/** A running stdio edge. */
export interface StdioEdge {
  close(): Promise<void>;
}

/** Options of the stdio edge. */
export interface StdioEdgeOptions {
  /** The agent's opening exchange waits for this (the gateway's bounded start-up hold); absent: none. */
  readonly startup?: Promise<void>;
  /** The agent's principal (`auth.stdio`); absent: unrestricted, named after its client info. */
  readonly principal?: Principal | undefined;
}

/** Serves the gateway to the agent on this process's stdin/stdout. */
export function serveAgentStdio(
  deps: AgentServerDeps,
  notifier: AgentNotifier,
  options: StdioEdgeOptions = {},
): StdioEdge {
  const handle = serveStdio(async () => {
    await options.startup;
    const server = createAgentServer(deps, { sessionful: true, principal: options.principal });
    notifier.track(server, watchView(deps, server, options.principal));
    return server;
  });
  return {
    close: async () => {
      await handle.close();
    },
  };
}
