/**
 * Repairs sloppy `tools/list` answers at the upstream boundary, before the SDK client validates them.
 *
 * Published servers often send tools whose `inputSchema` lacks `"type": "object"`, is `{}`, or is
 * missing. The SDK client checks the whole `tools/list` result against the protocol's Tool schema and
 * throws on the first bad tool, so one careless tool used to hide every tool of its server. The SDK
 * offers no lenient mode, and in the 2026-07-28 era it validates the wire result even when
 * `client.request()` is given a permissive schema, so the repair happens on the message itself:
 * `watchToolLists` wraps the connected transport's `send` (to learn which request ids are
 * `tools/list`) and `onmessage` (to repair those responses in place before the SDK reads them).
 * Everything downstream (the SDK's response cache, output-schema checks, header mirroring, our
 * catalog) then sees a valid list.
 *
 * What is repaired: an object schema without `type` gets `"type": "object"` (also `{}`, and a
 * missing schema becomes `{ "type": "object" }`); an `outputSchema` without `type` likewise, and
 * one of another type is dropped (the tool stays callable; its results are no longer checked).
 * What is left out: a tool that still fails the protocol's Tool schema: a non-object or non-"object"
 * `inputSchema` (no MCP client can send its arguments), a missing or empty name, and the like.
 * Siblings are never affected.
 */
import { specTypeSchemas, type Transport } from '@modelcontextprotocol/client';

/** A tool the repair changed, and how. */
export interface RepairedTool {
  readonly tool: string;
  readonly fixes: readonly string[];
}

/** A tool left out of the list, and why. */
export interface RejectedTool {
  /** The tool's name, or `#<index>` when it has none. */
  readonly tool: string;
  readonly reason: string;
}

/** What one `tools/list` page needed. */
export interface RepairReport {
  readonly repaired: readonly RepairedTool[];
  readonly rejected: readonly RejectedTool[];
}

/** Where a watched transport keeps its watch (a symbol, so it never meets the transport's own fields). */
const WATCH = Symbol('switchboard.toolListWatch');

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Adds `"type": "object"` where a schema object omits its type; reports what it did, or why it cannot. */
function repairSchema(
  schema: unknown,
  which: 'inputSchema' | 'outputSchema',
): { schema?: unknown; fix?: string; problem?: string } {
  if (schema === undefined) {
    return which === 'inputSchema'
      ? { schema: { type: 'object' }, fix: 'inputSchema was missing: set to { "type": "object" }' }
      : { schema: undefined };
  }
  if (!isObject(schema))
    return { problem: `${which} is ${Array.isArray(schema) ? 'an array' : typeof schema}, not an object` };
  if (schema.type === 'object') return { schema };
  if (schema.type === undefined)
    return { schema: { type: 'object', ...schema }, fix: `added "type": "object" to ${which}` };
  return { problem: `${which} has type ${JSON.stringify(schema.type)}; tool arguments must be an object` };
}

/** Repairs one tool; returns the tool to keep (possibly a repaired copy) or the reason to leave it out. */
export function repairTool(raw: unknown): { tool: unknown; fixes: string[] } | { reason: string } {
  if (!isObject(raw)) return { reason: 'the entry is not an object' };
  if (typeof raw.name !== 'string' || raw.name.trim() === '') return { reason: 'the tool has no name' };
  const fixes: string[] = [];
  let tool: Record<string, unknown> = raw;
  const input = repairSchema(raw.inputSchema, 'inputSchema');
  if (input.problem) return { reason: input.problem };
  if (input.fix) {
    tool = { ...tool, inputSchema: input.schema };
    fixes.push(input.fix);
  }
  if (raw.outputSchema !== undefined) {
    const output = repairSchema(raw.outputSchema, 'outputSchema');
    if (output.problem) {
      const { outputSchema: _dropped, ...rest } = tool;
      tool = rest;
      fixes.push(`dropped the outputSchema (${output.problem})`);
    } else if (output.fix) {
      tool = { ...tool, outputSchema: output.schema };
      fixes.push(output.fix);
    }
  }
  // Whatever else is wrong (a bad annotation, a non-string description) the protocol's own schema says.
  const checked = specTypeSchemas.Tool['~standard'].validate(tool);
  if (checked.issues?.length) {
    const issue = checked.issues[0];
    const path = (issue?.path ?? []).map((p) => (typeof p === 'object' ? String(p.key) : String(p))).join('.');
    return { reason: `not a valid MCP tool: ${path ? `${path}: ` : ''}${issue?.message ?? 'invalid'}` };
  }
  return { tool, fixes };
}

/** Repairs a `tools/list` result's `tools` in place; returns what it did (nothing when all were valid). */
export function repairToolList(result: { tools: unknown[] }): RepairReport {
  const repaired: RepairedTool[] = [];
  const rejected: RejectedTool[] = [];
  const kept: unknown[] = [];
  result.tools.forEach((raw, i) => {
    const outcome = repairTool(raw);
    const name = isObject(raw) && typeof raw.name === 'string' && raw.name ? raw.name : `#${i}`;
    if ('reason' in outcome) {
      rejected.push({ tool: name, reason: outcome.reason });
      return;
    }
    if (outcome.fixes.length) repaired.push({ tool: name, fixes: outcome.fixes });
    kept.push(outcome.tool);
  });
  if (repaired.length || rejected.length) result.tools = kept;
  return { repaired, rejected };
}

/** Reports gathered on a watched transport. */
export interface ToolListWatch {
  /** Returns the reports of the pages repaired since the last drain, and forgets them. */
  drain(): RepairReport[];
}

/**
 * Repairs every `tools/list` response arriving on a connected client's transport. Call after
 * `client.connect` (which installs the SDK's own `onmessage`); later calls on the same transport
 * return the same watch. Undefined when there is no connected transport.
 */
export function watchToolLists(transport: Transport | undefined): ToolListWatch | undefined {
  if (!transport?.onmessage) return undefined;
  const marked = transport as Transport & { [WATCH]?: ToolListWatch };
  const existing = marked[WATCH];
  if (existing) return existing;
  let reports: RepairReport[] = [];
  const watch: ToolListWatch = {
    drain: () => {
      const out = reports;
      reports = [];
      return out;
    },
  };
  marked[WATCH] = watch;
  const pending = new Set<string | number>();
  const send = transport.send.bind(transport);
  transport.send = (message, options) => {
    if ('method' in message && message.method === 'tools/list' && 'id' in message) pending.add(message.id);
    return send(message, options);
  };
  const dispatch = transport.onmessage;
  transport.onmessage = (message, extra) => {
    if (!('method' in message) && 'id' in message && pending.delete(message.id as string | number)) {
      const result = (message as { result?: unknown }).result;
      if (isObject(result) && Array.isArray(result.tools)) {
        const report = repairToolList(result as { tools: unknown[] });
        // Bounded: lists the SDK fetches on its own (and nobody drains) must not pile up.
        if ((report.repaired.length || report.rejected.length) && reports.length < 16) reports.push(report);
      }
    }
    dispatch.call(transport, message, extra);
  };
  return watch;
}
