/**
 * The meta-tools agents use instead of (or beside) the full catalog: `find_capability` ranks tools
 * for a need in plain words; `call_capability` calls a tool by id, or the best match for a need.
 */
import type { CallToolResult, Tool } from '@modelcontextprotocol/server';
import type { FindResult } from '../gateway/capabilities.js';

/** `_meta` key linking a tools/call to the find_capability decision that suggested it. */
export const DECISION_META_KEY = 'io.switchboard/decisionId';

/** Names of the meta-tools. */
export const META_TOOLS = { find: 'find_capability', call: 'call_capability', report: 'report_outcome' } as const;

/** `_meta` key for a per-call tool version pin (e.g. "v1"). */
export const PIN_META_KEY = 'io.switchboard/pin';

/** `_meta` key naming the end user behind a call (experiments whose unit is the user). */
export const USER_META_KEY = 'io.switchboard/user';

/** The meta-tools' definitions as tools/list shows them. */
export const metaToolDefinitions: readonly Tool[] = [
  {
    name: META_TOOLS.find,
    title: 'Find a capability',
    description:
      'Find the best tools for a need described in plain words (e.g. "open a bug report in the tracker"), across every connected server. Returns ranked matches with the tool id to call, the server, why it matched and a decisionId; pass that decisionId when calling the tool.',
    inputSchema: {
      type: 'object',
      properties: {
        capability: { type: 'string', description: 'The need, in your own words.' },
        k: { type: 'integer', minimum: 1, maximum: 50, default: 5, description: 'How many matches to return.' },
        servers: { type: 'array', items: { type: 'string' }, description: 'Only consider tools of these servers.' },
        include_schema: { type: 'boolean', default: false, description: "Include each match's input schema." },
        version: {
          type: 'string',
          description: 'Only tools that have a backend serving this version (e.g. "v1") compatibly.',
        },
      },
      required: ['capability'],
      additionalProperties: false,
    },
    annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
  },
  {
    name: META_TOOLS.call,
    title: 'Call a capability',
    description:
      'Call a tool by its id (from find_capability), or give a capability in plain words to call the best confident match. Arguments go to the tool unchanged. With fanout: true, every server offering that capability is called at once and the results are aggregated.',
    inputSchema: {
      type: 'object',
      properties: {
        tool: { type: 'string', description: 'Tool id, e.g. "github__create_issue".' },
        capability: { type: 'string', description: 'A need in words; used when no tool id is given.' },
        arguments: { type: 'object', description: "The tool's arguments.", additionalProperties: true },
        decisionId: { type: 'string', description: 'The decisionId of the find_capability answer this call follows.' },
        fanout: {
          type: 'boolean',
          default: false,
          description: 'Call every server that offers this capability at once and aggregate the results.',
        },
        strategy: {
          type: 'string',
          enum: ['merge', 'first', 'quorum'],
          default: 'merge',
          description: 'With fanout: merge all results, take the first success, or wait for a quorum.',
        },
        quorum: { type: 'integer', minimum: 1, description: 'With strategy quorum: successes needed.' },
        version: {
          type: 'string',
          description: 'Pin the tool version (e.g. "v1"): the call goes to a backend compatible with it.',
        },
      },
      required: ['arguments'],
      additionalProperties: false,
    },
  },
  {
    name: META_TOOLS.report,
    title: 'Report an outcome',
    description:
      'Tell the gateway whether the tool chosen for a find_capability decision did the job (feeds A/B experiment results).',
    inputSchema: {
      type: 'object',
      properties: {
        decisionId: { type: 'string', description: 'The decisionId of the find_capability answer.' },
        success: { type: 'boolean', description: 'Did it work?' },
        note: { type: 'string', description: 'Optional free text.' },
      },
      required: ['decisionId', 'success'],
      additionalProperties: false,
    },
    annotations: { readOnlyHint: false, idempotentHint: false, openWorldHint: false },
  },
];

/** Renders a find_capability answer as structured content plus a short text. */
export function findResultToToolResult(result: FindResult, includeSchema: boolean): CallToolResult {
  const matches = result.matches.map((m) => ({
    tool: m.tool,
    server: m.server,
    title: m.title,
    description: m.description,
    score: m.score,
    reasons: m.reasons,
    alternatives: m.alternatives.map((a) => ({ tool: a.tool, server: a.server, score: a.score })),
    ...(includeSchema ? { inputSchema: m.inputSchema } : {}),
  }));
  const lines = result.confident
    ? matches.map(
        (m, i) =>
          `${i + 1}. ${m.tool} (server ${m.server}, score ${m.score}): ${(m.description ?? '').split('\n')[0]?.slice(0, 160) ?? ''}${m.reasons.length ? ` [${m.reasons.join('; ')}]` : ''}`,
      )
    : [
        'No confident match: no tool clearly fits this need.',
        ...matches.slice(0, 3).map((m) => `closest: ${m.tool} (score ${m.score})`),
      ];
  return {
    content: [{ type: 'text', text: `${lines.join('\n')}\ndecisionId: ${result.decisionId}` }],
    structuredContent: {
      decisionId: result.decisionId,
      catalogVersion: result.catalogVersion,
      confident: result.confident,
      confidence: result.confidence,
      matches,
    },
  };
}
