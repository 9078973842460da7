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
  type CompleteRequestParams,
  type ServerContext,
} from '@modelcontextprotocol/server';
import { GatewayError } from '../core/errors.js';
import { anonymousPrincipal, type Principal } from '../core/principal.js';
import type { AccessControl, CatalogView } from '../gateway/access.js';
import type { Capabilities } from '../gateway/capabilities.js';
import type { ExperimentRunner, UnitIds } from '../gateway/experiments.js';
import { MAX_NAME_LENGTH, MAX_URI_LENGTH, tooLong } from '../gateway/suggest.js';
import type { Gateway } from '../gateway/gateway.js';
import { agentInstructions, DECISION_META_KEY, META_TOOLS, metaToolDefinitions, USER_META_KEY } from './meta-tools.js';
import type { ViewWatch } from './notifier.js';
import { paginate } from './paginate.js';
import { toProtocolError } from './protocol-errors.js';
import { GatewayServer, TaskAnswer } from './gateway-server.js';
import type { TaskRecord } from '../core/tasks.js';
import type { TaskRegistry } from '../gateway/tasks/registry.js';
import { declaresTasks, installTaskHandlers, TASK_CAPABILITIES } from './tasks/handlers.js';
import { isModernRequest } from './tasks/ops.js';
import { handleResult, task2025, task2026 } from './tasks/render.js';
import { startAsTask } from './tasks/start.js';
import type { InputExchanges } from './input-exchange.js';
import { installPassthrough, PASSTHROUGH_CAPABILITIES, type CallContext } from './passthrough.js';
import type { Chains } from './pipeline/chains.js';
import type { AgentMethod, RequestContext, TaskIntent } from './pipeline/context.js';

