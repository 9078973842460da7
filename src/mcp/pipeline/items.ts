/**
 * The ends of the prompt, resource and completion chains: each hands the request to the gateway, which
 * routes it to the owning server, with the agent's abort signal and (prompts, resources) the
 * pass-through channel for the upstream's questions.
 */
import type { CompleteRequestParams } from '@modelcontextprotocol/server';
import type { Gateway } from '../../gateway/gateway.js';
import type { Terminal } from './chain.js';
import type { CompletionResult, PromptResult, RequestContext, ResourceResult } from './context.js';

/** prompts/get, by the exposed prompt name. */
export function promptTerminal(gateway: Gateway): Terminal<PromptResult> {
  return (ctx) => gateway.getPrompt(ctx.name, ctx.args as Record<string, string> | undefined, forwardOptions(ctx));
}

/** resources/read, by URI. */
export function resourceTerminal(gateway: Gateway): Terminal<ResourceResult> {
  return (ctx) => gateway.readResource(ctx.name, forwardOptions(ctx));
}

/** completion/complete, with the request's params as the agent sent them. */
export function completionTerminal(gateway: Gateway): Terminal<CompletionResult> {
  return (ctx) => gateway.complete(ctx.params as CompleteRequestParams, { signal: ctx.signal });
}

function forwardOptions(ctx: RequestContext) {
  const channel = ctx.sdk?.channel;
  return { signal: ctx.signal, ...(channel ? { channel } : {}) };
}
