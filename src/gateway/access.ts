/**
 * Who may see and call what: a principal's view of the catalog, from its credential's scopes
 * (policy/scopes.ts) and the Cedar policy in force (policy/cedar.ts), and the decision for one call.
 *
 * Discovery is scoped by construction: every agent-facing list (tools, prompts, resources, templates),
 * find_capability's candidates, suggestions and equivalents are drawn from the view, never filtered
 * after the fact, so a forbidden tool cannot show through a score, a count or a "did you mean". A
 * hidden tool reads exactly like a tool that does not exist; a visible one whose call is refused
 * says why (the missing scope, or that policy denies it, with the deciding policy's id in details).
 *
 * Views are cached per (principal, catalog version, policy generation): computing one costs a scope
 * test per item and, with a policy, a decision per distinct (server, annotations) class (DecisionCache).
 * Unrestricted callers (auth `none`, a sidecar's owner) with no policy loaded share one full view
 * that wraps the snapshot itself, so the open mode costs nothing.
 */
import type { CatalogPrompt, CatalogSnapshot, CatalogTool } from '../catalog/snapshot.js';
import { templateMatches } from '../catalog/uri-template.js';
import { GatewayError } from '../core/errors.js';
import { principalKey, type Principal } from '../core/principal.js';
import { DecisionCache, type PolicyDecision, type PolicyEngine } from '../policy/cedar.js';
import type { PolicyAction, PolicyResource } from '../policy/entities.js';
import { ScopeSet, type ScopeTarget } from '../policy/scopes.js';

type Resource = CatalogSnapshot['resources'][number];
type ResourceTemplate = CatalogSnapshot['resourceTemplates'][number];

/** What one principal may see of one snapshot. */
export interface CatalogView {
  /** True when nothing is hidden (the view is the snapshot). */
  readonly full: boolean;
  readonly snapshot: CatalogSnapshot;
  /** Tools the principal may list, in catalog order. */
  readonly tools: readonly CatalogTool[];
  readonly prompts: readonly CatalogPrompt[];
  readonly resources: readonly Resource[];
  readonly resourceTemplates: readonly ResourceTemplate[];
  /** True when the tool is in `tools` (hidden tools are unknown to this principal). */
  readonly hasTool: (id: string) => boolean;
  /** True when find_capability may offer the tool (the principal may call it). */
  readonly findable: (id: string) => boolean;
  /** True when every tool of the snapshot is findable (a search needs no filter). */
  readonly findsAll: boolean;
  readonly hasPrompt: (id: string) => boolean;
  /** True when the resource (by URI) or a template it matches is visible. */
  readonly hasResource: (uri: string) => boolean;
  /** True when something of `server` is visible (its log messages and requests may reach this caller). */
  readonly hasServer: (server: string) => boolean;
  /**
   * Fingerprints of what is visible, per list: when one moves between snapshots the agent gets that
   * list_changed, and only then (a change it cannot see must not reach it, not even as a ping).
   */
  readonly fingerprints: () => ViewFingerprints;
}

/** Per-list fingerprints of a view (see CatalogView.fingerprints). */
export interface ViewFingerprints {
  readonly tools: string;
  readonly prompts: string;
  readonly resources: string;
}

/** Where the policy in force comes from (policy/loader.ts PolicyFiles fits). */
export interface PolicySource {
  current(): PolicyEngine | undefined;
  readonly generation: number;
}

/** A refused call: the error for the caller and the policy ids for the audit trail. */
export interface Denial {
  readonly error: GatewayError;
  readonly policies: readonly string[];
}

/** The gateway's access control. */
export class AccessControl {
  readonly #policy: PolicySource | undefined;
  readonly #decisions = new DecisionCache();
  readonly #views = new Map<string, CatalogView>();
  readonly #scopes = new Map<string, ScopeSet>();
  readonly #keys = new WeakMap<Principal, string>();
  /** Content hash of each catalog item object (items are immutable; unchanged ones carry over between snapshots or hash the same). */
  readonly #hashes = new WeakMap<object, number>();
  #full: CatalogView | undefined;

  constructor(policy?: PolicySource) {
    this.#policy = policy;
  }

