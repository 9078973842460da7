/**
 * The agent-facing MCP server: a low-level SDK `Server` whose handlers read the federated catalog
 * and forward calls through the gateway. One instance is built per stdio connection, per legacy
 * HTTP session, or per modern HTTP request; all of them share the gateway.
 *
 * Errors are mapped here, once: a caller's mistake (unknown tool) is a JSON-RPC error or, when the
 * model can fix it (bad arguments), a tool result with `isError: true`; a backend failure is a tool
 * result with `isError: true` marked retryable that names the server, never blaming the caller.
 */
import { randomUUID } from 'node:crypto';
import {
  CLIENT_INFO_META_KEY,
  Server,
  type CallToolResult,
  type ServerContext,
  type Tool,
} from '@modelcontextprotocol/server';
import { asGatewayError, GatewayError } from '../core/errors.js';
import { anonymousPrincipal, type Principal } from '../core/principal.js';
import type { AccessControl, CatalogView } from '../gateway/access.js';
import type { Capabilities } from '../gateway/capabilities.js';
import type { ExperimentRunner, UnitIds } from '../gateway/experiments.js';
import { clip, MAX_NAME_LENGTH, MAX_NEED_LENGTH, MAX_URI_LENGTH, tooLong } from '../gateway/suggest.js';
import type { Gateway } from '../gateway/gateway.js';
import {
  agentInstructions,
  DECISION_META_KEY,
  findResultToToolResult,
  META_TOOLS,
  metaToolDefinitions,
  sideEffectRefusal,
  sideEffectRisk,
  USER_META_KEY,
  withRouting,
  type RoutedCall,
} from './meta-tools.js';
import type { ViewWatch } from './notifier.js';
import { paginate } from './paginate.js';
import { asProtocolError, toProtocolError } from './protocol-errors.js';
import { GatewayServer } from './gateway-server.js';
import type { InputExchanges } from './input-exchange.js';
import { installPassthrough, PASSTHROUGH_CAPABILITIES, type CallContext } from './passthrough.js';
import type { Pipeline } from './pipeline/chain.js';
import type { AgentMethod, RequestContext, ToolResult } from './pipeline/context.js';
import { routeArm } from './pipeline/stages/experiment.js';
import { HOPS_META_KEY, nextHops } from './pipeline/stages/hops.js';
import { errorResult } from './tool-errors.js';
import type { ArgumentValidator } from './validate.js';

/** Shared per-gateway state for agent servers (validators are compiled once per tool definition). */
export interface AgentServerDeps {
  readonly gateway: Gateway;
  readonly validator: ArgumentValidator;
  /** Largest accepted tool-arguments payload, in bytes. */
  readonly maxRequestBytes: number;
  readonly version: string;
  /** Capability routing (find_capability, call_capability); absent = no meta-tools. */
  readonly capabilities?: Capabilities;
  /** What tools/list shows. */
  readonly exposure: 'full' | 'discovery' | 'both';
  /** A/B experiments (absent: none configured). */
  readonly experiments?: ExperimentRunner;
  /** Calls waiting for the agent's answers to an upstream's questions (input_required rounds). */
  readonly exchanges: InputExchanges;
  /** Who may see and call what (views of the catalog per principal). */
  readonly access: AccessControl;
  /** The tool chain every forwarded call runs through (built once by pipeline/tool-chain.ts). */
  readonly toolChain: Pipeline<ToolResult>;
}

/** How one agent-facing server instance is connected. */
export interface AgentServerOptions {
  /** True for connections that outlive one request (stdio, 2025-era HTTP sessions, legacy SSE). */
  readonly sessionful?: boolean;
  /**
   * Who is connected, as the edge authenticated it (fixed for the connection). Absent: auth `none`,
   * and each request is named after the agent's client info and the `_meta` user hint.
   */
  readonly principal?: Principal | undefined;
}

