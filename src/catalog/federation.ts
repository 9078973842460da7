/**
 * Holds every server's current part and publishes a new immutable snapshot whenever one changes.
 *
 * Readers take `current` once per request and keep using that object, so they never see a
 * half-updated catalog. Listeners hear which lists changed so the agent-facing edges send only the
 * `list_changed` notifications that apply.
 */
import { emptyPart, type ServerPart } from '../core/protocol.js';
import { buildSnapshot, type CatalogSnapshot, type NamingOptions } from './snapshot.js';

/** Which lists differ between two snapshots. */
export interface CatalogChange {
  readonly snapshot: CatalogSnapshot;
  readonly tools: boolean;
  readonly prompts: boolean;
  readonly resources: boolean;
}

/** The live catalog: parts in registration order, and the current snapshot. */
export class Federation {
  readonly #naming: NamingOptions;
  readonly #parts = new Map<string, ServerPart>();
  readonly #listeners = new Set<(change: CatalogChange) => void>();
  #current: CatalogSnapshot;

  constructor(naming: NamingOptions) {
    this.#naming = naming;
    this.#current = buildSnapshot(this.#parts, naming, 0);
  }

  /** The current snapshot. */
  get current(): CatalogSnapshot {
    return this.#current;
  }

  /** Reserves a server's place in registration order (its part arrives when it connects). */
  reserve(server: string): void {
    if (!this.#parts.has(server)) this.#parts.set(server, emptyPart());
  }

  /** Sets (or, with undefined, removes) a server's part and publishes a new snapshot if anything changed. */
  update(server: string, part: ServerPart | undefined): CatalogSnapshot {
    const before = this.#current;
    if (part === undefined) this.#parts.delete(server);
    else this.#parts.set(server, part);
    const next = buildSnapshot(this.#parts, this.#naming, before.version + 1);
    const change: CatalogChange = {
      snapshot: next,
      tools: fingerprint(before.tools) !== fingerprint(next.tools),
      prompts: fingerprint(before.prompts) !== fingerprint(next.prompts),
      resources:
        fingerprint(before.resources) !== fingerprint(next.resources) ||
        fingerprint(before.resourceTemplates) !== fingerprint(next.resourceTemplates),
    };
    if (!change.tools && !change.prompts && !change.resources) return before;
    this.#current = next;
    for (const listener of this.#listeners) listener(change);
    return next;
  }

  /** Subscribes to snapshot changes; returns the unsubscribe function. */
  onChange(listener: (change: CatalogChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}

function fingerprint(items: readonly unknown[]): string {
  return JSON.stringify(items);
}
