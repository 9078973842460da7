/**
 * Fan-out: one call run on several backend tools at once, the results aggregated by a strategy.
 *
 * - `merge`: wait for every branch; the result holds each branch's content under a label naming
 *   its source, and says which branches failed (the call is an error only if all of them did).
 * - `first`: the first successful branch wins; the others are cancelled.
 * - `quorum`: done once `quorum` branches succeeded (the rest are cancelled), or failed as soon as
 *   that can no longer happen.
 *
 * Each branch has its own abort signal, linked to the caller's: cancelling the call cancels every
 * branch, and a branch that is no longer needed is cancelled upstream. A branch succeeds when it
 * returns a result without `isError`. Partial failures are always reported, never hidden.
 */
import type { CallToolResult } from '../core/protocol.js';
import { GatewayError } from '../core/errors.js';

/** How branch results combine. */
export type FanoutStrategy = 'merge' | 'first' | 'quorum';

/** One backend tool to run. */
export interface FanoutBranch {
  readonly tool: string;
  readonly server: string;
  run(signal: AbortSignal): Promise<CallToolResult>;
}

/** What happened to one branch. */
export interface BranchOutcome {
  readonly tool: string;
  readonly server: string;
  readonly status: 'ok' | 'is_error' | 'failed' | 'cancelled';
  readonly ms: number;
  readonly error?: string;
  readonly errorCode?: string;
  readonly result?: CallToolResult;
}

/** Options for one fan-out call. */
export interface FanoutOptions {
  readonly strategy: FanoutStrategy;
  /** Successes needed for `quorum` (1 for `first`, all for `merge`). */
  readonly quorum?: number;
  readonly signal?: AbortSignal;
}

/** Runs `branches` in parallel and aggregates them; rejects only when the caller cancels. */
export async function fanOut(
  name: string,
  branches: readonly FanoutBranch[],
  options: FanoutOptions,
): Promise<{ result: CallToolResult; outcomes: BranchOutcome[] }> {
  const { strategy, signal } = options;
  const needed =
    strategy === 'merge' ? branches.length : strategy === 'first' ? 1 : Math.min(options.quorum ?? 1, branches.length);
  const controllers = branches.map(() => new AbortController());
  const onAbort = () => controllers.forEach((c) => c.abort(signal?.reason));
  if (signal?.aborted) throw signal.reason;
  signal?.addEventListener('abort', onAbort, { once: true });
  const outcomes: (BranchOutcome | undefined)[] = branches.map(() => undefined);
  const started = performance.now();
  try {
    await new Promise<void>((resolve) => {
      let ok = 0;
      let settled = 0;
      const finish = () => {
        // Branches still running are no longer needed: cancel them upstream.
        controllers.forEach((c, i) => {
          if (!outcomes[i])
            c.abort(
              new GatewayError(
                'UPSTREAM_FAILED',
                `${name}: no longer needed (strategy ${strategy} is satisfied or cannot be)`,
              ),
            );
        });
        resolve();
      };
      if (branches.length === 0) return resolve();
      branches.forEach((branch, i) => {
        const branchSignal = controllers[i]!.signal;
        const t0 = performance.now();
        // Fire-and-forget by design: both settlements of run() become a BranchOutcome below, so the chain
        // cannot reject, and the surrounding promise resolves through finish().
        void branch
          .run(branchSignal)
          .then(
            (result): BranchOutcome => ({
              tool: branch.tool,
              server: branch.server,
              status: result.isError === true ? 'is_error' : 'ok',
              ms: performance.now() - t0,
              result,
            }),
            (error: unknown): BranchOutcome => {
              const cancelled = branchSignal.aborted;
              const gatewayError = error instanceof GatewayError ? error : undefined;
              return {
                tool: branch.tool,
                server: branch.server,
                status: cancelled ? 'cancelled' : 'failed',
                ms: performance.now() - t0,
                error: error instanceof Error ? error.message : String(error),
                ...(gatewayError ? { errorCode: gatewayError.code } : {}),
              };
            },
          )
          .then((outcome) => {
            if (outcomes[i]) return;
            outcomes[i] = outcome;
            settled++;
            if (outcome.status === 'ok') ok++;
            const pending = branches.length - settled;
            if (settled === branches.length || (strategy !== 'merge' && (ok >= needed || ok + pending < needed)))
              finish();
          });
      });
    });
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
  if (signal?.aborted) throw signal.reason;
  // Branches cancelled because they were no longer needed.
  const final = outcomes.map(
    (o, i) =>
      o ?? {
        tool: branches[i]!.tool,
        server: branches[i]!.server,
        status: 'cancelled' as const,
        ms: performance.now() - started,
      },
  );
  return { result: aggregate(name, strategy, needed, final), outcomes: final };
}

function aggregate(
  name: string,
  strategy: FanoutStrategy,
  needed: number,
  outcomes: readonly BranchOutcome[],
): CallToolResult {
  const succeeded = outcomes.filter((o) => o.status === 'ok');
  const satisfied = strategy === 'merge' ? succeeded.length > 0 : succeeded.length >= needed;
  // merge: every answered branch; first/quorum: the winning branches only.
  const shown = strategy === 'merge' ? outcomes.filter((o) => o.result) : succeeded.slice(0, needed);
  const content: CallToolResult['content'] = [];
  for (const o of shown) {
    content.push({
      type: 'text',
      text: `--- ${o.tool} (server ${o.server}): ${o.status === 'ok' ? 'ok' : 'tool error'}, ${Math.round(o.ms)} ms ---`,
    });
    content.push(...(o.result?.content ?? []));
  }
  const problems = outcomes.filter(
    (o) => o.status !== 'ok' && !(strategy !== 'merge' && o.status === 'cancelled' && satisfied),
  );
  const summary = `${name}: ${strategy}${strategy === 'quorum' ? ` ${needed}` : ''}, ${succeeded.length} of ${outcomes.length} branches succeeded`;
  const failures = problems.map((o) => `${o.tool}: ${o.status}${o.error ? ` (${o.error})` : ''}`);
  content.unshift({
    type: 'text',
    text: `${summary}${satisfied ? '' : ` (needed ${needed})`}${failures.length ? `; not included: ${failures.join('; ')}` : ''}`,
  });
  return {
    content,
    ...(satisfied ? {} : { isError: true }),
    structuredContent: {
      strategy,
      needed,
      succeeded: succeeded.length,
      branches: outcomes.map((o) => ({
        tool: o.tool,
        server: o.server,
        status: o.status,
        ms: Math.round(o.ms * 100) / 100,
        ...(o.error ? { error: o.error } : {}),
        ...(o.errorCode ? { errorCode: o.errorCode } : {}),
        ...(o.result?.structuredContent ? { structuredContent: o.result.structuredContent } : {}),
      })),
    },
  };
}
