/**
 * Authorization of a call: the principal's scopes must grant calling the tool, and the Cedar policy in
 * force must permit it (with the call's top-level arguments in the context, for policies that read
 * them). A refusal is a tool error that names the missing scope, or says that policy denies it with
 * the deciding policy ids in `_meta` (for the audit trail); it never mentions another tool.
 * Runs right after resolve, so only tools the caller may see get this far.
 */
import type { AccessControl } from '../../../gateway/access.js';
import { errorResult } from '../../tool-errors.js';
import type { Stage } from '../chain.js';
import { resolvedTool, type ToolResult } from '../context.js';

/** Refuses calls the principal's scopes or the policy do not allow. */
export function authorizeStage(access: AccessControl): Stage<ToolResult> {
  return {
    name: 'authorize',
    async run(ctx, next) {
      if (ctx.view.full) return next(); // nothing restricts this principal
      const tool = resolvedTool(ctx);
      const denial = access.authorize(
        ctx.principal,
        'call',
        { kind: 'tool', id: tool.id, server: tool.server, name: tool.name, annotations: tool.tool.annotations },
        ctx.args,
      );
      if (!denial) return next();
      ctx.deniedBy = denial.policies;
      return errorResult(denial.error);
    },
  };
}
