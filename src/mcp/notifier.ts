/**
 * Tells connected agents that the catalog changed. Sessionful instances (stdio connections, 2025-era
 * HTTP sessions) get `notifications/*\/list_changed` directly; stateless 2026-07-28 HTTP agents get
 * them on their `subscriptions/listen` streams through the handler's event bus.
 */
import type { Server } from '@modelcontextprotocol/server';
import type { CatalogChange } from '../catalog/federation.js';

/** What a modern HTTP handler offers for publishing change events. */
export interface ListChangePublisher {
  toolsChanged(): void;
  promptsChanged(): void;
  resourcesChanged(): void;
}

/** Fans one catalog change out to every connected agent. */
export class AgentNotifier {
  readonly #sessions = new Set<Server>();
  readonly #publishers = new Set<ListChangePublisher>();

  /** Tracks a sessionful server instance until it closes. */
  track(server: Server): void {
    this.#sessions.add(server);
    const previous = server.onclose;
    server.onclose = () => {
      this.#sessions.delete(server);
      previous?.();
    };
  }

  /** Adds a publisher for stateless agents (a modern HTTP handler's `notify`). */
  addPublisher(publisher: ListChangePublisher): void {
    this.#publishers.add(publisher);
  }

  /** Number of sessionful agents connected. */
  get sessions(): number {
    return this.#sessions.size;
  }

  /** Sends the list_changed notifications that apply to `change`. */
  publish(change: CatalogChange): void {
    for (const server of this.#sessions) {
      if (change.tools) ignore(() => server.sendToolListChanged());
      if (change.prompts) ignore(() => server.sendPromptListChanged());
      if (change.resources) ignore(() => server.sendResourceListChanged());
    }
    for (const publisher of this.#publishers) {
      if (change.tools) publisher.toolsChanged();
      if (change.prompts) publisher.promptsChanged();
      if (change.resources) publisher.resourcesChanged();
    }
  }
}

/** A notification to an agent that has not finished connecting, or has gone, is not an error. */
function ignore(send: () => Promise<void> | void): void {
  try {
    void Promise.resolve(send()).catch(() => {});
  } catch {
    // not connected yet
  }
}
