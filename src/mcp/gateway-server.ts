/**
 * The SDK's low-level `Server`, with two corrections at the wire. First, a spec request whose params fail
 * the SDK's own schema (a `tools/list` cursor that is an object, a `tools/call` name that is a
 * number) is answered -32602 invalid params, as JSON-RPC asks, instead of the SDK's -32603
 * internal error carrying the raw schema issues. Errors from the gateway's own handlers are
 * ProtocolErrors already and pass unchanged.
 *
 * Second, a `tools/call` answered with a task (issue 14: the 2025 `{ task }` and the 2026
 * `resultType: "task"`) goes out as it is: the SDK checks tools/call results against the era's
 * CallToolResult schema, which has no task shape (the v2 SDK has the wire vocabulary but no task
 * runtime), so the handler hands a task answer past that check with {@link TaskAnswer}.
 */
import { ProtocolError, ProtocolErrorCode, Server } from '@modelcontextprotocol/server';

/** A `Server` that reports malformed request params as invalid params. */
export class GatewayServer extends Server {
  protected override _wrapHandler(...args: Parameters<Server['_wrapHandler']>): ReturnType<Server['_wrapHandler']> {
    const [method, handler] = args;
    const inner = super._wrapHandler(method, async (request, ctx) => {
      const result = await handler(request, ctx);
      if (result instanceof TaskAnswer) throw result; // past the result schema (see the module comment)
      return result;
    });
    return async (request, ctx) => {
      try {
        return await inner(request, ctx);
      } catch (error) {
        if (error instanceof TaskAnswer) return error.body;
        throw invalidParams(error, method) ?? error;
      }
    };
  }
}

/**
 * A tools/call answer that is a task: the body goes out unchanged. An Error so it may be thrown past
 * the SDK's result check (never to anyone: GatewayServer catches it right there).
 */
export class TaskAnswer extends Error {
  constructor(readonly body: Record<string, unknown>) {
    super('a task answer');
  }
}

/** The SDK's schema failure (a plain Error whose message is the JSON list of issues) as -32602. */
function invalidParams(error: unknown, method: string): ProtocolError | undefined {
  if (!(error instanceof Error) || error instanceof ProtocolError) return undefined;
  let issues: unknown;
  try {
    issues = JSON.parse(error.message);
  } catch {
    return undefined;
  }
  if (!Array.isArray(issues) || issues.length === 0) return undefined;
  const described = issues
    .filter((i): i is { path?: unknown[]; message?: unknown } => typeof i === 'object' && i !== null && 'message' in i)
    .map((i) => `${Array.isArray(i.path) ? i.path.join('.') : '?'}: ${String(i.message)}`);
  if (described.length === 0) return undefined;
  return new ProtocolError(
    ProtocolErrorCode.InvalidParams,
    `Invalid params for ${method}: ${described.slice(0, 5).join('; ')}`,
  );
}
