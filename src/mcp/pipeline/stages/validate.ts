/**
 * Checks the arguments against the tool's input schema (or the pinned version's) before the upstream
 * sees them: a mismatch is a tool error the model can fix, listing every problem with its path.
 */
import { GatewayError } from '../../../core/errors.js';
import { errorResult } from '../../tool-errors.js';
import type { ArgumentValidator } from '../../validate.js';
import type { Stage } from '../chain.js';
import { resolvedTool, type ToolResult } from '../context.js';

/** Refuses arguments that fail the schema. */
export function validateStage(validator: ArgumentValidator): Stage<ToolResult> {
  return {
    name: 'validate',
    run(ctx, next) {
      const problems = validator.check(ctx.schemaTool ?? resolvedTool(ctx).tool, ctx.args ?? {});
      if (!problems) return next();
      return Promise.resolve(
        errorResult(
          new GatewayError(
            'INVALID_ARGUMENTS',
            `invalid arguments for tool "${ctx.name}"${ctx.pin ? ` (pinned to ${ctx.pin})` : ''}: ${problems}`,
            { tool: ctx.name },
          ),
        ),
      );
    },
  };
}
