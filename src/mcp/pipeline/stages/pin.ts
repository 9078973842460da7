/**
 * Resolves the schema version a call is pinned to (call_capability's `version`, the call's
 * `_meta["io.switchboard/pin"]`, the agent's pin, the global one) and the tool definition whose input
 * schema the arguments must match: a pinned call is checked against the pinned version, not the
 * catalog's. A pin that no stored version satisfies is a tool error naming the pin.
 */
import type { Tool } from '@modelcontextprotocol/server';
import type { CatalogTool } from '../../../catalog/snapshot.js';
import { asGatewayError } from '../../../core/errors.js';
import type { Gateway } from '../../../gateway/gateway.js';
import { PIN_META_KEY } from '../../meta-tools.js';
import { errorResult } from '../../tool-errors.js';
import type { Stage } from '../chain.js';
import { resolvedTool, type ToolResult } from '../context.js';

/** Sets `ctx.pin` and `ctx.schemaTool`. */
export function pinStage(gateway: Gateway): Stage<ToolResult> {
  return {
    name: 'pin',
    run(ctx, next) {
      const tool = resolvedTool(ctx);
      const asked = ctx.version ?? (typeof ctx.meta?.[PIN_META_KEY] === 'string' ? ctx.meta[PIN_META_KEY] : undefined);
      const pin = gateway.pinFor(tool.id, { pin: asked, agent: ctx.units.agent });
      ctx.pin = pin;
      ctx.schemaTool = tool.tool;
      if (pin && gateway.compat) {
        try {
          ctx.schemaTool = pinnedTool(tool, gateway.compat.pinned(tool.server, tool.name, pin));
        } catch (error) {
          return Promise.resolve(errorResult(asGatewayError(error)));
        }
      }
      return next();
    },
  };
}

const pinnedTools = new WeakMap<object, Tool>();

/** The tool definition as of a pinned version (for argument validation), one object per version. */
function pinnedTool(tool: CatalogTool, requirement: { schemas: { inputSchema: unknown } }): Tool {
  let pinned = pinnedTools.get(requirement);
  if (!pinned) {
    pinned = { ...tool.tool, inputSchema: requirement.schemas.inputSchema as Tool['inputSchema'] };
    pinnedTools.set(requirement, pinned);
  }
  return pinned;
}
