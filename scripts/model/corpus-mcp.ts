/**
 * Tool-catalog pairs from published MCP servers: each candidate (mcp-servers.ts) is installed from
 * npm into a temp folder (scripts off: no browser or binary downloads), started over stdio with the
 * SDK client, asked for tools/list, and stopped. One JSON file per server under
 * <work>/mcp/ records the tools, the package's licence, or why it was skipped, so reruns are fast
 * and the README can list exactly what was used. Only permissively licensed servers yield pairs.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/client';
import { getDefaultEnvironment, StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { MCP_SERVER_CANDIDATES, PERMISSIVE_LICENCES, type McpServerCandidate } from './mcp-servers.js';
import { PATHS } from './paths.js';

/** A harvested tool: its name, description and parameter names/descriptions. */
export interface HarvestedTool {
  readonly name: string;
  readonly description: string;
  readonly params: readonly { name: string; description: string }[];
}

/** What one server yielded. */
export interface HarvestResult {
  readonly pkg: string;
  readonly version: string;
  readonly licence: string;
  readonly tools: readonly HarvestedTool[];
  /** Set when the server gave nothing usable. */
  readonly skipped?: string;
}

const slug = (pkg: string) => pkg.replace(/[@/]/g, '_');

function run(cmd: string, args: string[], cwd: string, timeoutMs: number): Promise<{ code: number; out: string }> {
  return new Promise((done) => {
    const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-4000)));
    child.stderr.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-4000)));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      done({ code: code ?? -1, out });
    });
  });
}

function licenceOf(meta: { license?: unknown; licenses?: unknown }): string {
  const l = meta.license ?? meta.licenses;
  if (typeof l === 'string') return l;
  if (Array.isArray(l)) return l.map((x: { type?: string }) => x.type ?? '?').join(' OR ');
  if (l && typeof l === 'object' && 'type' in l) return String(l.type);
  return 'UNKNOWN';
}

/**
 * "SEE LICENSE IN <file>" is resolved by reading that file, or (when the package does not ship it,
 * as the reference servers do not) the README's licence section; the result names its evidence.
 */
function resolveLicence(dir: string, declared: string): string {
  const see = /^SEE LICEN[CS]E IN (.+)$/i.exec(declared);
  if (!see) return declared;
  const file = join(dir, see[1]!.trim());
  const readme = join(dir, 'README.md');
  const text = existsSync(file)
    ? readFileSync(file, 'utf8').slice(0, 3000)
    : existsSync(readme)
      ? (/#+\s*Licen[cs]e[\s\S]{0,600}/i.exec(readFileSync(readme, 'utf8'))?.[0] ?? '')
      : '';
  const where = existsSync(file) ? see[1]!.trim() : 'README';
  if (/MIT License|Permission is hereby granted, free of charge/i.test(text)) return `MIT (from ${where})`;
  if (/Apache License,? Version 2\.0|Apache-2\.0/i.test(text)) return `Apache-2.0 (from ${where})`;
  return declared;
}

/** A licence expression is permissive when at least one alternative it offers is on our list. */
export function isPermissive(licence: string): boolean {
  const allowed = new Set(PERMISSIVE_LICENCES.map((x) => x.toLowerCase()));
  const expr = licence.replace(/\s*\(from [^)]*\)$/, '').replace(/[()]/g, '');
  return expr.split(/\s+OR\s+/i).some((x) => allowed.has(x.trim().toLowerCase()));
}

function binOf(dir: string, cand: McpServerCandidate): string {
  const meta = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
    bin?: string | Record<string, string>;
    name: string;
  };
  if (typeof meta.bin === 'string') return join(dir, meta.bin);
  const bins = Object.entries(meta.bin ?? {});
  const pick = bins.find(([k]) => k === cand.bin) ?? bins[0];
  if (!pick) throw new Error('package has no bin');
  return join(dir, pick[1]);
}