/** A task intent before the task stage adds its `created` callback. */
type TaskIntentBase = Omit<TaskIntent, 'created'>;
import type { Pipeline } from './pipeline/chain.js';
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
  /** The chains agent requests run through, one per method (built once by pipeline/chains.ts). */
  readonly chains: Chains;
  /** The tenant's tasks (both eras' tasks, call_capability async); absent: tasks.enabled is false. */
  readonly tasks?: TaskRegistry | undefined;
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
        ...(deps.tasks ? TASK_CAPABILITIES : {}),
      },
      instructions: agentInstructions(deps.capabilities !== undefined && deps.exposure !== 'full'),
    },
  );

  const { capabilities } = deps;
  const { tasks } = deps;
  // get_call and cancel_call (the last two) only where calls can run as tasks.
  const meta = capabilities && deps.exposure !== 'full' ? metaToolDefinitions.slice(0, tasks ? undefined : 3) : [];
  /** One id per agent-facing server instance: a stdio connection, a legacy HTTP session, or a modern request. */
  const connectionId = randomUUID();
  /** Runs a request as input_required rounds, so an upstream's questions reach this agent. */
  const relayed = installPassthrough(server, {
    gateway,
    exchanges: deps.exchanges,
    connectionId,
    sessionful: options.sessionful === true,
    view: () => deps.access.view(connectionCaller(server, principal), gateway.catalog),
    complete: (params, ctx) =>
      deps.chains.completion(
        requestContext('completion/complete', completionTarget(params), undefined, params._meta, ctx, undefined, {
          params,
        }),
      ),
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
    // With tasks every catalog tool may run as one (the gateway runs it, or follows the upstream's own
    // task); an upstream's "required" is served for plain calls too, so agents see "optional".
    const tools = view.tools.map((t) =>
      tasks ? { ...t.tool, execution: { ...t.tool.execution, taskSupport: 'optional' as const } } : t.tool,
    );
    const all = deps.exposure === 'discovery' ? meta : [...meta, ...tools];
    const page = paginate(all, view.snapshot.version, request.params?.cursor);
    return { tools: [...page.items], ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}) };
  });

  /** Runs one call of a catalog tool through the tool chain (see pipeline/chains.ts). */
  function forward(
    method: 'tools/call' | 'call_capability',
    name: string,
    args: Record<string, unknown> | undefined,
    callMeta: Record<string, unknown> | undefined,
    decisionId: string | undefined,
    ctx: CallContext,
    version?: string,
  ): Promise<CallToolResult> {
    return deps.chains.tool(requestContext(method, name, args, callMeta, ctx, decisionId, { version }));
  }

  /** The connection a task's questions and notifications go to, when it outlives requests (a session). */
  function sessionOf(): string | undefined {
    return options.sessionful ? connectionId : undefined;
  }

  /**
   * The task an agent asks for with a tools/call: a 2025 agent sends `params.task`; a 2026 agent
   * declares the tasks extension on the request, and the gateway then runs the call as a task.
   */
  function taskAsked(params: { task?: unknown }, ctx: CallContext): TaskIntentBase | undefined {
    if (!tasks) return undefined;
    const session = sessionOf();
    if (isModernRequest(ctx)) return declaresTasks(ctx) ? { origin: '2026-07-28', session } : undefined;
    if (typeof params.task !== 'object' || params.task === null) return undefined;
    const { ttl } = params.task as { ttl?: unknown };
    const token = ctx.mcpReq._meta?.progressToken;
    return {
      origin: '2025-11-25',
      session,
      ...(typeof ttl === 'number' && Number.isFinite(ttl) ? { ttlMs: Math.floor(ttl) } : {}),
      // The agent's progress token stays valid for the task's life (2025-11-25): progress keeps coming.
      ...(token !== undefined && session
        ? {
            progress: (p) =>
              void server
                .notification({ method: 'notifications/progress', params: { progressToken: token, ...p } })
                .catch(() => {}),
          }
        : {}),
    };
  }

  /** Answers a tools/call with the task it became, and (2025 sessions) tells the agent of every change. */
  function taskAnswer(task: TaskRecord, intent: TaskIntentBase): TaskAnswer {
    if (intent.origin === '2026-07-28') return new TaskAnswer({ resultType: 'task', ...task2026(task) });
    if (intent.session && tasks) {
      const off = tasks.watch(task.id, (changed) => {
        server.notification({ method: 'notifications/tasks/status', params: task2025(changed) }).catch(() => off());
      });
    }
    return new TaskAnswer({ task: task2025(task) });
  }

  /** The pipeline context of one agent request; identity is fixed here, once. */
  function requestContext(
    method: AgentMethod,
    name: string,
    args: Record<string, unknown> | undefined,
    callMeta: Record<string, unknown> | undefined,
    ctx: CallContext,
    decisionId: string | undefined,
    extra: {
      version?: string | undefined;
      params?: Readonly<Record<string, unknown>>;
      task?: TaskIntent | undefined;
    } = {},
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
      version: extra.version,
      ...(extra.params ? { params: extra.params } : {}),
      ...(extra.task ? { task: extra.task } : {}),
    };
  }

  server.setRequestHandler('tools/call', (request, rawCtx) =>
    relayed(rawCtx, async (ctx) => {
      const { name, arguments: args, _meta: callMeta } = request.params;
      // Bounded before any work: suggestions and echoes of a huge name once froze the process.
      if (name.length > MAX_NAME_LENGTH && !gateway.catalog.toolById.has(name))
        throw toProtocolError(new GatewayError('BAD_REQUEST', tooLong('tool name', name, MAX_NAME_LENGTH)));
      const metaChain = meta.length > 0 ? metaChainOf(name) : undefined;
      if (metaChain) {
        const metaArgs = args ?? {};
        // call_capability runs as a task when the agent asks in its era's way, or with `async: true`
        // (then it answers with a handle); the other meta-tools answer at once.
        const intent =
          name !== META_TOOLS.call
            ? undefined
            : (taskAsked(request.params, ctx) ??
              (metaArgs.async === true && tasks ? { origin: 'handle' as const, session: sessionOf() } : undefined));
        const run = (task?: TaskIntent) =>
          metaChain(requestContext(metaMethod(name), name, metaArgs, callMeta, ctx, undefined, { task }));
        if (!intent) return run();
        const started = await startAsTask(intent, run);
        if ('result' in started) return started.result;
        return intent.origin === 'handle' ? handleResult(started.task) : (taskAnswer(started.task, intent) as never);
      }
      const decisionId = typeof callMeta?.[DECISION_META_KEY] === 'string' ? callMeta[DECISION_META_KEY] : undefined;
      const intent = taskAsked(request.params, ctx);
      if (!intent) return forward('tools/call', name, args, callMeta, decisionId, ctx);
      const started = await startAsTask(intent, (task) =>
        deps.chains.tool(requestContext('tools/call', name, args, callMeta, ctx, decisionId, { task })),
      );
      return 'task' in started ? (taskAnswer(started.task, intent) as never) : started.result;
    }),
  );

  /** The chain of a meta-tool name, if it is one. */
  function metaChainOf(name: string): Pipeline<CallToolResult> | undefined {
    const chains = deps.chains.meta;
    if (!chains) return undefined;
    if (name === META_TOOLS.find) return chains.find;
    if (name === META_TOOLS.call) return chains.call;
    if (name === META_TOOLS.getCall) return chains.getCall;
    if (name === META_TOOLS.cancelCall) return chains.cancelCall;
    return name === META_TOOLS.report ? chains.report : undefined;
  }

  const taskChain = deps.chains.tasks;
  if (tasks && taskChain)
    installTaskHandlers(server, (method, params, ctx) =>
      taskChain(
        requestContext(
          'tasks',
          method,
          undefined,
          params._meta as Record<string, unknown> | undefined,
          ctx,
          undefined,
          {
            params,
          },
        ),
      ),
    );

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
      const { arguments: promptArgs, _meta: callMeta } = request.params;
      return deps.chains.prompt(requestContext('prompts/get', name, promptArgs, callMeta, ctx, undefined));
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
      return deps.chains.resource(
        requestContext('resources/read', uri, undefined, request.params._meta, ctx, undefined),
      );
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

/** The pipeline method of a meta-tool name (only called for meta-tool names). */
function metaMethod(name: string): AgentMethod {
  if (name === META_TOOLS.find) return 'find_capability';
  if (name === META_TOOLS.getCall || name === META_TOOLS.cancelCall) return 'tasks';
  return name === META_TOOLS.call ? 'call_capability' : 'report_outcome';
}

/** What a completion is for: the prompt's name or the resource template's URI. */
function completionTarget(params: CompleteRequestParams): string {
  return params.ref.type === 'ref/prompt' ? params.ref.name : params.ref.uri;
}
