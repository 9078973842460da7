/**
 * Refuses tool arguments over `gateway.maxRequestBytes` before any validation or upstream work, as a
 * tool error the model can act on (send less). The HTTP edge bounds the whole body earlier; this
 * bound also covers stdio agents and arguments built by call_capability.
 */
import { GatewayError } from '../../../core/errors.js';
import { errorResult } from '../../tool-errors.js';
import type { Stage } from '../chain.js';
import type { ToolResult } from '../context.js';

/** Refuses oversize arguments. */
export function sizeStage(maxRequestBytes: number): Stage<ToolResult> {
  return {
    name: 'size',
    run(ctx, next) {
      const size = ctx.args ? Buffer.byteLength(JSON.stringify(ctx.args)) : 0;
      ctx.bytesIn = size;
      if (size <= maxRequestBytes) return next();
      return Promise.resolve(
        errorResult(
          new GatewayError(
            'PAYLOAD_TOO_LARGE',
            `arguments for "${ctx.name}" are ${size} bytes; the limit is ${maxRequestBytes}`,
            { bytes: size, limit: maxRequestBytes },
          ),
        ),
      );
    },
  };
}
