/**
 * A server's share of the catalog: its tools, prompts, resources and resource templates, fetched
 * page by page (servers paginate; the SDK's auto-aggregation stops at 64 pages).
 */
import type { Client, Prompt, Resource, ResourceTemplateType, Tool } from '@modelcontextprotocol/client';
import type { ServerPart } from '../core/protocol.js';

const MAX_PAGES = 1_000;

async function walk<T>(page: (cursor: string | undefined) => Promise<{ items: readonly T[]; nextCursor?: string | undefined }>): Promise<T[]> {
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

/** Fetches a connected server's whole part, only asking for what its capabilities advertise. */
export async function fetchPart(client: Client): Promise<ServerPart> {
  const caps = client.getServerCapabilities() ?? {};
  const [tools, prompts, resources, resourceTemplates] = await Promise.all([
    caps.tools
      ? walk<Tool>(async (cursor) => {
          const r = await client.listTools(cursor ? { cursor } : undefined);
          return { items: r.tools, nextCursor: r.nextCursor };
        })
      : [],
    caps.prompts
      ? walk<Prompt>(async (cursor) => {
          const r = await client.listPrompts(cursor ? { cursor } : undefined);
          return { items: r.prompts, nextCursor: r.nextCursor };
        })
      : [],
    caps.resources
      ? walk<Resource>(async (cursor) => {
          const r = await client.listResources(cursor ? { cursor } : undefined);
          return { items: r.resources, nextCursor: r.nextCursor };
        })
      : [],
    caps.resources
      ? walk<ResourceTemplateType>(async (cursor) => {
          const r = await client.listResourceTemplates(cursor ? { cursor } : undefined);
          return { items: r.resourceTemplates, nextCursor: r.nextCursor };
        })
      : [],
  ]);
  return { tools, prompts, resources, resourceTemplates, instructions: client.getInstructions() };
}
