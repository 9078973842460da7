/**
 * Start-up pieces of the composition root (compose.ts), kept apart so its order of events reads in
 * one place:
 *
 * - `holdFirstAnswers`: the bounded wait that agents' first answers go through, so a host that
 *   lists tools once (most do) sees the whole catalog, not the part that happened to be connected.
 * - `LateModelIndex`: a capability index that exists before its embedding model has loaded, so
 *   upstreams connect and agents are served first; find_capability waits for the model.
 */
import type { Gateway } from './gateway/gateway.js';
import {
  CapabilityIndex,
  type CapabilityDoc,
  type CapabilityIndexDeps,
  type SyncReport,
} from './index/capability-index.js';
import type { Embedder } from './index/types.js';
import type { Logger } from './telemetry/logger.js';

/**
 * Resolves when agents may be answered: once every initial server has had its first connection
 * attempt (`ready`), or after `waitMs`, whichever comes first; it never rejects. A server not up by
 * then is simply absent (it joins later with list_changed); one warning names such servers and says
 * what that costs.
 */
export function holdFirstAnswers(ready: Promise<void>, gateway: Gateway, waitMs: number, log: Logger): Promise<void> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'deadline'>((resolve) => {
    timer = setTimeout(() => resolve('deadline'), waitMs);
    timer.unref();
  });
  const attempted = ready.then(
    () => 'attempted' as const,
    () => 'attempted' as const,
  );
  return Promise.race([attempted, deadline]).then((why) => {
    clearTimeout(timer);
    const missing = gateway.listServers().filter((s) => s.state !== 'ready');
    if (missing.length === 0) return;
    const names = missing.map((s) => s.name);
    log.warn(
      {
        servers: names,
        reasons: Object.fromEntries(missing.map((s) => [s.name, s.lastError ?? s.state])),
        waitedMs: Math.round(performance.now() - started),
        startupWaitMs: waitMs,
      },
      `answering agents without ${names.join(', ')} (${why === 'deadline' ? 'not connected within gateway.startupWaitMs' : 'first connection attempt failed'}): their tools are missing from the first tools/list, so hosts that list tools only once will not see them; they join the catalog (list_changed) when they connect`,
    );
  });
}

/**
 * A capability index built before its embedding model has loaded. Every sync first waits until the
 * load has settled, so no tool is indexed without its vector (a sync embeds only the tools that
 * changed, so one indexed early would never get one); find_capability, which syncs before it
 * searches, therefore uses the model from its first answer on, or the lexical index alone when
 * the model failed to load.
 *
 * The model reaches the index through a getter on `deps.embedder`: CapabilityIndex reads
 * `deps.embedder` at each use (see its sync and search), which is what makes a late model work.
 */
export class LateModelIndex extends CapabilityIndex {
  readonly #settled: Promise<unknown>;

  constructor(deps: Omit<CapabilityIndexDeps, 'embedder'>, model: Promise<Embedder | undefined>) {
    let embedder: Embedder | undefined;
    const settled = model.then(
      (loaded) => {
        embedder = loaded;
      },
      () => {}, // no model: lexical only
    );
    super({
      ...deps,
      get embedder() {
        return embedder;
      },
    });
    this.#settled = settled;
  }

  override async sync(docs: readonly CapabilityDoc[]): Promise<SyncReport> {
    await this.#settled;
    return super.sync(docs);
  }
}
