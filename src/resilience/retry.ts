/**
 * When a failed call may move to another instance, and how long to wait before it does.
 *
 * A call is repeated elsewhere only when that cannot do harm: the request never reached the
 * instance (it was not connected, or the connection was refused), or the tool is annotated
 * `readOnlyHint` / `idempotentHint`, or the operator marked it retry-safe in config. Anything else
 * that failed mid-call may have had its effect upstream, so the agent gets one clear, retryable
 * error instead of a silent duplicate.
 */
import type { ToolAnnotations } from '../core/protocol.js';

/** Whether a failed call of `tool` may be repeated on another instance. */
export function retrySafe(
  tool: string,
  annotations: ToolAnnotations | undefined,
  configured: boolean | readonly string[],
): boolean {
  if (annotations?.readOnlyHint === true || annotations?.idempotentHint === true) return true;
  if (configured === true) return true;
  return Array.isArray(configured) && configured.includes(tool);
}

/** Jittered exponential backoff before retry `attempt` (1-based): uniform in [base/2, base] of base·2^(attempt-1). */
export function backoffMs(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const base = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(base / 2 + random() * (base / 2));
}

/** Sleeps `ms`, rejecting with the signal's reason when it aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
