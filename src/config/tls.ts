/**
 * TLS files named in a config: the PEM files of HTTPS upstreams (`servers.*.tls`) and of the hub itself
 * (`http.tls`). Their paths resolve against the config file's folder, like every other path in it, and each
 * file is read once at load so a missing, unreadable or malformed one is a config problem at its path,
 * reported with the others, instead of a failure on the first connection. Only paths stay in the Config:
 * key material is read again where it is used and never reaches a view or a log.
 */
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { resolveFrom } from './paths.js';
import type { ParsedConfig } from './schema.js';
import type { ServerSpec } from './spec.js';

/** The file fields a TLS object may carry (upstream or hub). */
const FILE_FIELDS = ['ca', 'cert', 'key'] as const;

type TlsFiles = { readonly [K in (typeof FILE_FIELDS)[number]]?: string | undefined };

/** A problem with one TLS setting, at its path in the file. */
export interface TlsIssue {
  readonly path: string;
  readonly message: string;
}

/** `tls` with its file paths resolved against `baseDir` (absolute paths stay). */
export function resolveTlsPaths<T extends TlsFiles>(tls: T, baseDir: string): T {
  const out: Record<string, unknown> = { ...tls };
  for (const field of FILE_FIELDS) {
    const path = tls[field];
    if (path !== undefined) out[field] = resolveFrom(baseDir, path);
  }
  return out as T;
}

/** A server spec whose HTTPS instances have their TLS file paths resolved (see {@link resolveTlsPaths}). */
export function withTlsPaths(spec: ServerSpec, baseDir: string): ServerSpec {
  if (!spec.instances.some((i) => i.kind !== 'stdio' && i.tls)) return spec;
  return {
    ...spec,
    instances: spec.instances.map((i) =>
      i.kind !== 'stdio' && i.tls ? { ...i, tls: resolveTlsPaths(i.tls, baseDir) } : i,
    ),
  };
}

/**
 * The problems of one TLS object whose paths are resolved: each file that cannot be read (at
 * `<path>.<field>`), then, when all could, what OpenSSL says of them together (a file that is not PEM, a
 * key that does not match its certificate), at `path`. Messages name files, never their contents.
 */
export function tlsFileIssues(tls: TlsFiles, path: string): TlsIssue[] {
  const issues: TlsIssue[] = [];
  const material: Record<string, Buffer> = {};
  for (const field of FILE_FIELDS) {
    const file = tls[field];
    if (file === undefined) continue;
    try {
      material[field] = readFileSync(file);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      issues.push({
        path: `${path}.${field}`,
        message: `cannot read ${field} file ${file}${code ? ` (${code})` : ''}: ${(error as Error).message}`,
      });
    }
  }
  if (issues.length > 0) return issues;
  try {
    createSecureContext(material);
  } catch (error) {
    const files = FILE_FIELDS.filter((f) => tls[f] !== undefined)
      .map((f) => `${f} ${tls[f]}`)
      .join(', ');
    issues.push({ path, message: `the TLS files (${files}) are not usable: ${(error as Error).message}` });
  }
  return issues;
}

/**
 * Every TLS problem of a validated config: `http.tls` and the `tls` of each enabled server entry and of each
 * of its instances, paths resolved against `baseDir` (a disabled server's files are not read: it never connects).
 */
export function configTlsIssues(data: ParsedConfig, baseDir: string): TlsIssue[] {
  const issues: TlsIssue[] = [];
  const check = (tls: TlsFiles | undefined, path: string) => {
    if (tls) issues.push(...tlsFileIssues(resolveTlsPaths(tls, baseDir), path));
  };
  check(data.http.tls, 'http.tls');
  for (const key of ['servers', 'mcpServers'] as const) {
    for (const [name, entry] of Object.entries(data[key] ?? {})) {
      if (entry.disabled === true) continue;
      check(entry.tls, `${key}.${name}.tls`);
      entry.instances?.forEach((instance, n) => check(instance.tls, `${key}.${name}.instances[${n}].tls`));
    }
  }
  return issues;
}
