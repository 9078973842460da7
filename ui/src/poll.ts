/**
 * Live data for the panels. usePollWith runs a loader now and again `intervalMs` after each answer (never
 * two loads of one panel at once), skips loads while the tab is hidden, and starts over when its key
 * changes (the old load is aborted, so a late answer cannot overwrite a newer one). usePoll is the common
 * case: one GET of a /v1 path.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { getJson, type Result } from './api.js';

/** Loads with `load` every `intervalMs`; `key` (undefined: do nothing) restarts it when it changes. */
export function usePollWith<T>(
  key: string | undefined,
  intervalMs: number,
  load: (signal: AbortSignal) => Promise<Result<T>>,
): Result<T> | undefined {
  // The answer is kept with its key, so a panel never draws the previous key's answer (another tenant's)
  // for the render in which the key changed, before the effect below starts over.
  const [answer, setAnswer] = useState<{ key: string; result: Result<T> } | undefined>(undefined);
  const loader = useRef(load);
  loader.current = load;
  useEffect(() => {
    if (key === undefined) return undefined;
    const abort = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const tick = async () => {
      if (!document.hidden) {
        const next = await loader.current(abort.signal);
        if (abort.signal.aborted) return;
        setAnswer({ key, result: next });
      }
      timer = setTimeout(() => void tick(), intervalMs);
    };
    void tick();
    return () => {
      abort.abort();
      clearTimeout(timer);
    };
  }, [key, intervalMs]);
  return answer && answer.key === key ? answer.result : undefined;
}

/** GETs `path` every `intervalMs` as `tenant` (the latest answer; undefined until the first). */
export function usePoll<T>(path: string | undefined, intervalMs: number, tenant?: string): Result<T> | undefined {
  return usePollWith<T>(path === undefined ? undefined : `${tenant ?? ''} ${path}`, intervalMs, (signal) =>
    getJson<T>(path!, tenant, signal),
  );
}
