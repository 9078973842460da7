/**
 * The call pipeline: how a chain runs (order, short-circuits, what stages hand on), and each stage of
 * the tool chain on its own against a real hub's gateway (a real fixture server over stdio). The end
 * to end behaviour of the chain is covered by the agent-facing tests (federation, compat, experiments).
 */
import { ProtocolError } from '@modelcontextprotocol/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '../src/compose.js';
import { GatewayError } from '../src/core/errors.js';
import { anonymousPrincipal } from '../src/core/principal.js';
import { AccessControl } from '../src/gateway/access.js';
import { compose, type Stage } from '../src/mcp/pipeline/chain.js';
import type { RequestContext, ToolResult } from '../src/mcp/pipeline/context.js';
import { errorsStage } from '../src/mcp/pipeline/stages/errors.js';
import { resolveStage } from '../src/mcp/pipeline/stages/resolve.js';
import { sizeStage } from '../src/mcp/pipeline/stages/size.js';
import { pinStage } from '../src/mcp/pipeline/stages/pin.js';
import { validateStage } from '../src/mcp/pipeline/stages/validate.js';
import { toolChain } from '../src/mcp/pipeline/tool-chain.js';
import type { CallContext } from '../src/mcp/passthrough.js';
import { ERROR_META_KEY } from '../src/mcp/tool-errors.js';
import { ArgumentValidator } from '../src/mcp/validate.js';
import { cleanup, fixtureEntry, makeConfig, startTestHub, textOf } from './helpers.js';

let hub: Hub;
const access = new AccessControl();
beforeAll(async () => {
  hub = await startTestHub(makeConfig({ alpha: fixtureEntry('alpha') }));
});
afterAll(cleanup);

/** A context as the agent server builds it (the SDK's handler context reduced to what stages read). */
function context(name: string, args?: Record<string, unknown>, signal = new AbortController().signal): RequestContext {
  const sdk = { mcpReq: { signal, _meta: undefined, notify: async () => {} } } as unknown as CallContext;
  const principal = anonymousPrincipal('pipeline-test');
  return {
    method: 'tools/call',
    principal,
    view: access.view(principal, hub.gateway.catalog),
    units: { agent: 'pipeline-test', user: undefined, session: 's1' },
    name,
    args,
    meta: undefined,
    sdk,
    signal,
    startedAt: performance.now(),
    decisionId: undefined,
    version: undefined,
  };
}

const ok: ToolResult = { content: [{ type: 'text', text: 'terminal' }] };
const never = (): Promise<ToolResult> => Promise.reject(new Error('next() must not be called'));
const codeOf = (result: ToolResult) => (result._meta?.[ERROR_META_KEY] as { code?: string } | undefined)?.code;

describe('compose', () => {
  it('runs stages outermost first, and the terminal sees what they set', async () => {
    const order: string[] = [];
    const stage = (name: string): Stage<ToolResult> => ({
      name,
      async run(ctx, next) {
        order.push(`${name}:in`);
        ctx.pin = `${ctx.pin ?? ''}${name}`;
        const result = await next();
        order.push(`${name}:out`);
        return result;
      },
    });
    const chain = compose([stage('a'), stage('b')], async (ctx) => {
      order.push(`terminal:${ctx.pin}`);
      return ok;
    });
    expect(chain.stages).toEqual(['a', 'b']);
    expect(await chain(context('x'))).toBe(ok);
    expect(order).toEqual(['a:in', 'b:in', 'terminal:ab', 'b:out', 'a:out']);
  });

  it('a stage that answers stops the chain', async () => {
    let reached = false;
    const refuse: Stage<ToolResult> = { name: 'refuse', run: async () => ({ content: [], isError: true }) };
    const chain = compose([refuse], async () => ((reached = true), ok));
    expect((await chain(context('x'))).isError).toBe(true);
    expect(reached).toBe(false);
  });
});

describe('the tool chain', () => {
  it('is declared in one order', () => {
    const chain = toolChain({
      gateway: hub.gateway,
      access,
      validator: new ArgumentValidator(),
      maxRequestBytes: 1_000,
    });
    expect(chain.stages).toEqual(['errors', 'resolve', 'authorize', 'size', 'pin', 'validate']);
    const full = toolChain({
      gateway: hub.gateway,
      access,
      validator: new ArgumentValidator(),
      maxRequestBytes: 1_000,
      capabilities: hub.capabilities,
      experiments: hub.experiments,
    });
    expect(full.stages).toEqual(['errors', 'resolve', 'authorize', 'size', 'pin', 'validate', 'learn', 'experiment']);
  });

  it('forwards a valid call to the real upstream', async () => {
    const chain = toolChain({
      gateway: hub.gateway,
      access,
      validator: new ArgumentValidator(),
      maxRequestBytes: 1_000,
    });
    expect(textOf(await chain(context('alpha__echo', { text: 'hi' })))).toBe('alpha: hi');
  });
});

describe('stages', () => {
  it('resolve: an unknown name is a JSON-RPC error with a suggestion; a known one sets ctx.tool', async () => {
    const stage = resolveStage(hub.gateway, access);
    const unknown = stage.run(context('alpha__ecko'), never);
    await expect(unknown).rejects.toBeInstanceOf(ProtocolError);
    await expect(unknown).rejects.toThrow(/alpha__echo/);
    const ctx = context('alpha__echo');
    expect(await stage.run(ctx, async () => ok)).toBe(ok);
    expect(ctx.tool?.server).toBe('alpha');
  });

  it('size: arguments over the limit are refused before the next stage', async () => {
    const result = await sizeStage(64).run(context('alpha__echo', { text: 'x'.repeat(100) }), never);
    expect(codeOf(result)).toBe('PAYLOAD_TOO_LARGE');
    expect(textOf(result)).toMatch(/the limit is 64/);
    expect(await sizeStage(64).run(context('alpha__echo', { text: 'x' }), async () => ok)).toBe(ok);
  });

  it('pin + validate: arguments that fail the schema are refused with the path of the problem', async () => {
    const ctx = context('alpha__echo', { text: 42 });
    await resolveStage(hub.gateway, access).run(ctx, async () => ok);
    await pinStage(hub.gateway).run(ctx, async () => ok);
    expect(ctx.schemaTool).toBe(ctx.tool?.tool);
    const result = await validateStage(new ArgumentValidator()).run(ctx, never);
    expect(codeOf(result)).toBe('INVALID_ARGUMENTS');
    expect(textOf(result)).toMatch(/text/);
  });

  it('pin: a pin no version satisfies is a tool error naming the pin', async () => {
    const ctx = { ...context('alpha__echo', { text: 'a' }), version: 'sha256:0000' };
    await resolveStage(hub.gateway, access).run(ctx, async () => ok);
    const result = await pinStage(hub.gateway).run(ctx, never);
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/sha256:0000/);
  });

  it('errors: a thrown backend failure becomes a retryable tool error; JSON-RPC errors and cancellations pass', async () => {
    const stage = errorsStage();
    const failed = await stage.run(context('x'), () => Promise.reject(new GatewayError('UPSTREAM_FAILED', 'boom')));
    expect(failed.isError).toBe(true);
    expect(textOf(failed)).toMatch(/boom \(a backend problem/);
    const protocol = new ProtocolError(-32601, 'nope');
    await expect(stage.run(context('x'), () => Promise.reject(protocol))).rejects.toBe(protocol);
    const aborted = new AbortController();
    aborted.abort();
    const cancelled = new Error('cancelled');
    await expect(stage.run(context('x', {}, aborted.signal), () => Promise.reject(cancelled))).rejects.toBe(cancelled);
  });
});
