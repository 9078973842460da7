/**
 * Loading a configuration file: read YAML or JSON, expand `${VAR}` from the environment, validate
 * with the one schema, and hand back a frozen object. Every problem is reported at once, each with
 * its path in the file, so a user fixes the file in one pass.
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { GatewayError } from '../core/errors.js';
import { configSchema, type ParsedConfig } from './schema.js';
import { toServerSpec, withBaseDir, type ServerSpec } from './spec.js';

/** The validated configuration the gateway runs on. */
export interface Config {
  readonly gateway: ParsedConfig['gateway'];
  readonly http: ParsedConfig['http'];
  readonly store: ParsedConfig['store'];
  readonly routing: ParsedConfig['routing'];
  readonly log: ParsedConfig['log'];
  /** Enabled servers in file order (`servers` first, then `mcpServers`). */
  readonly servers: readonly ServerSpec[];
  /** Gateway-owned fan-out tools by name. */
  readonly virtualTools: ParsedConfig['virtualTools'];
  /** A/B experiments by name. */
  readonly experiments: ParsedConfig['experiments'];
  /** Tool version pins (global and per agent). */
  readonly pins: ParsedConfig['pins'];
  /** Where the file was read from (undefined for configs built in code). */
  readonly source: string | undefined;
}

/** One problem found in a config, with the path of the offending value. */
export interface ConfigIssue {
  readonly path: string;
  readonly message: string;
}

const VAR = /\$\{(?:env:)?([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/** Replaces `${VAR}`, `${env:VAR}` and `${VAR:-default}` in every string; collects undefined variables. */
export function expandEnv(
  value: unknown,
  env: NodeJS.ProcessEnv,
  path: (string | number)[],
  issues: ConfigIssue[],
): unknown {
  if (typeof value === 'string') {
    return value.replace(VAR, (_match, name: string, fallback: string | undefined) => {
      const found = env[name];
      if (found !== undefined) return found;
      if (fallback !== undefined) return fallback;
      issues.push({
        path: formatPath(path),
        message: `environment variable ${name} is not set (write \${${name}:-default} for a default)`,
      });
      return '';
    });
  }
  if (Array.isArray(value)) return value.map((item, i) => expandEnv(item, env, [...path, i], issues));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, expandEnv(v, env, [...path, k], issues)]));
  }
  return value;
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
 * `baseDir` resolves relative `cwd` and store paths against the file's folder.
 */
export function buildConfig(
  raw: unknown,
  options: { env?: NodeJS.ProcessEnv; source?: string; baseDir?: string } = {},
): Config {
  const source = options.source ?? '(inline config)';
  const issues: ConfigIssue[] = [];
  const expanded = expandEnv(raw ?? {}, options.env ?? process.env, [], issues);
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
  }
  if (issues.length > 0 || !data) {
    throw new GatewayError('CONFIG_INVALID', describeIssues(source, issues), { issues });
  }
  const entries = { ...(data.servers ?? {}), ...(data.mcpServers ?? {}) };
  const servers = Object.entries(entries)
    .filter(([, entry]) => entry.disabled !== true)
    .map(([name, entry]) => toServerSpec(name, entry))
    .map((spec) => (options.baseDir ? withBaseDir(spec, options.baseDir, isAbsolute, resolve) : spec));
  return deepFreeze({
    gateway: data.gateway,
    http: data.http,
    store: data.store,
    routing: data.routing,
    log: data.log,
    virtualTools: data.virtualTools,
    experiments: data.experiments,
    pins: data.pins,
    servers,
    source: options.source,
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
    throw new GatewayError(
      'CONFIG_INVALID',
      `invalid configuration in ${absolute}: not valid YAML/JSON: ${(error as Error).message}`,
    );
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
