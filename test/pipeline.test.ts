/**
 * The call pipeline: how a chain runs (order, short-circuits, what stages hand on), and each stage of
 * the tool chain on its own against a real hub's gateway (a real fixture server over stdio). The end
 * to end behaviour of the chain is covered by the agent-facing tests (federation, compat, experiments).
 */
import { ProtocolError } from '@modelcontextprotocol/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '../src/compose.js';
import { GatewayError } from '../src/core/errors.js';
import type { AuditEvent } from '../src/core/audit-event.js';
import { anonymousPrincipal, type Principal } from '../src/core/principal.js';
import { AccessControl } from '../src/gateway/access.js';
import { compose, type Stage } from '../src/mcp/pipeline/chain.js';
import type { AgentMethod, RequestContext, ToolResult } from '../src/mcp/pipeline/context.js';
import { errorsStage } from '../src/mcp/pipeline/stages/errors.js';
import { resolveStage } from '../src/mcp/pipeline/stages/resolve.js';
import { sizeStage } from '../src/mcp/pipeline/stages/size.js';
import { pinStage } from '../src/mcp/pipeline/stages/pin.js';
import { validateStage } from '../src/mcp/pipeline/stages/validate.js';
import { chains, toolChain, type ToolChainDeps } from '../src/mcp/pipeline/chains.js';
import { authorizeStage } from '../src/mcp/pipeline/stages/authorize.js';
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
function context(
  name: string,
  args?: Record<string, unknown>,
  signal = new AbortController().signal,
  principal: Principal = anonymousPrincipal('pipeline-test'),
  method: AgentMethod = 'tools/call',
): RequestContext {
  const sdk = { mcpReq: { signal, _meta: undefined, notify: async () => {} } } as unknown as CallContext;
  return {
    method,
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

/**
 * What the chains are built from over the test hub; `full` adds its capabilities and experiments (the
 * learn and experiment stages), `extra` anything else (the audit observers).
 */
function deps(full = false, extra: Partial<ToolChainDeps> = {}): ToolChainDeps {
  return {
    gateway: hub.gateway,
    access,
    validator: new ArgumentValidator(),
    maxRequestBytes: 1_000,
    ...(full ? { capabilities: hub.capabilities, experiments: hub.experiments } : {}),
    ...extra,
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
    const chain = toolChain(deps());
    expect(chain.stages).toEqual(['errors', 'resolve', 'authorize', 'size', 'pin', 'validate']);
    const full = toolChain(deps(true));
    expect(full.stages).toEqual(['errors', 'resolve', 'authorize', 'size', 'pin', 'validate', 'learn', 'experiment']);
  });

  it('forwards a valid call to the real upstream', async () => {
    const chain = toolChain(deps());
    expect(textOf(await chain(context('alpha__echo', { text: 'hi' })))).toBe('alpha: hi');
  });
});

/** An API-key caller whose credential carries exactly `scopes`. */
function scoped(...scopes: string[]): Principal {
  return { ...anonymousPrincipal('scoped'), scopes, source: 'apiKey', subject: `key-${scopes.join(',')}` };
}

describe('the chains of the other requests', () => {
  const all = () => chains(deps(true));

  it('are declared in one order each', () => {
    const c = all();
    expect(c.prompt.stages).toEqual(['errors', 'resolve', 'authorize']);
    expect(c.resource.stages).toEqual(['errors', 'resolve', 'authorize']);
    expect(c.completion.stages).toEqual(['errors', 'resolve']);
    expect(c.meta?.find.stages).toEqual(['errors', 'arguments']);
    expect(c.meta?.call.stages).toEqual(['errors', 'arguments']);
    const bare = chains(deps());
    expect(bare.meta).toBeUndefined();
  });

  it('prompts/get and resources/read reach the real upstream for a caller who may see them', async () => {
    const c = all();
    const prompt = await c.prompt(context('alpha__greet', { name: 'Ada' }, undefined, undefined, 'prompts/get'));
    expect(JSON.stringify(prompt.messages)).toContain('Hello Ada from alpha');
    const read = await c.resource(context('fixture://alpha/info', undefined, undefined, undefined, 'resources/read'));
    expect(JSON.stringify(read.contents)).toContain('info of alpha');
  });

  it('a prompt, resource or completion the caller may not see reads as unknown (a JSON-RPC error)', async () => {
    const c = all();
    const toolsOnly = scoped('tools:*');
    const prompt = c.prompt(context('alpha__greet', { name: 'Ada' }, undefined, toolsOnly, 'prompts/get'));
    await expect(prompt).rejects.toBeInstanceOf(ProtocolError);
    await expect(prompt).rejects.toThrow(/unknown prompt "alpha__greet"/);
    const read = c.resource(context('fixture://alpha/info', undefined, undefined, toolsOnly, 'resources/read'));
    await expect(read).rejects.toThrow(/no connected server offers resource/);
    const completion = c.completion({
      ...context('alpha__greet', undefined, undefined, toolsOnly, 'completion/complete'),
      params: { ref: { type: 'ref/prompt', name: 'alpha__greet' }, argument: { name: 'name', value: 'A' } },
    });
    await expect(completion).rejects.toThrow(/unknown prompt "alpha__greet"/);
    const allowed = await c.prompt(
      context('alpha__greet', { name: 'Ada' }, undefined, scoped('prompts:alpha__*'), 'prompts/get'),
    );
    expect(JSON.stringify(allowed.messages)).toContain('Hello Ada');
  });

  it('find_capability and call_capability refuse bad arguments before any search', async () => {
    const c = all();
    const find = await c.meta!.find(context('find_capability', { capability: 'x'.repeat(5_000) }));
    expect(codeOf(find)).toBe('INVALID_ARGUMENTS');
    const call = await c.meta!.call(context('call_capability', { tool: 42 }));
    expect(codeOf(call)).toBe('INVALID_ARGUMENTS');
    expect(textOf(call)).toMatch(/call_capability/);
  });
});

