/**
 * Learning from use: a successful call of a tool that find_capability offered under a decision id
 * adds that need as an example of the tool (only when routing.learning is on; Capabilities decides).
 */
import type { Capabilities } from '../../../gateway/capabilities.js';
import type { Stage } from '../chain.js';
import { resolvedTool, type ToolResult } from '../context.js';

/** Tells capability routing how a call it proposed went. */
export function learnStage(capabilities: Capabilities): Stage<ToolResult> {
  return {
    name: 'learn',
    async run(ctx, next) {
      const result = await next();
      capabilities.learn(ctx.decisionId, resolvedTool(ctx).id, result.isError !== true);
      return result;
    },
  };
}
