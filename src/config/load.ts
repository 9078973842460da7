/**
 * Loading a configuration file: read YAML or JSON, expand `${VAR}` from the environment (and VS Code's
 * `${workspaceFolder}` / `${userHome}`), validate with the one schema, resolve relative paths against the
 * file's folder, and hand back a frozen object. Every problem is reported at once, each with its path in
 * the file, so a user fixes the file in one pass.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, resolve, sep } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { GatewayError } from '../core/errors.js';
import { defaultModelsDir, resolveFrom, withConfigDir, workspaceFolderOf } from './paths.js';
import { configTlsIssues, resolveTlsPaths, withTlsPaths } from './tls.js';
import { configSchema, type ParsedConfig } from './schema.js';
import { alertTenantIssues } from './alerts-schema.js';
import { toServerSpec, type ServerSpec } from './spec.js';

/** The validated configuration the gateway runs on. */
export interface Config {
  readonly gateway: ParsedConfig['gateway'];
  readonly http: ParsedConfig['http'];
  /** `path` is absolute (or `:memory:`): resolved against the config file's folder, or the cwd in code. */
  readonly store: ParsedConfig['store'];
  /** `modelsDir` is absolute: as given (against the file's folder), else the models/ shipped with the package. */
  readonly routing: Omit<ParsedConfig['routing'], 'modelsDir'> & { readonly modelsDir: string };
  readonly log: ParsedConfig['log'];
  /** Accepted credentials and how identity is read (auth-schema.ts). */
  readonly auth: ParsedConfig['auth'];
  /** Cedar policy `files` are absolute (resolved against the config file's folder). */
  readonly policy: ParsedConfig['policy'];
  /** The audit trail; `file` (the JSONL sink) is absolute. */
  readonly audit: ParsedConfig['audit'];
  readonly limits: ParsedConfig['limits'];
  readonly usage: ParsedConfig['usage'];
  readonly quotas: ParsedConfig['quotas'];
  readonly telemetry: ParsedConfig['telemetry'];
  /** Durable async tool calls (tasks-schema.ts); global, not per tenant. */
  readonly tasks: ParsedConfig['tasks'];
  /** The built-in alert engine's rules and receivers (absent: the engine is off). */
  readonly alerts?: ParsedConfig['alerts'];
  /** Enabled servers in file order (`servers` first, then `mcpServers`). */
  readonly servers: readonly ServerSpec[];
  /** Gateway-owned fan-out tools by name. */
  readonly virtualTools: ParsedConfig['virtualTools'];
  /** A/B experiments by name. */
  readonly experiments: ParsedConfig['experiments'];
  /** Tool version pins (global and per agent). */
  readonly pins: ParsedConfig['pins'];
  /** Whose config this is: `default` for the file's top level, else a tenant's (see tenantConfig). */
  readonly tenant: string;
  /** The tenants of the file (empty in a tenant's own config). */
  readonly tenants: readonly TenantSpec[];
  /** Where the file was read from (undefined for configs built in code). */
  readonly source: string | undefined;
  /**
   * Every non-empty value that `${VAR}` took from the environment, longest first: views and logs replace
   * them with "***" wherever they appear (args, url, headers, env, cwd, error messages). Absent: none.
   */
  readonly secrets?: readonly string[];
}

/** One tenant as configured: its own servers, the global ones it shares, pins, experiments, policy. */
export interface TenantSpec {
  readonly name: string;
  readonly description?: string | undefined;
  /** The tenant's own servers (enabled ones, in file order). */
  readonly servers: readonly ServerSpec[];
  /** Top-level servers it uses too (by name), or "*" for all. */
  readonly shared: '*' | readonly string[];
  readonly pins?: ParsedConfig['pins'] | undefined;
  readonly experiments: ParsedConfig['experiments'];
  /** Absolute policy files; absent: the top-level policy. */
  readonly policy?: { readonly files: string[] } | undefined;
}

/** One problem found in a config, with the path of the offending value. */
export interface ConfigIssue {
  readonly path: string;
  readonly message: string;
}

