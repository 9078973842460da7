/**
 * The request context of one tools/call, built the way agent-server.ts builds it, for the benchmark
 * sections that time the tool chain in process (identity, operations): one builder, so both time the
 * same work per call (the caller's view lookup included).
 */
import { join } from 'node:path';
import { startHub, type Hub } from '../../src/compose.js';
import { buildConfig } from '../../src/config/load.js';
import type { Principal } from '../../src/core/principal.js';
import type { AccessControl } from '../../src/gateway/access.js';
import type { RequestContext } from '../../src/mcp/pipeline/context.js';
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
