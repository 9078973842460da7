/**
 * Tells connected agents that the catalog changed. Sessionful instances (stdio connections, 2025-era
 * HTTP sessions) get `notifications/*\/list_changed` directly; stateless 2026-07-28 HTTP agents get
 * them on their `subscriptions/listen` streams through the handler's event bus.
 *
 * Changes are coalesced (several in one tick make one notification of each kind) and sessions are
 * notified in chunks with a turn of the event loop between them: sent in one go to 10,000 sessions,
 * one catalog change once held the loop for about 230 ms, stalling every other request.
 */
import type { Server } from '@modelcontextprotocol/server';
import type { CatalogChange } from '../catalog/federation.js';

/** What a modern HTTP handler offers for publishing change events. */
export interface ListChangePublisher {
  toolsChanged(): void;
  promptsChanged(): void;
  resourcesChanged(): void;
}

/** Sessions notified per turn of the event loop (each costs tens of microseconds). */
const CHUNK = 100;

/** Fans catalog changes out to every connected agent. */
export class AgentNotifier {
  readonly #sessions = new Set<Server>();
  readonly #publishers = new Set<ListChangePublisher>();
  /** Kinds changed since the last fan-out began. */
  #pending = { tools: false, prompts: false, resources: false };
  /** A fan-out is scheduled or under way (changes meanwhile wait for the next one). */
  #busy = false;
  #idle: (() => void)[] = [];

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

  /** Queues the list_changed notifications that apply to `change` (sent from the next turn on). */
  publish(change: CatalogChange): void {
    const pending = this.#pending;
    pending.tools ||= change.tools === true;
    pending.prompts ||= change.prompts === true;
    pending.resources ||= change.resources === true;
    if (!this.#busy && (pending.tools || pending.prompts || pending.resources)) {
      this.#busy = true;
      setImmediate(() => this.#fanOut());
    }
  }

  /** Resolves once every queued change has been sent. */
  settled(): Promise<void> {
    return this.#busy ? new Promise((resolve) => this.#idle.push(resolve)) : Promise.resolve();
  }

  #fanOut(): void {
    const change = this.#pending;
    this.#pending = { tools: false, prompts: false, resources: false };
    for (const publisher of this.#publishers) {
      if (change.tools) publisher.toolsChanged();
      if (change.prompts) publisher.promptsChanged();
      if (change.resources) publisher.resourcesChanged();
    }
    const targets = [...this.#sessions];
    let next = 0;
    const step = () => {
      const end = Math.min(next + CHUNK, targets.length);
      for (; next < end; next++) {
        const server = targets[next] as Server;
        if (!this.#sessions.has(server)) continue; // closed since the change
        if (change.tools) ignore(() => server.sendToolListChanged());
        if (change.prompts) ignore(() => server.sendPromptListChanged());
        if (change.resources) ignore(() => server.sendResourceListChanged());
      }
      if (next < targets.length) setImmediate(step);
      else this.#done();
    };
    step();
  }

  #done(): void {
    const { tools, prompts, resources } = this.#pending;
    if (tools || prompts || resources) {
      setImmediate(() => this.#fanOut());
      return;
    }
    this.#busy = false;
    const waiting = this.#idle;
    this.#idle = [];
    for (const resolve of waiting) resolve();
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
