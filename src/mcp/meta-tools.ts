/**
 * The meta-tools agents use instead of (or beside) the full catalog: `find_capability` ranks tools
 * for a need in plain words; `call_capability` calls a tool by id, or the best match for a need.
 *
 * Calling by capability lets the gateway pick the tool, so it must not pick one that changes things
 * behind the agent's back: only read-only tools run that way unless the caller opts in.
 */
import type { CallToolResult, Tool } from '@modelcontextprotocol/server';
import { GatewayError } from '../core/errors.js';
import type { FindResult } from '../gateway/capabilities.js';

/** `_meta` key linking a tools/call to the find_capability decision that suggested it. */
export const DECISION_META_KEY = 'io.switchboard/decisionId';

/** Names of the meta-tools. */
export const META_TOOLS = {
  find: 'find_capability',
  call: 'call_capability',
  report: 'report_outcome',
  getCall: 'get_call',
  cancelCall: 'cancel_call',
} as const;

/** `_meta` key for a per-call tool version pin (e.g. "v1"). */
export const PIN_META_KEY = 'io.switchboard/pin';

/** `_meta` key naming the end user behind a call (experiments whose unit is the user). */
export const USER_META_KEY = 'io.switchboard/user';

/** `_meta` key on a call_capability result routed by capability: which tool ran, and why (see {@link RoutedCall}). */
export const ROUTED_META_KEY = 'io.switchboard/routed';

/** How call_capability chose the tool it ran for a capability. */
export interface RoutedCall {
  readonly tool: string;
  readonly server: string;
  readonly confidence: number;
  readonly reasons: readonly string[];
  readonly decisionId: string;
}

/**
 * The instructions agents get at initialize. With the meta-tools exposed they say that
 * find_capability exists and when it helps; kept short, since hosts put them in the model's prompt.
 */
export function agentInstructions(metaTools: boolean): string {
  const base = 'Switchboard federates many MCP servers. Tool names are "<server>__<tool>" unless configured otherwise.';
  if (!metaTools) return base;
  return `${base} When you are not sure which tool fits a task, or the tool you need is not listed, call find_capability with the need in your own words: it ranks tools across every server, says why each matched, and gives the id to call. call_capability with a capability runs the best match only if it is read-only, unless you pass allowSideEffects: true.`;
}

/**
 * Why running `tool` unasked may change things, or undefined when it is annotated read-only and not
 * destructive. Annotations are the server's own hints; without them a tool is assumed to write.
 */
export function sideEffectRisk(tool: Tool | undefined): string | undefined {
  if (!tool) return 'it is not in the catalog';
  const hints = tool.annotations;
  const risks = [
    hints?.readOnlyHint === true ? '' : 'it is not annotated read-only',
    hints?.destructiveHint === true ? 'it is annotated destructive' : '',
  ].filter(Boolean);
  return risks.length ? risks.join(' and ') : undefined;
}

/**
 * A routed call's result: the upstream's result with its content items unchanged and in order,
 * `_meta[ROUTED_META_KEY]` for programs, and one trailing text item for models (hosts rarely show
 * `_meta` to the model, and the model must be able to tell which tool ran).
 */
export function withRouting(result: CallToolResult, routed: RoutedCall): CallToolResult {
  const why = routed.reasons.length ? `: ${routed.reasons.join('; ')}` : '';
  const note = `[call_capability ran ${routed.tool} (server ${routed.server}, confidence ${routed.confidence})${why}; decisionId: ${routed.decisionId}]`;
  return {
    ...result,
    content: [...(result.content ?? []), { type: 'text', text: note }],
    _meta: { ...result._meta, [ROUTED_META_KEY]: { ...routed } },
  };
}

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
      'Call a tool by its id (from find_capability), or give a capability in plain words to call the best confident match. Arguments go to the tool unchanged. Called by capability, only a tool annotated read-only runs unless allowSideEffects is true; the answer names the tool chosen and why. With fanout: true, every server offering that capability is called at once and the results are aggregated.',
    inputSchema: {
      type: 'object',
      properties: {
        tool: { type: 'string', description: 'Tool id, e.g. "github__create_issue".' },
        capability: { type: 'string', description: 'A need in words; used when no tool id is given.' },
        arguments: {
          type: 'object',
          description: "The tool's arguments (may be left out for a tool without required parameters).",
          additionalProperties: true,
        },
        allowSideEffects: {
          type: 'boolean',
          default: false,
          description:
            'With capability: also run a tool that may change things (one not annotated read-only, or annotated destructive). Without it such a match is refused and named, so you can check it first.',
        },
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
        async: {
          type: 'boolean',
          default: false,
          description:
            'Answer at once with a handle instead of waiting for the result (for long-running tools); follow it with get_call and stop it with cancel_call.',
        },
      },
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
  {
    name: META_TOOLS.getCall,
    title: 'Get an async call',
    description:
      "The status, progress and (once it ended) the result of a call started with call_capability's async: true. With waitMs, waits up to that long for a change first.",
    inputSchema: {
      type: 'object',
      properties: {
        handle: { type: 'string', maxLength: 64, description: 'The handle call_capability returned.' },
        waitMs: {
          type: 'integer',
          minimum: 0,
          maximum: 30000,
          default: 0,
          description: 'Wait up to this many milliseconds for the status or progress to change (at most 30000).',
        },
      },
      required: ['handle'],
      additionalProperties: false,
    },
    annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
  },
  {
    name: META_TOOLS.cancelCall,
    title: 'Cancel an async call',
    description: 'Cancels a call started with async: true; the cancel reaches the server that runs it.',
    inputSchema: {
      type: 'object',
      properties: { handle: { type: 'string', maxLength: 64, description: 'The handle call_capability returned.' } },
      required: ['handle'],
      additionalProperties: false,
    },
    annotations: { readOnlyHint: false, idempotentHint: true, openWorldHint: false },
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

/**
 * The refusal when call_capability's best match for a capability may change things: names the
 * tool and why, says how to go ahead, and lists the matches (each marked read-only or not).
 */
export function sideEffectRefusal(
  found: FindResult,
  chosen: { readonly tool: string; readonly risk: string },
  riskOf: (toolId: string) => string | undefined,
): GatewayError {
  const matches = found.matches.map((m) => ({
    tool: m.tool,
    server: m.server,
    score: m.score,
    readOnly: riskOf(m.tool) === undefined,
  }));
  const listed = matches
    .map(
      (m, i) =>
        `${i + 1}. ${m.tool} (server ${m.server}, score ${m.score}, ${m.readOnly ? 'read-only' : 'may change things'})`,
    )
    .join('\n');
  return new GatewayError(
    'BAD_REQUEST',
    `${chosen.tool} may change things: ${chosen.risk}; pass allowSideEffects: true to run it, or call it by id.\nmatches:\n${listed}\ndecisionId: ${found.decisionId}`,
    {
      refused: 'side-effects',
      tool: chosen.tool,
      reason: chosen.risk,
      confidence: found.confidence,
      decisionId: found.decisionId,
      matches,
    },
  );
}
