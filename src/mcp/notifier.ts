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

/**
 * What a restricted agent sees, per list (gateway/access.ts ViewFingerprints); undefined when it sees
 * the whole catalog. An agent is told a list changed only when its own view of that list moved, so a
 * change to tools it may not see never reaches it, not even as a bare notification.
 */
export type ViewWatch = () =>
  { readonly tools: string; readonly prompts: string; readonly resources: string } | undefined;

type Seen = ReturnType<ViewWatch>;

/** Sessions notified per turn of the event loop (each costs tens of microseconds). */
const CHUNK = 100;

/** Fans catalog changes out to every connected agent. */
export class AgentNotifier {
  /** Sessionful servers, with their view watch and what they saw when last told. */
  readonly #sessions = new Map<Server, { watch?: ViewWatch | undefined; seen: Seen }>();
  readonly #publishers = new Map<ListChangePublisher, { watch?: ViewWatch | undefined; seen: Seen }>();
  /** Kinds changed since the last fan-out began. */
  #pending = { tools: false, prompts: false, resources: false };
  /** A fan-out is scheduled or under way (changes meanwhile wait for the next one). */
  #busy = false;
  #idle: (() => void)[] = [];

  /** Tracks a sessionful server instance until it closes (`watch`: its view, when it may be restricted). */
  track(server: Server, watch?: ViewWatch): void {
    this.#sessions.set(server, { watch, seen: watch?.() });
    const previous = server.onclose;
    server.onclose = () => {
      this.#sessions.delete(server);
      previous?.();
    };
  }

  /** Adds a publisher for stateless agents (a modern HTTP handler's `notify`); returns its removal. */
  addPublisher(publisher: ListChangePublisher, watch?: ViewWatch): () => void {
    this.#publishers.set(publisher, { watch, seen: watch?.() });
    return () => void this.#publishers.delete(publisher);
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
    for (const [publisher, entry] of this.#publishers) {
      const moved = movedFor(entry, change);
      if (moved.tools) publisher.toolsChanged();
      if (moved.prompts) publisher.promptsChanged();
      if (moved.resources) publisher.resourcesChanged();
    }
    const targets = [...this.#sessions.keys()];
    let next = 0;
    const step = () => {
      const end = Math.min(next + CHUNK, targets.length);
      for (; next < end; next++) {
        const server = targets[next] as Server;
        const entry = this.#sessions.get(server);
        if (!entry) continue; // closed since the change
        const moved = movedFor(entry, change);
        if (moved.tools) ignore(() => server.sendToolListChanged());
        if (moved.prompts) ignore(() => server.sendPromptListChanged());
        if (moved.resources) ignore(() => server.sendResourceListChanged());
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

/** The lists of `change` that moved in this agent's view (all of them for an unrestricted agent). */
function movedFor(
  entry: { watch?: ViewWatch | undefined; seen: Seen },
  change: { tools: boolean; prompts: boolean; resources: boolean },
): { tools: boolean; prompts: boolean; resources: boolean } {
  const now = entry.watch?.();
  const before = entry.seen;
  entry.seen = now;
  if (!now || !before) return change;
  return {
    tools: change.tools && now.tools !== before.tools,
    prompts: change.prompts && now.prompts !== before.prompts,
    resources: change.resources && now.resources !== before.resources,
  };
}

/** A notification to an agent that has not finished connecting, or has gone, is not an error. */
function ignore(send: () => Promise<void> | void): void {
  try {
    void Promise.resolve(send()).catch(() => {});
  } catch {
    // not connected yet
  }
}
