/**
 * Capability claims: what a credential's scopes let it see and call.
 *
 * Scopes narrow a token before any policy runs, so a leaked key for one job cannot reach the others.
 * Grammar (anything else, e.g. OIDC's `openid` or `offline_access`, is ignored, not an error, because
 * identity providers put their own scopes in the same claim):
 *
 *   `*`                      every tool, prompt and resource (not `admin`: that is always explicit)
 *   `tools:<pattern>`        list and call tools whose exposed id matches
 *   `tools:<pattern>:list`   only see them;  `tools:<pattern>:call`  only call them
 *   `servers:<pattern>`      every tool, prompt and resource of the matching servers
 *   `prompts:<pattern>`      list and get prompts;  `resources:<pattern>`  list and read resources
 *   `admin`                  the /v1 admin API
 *
 * A pattern is a glob over the exposed id: `*` matches any run of characters, nothing else is special.
 * Patterns are compiled once into one regular expression per (kind, action), so `allows()` is a set
 * lookup plus at most two regex tests; the lead caches the ScopeSet with the principal.
 */
import { GatewayError } from '../core/errors.js';
import { globSource } from '../core/glob.js';

/** What a principal wants to do with a target: see it in a list, or use it (call, get, read). */
export type ScopeAction = 'list' | 'call';

/** The thing a scope is checked against. `id` is the exposed (namespaced) id, `server` its owner. */
export interface ScopeTarget {
  readonly kind: 'tool' | 'prompt' | 'resource';
  readonly id: string;
  readonly server: string;
}

type Kind = ScopeTarget['kind'];

/** Exact ids and glob patterns for one (kind, action) or for servers. */
class Matcher {
  readonly #exact = new Set<string>();
  readonly #globs: string[] = [];
  #regex: RegExp | undefined;
  #all = false;

  add(pattern: string): void {
    if (pattern === '*') this.#all = true;
    else if (pattern.includes('*')) this.#globs.push(pattern);
    else this.#exact.add(pattern);
  }

  /** Compiles the globs into one anchored alternation (called once, after every add). */
  seal(): void {
    if (this.#globs.length === 0) return;
    const alternatives = this.#globs.map(globSource);
    this.#regex = new RegExp(`^(?:${alternatives.join('|')})$`, 's');
  }

  test(value: string): boolean {
    return this.#all || this.#exact.has(value) || (this.#regex !== undefined && this.#regex.test(value));
  }
}

const KIND_PREFIX: Record<string, Kind> = { tools: 'tool', prompts: 'prompt', resources: 'resource' };
const SCOPE_PREFIX: Record<Kind, string> = { tool: 'tools', prompt: 'prompts', resource: 'resources' };

/** A credential's parsed scopes. Immutable once parsed. */
export class ScopeSet {
  /** True when the credential carries no scope claim at all: nothing is narrowed. */
  readonly unrestricted: boolean;
  /** True when the `admin` scope (or no restriction) grants the /v1 admin API. */
  readonly admin: boolean;
  /** True when every tool, prompt and resource is allowed (unrestricted, or a `*` scope). */
  #everything = false;
  readonly #matchers: Record<Kind, Record<ScopeAction, Matcher>>;
  readonly #servers = new Matcher();

  private constructor(unrestricted: boolean, admin: boolean) {
    this.unrestricted = unrestricted;
    this.admin = unrestricted || admin;
    const pair = (): Record<ScopeAction, Matcher> => ({ list: new Matcher(), call: new Matcher() });
    this.#matchers = { tool: pair(), prompt: pair(), resource: pair() };
  }

  /** Parses a scope list; `undefined` (no claim) is unrestricted, `[]` allows nothing. */
  static parse(scopes: readonly string[] | undefined): ScopeSet {
    if (scopes === undefined) return new ScopeSet(true, true);
    const set = new ScopeSet(
      false,
      scopes.some((s) => s.trim() === 'admin'),
    );
    for (const raw of scopes) {
      const scope = raw.trim();
      if (scope === '*') {
        set.#everything = true;
        for (const kind of ['tool', 'prompt', 'resource'] as const) set.#grant(kind, '*');
      } else set.#add(scope);
    }
    for (const kind of ['tool', 'prompt', 'resource'] as const) {
      set.#matchers[kind].list.seal();
      set.#matchers[kind].call.seal();
    }
    set.#servers.seal();
    return set;
  }

  #add(scope: string): void {
    const colon = scope.indexOf(':');
    if (colon <= 0) return;
    const prefix = scope.slice(0, colon);
    let pattern = scope.slice(colon + 1);
    if (pattern === '') return;
    if (prefix === 'servers') return this.#servers.add(pattern);
    const kind = KIND_PREFIX[prefix];
    if (!kind) return;
    // Only tool scopes take an action suffix: resource ids are URIs, which contain colons of their own.
    let only: ScopeAction | undefined;
    if (kind === 'tool') {
      const suffix = /:(list|call)$/.exec(pattern);
      if (suffix) {
        only = suffix[1] as ScopeAction;
        pattern = pattern.slice(0, -suffix[0].length);
        if (pattern === '') return;
      }
    }
    this.#grant(kind, pattern, only);
  }

  #grant(kind: Kind, pattern: string, only?: ScopeAction): void {
    if (only !== 'call') this.#matchers[kind].list.add(pattern);
    if (only !== 'list') this.#matchers[kind].call.add(pattern);
  }

  /** True when the scopes narrow nothing (no claim at all, or `*`): every item is listed and callable. */
  get everything(): boolean {
    return this.unrestricted || this.#everything;
  }

  /** Whether the scopes let the principal list (`list`) or use (`call`: call, get, read) the target. */
  allows(action: ScopeAction, target: ScopeTarget): boolean {
    if (this.unrestricted) return true;
    return this.#matchers[target.kind][action].test(target.id) || this.#servers.test(target.server);
  }

  /**
   * The narrowest scope that would allow the request, for the denial message: it names only the
   * target the caller asked for, never another tool.
   */
  missing(action: ScopeAction, target: ScopeTarget): string {
    const base = `${SCOPE_PREFIX[target.kind]}:${target.id}`;
    return target.kind === 'tool' ? `${base}:${action}` : base;
  }

  /** The FORBIDDEN error for a denied request, naming the missing scope (details.scope). */
  denied(action: ScopeAction, target: ScopeTarget): GatewayError {
    const scope = this.missing(action, target);
    const verb =
      action === 'list' ? 'see' : target.kind === 'tool' ? 'call' : target.kind === 'prompt' ? 'get' : 'read';
    return new GatewayError(
      'FORBIDDEN',
      `The credential's scopes do not allow it to ${verb} ${target.kind} "${target.id}": missing scope "${scope}"`,
      { scope },
    );
  }
}
