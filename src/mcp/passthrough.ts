/**
 * The MCP features an agent-facing server passes through to upstreams besides tools, prompts and
 * resources: server-to-client requests during a call (sampling, elicitation, roots, as
 * `input_required` rounds: see input-exchange.ts), logging, completions and resource
 * subscriptions. Installed on each agent-facing `Server` by `createAgentServer`.
 *
 * Sessionful connections (stdio, 2025-era HTTP sessions, legacy SSE) are registered with the
 * gateway's `AgentRegistry`, so messages and updates outside a call can reach them; stateless
 * 2026-07-28 requests carry their log level in the request envelope.
 */
import {
  CLIENT_CAPABILITIES_META_KEY,
  LOG_LEVEL_META_KEY,
  ProtocolError,
  ProtocolErrorCode,
  type ClientCapabilities,
  type CompleteRequestParams,
  type CompleteResult,
  type InputRequiredResult,
  type Server,
  type ServerContext,
} from '@modelcontextprotocol/server';
import {
  LOG_LEVELS,
  passesLevel,
  type AgentChannel,
  type ClientRequestMethod,
  type LogLevel,
  type LogMessage,
} from '../core/channel.js';
import { GatewayError } from '../core/errors.js';
import { asProtocolError } from './protocol-errors.js';
import type { CatalogView } from '../gateway/access.js';
import type { Gateway } from '../gateway/gateway.js';
import { clip } from '../gateway/suggest.js';
import type { ExchangeScope, InputExchanges } from './input-exchange.js';

/** A request context whose upstream calls relay the server's requests to this agent. */
export interface CallContext extends ServerContext {
  readonly channel?: AgentChannel;
}

/** What `installPassthrough` needs. */
export interface PassthroughDeps {
  readonly gateway: Gateway;
  readonly exchanges: InputExchanges;
  /** Unique per agent-facing server instance. */
  readonly connectionId: string;
  /** True for connections that outlive one request (stdio, 2025-era sessions, legacy SSE). */
  readonly sessionful: boolean;
  /** What this agent may see now (subscriptions and messages from servers stay within it). */
  readonly view: () => CatalogView;
  /** Runs a completion through its chain (see pipeline/chains.ts). */
  readonly complete: (params: CompleteRequestParams, ctx: CallContext) => Promise<CompleteResult>;
}

/** Runs a request handler body as input_required rounds with a relaying channel. */
export type RelayedRound = <T>(
  ctx: ServerContext,
  run: (ctx: CallContext) => Promise<T>,
) => Promise<T | InputRequiredResult>;

/** Server capabilities the pass-through adds to an agent-facing server. */
export const PASSTHROUGH_CAPABILITIES = { logging: {}, completions: {} } as const;

