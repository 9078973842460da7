/**
 * A server's share of the catalog: its tools, prompts, resources and resource templates, fetched
 * page by page (servers paginate; the SDK's auto-aggregation stops at 64 pages).
 */
import type { Client, Prompt, Resource, ResourceTemplateType, Tool } from '@modelcontextprotocol/client';
import type { ServerPart } from '../core/protocol.js';

const MAX_PAGES = 1_000;

async function walk<T>(
  page: (cursor: string | undefined) => Promise<{ items: readonly T[]; nextCursor?: string | undefined }>,
): Promise<T[]> {
  const all: T[] = [];
  let cursor: string | undefined;
  for (let i = 0; i < MAX_PAGES; i++) {
    const result = await page(cursor);
    all.push(...result.items);
    if (!result.nextCursor || result.nextCursor === cursor) break;
    cursor = result.nextCursor;
  }
  return all;
}

/** Walks a paginated list method, reading the items under `key`. */
function list<K extends string, T>(
  method: (params?: { cursor: string }) => Promise<{ [P in K]: T[] } & { nextCursor?: string | undefined }>,
  key: K,
): Promise<T[]> {
  return walk<T>(async (cursor) => {
    const page = await method(cursor ? { cursor } : undefined);
    return { items: page[key], nextCursor: page.nextCursor };
  });
}

/** Fetches a connected server's whole part, only asking for what its capabilities advertise. */
export async function fetchPart(client: Client): Promise<ServerPart> {
  const caps = client.getServerCapabilities() ?? {};
  const none = Promise.resolve([]);
  const [tools, prompts, resources, resourceTemplates] = await Promise.all([
    caps.tools ? list<'tools', Tool>((p) => client.listTools(p), 'tools') : none,
    caps.prompts ? list<'prompts', Prompt>((p) => client.listPrompts(p), 'prompts') : none,
    caps.resources ? list<'resources', Resource>((p) => client.listResources(p), 'resources') : none,
    caps.resources
      ? list<'resourceTemplates', ResourceTemplateType>((p) => client.listResourceTemplates(p), 'resourceTemplates')
      : none,
  ]);
  return { tools, prompts, resources, resourceTemplates, instructions: client.getInstructions() };
}
