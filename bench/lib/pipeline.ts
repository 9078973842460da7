/**
 * The request context of one tools/call, built the way agent-server.ts builds it, for the benchmark
 * sections that time the tool chain in process (identity, operations, metrics): one builder, so each
 * times the same work per call (the caller's view lookup included); and the chain's stages between
 * errors and the terminal that every such section times alike.
 */
import { join } from 'node:path';
import { startHub, type Hub } from '../../src/compose.js';
import { buildConfig } from '../../src/config/load.js';
import type { Principal } from '../../src/core/principal.js';
import type { AccessControl } from '../../src/gateway/access.js';
import type { Gateway } from '../../src/gateway/gateway.js';
import type { Stage } from '../../src/mcp/pipeline/chain.js';
import type { RequestContext, ToolResult } from '../../src/mcp/pipeline/context.js';
import { authorizeStage } from '../../src/mcp/pipeline/stages/authorize.js';
import { pinStage } from '../../src/mcp/pipeline/stages/pin.js';
import { resolveStage } from '../../src/mcp/pipeline/stages/resolve.js';
import { sizeStage } from '../../src/mcp/pipeline/stages/size.js';
import { validateStage } from '../../src/mcp/pipeline/stages/validate.js';
import type { ArgumentValidator } from '../../src/mcp/validate.js';
import type { CallContext } from '../../src/mcp/passthrough.js';
import type { Logger } from '../../src/telemetry/logger.js';
import { fixtureArgs } from './procs.js';

/** A fresh context for `principal` calling tool `name` with `args` on `hub`, seen through `access`. */
export function requestContextOf(
  hub: Hub,
  access: AccessControl,
  principal: Principal,
  name: string,
  args: Record<string, unknown>,
): RequestContext {
  const signal = new AbortController().signal;
  return {
    method: 'tools/call',
    principal,
    units: { agent: principal.agent, user: principal.user, session: 'bench' },
    view: access.view(principal, hub.gateway.catalog),
    name,
    args,
    meta: undefined,
    // The SDK's handler context, reduced to what the stages and the terminal read (see test/pipeline.test.ts).
    sdk: { mcpReq: { signal, _meta: undefined, notify: async () => {} } } as unknown as CallContext,
    signal,
    startedAt: performance.now(),
    decisionId: undefined,
    version: undefined,
  };
}

/** An in-process hub over a store in `dir` federating the stdio fixture `alpha` (lexical routing), ready. */
export async function startAlphaHub(dir: string, log: Logger): Promise<Hub> {
  const hub = await startHub(
    buildConfig({
      http: { port: 0 },
      store: { path: join(dir, 'hub.db') },
      routing: { model: 'none' },
      log: { level: 'silent' },
      servers: { alpha: { command: process.execPath, args: fixtureArgs('alpha') } },
    }),
    { log },
  );
  await hub.ready;
  return hub;
}

/** resolve, authorize, size, pin, validate: the tool chain's stages after errors, as chains.ts orders them. */
export function coreToolStages(
  gateway: Gateway,
  access: AccessControl,
  validator: ArgumentValidator,
): Stage<ToolResult>[] {
  return [
    resolveStage(gateway, access),
    authorizeStage(access),
    sizeStage(gateway.config.gateway.maxRequestBytes),
    pinStage(gateway),
    validateStage(validator),
  ];
}