/** Registers logging, completion and subscription handlers; returns the round runner for calls. */
export function installPassthrough(server: Server, deps: PassthroughDeps): RelayedRound {
  const { gateway, connectionId, sessionful } = deps;
  const capabilitiesOf = (ctx?: ServerContext): ClientCapabilities | undefined =>
    ctx?.mcpReq.envelope?.[CLIENT_CAPABILITIES_META_KEY as never] ?? server.getClientCapabilities();
  const agentName = () => server.getClientVersion()?.name ?? 'the agent';

  /** Fails with an error the upstream can read when the agent cannot take `method`. */
  const requireCapability = (
    method: ClientRequestMethod,
    params: Record<string, unknown> | undefined,
    ctx?: ServerContext,
  ) => {
    const caps = capabilitiesOf(ctx);
    const missing =
      method === 'sampling/createMessage'
        ? !caps?.sampling && 'sampling'
        : method === 'roots/list'
          ? !caps?.roots && 'roots'
          : params?.mode === 'url'
            ? !caps?.elicitation?.url && 'elicitation (url mode)'
            : !caps?.elicitation && 'elicitation';
    if (missing) {
      throw new ProtocolError(
        ProtocolErrorCode.InvalidRequest,
        `${agentName()} did not declare the ${missing} capability when it connected to Switchboard, so ${method} cannot be relayed to it`,
      );
    }
  };

  /** The log level a request's agent asked for (undefined: never asked, so nothing is filtered). */
  const levelOf = (ctx?: ServerContext): LogLevel | undefined => {
    const envelope = ctx?.mcpReq.envelope?.[LOG_LEVEL_META_KEY as never] as string | undefined;
    if (envelope && (LOG_LEVELS as readonly string[]).includes(envelope)) return envelope as LogLevel;
    return sessionful ? gateway.agents.levelOf(connectionId) : undefined;
  };

  const sendLog = (server_: string, message: LogMessage, via: ServerContext | undefined) => {
    const threshold = levelOf(via);
    if (threshold && !passesLevel(message.level, threshold)) return;
    const params = { ...message, logger: message.logger ? `${server_}/${message.logger}` : server_ };
    const notification = { method: 'notifications/message' as const, params };
    const sent = via ? via.mcpReq.notify(notification) : sessionful ? server.notification(notification) : undefined;
    sent?.catch(() => {}); // the agent went away
  };

  if (sessionful) {
    const session: AgentChannel = {
      connection: connectionId,
      async request(method, params, signal) {
        requireCapability(method, params);
        const options = signal ? { signal } : {};
        if (method === 'sampling/createMessage') return server.createMessage(params as never, options);
        if (method === 'elicitation/create') return server.elicitInput(params as never, options);
        return server.listRoots(params, options);
      },
      log: (name, message) => sendLog(name, message, undefined),
    };
    server.oninitialized = () =>
      gateway.agents.add({
        connection: connectionId,
        channel: session,
        resourceUpdated: (uri) => void server.sendResourceUpdated({ uri }).catch(() => {}),
        mayHear: (name) => deps.view().hasServer(name),
      });
    const previous = server.onclose;
    server.onclose = () => {
      gateway.agents.remove(connectionId);
      previous?.();
    };
  }

  server.setNotificationHandler('notifications/roots/list_changed', () => gateway.rootsChanged());

  server.setRequestHandler('logging/setLevel', async (request) => {
    if (sessionful) gateway.agents.setLevel(connectionId, request.params.level);
    return {};
  });

  server.setRequestHandler('completion/complete', (request, ctx) => deps.complete(request.params, ctx));

  server.setRequestHandler('resources/subscribe', async (request) => {
    if (!sessionful) throw statelessSubscription();
    try {
      const { uri } = request.params;
      if (!deps.view().hasResource(uri))
        throw new GatewayError('UNKNOWN_RESOURCE', `no connected server offers resource "${clip(uri)}"`, {
          uri: clip(uri),
        });
      await gateway.subscribe(connectionId, uri);
      return {};
    } catch (error) {
      throw asProtocolError(error);
    }
  });

  server.setRequestHandler('resources/unsubscribe', async (request) => {
    if (!sessionful) throw statelessSubscription();
    await gateway.unsubscribe(connectionId, request.params.uri);
    return {};
  });

  return (ctx, run) =>
    deps.exchanges.round(ctx, (scope) => {
      const channel: AgentChannel = {
        connection: connectionId,
        request: async (method, params, signal) => {
          requireCapability(method, params, ctx);
          return (await scope.ask(method, params, signal)) as Record<string, unknown>;
        },
        log: (name, message) => sendLog(name, message, scope.round),
      };
      return run(scopedContext(ctx, scope, channel));
    });
}

/** The first round's context, with the exchange's signal and progress sent on whichever round is active. */
function scopedContext(ctx: ServerContext, scope: ExchangeScope, channel: AgentChannel): CallContext {
  const notify: ServerContext['mcpReq']['notify'] = async (notification) => {
    const round = scope.round;
    if (!round) return; // between rounds nobody listens for progress
    const token = round.mcpReq._meta?.progressToken;
    if (notification.method === 'notifications/progress' && token !== undefined) {
      return round.mcpReq.notify({ ...notification, params: { ...notification.params, progressToken: token } });
    }
    return round.mcpReq.notify(notification);
  };
  return { ...ctx, channel, mcpReq: { ...ctx.mcpReq, signal: scope.signal, notify } };
}

function statelessSubscription(): ProtocolError {
  return asProtocolError(
    new GatewayError(
      'BAD_REQUEST',
      'resources/subscribe needs a session (stdio, or a 2025-era HTTP session); 2026-07-28 clients use subscriptions/listen',
    ),
  );
}