/** Builds one agent-facing server instance. */
export function createAgentServer(deps: AgentServerDeps, options: AgentServerOptions = {}): Server {
  const { gateway } = deps;
  const { principal } = options;
  const server = new GatewayServer(
    { name: 'switchboard', version: deps.version },
    {
      capabilities: {
        tools: { listChanged: true },
        prompts: { listChanged: true },
        resources: { listChanged: true, subscribe: true },
        ...PASSTHROUGH_CAPABILITIES,
      },
      instructions: agentInstructions(deps.capabilities !== undefined && deps.exposure !== 'full'),
    },
  );

  const { capabilities, experiments } = deps;
  const meta = capabilities && deps.exposure !== 'full' ? metaToolDefinitions : [];
  /** One id per agent-facing server instance: a stdio connection, a legacy HTTP session, or a modern request. */
  const connectionId = randomUUID();
  /** Runs a request as input_required rounds, so an upstream's questions reach this agent. */
  const relayed = installPassthrough(server, {
    gateway,
    exchanges: deps.exchanges,
    connectionId,
    sessionful: options.sessionful === true,
    view: () => deps.access.view(connectionCaller(server, principal), gateway.catalog),
  });

  /** Who is calling: the agent (client name), the end user if the host says, and the session. */
  function unitsOf(ctx: ServerContext, callMeta: Record<string, unknown> | undefined): UnitIds {
    const session = (ctx as { sessionId?: string }).sessionId ?? connectionId;
    // With auth, identity comes from the credential alone: no hint in _meta can change it.
    if (principal) return { agent: principal.agent, user: principal.user, session };
    const info = (callMeta?.[CLIENT_INFO_META_KEY] as { name?: unknown } | undefined)?.name;
    const agent = server.getClientVersion()?.name ?? (typeof info === 'string' ? info : 'anonymous');
    const user = typeof callMeta?.[USER_META_KEY] === 'string' ? callMeta[USER_META_KEY] : undefined;
    return { agent, user, session };
  }

  /** The principal of one request: the connection's, or (auth `none`) one named after the agent. */
  function callerOf(ctx: ServerContext, callMeta: Record<string, unknown> | undefined): Principal {
    if (principal) return principal;
    const units = unitsOf(ctx, callMeta);
    return anonymousPrincipal(units.agent, units.user);
  }

  /** What the caller of a request may see of the current snapshot. */
  function viewOf(ctx: ServerContext, callMeta: Record<string, unknown> | undefined): CatalogView {
    return deps.access.view(callerOf(ctx, callMeta), gateway.catalog);
  }

  server.setRequestHandler('tools/list', async (request, ctx) => {
    const view = viewOf(ctx, request.params?._meta);
    const all = deps.exposure === 'discovery' ? meta : [...meta, ...view.tools.map((t) => t.tool)];
    const page = paginate(all, view.snapshot.version, request.params?.cursor);
    return { tools: [...page.items], ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}) };
  });

  /** Runs one call of a catalog tool through the tool chain (see pipeline/tool-chain.ts). */
  function forward(
    name: string,
    args: Record<string, unknown> | undefined,
    callMeta: Record<string, unknown> | undefined,
    decisionId: string | undefined,
    ctx: CallContext,
    version?: string,
  ): Promise<CallToolResult> {
    return deps.toolChain(requestContext('tools/call', name, args, callMeta, ctx, decisionId, version));
  }

  /** The pipeline context of one agent request; identity is fixed here, once. */
  function requestContext(
    method: AgentMethod,
    name: string,
    args: Record<string, unknown> | undefined,
    callMeta: Record<string, unknown> | undefined,
    ctx: CallContext,
    decisionId: string | undefined,
    version?: string,
  ): RequestContext {
    const units = unitsOf(ctx, callMeta);
    const caller = principal ?? anonymousPrincipal(units.agent, units.user); // callerOf, without a second unitsOf
    return {
      method,
      principal: caller,
      units,
      view: deps.access.view(caller, gateway.catalog),
      name,
      args,
      meta: callMeta,
      sdk: ctx,
      signal: ctx.mcpReq.signal,
      startedAt: performance.now(),
      decisionId,
      version,
    };
  }

  server.setRequestHandler('tools/call', (request, rawCtx) =>
    relayed(rawCtx, async (ctx) => {
      const { name, arguments: args, _meta: callMeta } = request.params;
      // Bounded before any work: suggestions and echoes of a huge name once froze the process.
      if (name.length > MAX_NAME_LENGTH && !gateway.catalog.toolById.has(name))
        throw toProtocolError(new GatewayError('BAD_REQUEST', tooLong('tool name', name, MAX_NAME_LENGTH)));
      if (capabilities && meta.length > 0 && name === META_TOOLS.find)
        return findCapability(capabilities, args ?? {}, ctx, callMeta);
      if (capabilities && meta.length > 0 && name === META_TOOLS.call)
        return callCapability(capabilities, args ?? {}, ctx, callMeta);
      if (capabilities && meta.length > 0 && name === META_TOOLS.report) return reportOutcome(args ?? {});
      const decisionId = typeof callMeta?.[DECISION_META_KEY] === 'string' ? callMeta[DECISION_META_KEY] : undefined;
      return forward(name, args, callMeta, decisionId, ctx);
    }),
  );

  function reportOutcome(args: Record<string, unknown>): CallToolResult {
    const problems = deps.validator.check(metaToolDefinitions[2] as Tool, args);
    if (problems)
      return errorResult(new GatewayError('INVALID_ARGUMENTS', `invalid arguments for report_outcome: ${problems}`));
    const recorded =
      experiments?.feedback(
        String(args.decisionId),
        args.success === true,
        typeof args.note === 'string' ? args.note : undefined,
      ) ?? false;
    const text = recorded
      ? 'Outcome recorded.'
      : 'Noted, but no experiment exposed that decision, so nothing was recorded.';
    return { content: [{ type: 'text', text }], structuredContent: { recorded } };
  }

  async function findCapability(
    caps: Capabilities,
    args: Record<string, unknown>,
    ctx: ServerContext,
    callMeta: Record<string, unknown> | undefined,
  ): Promise<CallToolResult> {
    const tooLongNeed = needTooLong(args);
    if (tooLongNeed) return errorResult(tooLongNeed);
    const problems = deps.validator.check(metaToolDefinitions[0] as Tool, args);
    if (problems)
      return errorResult(new GatewayError('INVALID_ARGUMENTS', `invalid arguments for find_capability: ${problems}`));
    try {
      const units = unitsOf(ctx, callMeta);
      const view = viewOf(ctx, callMeta);
      const decisionId = randomUUID();
      const variant = experiments?.assignFind(units, decisionId);
      const k = typeof args.k === 'number' ? args.k : 5;
      const version = typeof args.version === 'string' ? args.version : undefined;
      let result = await caps.find({
        capability: String(args.capability),
        decisionId,
        k: version ? Math.min(50, k * 3) : k,
        ...(Array.isArray(args.servers) ? { servers: args.servers as string[] } : {}),
        ...(variant?.route.denseWeight !== undefined ? { denseWeight: variant.route.denseWeight } : {}),
        ...(view.findsAll ? {} : { visible: view.findable }),
      });
      if (version)
        result = { ...result, matches: result.matches.filter((m) => servesVersion(m.tool, version)).slice(0, k) };
      result = { ...result, matches: result.matches.map((m) => armedMatch(m, units, decisionId, view)) };
      return findResultToToolResult(result, args.include_schema === true);
    } catch (error) {
      return errorResult(asGatewayError(error));
    }
  }

  /**
   * call_capability: by id, the caller chose; by capability, the gateway chooses, so it runs only a
   * read-only match unless `allowSideEffects` is true, and the result names the tool and why.
   */
  async function callCapability(
    caps: Capabilities,
    args: Record<string, unknown>,
    ctx: CallContext,
    callMeta: Record<string, unknown> | undefined,
  ): Promise<CallToolResult> {
    const tooLongNeed = needTooLong(args);
    if (tooLongNeed) return errorResult(tooLongNeed);
    const problems = deps.validator.check(metaToolDefinitions[1] as Tool, args);
    if (problems)
      return errorResult(new GatewayError('INVALID_ARGUMENTS', `invalid arguments for call_capability: ${problems}`));
    // Left out: no arguments (the tool's own schema says if it needs some); upstreams still get an object.
    const toolArgs = (args.arguments as Record<string, unknown> | undefined) ?? {};
    let decisionId = typeof args.decisionId === 'string' ? args.decisionId : undefined;
    let tool = typeof args.tool === 'string' ? args.tool : undefined;
    let routed: RoutedCall | undefined;
    if (!tool) {
      if (typeof args.capability !== 'string')
        return errorResult(
          new GatewayError(
            'INVALID_ARGUMENTS',
            'call_capability needs either "tool" (an id from find_capability) or "capability" (a need in words)',
          ),
        );
      const view = viewOf(ctx, undefined);
      const found = await caps.find({
        capability: args.capability,
        k: 3,
        ...(view.findsAll ? {} : { visible: view.findable }),
      });
      const best = found.matches[0];
      if (!found.confident || !best) {
        const closest = found.matches.map((m) => m.tool).join(', ');
        return errorResult(
          new GatewayError(
            'UNKNOWN_TOOL',
            `no confident match for "${clip(args.capability)}"${closest ? `; closest: ${closest} (call one by id if it fits)` : ''}`,
            { decisionId: found.decisionId },
          ),
        );
      }
      if (args.allowSideEffects !== true) {
        const riskOf = (id: string) => sideEffectRisk(gateway.catalog.toolById.get(id)?.tool);
        // With fanout every equivalent runs, so each of them must be safe too.
        const chosen = [best.tool, ...(args.fanout === true ? providersFor(caps, best.tool, ctx) : [])]
          .map((id) => ({ tool: id, risk: riskOf(id) }))
          .find((c): c is { tool: string; risk: string } => c.risk !== undefined);
        if (chosen) return errorResult(sideEffectRefusal(found, chosen, riskOf));
      }
      tool = best.tool;
      decisionId = found.decisionId;
      routed = {
        tool: best.tool,
        server: best.server,
        confidence: found.confidence,
        reasons: best.reasons,
        decisionId: found.decisionId,
      };
    }
    const note = (result: CallToolResult) => (routed ? withRouting(result, routed) : result);
    const version = typeof args.version === 'string' ? args.version : undefined;
    if (args.fanout === true) {
      const providers = providersFor(caps, tool, ctx, toolArgs);
      if (providers.length === 0) return forward(tool, toolArgs, callMeta, decisionId, ctx); // unknown tool: forward explains
      const strategy = args.strategy === 'first' || args.strategy === 'quorum' ? args.strategy : 'merge';
      // Fan-out does not run the tool chain: the hop count is checked and passed on here.
      const hops = nextHops(callMeta, gateway.config.gateway.maxHops, tool);
      if (hops instanceof GatewayError) return errorResult(hops);
      try {
        return note(
          await gateway.fanOut(
            `call_capability(${tool})`,
            providers,
            toolArgs,
            { [HOPS_META_KEY]: hops },
            { strategy, ...(typeof args.quorum === 'number' ? { quorum: args.quorum } : {}) },
            { signal: ctx.mcpReq.signal },
          ),
        );
      } catch (error) {
        if (ctx.mcpReq.signal.aborted) throw error;
        return errorResult(asGatewayError(error));
      }
    }
    // The meta-tool call's _meta (hop count, traceparent) is the chosen tool's: a loop through it is counted.
    return note(await forward(tool, toolArgs, callMeta, decisionId, ctx, version));
  }

  /**
   * The equivalents of a tool that the caller may call (none when it may not see the tool itself);
   * with `args`, each must also pass the call's authorization (fan-out does not run the tool chain).
   */
  function providersFor(
    caps: Capabilities,
    tool: string,
    ctx: ServerContext,
    args?: Record<string, unknown>,
  ): string[] {
    const view = viewOf(ctx, undefined);
    if (view.full) return caps.providers(tool);
    if (!view.findable(tool)) return [];
    const caller = callerOf(ctx, undefined);
    return caps.providers(tool).filter((id) => {
      const t = view.snapshot.toolById.get(id);
      if (!t || !view.findable(id)) return false;
      if (!args) return true;
      const resource = { kind: 'tool' as const, id, server: t.server, name: t.name, annotations: t.tool.annotations };
      return deps.access.authorize(caller, 'call', resource, args) === undefined;
    });
  }

  /** The error for a need or tool id over its length limit (checked before any search or suggestion). */
  function needTooLong(args: Record<string, unknown>): GatewayError | undefined {
    const { capability, tool } = args;
    if (typeof capability === 'string' && capability.length > MAX_NEED_LENGTH)
      return new GatewayError('INVALID_ARGUMENTS', tooLong('capability', capability, MAX_NEED_LENGTH));
    if (typeof tool === 'string' && tool.length > MAX_NAME_LENGTH && !gateway.catalog.toolById.has(tool))
      return new GatewayError('INVALID_ARGUMENTS', tooLong('tool', tool, MAX_NAME_LENGTH));
    return undefined;
  }

  /** True when some backend of the tool serves `version` compatibly (find_capability's version filter). */
  function servesVersion(toolId: string, version: string): boolean {
    const tool = gateway.catalog.toolById.get(toolId);
    const compat = gateway.compat;
    if (!tool || !compat) return false;
    try {
      const requirement = compat.pinned(tool.server, tool.name, version);
      return [...compat.currentVersions(tool.server, tool.name).keys()].some((instance) =>
        compat.accepts(instance, tool.name, requirement),
      );
    } catch {
      return false;
    }
  }

  /** A match as an experiment arm would route it: the arm's server (or tool) becomes the one named. */
  function armedMatch<M extends { tool: string; server: string; reasons: readonly string[] }>(
    match: M,
    units: UnitIds,
    decisionId: string,
    view: CatalogView,
  ): M {
    const tool = gateway.catalog.toolById.get(match.tool);
    const assignment = tool ? experiments?.assignCall(tool.id, units, decisionId) : undefined;
    if (!tool || !assignment) return match;
    try {
      const { target } = routeArm(gateway, tool, assignment.route);
      if (!view.findable(target.id)) return match; // an arm never names a tool the caller may not call
      return {
        ...match,
        tool: target.id,
        server: target.server,
        reasons: [...match.reasons, `experiment ${assignment.experiment}: arm ${assignment.arm}`],
      };
    } catch {
      return match;
    }
  }

  server.setRequestHandler('prompts/list', async (request, ctx) => {
    const view = viewOf(ctx, request.params?._meta);
    const page = paginate(view.prompts, view.snapshot.version, request.params?.cursor);
    return { prompts: page.items.map((p) => p.prompt), ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}) };
  });

  server.setRequestHandler('prompts/get', (request, rawCtx) =>
    relayed(rawCtx, async (ctx: CallContext) => {
      const { name } = request.params;
      if (name.length > MAX_NAME_LENGTH && !gateway.catalog.promptById.has(name))
        throw toProtocolError(new GatewayError('BAD_REQUEST', tooLong('prompt name', name, MAX_NAME_LENGTH)));
      try {
        const view = viewOf(ctx, request.params._meta);
        const prompt = view.snapshot.promptById.get(name);
        // A prompt the caller may not see reads like one that does not exist.
        if (!prompt || !view.hasPrompt(name))
          throw new GatewayError('UNKNOWN_PROMPT', `unknown prompt "${clip(name)}"`, { prompt: clip(name) });
        if (!view.full) {
          const denial = deps.access.authorize(callerOf(ctx, request.params._meta), 'getPrompt', {
            kind: 'prompt',
            id: prompt.id,
            server: prompt.server,
            name: prompt.name,
          });
          if (denial) throw denial.error;
        }
        return await gateway.getPrompt(name, request.params.arguments, {
          signal: ctx.mcpReq.signal,
          ...(ctx.channel ? { channel: ctx.channel } : {}),
        });
      } catch (error) {
        throw asProtocolError(error);
      }
    }),
  );

  server.setRequestHandler('resources/list', async (request, ctx) => {
    const view = viewOf(ctx, request.params?._meta);
    const page = paginate(view.resources, view.snapshot.version, request.params?.cursor);
    return {
      resources: page.items.map(({ server: _server, ...r }) => r),
      ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}),
    };
  });

  server.setRequestHandler('resources/templates/list', async (request, ctx) => {
    const view = viewOf(ctx, request.params?._meta);
    const page = paginate(view.resourceTemplates, view.snapshot.version, request.params?.cursor);
    return {
      resourceTemplates: page.items.map(({ server: _server, ...t }) => t),
      ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}),
    };
  });

  server.setRequestHandler('resources/read', (request, rawCtx) =>
    relayed(rawCtx, async (ctx: CallContext) => {
      const { uri } = request.params;
      if (uri.length > MAX_URI_LENGTH)
        throw toProtocolError(new GatewayError('BAD_REQUEST', tooLong('resource URI', uri, MAX_URI_LENGTH)));
      try {
        const view = viewOf(ctx, request.params._meta);
        if (!view.full) {
          const owner = gateway.resourceOwner(uri);
          if (!owner || !view.hasResource(uri))
            throw new GatewayError('UNKNOWN_RESOURCE', `no connected server offers resource "${clip(uri)}"`, {
              uri: clip(uri),
            });
          const denial = deps.access.authorize(callerOf(ctx, request.params._meta), 'readResource', {
            kind: 'resource',
            id: uri,
            server: owner,
          });
          if (denial) throw denial.error;
        }
        return await gateway.readResource(uri, {
          signal: ctx.mcpReq.signal,
          ...(ctx.channel ? { channel: ctx.channel } : {}),
        });
      } catch (error) {
        throw asProtocolError(error);
      }
    }),
  );

  return server;
}

export { ERROR_META_KEY, errorResult } from './tool-errors.js';
export { toProtocolError } from './protocol-errors.js';

/** The principal of a sessionful connection: as authenticated, else (auth `none`) named after its client. */
function connectionCaller(server: Server, principal: Principal | undefined): Principal {
  return principal ?? anonymousPrincipal(server.getClientVersion()?.name ?? 'anonymous');
}

/**
 * What a caller sees, for the notifier (see notifier.ts ViewWatch): undefined while it sees the whole
 * catalog, else its view's fingerprints, so it hears only of changes it can see.
 */
export function viewWatch(deps: AgentServerDeps, caller: () => Principal): ViewWatch {
  return () => {
    const view = deps.access.view(caller(), deps.gateway.catalog);
    return view.full ? undefined : view.fingerprints();
  };
}

/** The view watch of a sessionful agent server (see viewWatch). */
export function watchView(deps: AgentServerDeps, server: Server, principal?: Principal): ViewWatch {
  return viewWatch(deps, () => connectionCaller(server, principal));
}