describe('the audit stage', () => {
  const recorded: AuditEvent[] = [];
  const audit = { observers: [(e: AuditEvent) => void recorded.push(e)], describeArgs: () => ({ argsHash: 'h' }) };
  const audited = () => chains(deps(true, { audit }));

  it('is outermost in every chain', () => {
    const c = audited();
    for (const chain of [c.tool, c.prompt, c.resource, c.completion, c.meta!.find, c.meta!.call, c.meta!.report])
      expect(chain.stages[0]).toBe('audit');
  });

  it('records one event per request: who, what, where, the outcome and the sizes', async () => {
    recorded.length = 0;
    const c = audited();
    const result = await c.tool(context('alpha__echo', { text: 'hi' }));
    expect(textOf(result)).toBe('alpha: hi');
    expect(recorded).toHaveLength(1);
    const [event] = recorded;
    expect(event).toMatchObject({
      tenant: 'default',
      agent: 'pipeline-test',
      session: 's1',
      method: 'tools/call',
      tool: 'alpha__echo',
      server: 'alpha',
      instance: 'alpha',
      decision: 'allow',
      outcome: 'success',
      argsHash: 'h',
    });
    expect(event!.bytesIn).toBe(Buffer.byteLength(JSON.stringify({ text: 'hi' })));
    expect(event!.bytesOut).toBe(Buffer.byteLength(JSON.stringify(result)));
    expect(event!.latencyMs).toBeGreaterThan(0);
  });

  it('records refusals with their code, and a thrown JSON-RPC error as an error it rethrows', async () => {
    recorded.length = 0;
    const c = audited();
    const denied = await c.tool(context('alpha__echo', { text: 'a' }, undefined, scoped('tools:alpha__*:list')));
    expect(codeOf(denied)).toBe('FORBIDDEN');
    await expect(c.tool(context('alpha__ecko', {}))).rejects.toBeInstanceOf(ProtocolError);
    const invalid = await c.tool(context('alpha__echo', { text: 42 }));
    expect(recorded.map((e) => [e.outcome, e.errorCode, e.decision])).toEqual([
      ['denied', 'FORBIDDEN', 'deny'],
      ['error', 'UNKNOWN_TOOL', 'allow'],
      ['isError', 'INVALID_ARGUMENTS', 'allow'],
    ]);
    expect(invalid.isError).toBe(true);
    expect(recorded[0]!.policies).toEqual([]);
  });

  it('call_capability by id is one event (the forwarded call, method call_capability); find says what it offered', async () => {
    recorded.length = 0;
    const c = audited();
    await c.meta!.call(
      context(
        'call_capability',
        { tool: 'alpha__echo', arguments: { text: 'x' } },
        undefined,
        undefined,
        'call_capability',
      ),
    );
    expect(recorded.map((e) => [e.method, e.tool, e.outcome])).toEqual([['call_capability', 'alpha__echo', 'success']]);
    recorded.length = 0;
    await c.meta!.find(
      context('find_capability', { capability: 'echo a text back' }, undefined, undefined, 'find_capability'),
    );
    expect(recorded).toHaveLength(1);
    expect(recorded[0]!.method).toBe('find_capability');
    expect(recorded[0]!.tool).toBeUndefined();
    expect(recorded[0]!.detail?.offered).toContain('alpha__echo');
  });

  it('prompts and resources are recorded with their owner; a hidden one as an error', async () => {
    recorded.length = 0;
    const c = audited();
    await c.prompt(context('alpha__greet', { name: 'Ada' }, undefined, undefined, 'prompts/get'));
    await expect(
      c.resource(context('fixture://alpha/info', undefined, undefined, scoped('tools:*'), 'resources/read')),
    ).rejects.toThrow();
    expect(recorded.map((e) => [e.method, e.tool, e.server, e.outcome, e.errorCode])).toEqual([
      ['prompts/get', 'alpha__greet', 'alpha', 'success', undefined],
      ['resources/read', 'fixture://alpha/info', undefined, 'error', 'UNKNOWN_RESOURCE'],
    ]);
  });
});

describe('stages', () => {
  it('authorize: a visible tool the scopes do not let the caller call is FORBIDDEN, and ctx.deniedBy is set', async () => {
    const ctx = context('alpha__echo', { text: 'a' }, undefined, scoped('tools:alpha__*:list'));
    await resolveStage(hub.gateway, access).run(ctx, async () => ok);
    const result = await authorizeStage(access).run(ctx, never);
    expect(codeOf(result)).toBe('FORBIDDEN');
    expect(textOf(result)).toMatch(/tools:alpha__echo:call|scope/);
    expect(ctx.deniedBy).toEqual([]);
  });

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
