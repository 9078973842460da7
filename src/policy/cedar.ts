/**
 * Policy decisions in Cedar (`@cedar-policy/cedar-wasm`): who may list, find, call, get, read and
 * administer what.
 *
 * A `PolicyEngine` is one immutable, validated policy set: every file is checked against the
 * schema of entities.ts, and every problem of every file is reported at once with file:line:col, so
 * a typo in an attribute name fails the load instead of silently never matching. Once any policy
 * set is in force the default is deny (Cedar's semantics, an empty set denies everything).
 *
 * Speed: the set is parsed once into the wasm module (`preparsePolicySet`, keyed by a hash of its
 * content so several engines, e.g. one per tenant, never collide; the module keeps every set it was
 * given until the process exits, as cedar-wasm has no call to drop one), one set per action holding
 * only the policies whose action scope can match it; each decision sends only the
 * attributes some policy reads. A Cedar call still costs tens to hundreds of microseconds, so the
 * discovery filter goes through `DecisionCache`, which keys each decision by exactly what can
 * change it (see entities.ts `cacheKey`).
 */
import { createHash } from 'node:crypto';
import cedar from '@cedar-policy/cedar-wasm/nodejs';
import type { DetailedError, PolicyJson } from '@cedar-policy/cedar-wasm/nodejs';
import { GatewayError } from '../core/errors.js';
import type { Principal } from '../core/principal.js';
import {
  ACTION_KINDS,
  CEDAR_SCHEMA,
  type PolicyAction,
  type PolicyRequest,
  type References,
  cacheKey,
  collectReferences,
  emptyReferences,
  principalKey,
  toCedar,
} from './entities.js';

/** One policy file: `id` names its policies (`<id>#<n>`), `path` (default: id) is used in messages. */
export interface PolicyText {
  readonly id: string;
  readonly text: string;
  readonly path?: string;
}

/** The answer to one request. `policies` are the ids of the policies that decided it (empty: default deny). */
export interface PolicyDecision {
  readonly allow: boolean;
  /** `permit`: some permit matched and no forbid; `forbid`: a forbid matched; `default`: nothing matched. */
  readonly reason: 'permit' | 'forbid' | 'default';
  readonly policies: readonly string[];
  /** Policies that failed to evaluate (they count as not matching), as `<id>: <message>`. */
  readonly errors: readonly string[];
}

/** A validated, preparsed Cedar policy set. */
export class PolicyEngine {
  /** Number of policies. */
  readonly size: number;
  /** Hash of the policies' ids and text: equal sets have equal fingerprints. */
  readonly fingerprint: string;
  /** Policy ids, in file order. */
  readonly ids: readonly string[];
  /** Validator warnings (e.g. a policy that can never match), as `file:line:col: message`. */
  readonly warnings: readonly string[];
  /** Per action: the preparsed set of the policies whose scope can match it (none: default deny). */
  readonly #sets: Partial<Record<PolicyAction, string>> = {};
  /** Per action: what those policies read. */
  readonly #refs = {} as Record<PolicyAction, References>;
  readonly #order: ReadonlyMap<string, number>;
  /** Principals are immutable and reused across a discovery pass: their key part is built once. */
  readonly #principalKeys = new WeakMap<Principal, string>();

