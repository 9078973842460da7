/**
 * The 2026-07-28 input requests of one followed upstream task (docs/design/issue-14-tasks.md §4.6): each
 * `inputRequests` key is asked once through the agent's channel and its answer sent upstream with
 * `tasks/update`. (2025 tasks ask with related-task requests, which the ClientRelay routes instead.)
 */
import type { AgentChannel, ClientRequestMethod } from '../../core/channel.js';
import type { Logger } from '../../telemetry/logger.js';
import type { ForwardOptions, Upstream } from '../../upstream/upstream.js';
import type { UpstreamTaskRef } from './upstream-tasks.js';

const RELAYED: readonly string[] = ['sampling/createMessage', 'elicitation/create', 'roots/list'];

/**
 * 2026 input requests: each key is asked once through the agent's channel, and its answer sent with
 * tasks/update. Without a channel the task waits (its deadline ends it); an elicitation the agent
 * cannot take is declined, so the upstream can go on.
 */
export class InputRelay {
  readonly #asked = new Set<string>();
  #warned = false;

  constructor(
    readonly upstream: Upstream,
    readonly ref: UpstreamTaskRef,
    readonly channel: AgentChannel | undefined,
    readonly log: Logger,
    readonly stop: AbortSignal,
    readonly request: () => ForwardOptions,
  ) {}

  answer(requests: Readonly<Record<string, { method: string; params?: Record<string, unknown> | undefined }>>): void {
    for (const [key, ask] of Object.entries(requests)) {
      if (this.#asked.has(key)) continue;
      this.#asked.add(key);
      if (!this.channel || !RELAYED.includes(ask.method)) {
        if (!this.#warned)
          this.log.warn(
            { server: this.ref.server, method: ask.method },
            'an upstream task asks for input no agent channel can take',
          );
        this.#warned = true;
        continue;
      }
      void this.#ask(key, ask.method as ClientRequestMethod, ask.params);
    }
  }

  async #ask(key: string, method: ClientRequestMethod, params: Record<string, unknown> | undefined): Promise<void> {
    let response: Record<string, unknown>;
    try {
      response = await this.channel!.request(method, params, this.stop);
    } catch (error) {
      if (this.stop.aborted) return;
      this.log.info(
        { server: this.ref.server, method, err: (error as Error).message },
        'the agent did not answer an upstream task input request',
      );
      if (method !== 'elicitation/create') return;
      response = { action: 'decline' };
    }
    if (this.stop.aborted) return;
    await this.upstream.tasks.update(this.ref.taskId, { [key]: response }, this.request()).catch((error: Error) => {
      if (!this.stop.aborted)
        this.log.warn({ server: this.ref.server, err: error.message }, 'tasks/update upstream failed');
    });
  }
}
