/**
 * Schema federation: merges every server's part into one immutable, versioned catalog snapshot.
 *
 * Pure: no I/O, no logging. Naming follows the prefix mode: `always` exposes `server__tool`;
 * `on-conflict` exposes bare names and prefixes only names offered by several servers; `never`
 * exposes bare names and reports each conflict (the first server in registration order keeps the
 * name). Tool definitions pass through untouched apart from the exposed name.
 */
import type { Prompt, Resource, ResourceTemplate as ResourceTemplateType, ServerPart, Tool } from '../core/protocol.js';

/** How exposed names are formed. */
export type PrefixMode = 'always' | 'on-conflict' | 'never';

/** A tool as the catalog exposes it. */
export interface CatalogTool {
  /** The name agents call. */
  readonly id: string;
  readonly server: string;
  /** The name on the owning server. */
  readonly name: string;
  /** The definition agents see (the upstream's, with `name` = id). */
  readonly tool: Tool;
}

/** A prompt as the catalog exposes it. */
export interface CatalogPrompt {
  readonly id: string;
  readonly server: string;
  readonly name: string;
  readonly prompt: Prompt;
}

/** A name two servers both claim under prefix mode `never`. */
export interface NameConflict {
  readonly kind: 'tool' | 'prompt' | 'resource';
  readonly name: string;
  readonly servers: readonly string[];
  /** The server that keeps the name. */
  readonly kept: string;
  readonly message: string;
}

/** One immutable version of the federated catalog. */
export interface CatalogSnapshot {
  readonly version: number;
  readonly tools: readonly CatalogTool[];
  readonly prompts: readonly CatalogPrompt[];
  readonly resources: readonly (Resource & { readonly server: string })[];
  readonly resourceTemplates: readonly (ResourceTemplateType & { readonly server: string })[];
  readonly conflicts: readonly NameConflict[];
  /** Exposed tool name -> tool. */
  readonly toolById: ReadonlyMap<string, CatalogTool>;
  readonly promptById: ReadonlyMap<string, CatalogPrompt>;
  /** Resource URI -> owning server. */
  readonly resourceOwner: ReadonlyMap<string, string>;
}

/** Naming settings. */
export interface NamingOptions {
  readonly prefix: PrefixMode;
  readonly separator: string;
}

interface Named {
  readonly server: string;
  readonly name: string;
}

/** Assigns exposed ids to (server, name) pairs in order; returns ids and conflicts. */
function assignIds<T extends Named>(
  items: readonly T[],
  kind: 'tool' | 'prompt',
  naming: NamingOptions,
): { ids: (string | undefined)[]; conflicts: NameConflict[] } {
  const owners = new Map<string, string[]>();
  for (const item of items) {
    const list = owners.get(item.name) ?? [];
    if (!list.includes(item.server)) list.push(item.server);
    owners.set(item.name, list);
  }
  const conflicts: NameConflict[] = [];
  const ids = items.map((item) => {
    const prefixed = `${item.server}${naming.separator}${item.name}`;
    const servers = owners.get(item.name) ?? [];
    if (naming.prefix === 'always') return prefixed;
    if (servers.length === 1) return item.name;
    if (naming.prefix === 'on-conflict') return prefixed;
    return servers[0] === item.server ? item.name : undefined;
  });
  if (naming.prefix === 'never') {
    for (const [name, servers] of owners) {
      if (servers.length < 2) continue;
      const kept = servers[0] ?? '';
      conflicts.push({
        kind,
        name,
        servers,
        kept,
        message: `${kind} name conflict: "${name}" is offered by servers ${servers.map((s) => `"${s}"`).join(' and ')}; prefix mode "never" keeps "${kept}" and hides the others (set gateway.prefix to "on-conflict" or "always" to expose both)`,
      });
    }
  }
  return { ids, conflicts };
}

/** Keeps the items that got an id (first one wins an id), frozen, in order. */
function expose<R, E extends { readonly id: string }>(
  raw: readonly R[],
  ids: readonly (string | undefined)[],
  make: (raw: R, id: string) => E,
): E[] {
  const taken = new Set<string>();
  const out: E[] = [];
  raw.forEach((item, i) => {
    const id = ids[i];
    if (id === undefined || taken.has(id)) return;
    taken.add(id);
    out.push(Object.freeze(make(item, id)));
  });
  return out;
}

/** Builds a snapshot from the servers' parts, in registration order. */
export function buildSnapshot(
  parts: ReadonlyMap<string, ServerPart>,
  naming: NamingOptions,
  version: number,
): CatalogSnapshot {
  const rawTools = [...parts].flatMap(([server, part]) =>
    part.tools.map((tool) => ({ server, name: tool.name, tool })),
  );
  const rawPrompts = [...parts].flatMap(([server, part]) =>
    part.prompts.map((prompt) => ({ server, name: prompt.name, prompt })),
  );
  const toolNames = assignIds(rawTools, 'tool', naming);
  const promptNames = assignIds(rawPrompts, 'prompt', naming);

  const tools = expose(rawTools, toolNames.ids, (raw, id) => ({
    id,
    server: raw.server,
    name: raw.name,
    tool: Object.freeze({ ...raw.tool, name: id }),
  }));
  const prompts = expose(rawPrompts, promptNames.ids, (raw, id) => ({
    id,
    server: raw.server,
    name: raw.name,
    prompt: Object.freeze({ ...raw.prompt, name: id }),
  }));
  const toolById = new Map(tools.map((t) => [t.id, t]));
  const promptById = new Map(prompts.map((p) => [p.id, p]));

  // Resource URIs are global names already; the first server to offer a URI owns it.
  const resourceOwner = new Map<string, string>();
  const resources: (Resource & { server: string })[] = [];
  const resourceConflicts: NameConflict[] = [];
  for (const [server, part] of parts) {
    for (const resource of part.resources) {
      const owner = resourceOwner.get(resource.uri);
      if (owner !== undefined) {
        if (owner !== server) {
          resourceConflicts.push({
            kind: 'resource',
            name: resource.uri,
            servers: [owner, server],
            kept: owner,
            message: `resource "${resource.uri}" is offered by "${owner}" and "${server}"; "${owner}" serves it`,
          });
        }
        continue;
      }
      resourceOwner.set(resource.uri, server);
      resources.push({ ...resource, server });
    }
  }
  const resourceTemplates = [...parts].flatMap(([server, part]) =>
    part.resourceTemplates.map((t) => ({ ...t, server })),
  );

  return Object.freeze({
    version,
    tools: Object.freeze(tools),
    prompts: Object.freeze(prompts),
    resources: Object.freeze(resources),
    resourceTemplates: Object.freeze(resourceTemplates),
    conflicts: Object.freeze([...toolNames.conflicts, ...promptNames.conflicts, ...resourceConflicts]),
    toolById,
    promptById,
    resourceOwner,
  });
}