  /** Parses and validates `policies`; throws CONFIG_INVALID naming every problem with file:line:col. */
  constructor(policies: readonly PolicyText[]) {
    const problems: string[] = [];
    const warnings: string[] = [];
    const byId = new Map<string, { label: string; text: string; json: PolicyJson }>();
    for (const file of policies) {
      const label = file.path ?? file.id;
      const compiled = compileFile(file, label);
      problems.push(...compiled.problems);
      warnings.push(...compiled.warnings);
      for (const policy of compiled.policies) {
        const other = byId.get(policy.id);
        if (other === undefined) byId.set(policy.id, { label, text: policy.text, json: policy.json });
        else {
          const at = Buffer.byteLength(file.text.slice(0, Math.max(0, file.text.indexOf(`"${policy.id}"`))));
          problems.push(
            `${label}:${lineCol(file.text, at)}: policy id "${policy.id}" is already used in ${other.label}`,
          );
        }
      }
    }
    if (problems.length > 0) {
      const n = problems.length;
      const message = `Invalid policy (${n} problem${n > 1 ? 's' : ''}):\n${problems.join('\n')}`;
      throw new GatewayError('CONFIG_INVALID', message, { problems });
    }
    this.ids = [...byId.keys()];
    this.#order = new Map(this.ids.map((id, i) => [id, i]));
    this.size = this.ids.length;
    const content = JSON.stringify([...byId].map(([id, p]) => [id, p.text]));
    this.fingerprint = createHash('sha256').update(content).digest('hex').slice(0, 16);
    this.warnings = warnings;
    // Cedar evaluates every policy of a set on every request (a few µs each in wasm), so each action
    // gets the slice of policies whose action scope can match it; results are the same by construction.
    for (const action of Object.keys(ACTION_KINDS) as PolicyAction[]) {
      const slice = [...byId].filter(([, p]) => appliesTo(p.json, action));
      const refs = emptyReferences();
      for (const [, p] of slice) collectReferences(p.json, refs);
      this.#refs[action] = refs;
      if (slice.length === 0) continue;
      const setId = `switchboard-${this.fingerprint}-${action}`;
      const loaded = cedar.preparsePolicySet(setId, {
        staticPolicies: Object.fromEntries(slice.map(([id, p]) => [id, p.text])),
      });
      if (loaded.type === 'failure') {
        const messages = loaded.errors.map((e) => e.message);
        throw new GatewayError('CONFIG_INVALID', `Invalid policy: ${messages.join('; ')}`, { problems: messages });
      }
      this.#sets[action] = setId;
    }
  }