/** Values that `${name}` stands for besides environment variables (VS Code's predefined variables). */
export interface ExpansionVars {
  /** `${workspaceFolder}`: the folder above `.vscode/` for `.vscode/mcp.json`, else the config's folder. */
  readonly workspaceFolder: string;
  /** `${userHome}`: the user's home folder. */
  readonly userHome: string;
}

/** `${...}` with what is inside. */
const REFERENCE = /\$\{([^}]*)\}/g;
/** `NAME`, `env:NAME`, `NAME:-default`, `env:NAME:-default`. */
const ENV_REFERENCE = /^(?:env:)?([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?$/s;
/** A string that is one reference and nothing else (its emptiness then means "not set"). */
const ONLY_REFERENCE = /^\$\{[^}]*\}$/;

interface Expansion {
  readonly env: NodeJS.ProcessEnv;
  readonly vars: ExpansionVars;
  /** Where each unset variable (or VS Code input) was used, reported once each after the walk. */
  readonly unset: Map<string, { kind: 'env' | 'input' | 'unsupported'; paths: string[] }>;
  /** Values taken from the environment (defaults and VS Code's variables are not secrets). */
  readonly secrets: Set<string>;
}

function note(ctx: Expansion, kind: 'env' | 'input' | 'unsupported', name: string, path: readonly PropertyKey[]) {
  const key = `${kind}:${name}`;
  const seen = ctx.unset.get(key) ?? { kind, paths: [] };
  seen.paths.push(formatPath(path));
  ctx.unset.set(key, seen);
}

function expandString(value: string, ctx: Expansion, path: readonly PropertyKey[]): string {
  return value.replace(REFERENCE, (match, inner: string) => {
    if (inner === 'workspaceFolder') return ctx.vars.workspaceFolder;
    if (inner === 'workspaceFolderBasename') return basename(ctx.vars.workspaceFolder);
    if (inner === 'userHome') return ctx.vars.userHome;
    if (inner === 'pathSeparator' || inner === '/') return sep;
    if (inner.startsWith('input:')) {
      note(ctx, 'input', inner.slice('input:'.length), path);
      return '';
    }
    const ref = ENV_REFERENCE.exec(inner);
    if (!ref) {
      // VS Code's ${command:...}, ${config:...} and the like need the editor; a literal must not go upstream.
      if (/^[A-Za-z]+:/.test(inner)) {
        note(ctx, 'unsupported', inner, path);
        return '';
      }
      return match;
    }
    const [, name, fallback] = ref as unknown as [string, string, string | undefined];
    const found = ctx.env[name];
    // Shell semantics of `:-`: a variable that is set but empty takes the default too.
    if (found !== undefined && (found !== '' || fallback === undefined)) {
      if (found !== '') ctx.secrets.add(found);
      return found;
    }
    if (fallback !== undefined) return fallback;
    note(ctx, 'env', name, path);
    return '';
  });
}

function walk(value: unknown, ctx: Expansion, path: (string | number)[]): unknown {
  if (typeof value === 'string') return expandString(value, ctx, path);
  if (Array.isArray(value)) return value.map((item, i) => walk(item, ctx, [...path, i]));
  if (value !== null && typeof value === 'object') {
    const entries: [string, unknown][] = [];
    for (const [k, v] of Object.entries(value)) {
      const expanded = walk(v, ctx, [...path, k]);
      // `adminToken: ${SWITCHBOARD_ADMIN_TOKEN:-}` with the variable unset or empty means "not set".
      if (expanded === '' && typeof v === 'string' && ONLY_REFERENCE.test(v)) continue;
      entries.push([k, expanded]);
    }
    return Object.fromEntries(entries);
  }
  return value;
}

function unsetIssue(name: string, kind: 'env' | 'input' | 'unsupported', paths: readonly string[]): ConfigIssue {
  const others = paths.slice(1);
  const where =
    others.length === 0
      ? ''
      : `; also used at ${others.slice(0, 3).join(', ')}${others.length > 3 ? ` and ${others.length - 3} more` : ''}`;
  const message =
    kind === 'input'
      ? `VS Code input "${name}" cannot be prompted for by switchboard; set it with \${env:VAR} instead${where}`
      : kind === 'unsupported'
        ? `\${${name}} needs an editor to expand and is not supported; use \${env:VAR} instead${where}`
        : `environment variable ${name} is not set (write \${${name}:-default} for a default)${where}`;
  return { path: paths[0] ?? '(root)', message };
}

/**
 * Replaces `${VAR}`, `${env:VAR}` and `${VAR:-default}` in every string, and VS Code's `${workspaceFolder}`,
 * `${workspaceFolderBasename}`, `${userHome}` and `${pathSeparator}`. An object value that is one reference
 * and expands to the empty string is dropped (an optional setting left unset). Each unset variable, each
 * `${input:id}` (VS Code prompts for those; a gateway cannot) and each editor-only variable is one issue,
 * at its first path, naming the other places it is used.
 */
export function expandEnv(
  value: unknown,
  env: NodeJS.ProcessEnv,
  path: (string | number)[],
  issues: ConfigIssue[],
  vars: ExpansionVars = { workspaceFolder: process.cwd(), userHome: homedir() },
  secrets: Set<string> = new Set(),
): unknown {
  const ctx: Expansion = { env, vars, unset: new Map(), secrets };
  const expanded = walk(value, ctx, path);
  for (const [key, { kind, paths }] of ctx.unset) issues.push(unsetIssue(key.slice(kind.length + 1), kind, paths));
  return expanded;
}

/**
 * Refuses `${...}` in a server entry that did not come from the operator's file (the admin API):
 * expanding it would let a `/v1` caller read the gateway's environment (and send it to a url of its
 * choosing). One issue per string, naming the reference (the caller's own text), never a value.
 */
export function refuseReferences(value: unknown, path: (string | number)[], issues: ConfigIssue[]): void {
  const stack: { value: unknown; path: (string | number)[] }[] = [{ value, path }];
  while (stack.length > 0 && issues.length < 20) {
    const item = stack.pop()!;
    if (typeof item.value === 'string') {
      const ref = /\$\{[^}]*\}/.exec(item.value);
      if (ref) {
        const shown = ref[0].length > 64 ? `${ref[0].slice(0, 64)}…` : ref[0];
        issues.push({
          path: formatPath(item.path),
          message: `"${shown}" is not expanded in a registration through the admin API (variables are expanded only in the config file); send the value itself`,
        });
      }
    } else if (item.value !== null && typeof item.value === 'object') {
      for (const [k, v] of Object.entries(item.value))
        stack.push({ value: v, path: [...item.path, Array.isArray(item.value) ? Number(k) : k] });
    }
  }
}

