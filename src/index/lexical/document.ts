/**
 * Turns a tool (as an MCP server lists it) into a fielded lexical document. Parameter names and
 * their descriptions matter (DESIGN.md §7: without parameter descriptions, -4.2 top-1), so the
 * input schema is walked through nested objects, arrays, anyOf/oneOf/allOf and $defs. Schemas come
 * from third parties: anything that is not the expected shape is skipped, never thrown on, and
 * cycles, depth and size are bounded.
 */
import type { LexicalDocument, LexicalField } from '../types.js';

/** What a tool document is built from. */
export interface ToolDocumentInput {
  readonly id: string;
  readonly server: string;
  readonly serverDescription?: string;
  readonly tool: {
    readonly name: string;
    readonly title?: string;
    readonly description?: string;
    readonly inputSchema?: unknown;
  };
  /** Example needs the tool answers (from the operator or learned from use). */
  readonly examples?: readonly string[];
}

/** Walk limits: deep enough for real schemas, bounded for hostile ones. */
const MAX_DEPTH = 16;
const MAX_NODES = 2_000;

type SchemaNode = Record<string, unknown>;

function isNode(value: unknown): value is SchemaNode {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Parameter names (first-seen order) and the texts describing them, deduplicated. */
export function schemaTerms(schema: unknown): { params: string[]; descriptions: string[] } {
  const params = new Set<string>();
  const descriptions = new Set<string>();
  const seen = new Set<SchemaNode>();
  const addText = (value: unknown) => {
    if (typeof value === 'string' && value.trim()) descriptions.add(value.trim());
    else if (typeof value === 'number') descriptions.add(String(value));
  };
  const visit = (node: unknown, depth: number): void => {
    if (!isNode(node) || seen.has(node) || depth > MAX_DEPTH || seen.size >= MAX_NODES) return;
    seen.add(node);
    addText(node.description);
    // Enum values and constants name the options a parameter takes ("open", "closed", "merged").
    if (Array.isArray(node.enum)) node.enum.forEach(addText);
    addText(node.const);
    for (const key of ['properties', 'patternProperties']) {
      const props = node[key];
      if (!isNode(props)) continue;
      for (const [name, child] of Object.entries(props)) {
        if (key === 'properties' && name.trim()) params.add(name.trim());
        visit(child, depth + 1);
      }
    }
    // Definitions are not parameters themselves, but $ref points into them: walking them picks
    // up their properties without resolving references.
    for (const key of ['$defs', 'definitions']) {
      const defs = node[key];
      if (isNode(defs)) for (const child of Object.values(defs)) visit(child, depth + 1);
    }
    for (const key of ['items', 'additionalProperties', 'not', 'if', 'then', 'else', 'contains'])
      visit(node[key], depth + 1);
    for (const key of ['anyOf', 'oneOf', 'allOf', 'prefixItems', 'items']) {
      const list = node[key];
      if (Array.isArray(list)) for (const child of list) visit(child, depth + 1);
    }
  };
  visit(schema, 0);
  return { params: [...params], descriptions: [...descriptions] };
}

/** The lexical document of a tool: every field filled from what the tool and its server declare. */
export function toolDocument(input: ToolDocumentInput): LexicalDocument {
  const { tool } = input;
  const { params, descriptions } = schemaTerms(tool.inputSchema);
  const text = (value: unknown) => (typeof value === 'string' && value.trim() ? value.trim() : undefined);
  const fields: Partial<Record<LexicalField, string>> = {};
  const set = (field: LexicalField, value: string | undefined) => {
    if (value) fields[field] = value;
  };
  // The raw name: the tokenizer splits identifiers, and callers read the raw parameter names back.
  set('name', text(tool.name));
  set('title', text(tool.title));
  set('description', text(tool.description));
  set('params', params.join(' ') || undefined);
  set('paramDescriptions', descriptions.join('\n') || undefined);
  set('server', [input.server, input.serverDescription].map(text).filter(Boolean).join('\n') || undefined);
  set('examples', (input.examples ?? []).map(text).filter(Boolean).join('\n') || undefined);
  return { id: input.id, fields };
}
