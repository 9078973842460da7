/**
 * The call pipeline: an ordered list of small stages, each `(ctx, next) => result`, in the spirit of
 * Envoy's filter chain and fastify's hooks. A stage may answer by itself (a refusal), call `next()`
 * and look at or change what comes back (outcome recording), or wrap `next()` in try/catch.
 *
 * The order is declared once, at the composition root (see chains.ts); a concern that is not
 * configured is simply not in the list, so it costs nothing. Composition happens once per chain, not
 * per request: running a chain allocates one closure per stage.
 */
import type { RequestContext } from './context.js';

/** One stage of a pipeline. */
export interface Stage<R> {
  /** For docs, errors and tests: what the stage is for, e.g. "resolve". */
  readonly name: string;
  run(ctx: RequestContext, next: () => Promise<R>): Promise<R>;
}

/** The end of a chain: does the work itself (the upstream call, the search). */
export type Terminal<R> = (ctx: RequestContext) => Promise<R>;

/** A composed pipeline: runs a context through every stage, then the terminal. */
export type Pipeline<R> = ((ctx: RequestContext) => Promise<R>) & { readonly stages: readonly string[] };

/** Composes `stages` (outermost first) around `terminal`. */
export function compose<R>(stages: readonly Stage<R>[], terminal: Terminal<R>): Pipeline<R> {
  const list = [...stages];
  const run = (ctx: RequestContext): Promise<R> => {
    const step = (i: number): Promise<R> => {
      const stage = list[i];
      return stage ? stage.run(ctx, () => step(i + 1)) : terminal(ctx);
    };
    return step(0);
  };
  return Object.assign(run, { stages: list.map((s) => s.name) });
}
