/**
 * The Cedar entity model of the gateway: the schema policies are validated against, and the
 * translation of one request (principal, action, resource, context) into Cedar's JSON.
 *
 * Every policy is read once at load (`collectReferences`) to learn which attributes it can ever
 * read. Requests then carry only those attributes (Cedar parses every attribute of every entity on
 * every call, so unread ones cost time for nothing), and `cacheKey` keys a decision by exactly what
 * can change it: with policies that never look at a tool's id or name, every tool of one server with
 * the same annotations shares one decision, which keeps discovery over a 10k-tool catalog cheap.
 */
import type { EntityJson, EntityUidJson, Expr, PolicyJson } from '@cedar-policy/cedar-wasm/nodejs';
import type { Principal } from '../core/principal.js';
import { DEFAULT_TENANT } from '../core/principal.js';
import type { ToolAnnotations } from '../core/protocol.js';

/** The namespace of every gateway entity and action. */
export const NAMESPACE = 'Switchboard';

/** The schema (Cedar syntax) every policy file is validated against, so a misspelt attribute is an error. */
export const CEDAR_SCHEMA = `namespace Switchboard {
  entity Tenant;
  entity Group;
  entity Agent in [Group, Tenant] = {
    tenant: String, name: String, user?: String, groups: Set<String>, source: String
  };
  entity Gateway;
  entity Server = { name: String, tenant: String };
  entity Tool in [Server] = {
    server: String, name: String, id: String, tenant: String,
    readOnly: Bool, destructive: Bool, idempotent: Bool, openWorld: Bool
  };
  entity Prompt in [Server] = { server: String, name: String, id: String, tenant: String };
  entity Resource in [Server] = { server: String, name: String, id: String, tenant: String };
  entity Args tags String;
  entity IntArgs tags Long;
  type RequestContext = { time: Long, hour: Long, weekday: Long, args?: Args, intArgs?: IntArgs };
  action list appliesTo { principal: [Agent], resource: [Tool, Prompt, Resource, Server], context: RequestContext };
  action find appliesTo { principal: [Agent], resource: [Tool], context: RequestContext };
  action call appliesTo { principal: [Agent], resource: [Tool], context: RequestContext };
  action getPrompt appliesTo { principal: [Agent], resource: [Prompt], context: RequestContext };
  action readResource appliesTo { principal: [Agent], resource: [Resource], context: RequestContext };
  action admin appliesTo { principal: [Agent], resource: [Gateway], context: RequestContext };
}`;

/** What the principal asks to do. `list` is tools/prompts/resources lists, `find` find_capability. */
export type PolicyAction = 'list' | 'find' | 'call' | 'getPrompt' | 'readResource' | 'admin';

/** The MCP tool annotations that become attributes (absent hints take the MCP spec's defaults). */
export type ToolHints = Pick<ToolAnnotations, 'readOnlyHint' | 'destructiveHint' | 'idempotentHint' | 'openWorldHint'>;

/**
 * The target of a request. `id` is the exposed (namespaced) id; `name` the upstream's own name
 * (defaults to `id`); `tenant` the owner of the server (defaults to `default`).
 */
export type PolicyResource =
  | { kind: 'tool'; id: string; server: string; name?: string; tenant?: string; annotations?: ToolHints | undefined }
  | { kind: 'prompt' | 'resource'; id: string; server: string; name?: string; tenant?: string }
  | { kind: 'server'; id: string; tenant?: string }
  | { kind: 'gateway' };

/** Per-request facts. `now` is epoch milliseconds (default: the clock); `args` the call's arguments. */
export interface PolicyContext {
  readonly now?: number;
  readonly args?: Readonly<Record<string, unknown>> | undefined;
}

/** One question to the policy. */
export interface PolicyRequest {
  readonly principal: Principal;
  readonly action: PolicyAction;
  readonly resource: PolicyResource;
  readonly context?: PolicyContext | undefined;
}

/** Which resource kinds each action applies to (as the schema declares). */
export const ACTION_KINDS: Readonly<Record<PolicyAction, readonly PolicyResource['kind'][]>> = {
  list: ['tool', 'prompt', 'resource', 'server'],
  find: ['tool'],
  call: ['tool'],
  getPrompt: ['prompt'],
  readResource: ['resource'],
  admin: ['gateway'],
};

const TYPE: Record<PolicyResource['kind'], string> = {
  tool: `${NAMESPACE}::Tool`,
  prompt: `${NAMESPACE}::Prompt`,
  resource: `${NAMESPACE}::Resource`,
  server: `${NAMESPACE}::Server`,
  gateway: `${NAMESPACE}::Gateway`,
};
const SERVER_TYPE = TYPE.server;

