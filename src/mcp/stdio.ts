/**
 * Sidecar mode: one agent over stdio. The SDK's `serveStdio` decides the protocol era from the
 * agent's opening message; every instance it builds is tracked so list changes reach the agent.
 */
import { serveStdio } from '@modelcontextprotocol/server/stdio';
import { createAgentServer, type AgentServerDeps } from './agent-server.js';
import type { AgentNotifier } from './notifier.js';

/** A running stdio edge. */
export interface StdioEdge {
  close(): Promise<void>;
}

/** Serves the gateway to the agent on this process's stdin/stdout. */
export function serveAgentStdio(deps: AgentServerDeps, notifier: AgentNotifier): StdioEdge {
  const handle = serveStdio(() => {
    const server = createAgentServer(deps);
    notifier.track(server);
    return server;
  });
  return {
    close: async () => {
      await handle.close();
    },
  };
}