/** Deepest nesting a config (or a registration) may have; real files stay under 10 levels. */
export const MAX_CONFIG_DEPTH = 64;

/**
 * The first value nested deeper than {@link MAX_CONFIG_DEPTH} or inside itself (a YAML alias cycle,
 * `a: &a [*a]`), as an issue at its path; undefined when the value is a finite tree. Iterative, so the
 * check itself cannot overflow the stack that the recursive walks after it would.
 */
export function shapeIssue(value: unknown, path: (string | number)[] = []): ConfigIssue | undefined {
  const stack: { value: unknown; path: (string | number)[]; ancestors: readonly object[] }[] = [
    { value, path, ancestors: [] },
  ];
  while (stack.length > 0) {
    const item = stack.pop()!;
    if (item.value === null || typeof item.value !== 'object') continue;
    if (item.ancestors.includes(item.value))
      return {
        path: formatPath(item.path),
        message: 'this value contains itself (a YAML alias cycle such as a: &a [*a])',
      };
    if (item.ancestors.length >= MAX_CONFIG_DEPTH)
      return {
        path: formatPath(item.path.slice(0, MAX_CONFIG_DEPTH)),
        message: `nested more than ${MAX_CONFIG_DEPTH} levels deep`,
      };
    const ancestors = [...item.ancestors, item.value];
    for (const [k, v] of Object.entries(item.value))
      stack.push({ value: v, path: [...item.path, Array.isArray(item.value) ? Number(k) : k], ancestors });
  }
  return undefined;
}