/** What a policy set can read: attribute names per variable, and whether it looks at a resource's identity. */
export interface References {
  readonly principal: Set<string>;
  readonly resource: Set<string>;
  readonly context: Set<string>;
  /** `resource == X`, `resource in <Tool>`, or the resource used as a value: its id matters. */
  resourceIdentity: boolean;
  /** The context used as a whole (`context == {...}`): every key matters. */
  contextWhole: boolean;
}

/** References of an empty policy set. */
export function emptyReferences(): References {
  return {
    principal: new Set(),
    resource: new Set(),
    context: new Set(),
    resourceIdentity: false,
    contextWhole: false,
  };
}

/** Adds what one policy (Cedar's JSON form) can read to `into`. */
export function collectReferences(policy: PolicyJson, into: References): void {
  const scope = policy.resource;
  if (scope.op === '==') into.resourceIdentity = true;
  if (scope.op === 'in') checkIn(scope, into);
  if (scope.op === 'is' && scope.in) checkIn(scope.in, into);
  for (const clause of policy.conditions) walk(clause.body, into);
}

/** `resource in X` reads only the resource's parents (its server) when X is a Server literal. */
function checkIn(target: { entity?: EntityUidJson } | { slot: string }, into: References): void {
  if (!('entity' in target) || !isServer(target.entity)) into.resourceIdentity = true;
}

function isServer(uid: unknown): boolean {
  const value = (uid as { __entity?: unknown })?.__entity ?? uid;
  return (value as { type?: unknown })?.type === SERVER_TYPE;
}

function walk(node: unknown, into: References): void {
  if (node === null || typeof node !== 'object') return;
  if (Array.isArray(node)) return node.forEach((n) => walk(n, into));
  const expr = node as Record<string, unknown>;
  const access = (expr['.'] ?? expr['has']) as { left: Expr; attr: string | string[] } | undefined;
  if (access && typeof access === 'object' && 'left' in access) {
    const attr = Array.isArray(access.attr) ? (access.attr[0] ?? '') : access.attr;
    const base = (access.left as { Var?: string }).Var;
    if (base === 'principal' || base === 'resource' || base === 'context') into[base].add(attr);
    else {
      // Read off an arbitrary expression (e.g. an if-then-else of entities): could be any of them.
      into.principal.add(attr);
      into.resource.add(attr);
      into.context.add(attr);
      walk(access.left, into);
    }
    return;
  }
  const membership = expr['in'] as { left: Expr; right: Expr } | undefined;
  if (membership && (membership.left as { Var?: string }).Var === 'resource') {
    const right = membership.right as { Value?: unknown; Set?: { Value?: unknown }[] };
    const literals = right.Set ? right.Set.map((e) => e.Value) : [right.Value];
    if (!literals.every(isServer)) into.resourceIdentity = true;
    return walk(membership.right, into);
  }
  const type = expr['is'] as { left: Expr; in?: Expr } | undefined;
  if (type && (type.left as { Var?: string }).Var === 'resource') {
    // `resource is Tool` reads only the kind, which every key has; `... in X` is a membership test.
    if (type.in && !isServer((type.in as { Value?: unknown }).Value)) into.resourceIdentity = true;
    return walk(type.in, into);
  }
  if (expr['Var'] === 'resource') into.resourceIdentity = true;
  if (expr['Var'] === 'context') into.contextWhole = true;
  if ('Value' in expr) return;
  for (const child of Object.values(expr)) walk(child, into);
}

/** Cedar's request plus the entities it needs. */
export interface CedarRequest {
  principal: EntityUidJson;
  action: EntityUidJson;
  resource: EntityUidJson;
  context: Record<string, unknown>;
  entities: EntityJson[];
}

/** The Agent entity id: tenant-qualified, so `Agent::"acme/ci-bot"` never matches another tenant's agent. */
export function agentId(principal: Principal): string {
  return `${principal.tenant}/${principal.agent}`;
}

