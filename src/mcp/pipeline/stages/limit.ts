/**
 * Admission: rate limits (token buckets per tool, server, user, agent, tenant or globally) and tenant
 * quotas, checked before the request does any work that costs the gateway or an upstream. A refusal
 * is a retryable tool error that names the limit and says when to retry
 * (`_meta["io.switchboard/error"].retryAfterMs`); no upstream is called.
 *
 * In the tool chain it runs after resolve and authorize (a per-tool or per-server limit needs the
 * resolved tool, and a caller refused by policy should not spend its budget); in the find chain it
 * runs first. The limits themselves live in limits/ and usage/ behind the `Admission` port.
 */
import type { GatewayError } from '../../../core/errors.js';
import type { LimitSubject } from '../../../limits/rules.js';
import { errorResult } from '../../tool-errors.js';
import type { Stage } from '../chain.js';
import type { ToolResult } from '../context.js';

/** What one admission check is about (the shape limits/ counts by). */
export type AdmissionSubject = LimitSubject;

/** Decides whether a request may go on: undefined, or the error that refuses it. */
export type Admission = (subject: AdmissionSubject) => GatewayError | undefined | Promise<GatewayError | undefined>;

/** Refuses requests over a rate limit or quota. */
export function limitStage(kind: 'call' | 'find', admit: Admission): Stage<ToolResult> {
  return {
    name: 'limit',
    async run(ctx, next) {
      const tool = ctx.target ?? ctx.tool;
      const refusal = await admit({
        kind,
        tenant: ctx.principal.tenant,
        agent: ctx.units.agent,
        user: ctx.units.user,
        tool: tool?.id,
        server: tool?.server,
      });
      return refusal ? errorResult(refusal) : next();
    },
  };
}
