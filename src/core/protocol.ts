/**
 * The MCP protocol types the domain speaks in, re-exported from one place.
 *
 * Type-only: the domain layers (catalog, gateway) talk about tools and prompts without importing an
 * SDK runtime; only upstream/ uses the SDK client and only mcp/ and http/ use the SDK server.
 */
export type {
  CallToolResult,
  CompleteRequestParams,
  CompleteResult,
  LoggingLevel,
  GetPromptResult,
  Prompt,
  ReadResourceResult,
  Resource,
  ResourceTemplateType as ResourceTemplate,
  Tool,
  ToolAnnotations,
} from '@modelcontextprotocol/server';

import type { Prompt, Resource, ResourceTemplateType, Tool } from '@modelcontextprotocol/server';

/** Everything one server offers: its share of the federated catalog. */
export interface ServerPart {
  readonly tools: readonly Tool[];
  readonly prompts: readonly Prompt[];
  readonly resources: readonly Resource[];
  readonly resourceTemplates: readonly ResourceTemplateType[];
  readonly instructions: string | undefined;
}

/** A part with nothing in it (a server that is down offers nothing). */
export function emptyPart(): ServerPart {
  return { tools: [], prompts: [], resources: [], resourceTemplates: [], instructions: undefined };
}