/** Translates a request into Cedar's JSON, carrying only the attributes some policy reads. */
export function toCedar(request: PolicyRequest, refs: References, nowMs: number): CedarRequest {
  const { principal, resource } = request;
  const pick = (names: Set<string>, attrs: Record<string, unknown>): Record<string, never> => {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(attrs)) if (v !== undefined && names.has(k)) out[k] = v;
    return out as Record<string, never>;
  };
  const principalUid = { type: `${NAMESPACE}::Agent`, id: agentId(principal) };
  const entities: EntityJson[] = [
    {
      uid: principalUid,
      attrs: pick(refs.principal, {
        tenant: principal.tenant,
        name: principal.agent,
        user: principal.user,
        groups: [...principal.groups],
        source: principal.source,
      }),
      parents: [
        ...principal.groups.map((g) => ({ type: `${NAMESPACE}::Group`, id: g })),
        { type: `${NAMESPACE}::Tenant`, id: principal.tenant },
      ],
    },
  ];
  const resourceUid = { type: TYPE[resource.kind], id: resource.kind === 'gateway' ? 'switchboard' : resource.id };
  if (resource.kind !== 'gateway') {
    const tenant = resource.tenant ?? DEFAULT_TENANT;
    const isServerKind = resource.kind === 'server';
    const attrs: Record<string, unknown> = isServerKind
      ? { name: resource.id, tenant }
      : { server: resource.server, name: resource.name ?? resource.id, id: resource.id, tenant };
    if (resource.kind === 'tool') Object.assign(attrs, hintAttrs(resource.annotations));
    entities.push({
      uid: resourceUid,
      attrs: pick(refs.resource, attrs),
      parents: isServerKind ? [] : [{ type: SERVER_TYPE, id: resource.server }],
    });
  }
  const context: Record<string, unknown> = {};
  const wants = (key: string): boolean => refs.contextWhole || refs.context.has(key);
  if (wants('time')) context.time = Math.floor(nowMs / 1000);
  if (wants('hour')) context.hour = new Date(nowMs).getUTCHours();
  if (wants('weekday')) context.weekday = new Date(nowMs).getUTCDay();
  const args = request.context?.args;
  if (args && (wants('args') || wants('intArgs'))) addArgs(args, context, entities);
  return {
    principal: principalUid,
    action: { type: `${NAMESPACE}::Action`, id: request.action },
    resource: resourceUid,
    context,
    entities,
  };
}

/**
 * MCP's defaults for absent hints: not read-only, destructive, not idempotent, open world. A read-only
 * tool is never destructive (the spec: destructiveHint is meaningful only when readOnlyHint is false).
 */
function hintAttrs(hints: ToolHints | undefined): {
  readOnly: boolean;
  destructive: boolean;
  idempotent: boolean;
  openWorld: boolean;
} {
  const readOnly = hints?.readOnlyHint ?? false;
  return {
    readOnly,
    destructive: !readOnly && (hints?.destructiveHint ?? true),
    idempotent: hints?.idempotentHint ?? false,
    openWorld: hints?.openWorldHint ?? true,
  };
}

/** Top-level scalar arguments as tags: every one as a string in `args`, integers also in `intArgs`. */
function addArgs(args: Readonly<Record<string, unknown>>, context: Record<string, unknown>, entities: EntityJson[]) {
  const strings: Record<string, string> = {};
  const ints: Record<string, number> = {};
  for (const [key, value] of Object.entries(args)) {
    if (typeof value === 'string') strings[key] = value;
    else if (typeof value === 'boolean') strings[key] = String(value);
    else if (typeof value === 'number' && Number.isFinite(value)) {
      strings[key] = String(value);
      if (Number.isSafeInteger(value)) ints[key] = value;
    }
  }
  const args_ = { type: `${NAMESPACE}::Args`, id: 'call' };
  const ints_ = { type: `${NAMESPACE}::IntArgs`, id: 'call' };
  entities.push(
    { uid: args_, attrs: {}, parents: [], tags: strings },
    { uid: ints_, attrs: {}, parents: [], tags: ints },
  );
  context.args = { __entity: args_ };
  context.intArgs = { __entity: ints_ };
}

/** Everything about a principal a policy can read, as one string (a cache key part). */
export function principalKey(p: Principal): string {
  return `${p.tenant}\u0001${p.agent}\u0001${p.user ?? ''}\u0001${p.source}\u0001${p.groups.join('\u0002')}`;
}

/**
 * A key naming everything the decision can depend on, or undefined when it depends on something
 * that changes per call (the time in seconds, the arguments, the whole context).
 */
export function cacheKey(
  request: PolicyRequest,
  refs: References,
  nowMs: number,
  principal: string,
): string | undefined {
  if (refs.contextWhole || refs.context.has('time')) return undefined;
  if (request.context?.args && (refs.context.has('args') || refs.context.has('intArgs'))) return undefined;
  let key = `${principal}\u0001${request.action}`;
  const r = request.resource;
  if (r.kind === 'gateway') key += '\u0001g';
  else {
    const server = r.kind === 'server' ? r.id : r.server;
    key += `\u0001${r.kind}\u0001${server}`;
    if (refs.resource.has('tenant')) key += `\u0001${r.tenant ?? DEFAULT_TENANT}`;
    if (refs.resourceIdentity || refs.resource.has('id')) key += `\u0001${r.id}`;
    if (r.kind !== 'server' && refs.resource.has('name')) key += `\u0001${r.name ?? r.id}`;
    if (r.kind === 'tool') {
      const h = hintAttrs(r.annotations);
      key += `\u0001${+h.readOnly}${+h.destructive}${+h.idempotent}${+h.openWorld}`;
    }
  }
  if (refs.context.has('hour') || refs.context.has('weekday')) {
    const date = new Date(nowMs);
    key += `\u0001${date.getUTCHours()}\u0001${date.getUTCDay()}`;
  }
  return key;
}
