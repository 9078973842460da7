/**
 * The agent-facing MCP server: a low-level SDK `Server` whose handlers read the federated catalog
 * and forward calls through the gateway. One instance is built per stdio connection, per legacy
 * HTTP session, or per modern HTTP request; all of them share the gateway.
 *
 * Errors are mapped here, once: a caller's mistake (unknown tool) is a JSON-RPC error or, when the
 * model can fix it (bad arguments), a tool result with `isError: true`; a backend failure is a tool
 * result with `isError: true` marked retryable that names the server, never blaming the caller.
 */
import { ProtocolError, ProtocolErrorCode, Server, type CallToolResult, type ServerContext, type Tool } from '@modelcontextprotocol/server';
import { asGatewayError, GatewayError } from '../core/errors.js';
import type { Gateway } from '../gateway/gateway.js';
import { paginate } from './paginate.js';
import { ArgumentValidator } from './validate.js';

/** `_meta` key carrying the gateway's structured error on failed tool results. */
export const ERROR_META_KEY = 'io.switchboard/error';

/** Shared per-gateway state for agent servers (validators are compiled once per tool definition). */
export interface AgentServerDeps {
  readonly gateway: Gateway;
  readonly validator: ArgumentValidator;
  /** Largest accepted tool-arguments payload, in bytes. */
  readonly maxRequestBytes: number;
  readonly version: string;
}

/** Builds one agent-facing server instance. */
export function createAgentServer(deps: AgentServerDeps): Server {
  const { gateway } = deps;
  const server = new Server(
    { name: 'switchboard', version: deps.version },
    {
      capabilities: { tools: { listChanged: true }, prompts: { listChanged: true }, resources: { listChanged: true } },
      instructions: 'Switchboard federates many MCP servers. Tool names are "<server>__<tool>" unless configured otherwise.',
    },
  );

  server.setRequestHandler('tools/list', async (request) => {
    const snapshot = gateway.catalog;
    const page = paginate(snapshot.tools, snapshot.version, request.params?.cursor);
    return { tools: page.items.map((t) => t.tool as Tool), ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}) };
  });

  server.setRequestHandler('tools/call', async (request, ctx) => {
    const { name, arguments: args, _meta: meta } = request.params;
    let tool;
    try {
      tool = gateway.resolveTool(name);
    } catch (error) {
      const gatewayError = asGatewayError(error);
      // A known server that is down is a backend problem: a retryable tool error, not a bad request.
      if (!gatewayError.callerFault) return errorResult(gatewayError);
      throw toProtocolError(gatewayError);
    }
    const size = args ? Buffer.byteLength(JSON.stringify(args)) : 0;
    if (size > deps.maxRequestBytes) {
      return errorResult(new GatewayError('PAYLOAD_TOO_LARGE', `arguments for "${name}" are ${size} bytes; the limit is ${deps.maxRequestBytes}`, { bytes: size, limit: deps.maxRequestBytes }));
    }
    const problems = deps.validator.check(tool.tool, args ?? {});
    if (problems) {
      return errorResult(new GatewayError('INVALID_ARGUMENTS', `invalid arguments for tool "${name}": ${problems}`, { tool: name }));
    }
    const progressToken = ctx.mcpReq._meta?.progressToken;
    try {
      return await gateway.callTool(tool, args, forwardMeta(meta), {
        signal: ctx.mcpReq.signal,
        ...(progressToken !== undefined ? { onprogress: (p) => void notifyProgress(ctx, progressToken, p) } : {}),
      });
    } catch (error) {
      if (error instanceof ProtocolError) throw error; // the upstream's own JSON-RPC error passes through
      if (ctx.mcpReq.signal.aborted) throw error;
      return errorResult(asGatewayError(error));
    }
  });

  server.setRequestHandler('prompts/list', async (request) => {
    const snapshot = gateway.catalog;
    const page = paginate(snapshot.prompts, snapshot.version, request.params?.cursor);
    return { prompts: page.items.map((p) => p.prompt), ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}) };
  });

  server.setRequestHandler('prompts/get', async (request, ctx) => {
    try {
      return await gateway.getPrompt(request.params.name, request.params.arguments, { signal: ctx.mcpReq.signal });
    } catch (error) {
      throw error instanceof ProtocolError ? error : toProtocolError(asGatewayError(error));
    }
  });

  server.setRequestHandler('resources/list', async (request) => {
    const snapshot = gateway.catalog;
    const page = paginate(snapshot.resources, snapshot.version, request.params?.cursor);
    return { resources: page.items.map(({ server: _server, ...r }) => r), ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}) };
  });

  server.setRequestHandler('resources/templates/list', async (request) => {
    const snapshot = gateway.catalog;
    const page = paginate(snapshot.resourceTemplates, snapshot.version, request.params?.cursor);
    return { resourceTemplates: page.items.map(({ server: _server, ...t }) => t), ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}) };
  });

  server.setRequestHandler('resources/read', async (request, ctx) => {
    try {
      return await gateway.readResource(request.params.uri, { signal: ctx.mcpReq.signal });
    } catch (error) {
      throw error instanceof ProtocolError ? error : toProtocolError(asGatewayError(error));
    }
  });

  return server;
}

/** Re-emits an upstream progress update with the agent's own token. */
async function notifyProgress(ctx: ServerContext, progressToken: string | number, p: { progress: number; total?: number; message?: string }): Promise<void> {
  try {
    await ctx.mcpReq.notify({ method: 'notifications/progress', params: { progressToken, ...p } });
  } catch {
    // The agent went away; the call itself is cancelled through the signal.
  }
}

/** Passes `_meta` on (e.g. traceparent) minus the agent's progress token, which the SDK replaces upstream. */
function forwardMeta(meta: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  if (!meta) return undefined;
  const { progressToken: _token, ...rest } = meta;
  return Object.keys(rest).length > 0 ? rest : undefined;
}

/** A failed call as a tool result the model can read; backend faults say so and are marked retryable. */
export function errorResult(error: GatewayError): CallToolResult {
  const who = error.callerFault ? '' : error.retryable ? ' (a backend problem, not your request; retrying later may succeed)' : ' (a gateway problem, not your request)';
  return {
    content: [{ type: 'text', text: `${error.message}${who}` }],
    isError: true,
    _meta: { [ERROR_META_KEY]: error.toJSON() },
  };
}

/** Maps a gateway error to a JSON-RPC error (for methods without an isError channel). */
export function toProtocolError(error: GatewayError): ProtocolError {
  const code = error.callerFault ? ProtocolErrorCode.InvalidParams : ProtocolErrorCode.InternalError;
  return new ProtocolError(code, error.message, error.toJSON());
}