/** `servers.github.args[0]`-style rendering of a zod or expansion path. */
export function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(root)';
  return path
    .map((part, i) => (typeof part === 'number' ? `[${part}]` : i === 0 ? String(part) : `.${String(part)}`))
    .join('');
}

function zodIssues(error: z.ZodError): ConfigIssue[] {
  return error.issues.map((issue) => ({ path: formatPath(issue.path), message: issue.message }));
}

/** Renders issues as the multi-line message printed at start. */
export function describeIssues(source: string, issues: readonly ConfigIssue[]): string {
  const lines = issues.map((issue) => `  - ${issue.path}: ${issue.message}`);
  return `invalid configuration in ${source} (${issues.length} problem${issues.length === 1 ? '' : 's'}):\n${lines.join('\n')}`;
}

/**
 * Validates a raw (already parsed) config object. Throws CONFIG_INVALID listing every issue.
 * `baseDir` (the config file's folder) is what relative paths resolve against: stdio `cwd`, commands,
 * args and env values that are clearly paths, `store.path`, `routing.modelsDir`. Without it (a config
 * built in code) store and models paths resolve against the cwd and server entries stay as written.
 */
export function buildConfig(
  raw: unknown,
  options: { env?: NodeJS.ProcessEnv; source?: string; baseDir?: string } = {},
): Config {
  const source = options.source ?? '(inline config)';
  const base = options.baseDir ?? process.cwd();
  const issues: ConfigIssue[] = [];
  const shape = shapeIssue(raw);
  if (shape) throw new GatewayError('CONFIG_INVALID', describeIssues(source, [shape]), { issues: [shape] });
  const vars = { workspaceFolder: options.baseDir ? workspaceFolderOf(options.baseDir) : base, userHome: homedir() };
  const secrets = new Set<string>();
  const expanded = expandEnv(raw ?? {}, options.env ?? process.env, [], issues, vars, secrets);
  const parsed = configSchema.safeParse(expanded);
  if (!parsed.success) issues.push(...zodIssues(parsed.error));
  const data = parsed.success ? parsed.data : undefined;
  if (data) {
    if (Object.keys(data.virtualTools).length > 0 && (data.servers?.switchboard || data.mcpServers?.switchboard)) {
      issues.push({
        path: data.servers?.switchboard ? 'servers.switchboard' : 'mcpServers.switchboard',
        message: '"switchboard" is where the gateway lists its virtual tools; choose another server name',
      });
    }
    for (const name of Object.keys(data.mcpServers ?? {})) {
      if (data.servers?.[name])
        issues.push({ path: `mcpServers.${name}`, message: `server "${name}" is also defined under servers` });
    }
    const globals = new Set(Object.keys({ ...(data.servers ?? {}), ...(data.mcpServers ?? {}) }));
    for (const [tenant, spec] of Object.entries(data.tenants)) {
      if (tenant === 'default')
        issues.push({
          path: 'tenants.default',
          message: '"default" is the tenant of the top-level servers; choose another name',
        });
      if (spec.shared === '*') continue;
      spec.shared.forEach((name, i) => {
        if (!globals.has(name))
          issues.push({ path: `tenants.${tenant}.shared.${i}`, message: `no top-level server named "${name}"` });
      });
    }
    issues.push(...alertTenantIssues(data.alerts, ['default', ...Object.keys(data.tenants)]));
    // TLS files are read once here, so a missing or malformed one is reported with the rest (see tls.ts).
    issues.push(...configTlsIssues(data, base));
  }
  if (issues.length > 0 || !data) {
    throw new GatewayError('CONFIG_INVALID', describeIssues(source, issues), { issues });
  }
  const specsOf = (entries: NonNullable<ParsedConfig['servers']>): ServerSpec[] =>
    Object.entries(entries)
      .filter(([, entry]) => entry.disabled !== true)
      .map(([name, entry]) => toServerSpec(name, entry))
      .map((spec) => (options.baseDir ? withConfigDir(spec, options.baseDir) : spec))
      .map((spec) => withTlsPaths(spec, base));
  const servers = specsOf({ ...(data.servers ?? {}), ...(data.mcpServers ?? {}) });
  const tenants: TenantSpec[] = Object.entries(data.tenants).map(([name, t]) => ({
    name,
    description: t.description,
    servers: specsOf({ ...(t.servers ?? {}), ...(t.mcpServers ?? {}) }),
    shared: t.shared,
    pins: t.pins,
    experiments: t.experiments,
    policy: t.policy ? { files: t.policy.files.map((file) => resolveFrom(base, file)) } : undefined,
  }));
  return deepFreeze({
    gateway: data.gateway,
    http: data.http.tls ? { ...data.http, tls: resolveTlsPaths(data.http.tls, base) } : data.http,
    store: { ...data.store, path: resolveFrom(base, data.store.path) },
    routing: {
      ...data.routing,
      modelsDir: data.routing.modelsDir === undefined ? defaultModelsDir() : resolveFrom(base, data.routing.modelsDir),
    },
    log: data.log,
    auth: data.auth,
    policy: { files: data.policy.files.map((file) => resolveFrom(base, file)) },
    audit: data.audit.file === undefined ? data.audit : { ...data.audit, file: resolveFrom(base, data.audit.file) },
    limits: data.limits,
    usage: data.usage,
    quotas: data.quotas,
    telemetry: data.telemetry,
    tasks: data.tasks,
    ...(data.alerts ? { alerts: data.alerts } : {}),
    virtualTools: data.virtualTools,
    experiments: data.experiments,
    pins: data.pins,
    tenant: 'default',
    tenants,
    servers,
    source: options.source,
    secrets: [...secrets].sort((a, b) => b.length - a.length),
  });
}