  /** True when nobody can be restricted: no policy source (only scopes can narrow a view). */
  get policyConfigured(): boolean {
    return this.#policy !== undefined;
  }

  /** The principal's view of `snapshot`. */
  view(principal: Principal, snapshot: CatalogSnapshot): CatalogView {
    const engine = this.#policy?.current();
    const scopes = this.scopesOf(principal);
    if (!engine && scopes.everything) return this.#fullView(snapshot);
    const key = `${this.#keyOf(principal)}\u0000${snapshot.version}\u0000${this.#policy?.generation ?? 0}`;
    let view = this.#views.get(key);
    if (!view) {
      view = this.#restricted(principal, scopes, engine, snapshot);
      this.#views.set(key, view);
      // Bounded: the oldest views go first (a view is cheap to rebuild, and one per principal is enough).
      if (this.#views.size > 512) this.#views.delete(this.#views.keys().next().value as string);
    }
    return view;
  }

  /**
   * The decision for calling (or getting, reading) a visible item: undefined when allowed, else the
   * denial naming the missing scope or the policy that refused it.
   */
  authorize(
    principal: Principal,
    action: 'call' | 'getPrompt' | 'readResource',
    resource: PolicyResource & { kind: 'tool' | 'prompt' | 'resource' },
    args?: Readonly<Record<string, unknown>>,
  ): Denial | undefined {
    const scopes = this.scopesOf(principal);
    const target: ScopeTarget = { kind: resource.kind, id: resource.id, server: resource.server };
    if (!scopes.allows('call', target)) {
      const scope = scopes.missing('call', target);
      return {
        error: new GatewayError(
          'FORBIDDEN',
          `${verb(action)} "${resource.id}" needs the scope "${scope}" (or one that covers it), which your credential does not carry`,
          { scope },
        ),
        policies: [],
      };
    }
    const engine = this.#policy?.current();
    if (!engine) return undefined;
    const decision = this.#decisions.decide(engine, { principal, action, resource, context: { args } });
    if (decision.allow) return undefined;
    return {
      error: new GatewayError(
        'FORBIDDEN',
        `policy denies ${verb(action).toLowerCase()} "${resource.id}"${decision.reason === 'default' ? ' (no policy permits it)' : ''}`,
        { policies: decision.policies, reason: decision.reason },
      ),
      policies: decision.policies,
    };
  }

  /** May the principal see that server exists (for "server is down" messages about tools it cannot list)? */
  mayKnowServer(principal: Principal, server: string, toolId: string): boolean {
    const scopes = this.scopesOf(principal);
    if (!scopes.allows('list', { kind: 'tool', id: toolId, server })) return false;
    const engine = this.#policy?.current();
    if (!engine) return true;
    return this.#decide(engine, principal, 'list', { kind: 'server', id: server }).allow;
  }

  /**
   * A principal's cache key, remembered per principal object: an API key's or a JWT's principal is
   * one object for as long as its credential is cached, so the hot path does not re-serialize it.
   */
  #keyOf(principal: Principal): string {
    let key = this.#keys.get(principal);
    if (key === undefined) {
      key = principalKey(principal);
      this.#keys.set(principal, key);
    }
    return key;
  }

  /** The parsed scopes of a principal (cached: parsing compiles patterns). */
  scopesOf(principal: Principal | undefined): ScopeSet {
    const scopes = principal?.scopes;
    const key = scopes === undefined ? '' : `\u0001${scopes.join('\u0000')}`;
    let set = this.#scopes.get(key);
    if (!set) {
      set = ScopeSet.parse(scopes);
      this.#scopes.set(key, set);
      if (this.#scopes.size > 1024) this.#scopes.delete(this.#scopes.keys().next().value as string);
    }
    return set;
  }

  #decide(engine: PolicyEngine, principal: Principal, action: PolicyAction, resource: PolicyResource): PolicyDecision {
    return this.#decisions.decide(engine, { principal, action, resource });
  }