  /** Decides one request. Throws INTERNAL when the action does not apply to the resource's kind (a caller bug). */
  decide(request: PolicyRequest): PolicyDecision {
    if (!ACTION_KINDS[request.action].includes(request.resource.kind))
      throw new GatewayError(
        'INTERNAL',
        `Policy action ${request.action} does not apply to a ${request.resource.kind}`,
      );
    const setId = this.#sets[request.action];
    if (setId === undefined) return DEFAULT_DENY;
    const call = toCedar(request, this.#refs[request.action], request.context?.now ?? Date.now());
    const answer = cedar.statefulIsAuthorized({
      ...call,
      context: call.context as Record<string, never>,
      preparsedPolicySetId: setId,
    });
    if (answer.type === 'failure')
      return Object.freeze({
        allow: false,
        reason: 'default',
        policies: [],
        errors: answer.errors.map((e) => e.message),
      });
    const { decision, diagnostics } = answer.response;
    const allow = decision === 'allow';
    return Object.freeze({
      allow,
      reason: allow ? 'permit' : diagnostics.reason.length > 0 ? 'forbid' : 'default',
      // Cedar lists them in hash order, which varies: file order reads better and compares equal.
      policies: Object.freeze(diagnostics.reason.sort((a, b) => (this.#order.get(a) ?? 0) - (this.#order.get(b) ?? 0))),
      errors: Object.freeze(diagnostics.errors.map((e) => `${e.policyId}: ${e.error.message}`)),
    });
  }

  /** The key under which this request's decision may be cached, or undefined when it must not be. */
  cacheKey(request: PolicyRequest, nowMs: number = request.context?.now ?? Date.now()): string | undefined {
    let principal = this.#principalKeys.get(request.principal);
    if (principal === undefined) {
      principal = principalKey(request.principal);
      this.#principalKeys.set(request.principal, principal);
    }
    return cacheKey(request, this.#refs[request.action], nowMs, principal);
  }
}

/** One file's policies (text, Cedar JSON, id), or its problems; validated against the schema. */
function compileFile(
  file: PolicyText,
  label: string,
): { problems: string[]; warnings: string[]; policies: { id: string; text: string; json: PolicyJson }[] } {
  const fail = (problems: string[]) => ({ problems, warnings: [], policies: [] });
  const parts = cedar.policySetTextToParts(file.text);
  if (parts.type === 'failure') return fail(parts.errors.map((e) => describe(label, file.text, e)));
  if (parts.policy_templates.length > 0) {
    const at = Buffer.byteLength(file.text.slice(0, Math.max(0, file.text.search(/\?(principal|resource)/))));
    return fail([`${label}:${lineCol(file.text, at)}: templates (?principal / ?resource slots) are not supported`]);
  }
  const checked = cedar.validate({
    schema: CEDAR_SCHEMA,
    policies: { staticPolicies: file.text },
    validationSettings: { mode: 'strict' },
  });
  if (checked.type === 'failure') return fail(checked.errors.map((e) => describe(label, file.text, e)));
  // Cedar hands the parts back ordered by its ids as strings (policy0, policy1, policy10, policy11,
  // policy2, ...): put them back in file order, which is what policyN and `<file>#<n>` count.
  const order = Array.from({ length: parts.policies.length }, (_, i) => `policy${i}`).sort();
  const inFileOrder: string[] = [];
  parts.policies.forEach((text, k) => (inFileOrder[Number(order[k]!.slice('policy'.length))] = text));
  const policies = inFileOrder.map((text, i) => {
    const answer = cedar.policyToJson(text);
    if (answer.type === 'failure') throw new GatewayError('INTERNAL', `Cedar could not reread a policy of ${label}`);
    return { id: answer.json.annotations?.['id'] ?? `${file.id}#${i}`, text, json: answer.json };
  });
  // The validator names policies policy0, policy1, ... in file order.
  const idOf = (cedarId: string) => policies[Number(cedarId.replace(/^policy/, ''))]?.id ?? cedarId;
  const problems: string[] = [];
  const seen = new Set<string>(); // it repeats one mistake once per resource type it checked: keep one per place
  for (const v of checked.validationErrors) {
    const problem = describe(label, file.text, v.error, idOf(v.policyId));
    const place = problem.slice(0, problem.indexOf(': policy'));
    if (!seen.has(place)) problems.push(problem);
    seen.add(place);
  }
  const warnings = checked.validationWarnings.map((v) => describe(label, file.text, v.error, idOf(v.policyId)));
  return problems.length > 0 ? fail(problems) : { problems, warnings, policies };
}

/** Whether a policy's action scope can match `action` (the schema declares no action groups). */
function appliesTo(policy: PolicyJson, action: PolicyAction): boolean {
  const scope = policy.action;
  if (scope.op === 'All') return true;
  const uids = 'entities' in scope ? scope.entities : 'entity' in scope ? [scope.entity] : [];
  return uids.some((uid) => ('__entity' in uid ? uid.__entity : uid).id === action);
}

const DEFAULT_DENY: PolicyDecision = Object.freeze({ allow: false, reason: 'default', policies: [], errors: [] });

/**
 * Bounded LRU of decisions, shared by engines (keys carry the engine's fingerprint, so a reload
 * starts fresh and an identical reload keeps its entries). Keep one per gateway, not per request.
 */
export class DecisionCache {
  readonly #max: number;
  readonly #entries = new Map<string, PolicyDecision>();
  /** Decisions answered from the cache / computed by Cedar (uncacheable requests are not counted). */
  hits = 0;
  misses = 0;

  constructor(options: { max?: number } = {}) {
    this.#max = Math.max(1, options.max ?? 50_000);
  }

  /** Number of cached decisions. */
  get size(): number {
    return this.#entries.size;
  }

  /** `engine.decide(request)`, answered from the cache when the same question was asked before. */
  decide(engine: PolicyEngine, request: PolicyRequest): PolicyDecision {
    const now = request.context?.now ?? Date.now();
    const key = engine.cacheKey(request, now);
    if (key === undefined) return engine.decide(request);
    const full = `${engine.fingerprint}\u0000${key}`;
    const hit = this.#entries.get(full);
    if (hit) {
      this.hits++;
      this.#entries.delete(full);
      this.#entries.set(full, hit);
      return hit;
    }
    this.misses++;
    const decision = engine.decide(
      request.context?.now === undefined ? { ...request, context: { ...request.context, now } } : request,
    );
    this.#entries.set(full, decision);
    if (this.#entries.size > this.#max) this.#entries.delete(this.#entries.keys().next().value as string);
    return decision;
  }

  /** Drops every entry. */
  clear(): void {
    this.#entries.clear();
  }
}

/** `file:line:col: [policy] message (label); help` from one of Cedar's errors. */
function describe(label: string, text: string, error: DetailedError, policyId?: string): string {
  const location = error.sourceLocations?.[0];
  const where = location ? `${label}:${lineCol(text, location.start)}` : label;
  const message = error.message
    .replace(/^failed to parse policies from string: /, '')
    .replace(/^for policy `[^`]*`, /, '');
  const detail = location?.label ? ` (${location.label})` : '';
  const help = error.help ? `; ${error.help}` : '';
  return `${where}: ${policyId ? `policy ${policyId}: ` : ''}${message}${detail}${help}`;
}

/** 1-based line and column of a UTF-8 byte offset (Cedar reports byte offsets). */
function lineCol(text: string, byteOffset: number): string {
  const before = Buffer.from(text, 'utf8').subarray(0, byteOffset).toString('utf8');
  const lines = before.split('\n');
  return `${lines.length}:${(lines[lines.length - 1]?.length ?? 0) + 1}`;
}