/**
 * The config a tenant runs on: its own servers, then the shared top-level ones it does not replace,
 * its pins (else the top-level ones), its experiments, its policy (else the top-level one); the rest
 * (gateway, http, auth, store, routing) is the file's. Throws NOT_FOUND for an unknown tenant.
 */
export function tenantConfig(config: Config, name: string): Config {
  if (name === config.tenant) return config;
  const tenant = config.tenants.find((t) => t.name === name);
  if (!tenant) throw new GatewayError('NOT_FOUND', `no tenant "${name}" is configured`, { tenant: name });
  const own = new Set(tenant.servers.map((s) => s.name));
  const shared = config.servers.filter(
    (s) => !own.has(s.name) && (tenant.shared === '*' || tenant.shared.includes(s.name)),
  );
  return deepFreeze({
    ...config,
    tenant: tenant.name,
    tenants: [],
    servers: [...tenant.servers, ...shared],
    pins: tenant.pins ?? config.pins,
    experiments: tenant.experiments,
    policy: tenant.policy ?? config.policy,
  });
}

/** Reads, expands and validates a config file (YAML or JSON by content; JSON is valid YAML). */
export function loadConfigFile(path: string, env: NodeJS.ProcessEnv = process.env): Config {
  const absolute = resolve(path);
  let text: string;
  try {
    text = readFileSync(absolute, 'utf8');
  } catch (error) {
    throw new GatewayError('CONFIG_INVALID', `cannot read config file ${absolute}: ${(error as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text, { prettyErrors: true });
  } catch (error) {
    // The YAML parser recurses per nesting level: thousands of levels overflow its stack.
    const message = (error as Error).message.replace(
      /^Maximum call stack size exceeded/,
      `nested too deeply (more than ${MAX_CONFIG_DEPTH} levels are refused)`,
    );
    throw new GatewayError('CONFIG_INVALID', `invalid configuration in ${absolute}: not valid YAML/JSON: ${message}`);
  }
  return buildConfig(raw, { env, source: absolute, baseDir: dirname(absolute) });
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