  /** Per-list fingerprints: the items' content hashes folded in order, with the counts. */
  #fingerprints(view: CatalogView): ViewFingerprints {
    const fold = (items: readonly object[]): string => {
      let hash = 0x811c9dc5;
      for (const item of items) {
        let h = this.#hashes.get(item);
        if (h === undefined) {
          h = contentHash(item);
          this.#hashes.set(item, h);
        }
        hash = Math.imul(hash ^ h, 0x01000193) >>> 0;
      }
      return `${items.length}:${hash.toString(16)}`;
    };
    return {
      tools: fold(view.tools),
      prompts: fold(view.prompts),
      resources: `${fold(view.resources)}/${fold(view.resourceTemplates)}`,
    };
  }

  #fullView(snapshot: CatalogSnapshot): CatalogView {
    if (this.#full?.snapshot === snapshot) return this.#full;
    const view: CatalogView = {
      full: true,
      snapshot,
      tools: snapshot.tools,
      prompts: snapshot.prompts,
      resources: snapshot.resources,
      resourceTemplates: snapshot.resourceTemplates,
      hasTool: (id) => snapshot.toolById.has(id),
      findable: (id) => snapshot.toolById.has(id),
      findsAll: true,
      hasPrompt: (id) => snapshot.promptById.has(id),
      hasResource: () => true,
      hasServer: () => true,
      fingerprints: once(() => this.#fingerprints(view)),
    };
    this.#full = view;
    return view;
  }

  #restricted(
    principal: Principal,
    scopes: ScopeSet,
    engine: PolicyEngine | undefined,
    snapshot: CatalogSnapshot,
  ): CatalogView {
    const allowed = (action: PolicyAction, resource: PolicyResource): boolean =>
      !engine || this.#decide(engine, principal, action, resource).allow;
    const tools: CatalogTool[] = [];
    const findable = new Set<string>();
    for (const t of snapshot.tools) {
      const target: ScopeTarget = { kind: 'tool', id: t.id, server: t.server };
      const resource: PolicyResource = {
        kind: 'tool',
        id: t.id,
        server: t.server,
        name: t.name,
        annotations: t.tool.annotations,
      };
      if (!scopes.allows('list', target) || !allowed('list', resource)) continue;
      tools.push(t);
      if (scopes.allows('call', target) && allowed('find', resource)) findable.add(t.id);
    }
    const prompts = snapshot.prompts.filter(
      (p) =>
        scopes.allows('list', { kind: 'prompt', id: p.id, server: p.server }) &&
        allowed('list', { kind: 'prompt', id: p.id, server: p.server, name: p.name }),
    );
    const visibleResource = (id: string, server: string) =>
      scopes.allows('list', { kind: 'resource', id, server }) && allowed('list', { kind: 'resource', id, server });
    const resources = snapshot.resources.filter((r) => visibleResource(r.uri, r.server));
    const resourceTemplates = snapshot.resourceTemplates.filter((t) => visibleResource(t.uriTemplate, t.server));
    const toolIds = new Set(tools.map((t) => t.id));
    const promptIds = new Set(prompts.map((p) => p.id));
    const uris = new Set(resources.map((r) => r.uri));
    const servers = new Set([...tools, ...prompts, ...resources, ...resourceTemplates].map((item) => item.server));
    const view: CatalogView = {
      full: false,
      snapshot,
      tools,
      prompts,
      resources,
      resourceTemplates,
      hasTool: (id) => toolIds.has(id),
      findable: (id) => findable.has(id),
      findsAll: findable.size === snapshot.tools.length,
      hasPrompt: (id) => promptIds.has(id),
      // A URI outside the list may be an expansion of a visible template.
      hasResource: (uri) => uris.has(uri) || resourceTemplates.some((t) => templateMatches(t.uriTemplate, uri)),
      hasServer: (server) => servers.has(server),
      fingerprints: once(() => this.#fingerprints(view)),
    };
    return view;
  }
}

/** A short, stable hash of one item's content (FNV-1a over its JSON). */
function contentHash(value: unknown): number {
  const text = JSON.stringify(value) ?? '';
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

/** `compute` run at most once. */
function once<T>(compute: () => T): () => T {
  let value: T | undefined;
  return () => (value ??= compute());
}

function verb(action: 'call' | 'getPrompt' | 'readResource'): string {
  return action === 'call' ? 'Calling' : action === 'getPrompt' ? 'Getting prompt' : 'Reading resource';
}