async function listTools(cand: McpServerCandidate, bin: string, scratch: string): Promise<HarvestedTool[]> {
  const fill = (s: string) => s.replaceAll('{scratch}', scratch);
  const head = readFileSync(bin, 'utf8').slice(0, 200);
  const isNode = /\.(c|m)?js$/.test(bin) || /^#!.*node/.test(head);
  const transport = new StdioClientTransport({
    command: isNode ? process.execPath : bin,
    args: [...(isNode ? [bin] : []), ...(cand.args ?? []).map(fill)],
    // A scratch HOME keeps servers from writing config into the builder's home folder.
    env: {
      ...getDefaultEnvironment(),
      HOME: scratch,
      ...Object.fromEntries(Object.entries(cand.env ?? {}).map(([k, v]) => [k, fill(v)])),
    },
    cwd: scratch,
    stderr: 'ignore',
  });
  const client = new Client({ name: 'switchboard-model-build', version: '1.0.0' });
  const deadline = <T>(p: Promise<T>, what: string) =>
    Promise.race([
      p,
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what} timed out`)), 30_000)),
    ]);
  try {
    await deadline(client.connect(transport), 'connect');
    const tools: HarvestedTool[] = [];
    let cursor: string | undefined;
    do {
      const page = await deadline(client.listTools(cursor ? { cursor } : {}), 'tools/list');
      for (const t of page.tools) {
        const props = (t.inputSchema?.properties ?? {}) as Record<string, { description?: unknown }>;
        tools.push({
          name: t.name,
          description: t.description ?? '',
          params: Object.entries(props).map(([name, p]) => ({
            name,
            description: typeof p?.description === 'string' ? p.description : '',
          })),
        });
      }
      cursor = page.nextCursor;
    } while (cursor);
    return tools;
  } finally {
    await client.close().catch(() => undefined);
    const pid = transport.pid;
    if (pid) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}

async function harvestOne(cand: McpServerCandidate): Promise<HarvestResult> {
  const prefix = join(PATHS.npmScratch, 'npm', slug(cand.pkg));
  const scratch = join(PATHS.npmScratch, 'run', slug(cand.pkg));
  mkdirSync(prefix, { recursive: true });
  mkdirSync(scratch, { recursive: true });
  const base = { pkg: cand.pkg, version: cand.version, licence: 'UNKNOWN', tools: [] };
  const install = await run(
    'npm',
    [
      'install',
      '--prefix',
      prefix,
      '--ignore-scripts',
      '--no-audit',
      '--no-fund',
      '--loglevel=error',
      `${cand.pkg}@${cand.version}`,
    ],
    prefix,
    300_000,
  );
  const dir = join(prefix, 'node_modules', cand.pkg);
  if (install.code !== 0 || !existsSync(dir))
    return { ...base, skipped: `install failed: ${install.out.trim().split('\n').slice(-2).join(' ')}` };
  const licence = resolveLicence(
    dir,
    licenceOf(JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { license?: unknown }),
  );
  if (!isPermissive(licence)) return { ...base, licence, skipped: `licence ${licence} is not permissive` };
  try {
    const tools = await listTools(cand, binOf(dir, cand), scratch);
    return tools.length ? { ...base, licence, tools } : { ...base, licence, skipped: 'no tools listed' };
  } catch (error) {
    return { ...base, licence, skipped: `did not start: ${(error as Error).message.slice(0, 200)}` };
  }
}

/** Harvests every candidate (cached per server), `parallel` at a time; returns all results. */
export async function harvestMcpServers(
  parallel = 3,
  log: (line: string) => void = console.log,
): Promise<HarvestResult[]> {
  const dir = join(PATHS.work, 'mcp');
  mkdirSync(dir, { recursive: true });
  const results = new Array<HarvestResult>(MCP_SERVER_CANDIDATES.length);
  let next = 0;
  const worker = async () => {
    while (next < MCP_SERVER_CANDIDATES.length) {
      const i = next++;
      const cand = MCP_SERVER_CANDIDATES[i]!;
      const file = join(dir, `${slug(cand.pkg)}@${cand.version}.json`);
      let result: HarvestResult;
      if (existsSync(file)) result = JSON.parse(readFileSync(file, 'utf8')) as HarvestResult;
      else {
        result = await harvestOne(cand);
        writeFileSync(file, JSON.stringify(result, null, 1));
        // The tool list is cached; the install (up to a GB for some servers) is not needed again.
        rmSync(join(PATHS.npmScratch, 'npm', slug(cand.pkg)), { recursive: true, force: true });
        rmSync(join(PATHS.npmScratch, 'run', slug(cand.pkg)), { recursive: true, force: true });
      }
      log(`  mcp ${cand.pkg}: ${result.skipped ?? `${result.tools.length} tools (${result.licence})`}`);
      results[i] = result;
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return results;
}

// Run alone: `npx tsx scripts/model/corpus-mcp.ts` harvests without building the model.
if (process.argv[1]?.endsWith('corpus-mcp.ts')) {
  const results = await harvestMcpServers();
  const used = results.filter((r) => !r.skipped);
  console.log(`${used.length} servers, ${used.reduce((a, r) => a + r.tools.length, 0)} tools`);
  process.exit(0);
}
