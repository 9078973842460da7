/**
 * The start-up hold of the composition root (compose.ts): `holdFirstAnswers` is the bounded wait
 * that agents' first answers go through, so a host that lists tools once (most do) sees the whole
 * catalog, not the part that happened to be connected. (The embedding model loads after those
 * answers; the capability index waits for it: see CapabilityIndexDeps.embedder.)
 */
import type { Gateway } from './gateway/gateway.js';
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
