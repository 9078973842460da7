/**
 * Resolve and authorize for prompts, resources and completions, the counterparts of the tool chain's
 * resolve and authorize stages. An item the principal may not see reads exactly like one that does not
 * exist; a visible one the policy (or the credential's scopes) refuses is FORBIDDEN, naming the scope or
 * the deciding policies (kept in `ctx.deniedBy` for the audit trail).
 */
import { GatewayError } from '../../../core/errors.js';
import type { AccessControl } from '../../../gateway/access.js';
import type { Gateway } from '../../../gateway/gateway.js';
import { clip } from '../../../gateway/suggest.js';
import type { Stage } from '../chain.js';
import type { RequestContext } from '../context.js';

const unknownPrompt = (name: string) =>
  new GatewayError('UNKNOWN_PROMPT', `unknown prompt "${clip(name)}"`, { prompt: clip(name) });
const unknownResource = (uri: string) =>
  new GatewayError('UNKNOWN_RESOURCE', `no connected server offers resource "${clip(uri)}"`, { uri: clip(uri) });

/** prompts/get: sets `ctx.owner` to the prompt's server, among the prompts the principal may see. */
export function promptResolveStage<R>(): Stage<R> {
  return {
    name: 'resolve',
    async run(ctx, next) {
      const prompt = ctx.view.snapshot.promptById.get(ctx.name);
      if (!prompt || !ctx.view.hasPrompt(ctx.name)) throw unknownPrompt(ctx.name);
      ctx.owner = prompt.server;
      return next();
    },
  };
}

/** resources/read: sets `ctx.owner` to the server that lists the URI (or whose template matches it). */
export function resourceResolveStage<R>(gateway: Gateway): Stage<R> {
  return {
    name: 'resolve',
    async run(ctx, next) {
      const owner = gateway.resourceOwner(ctx.name, ctx.view.snapshot);
      // With the full view an unknown URI is the gateway's own error, raised where it routes.
      if (!ctx.view.full && (!owner || !ctx.view.hasResource(ctx.name))) throw unknownResource(ctx.name);
      if (owner) ctx.owner = owner;
      return next();
    },
  };
}

/**
 * completion/complete: the prompt or resource template the completion is for must be visible
 * (`ctx.name` is the prompt name or the template URI; `ctx.params.ref.type` says which).
 */
export function completionResolveStage<R>(): Stage<R> {
  return {
    name: 'resolve',
    async run(ctx, next) {
      const { view } = ctx;
      if (refType(ctx) === 'ref/prompt') {
        if (!view.hasPrompt(ctx.name)) throw unknownPrompt(ctx.name);
        ctx.owner = view.snapshot.promptById.get(ctx.name)?.server;
      } else {
        const template = view.snapshot.resourceTemplates.find((t) => t.uriTemplate === ctx.name);
        if (!view.full && !view.resourceTemplates.some((t) => t.uriTemplate === ctx.name))
          throw new GatewayError('UNKNOWN_RESOURCE', `no connected server offers "${clip(ctx.name)}"`, {
            uri: clip(ctx.name),
          });
        ctx.owner = template?.server ?? view.snapshot.resourceOwner.get(ctx.name);
      }
      return next();
    },
  };
}

/** Refuses getting a prompt or reading a resource that the principal's scopes or the policy do not allow. */
export function itemAuthorizeStage<R>(access: AccessControl, action: 'getPrompt' | 'readResource'): Stage<R> {
  const kind: 'prompt' | 'resource' = action === 'getPrompt' ? 'prompt' : 'resource';
  return {
    name: 'authorize',
    async run(ctx, next) {
      if (ctx.view.full) return next(); // nothing restricts this principal
      const server = ctx.owner;
      if (server === undefined) throw kind === 'prompt' ? unknownPrompt(ctx.name) : unknownResource(ctx.name);
      const resource =
        kind === 'prompt'
          ? { kind, id: ctx.name, server, name: ctx.view.snapshot.promptById.get(ctx.name)?.name ?? ctx.name }
          : { kind, id: ctx.name, server };

      const denial = access.authorize(ctx.principal, action, resource);
      if (denial) {
        ctx.deniedBy = denial.policies;
        throw denial.error;
      }
      return next();
    },
  };
}

function refType(ctx: RequestContext): string | undefined {
  const ref = ctx.params?.ref as { type?: unknown } | undefined;
  return typeof ref?.type === 'string' ? ref.type : undefined;
}
