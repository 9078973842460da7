/**
 * A server's share of the catalog: its tools, prompts, resources and resource templates, fetched
 * page by page (servers paginate; the SDK's auto-aggregation stops at 64 pages).
 *
 * Tool lists are repaired on the way in (tool-repair.ts): a sloppy tool schema is fixed where it can
 * be and only an unservable tool is left out, so one careless tool never hides its siblings. Each
 * fetch that needed a repair logs one warning naming the tools.
 */
import type { Client, Prompt, Resource, ResourceTemplateType, Tool } from '@modelcontextprotocol/client';
import type { ServerPart } from '../core/protocol.js';
import type { Logger } from '../telemetry/logger.js';
import { watchToolLists, type RejectedTool, type RepairedTool, type RepairReport } from './tool-repair.js';

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

/**
 * Fetches a connected server's whole part, only asking for what its capabilities advertise. With
 * `log`, tool lists that needed repairs are reported in one warning per fetch.
 */
export async function fetchPart(client: Client, log?: Logger): Promise<ServerPart> {
  const caps = client.getServerCapabilities() ?? {};
  // The transport is watched once per connection; reports gather there while the pages are read.
  const watch = watchToolLists(client.transport);
  const none = Promise.resolve([]);
  const [tools, prompts, resources, resourceTemplates] = await Promise.all([
    caps.tools ? list<'tools', Tool>((p) => client.listTools(p), 'tools') : none,
    caps.prompts ? list<'prompts', Prompt>((p) => client.listPrompts(p), 'prompts') : none,
    caps.resources ? list<'resources', Resource>((p) => client.listResources(p), 'resources') : none,
    caps.resources
      ? list<'resourceTemplates', ResourceTemplateType>((p) => client.listResourceTemplates(p), 'resourceTemplates')
      : none,
  ]);
  const reports = watch?.drain() ?? [];
  if (log && reports.length) logRepairs(log, reports);
  return { tools, prompts, resources, resourceTemplates, instructions: client.getInstructions() };
}

/** One warning for a fetch: which tools were repaired and how, which were left out and why. */
function logRepairs(log: Logger, reports: readonly RepairReport[]): void {
  const repaired: RepairedTool[] = reports.flatMap((r) => r.repaired);
  const rejected: RejectedTool[] = reports.flatMap((r) => r.rejected);
  const parts = [
    repaired.length ? `repaired ${repaired.map((t) => `"${t.tool}"`).join(', ')}` : '',
    rejected.length ? `left out ${rejected.map((t) => `"${t.tool}" (${t.reason})`).join(', ')}` : '',
  ].filter(Boolean);
  log.warn({ repaired, rejected }, `sloppy tool schemas from this server: ${parts.join('; ')}`);
}
