/**
 * Config files as other hosts write them load as is, from a folder other than the repo: Claude Desktop,
 * Cursor (an untyped `/sse` url: Streamable HTTP first, then legacy SSE), Windsurf (`serverUrl`), VS Code
 * (`servers`, `inputs`, `${workspaceFolder}`, `${userHome}`, `${input:id}`), Cline (`timeout` in seconds,
 * `transportType`, `autoApprove`). Relative paths resolve against the config file's folder, never the cwd
 * (vitest runs in the repo; the files live in a temp folder), and the shipped model is found from the
 * package. The README's own reference block passes `switchboard check` as printed.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/client';
import { buildConfig, loadConfigFile, type Config } from '../src/config/load.js';
import { findPackageRoot } from '../src/config/paths.js';
import type { StdioSpec, UpstreamSpec } from '../src/config/spec.js';
import { silentLogger } from '../src/telemetry/logger.js';
import { TransportChoice } from '../src/upstream/http-fallback.js';
import type { Hub } from '../src/compose.js';
import {
  FIXTURE,
  ROOT,
  cleanup,
  connectAgent,
  onCleanup,
  startEverythingHttp,
  startHttpFixture,
  startTestHub,
  tempDir,
  textOf,
  readmeYamlFile,
  switchboardCheck,
  configIssues,
} from './helpers.js';

afterAll(cleanup);

const TSX_API = join(ROOT, 'node_modules/tsx/dist/esm/api/index.mjs');

/** A script that runs the fixture server (TypeScript, by absolute path) under tsx; `before` runs first. */
function wrapper(before = ''): string {
  return [
    `#!${process.execPath}`,
    `import { register } from ${JSON.stringify(TSX_API)};`,
    before,
    'register();',
    `await import(${JSON.stringify(FIXTURE)});`,
    '',
  ].join('\n');
}

/** The first instance of a server in a config. */
function instance(config: Config, name: string): UpstreamSpec {
  const spec = config.servers.find((s) => s.name === name)?.instances[0];
  if (!spec) throw new Error(`no server ${name}`);
  return spec;
}

/** An HTTP server that speaks neither MCP transport: Express's HTML 404 page for everything. */
async function htmlOnlyServer(): Promise<string> {
  const server = createServer((req, res) => {
    res.writeHead(404, { 'content-type': 'text/html; charset=utf-8' });
    res.end(
      `<!DOCTYPE html>\n<html lang="en">\n<head><title>Error</title></head>\n<body>\n<pre>Cannot ${req.method} ${req.url?.split('?')[0]}</pre>\n</body>\n</html>\n`,
    );
  });
  await new Promise<void>((ready) => server.listen(0, '127.0.0.1', ready));
  onCleanup(() => new Promise((closed) => server.close(closed)));
  return `http://127.0.0.1:${(server.address() as { port: number }).port}/sse`;
}

describe('mcpServers files from other hosts, through a real hub, from another folder', () => {
  let dir: string;
  let config: Config;
  let hub: Hub;
  let agent: Client;

  beforeAll(async () => {
    dir = tempDir('switchboard-shapes-');
    expect(dir.startsWith(ROOT)).toBe(false);
    mkdirSync(join(dir, 'bin'));
    mkdirSync(join(dir, 'out'));
    mkdirSync(join(dir, 'sub'));
    writeFileSync(join(dir, 'bin/wrapper.mjs'), wrapper());
    // Cline's server: started as ./run.mjs in cwd "sub"; it notes the folder it was started in.
    writeFileSync(
      join(dir, 'sub/run.mjs'),
      wrapper(`import { writeFileSync } from 'node:fs';\nwriteFileSync('cwd-seen.txt', process.cwd());`),
    );
    chmodSync(join(dir, 'sub/run.mjs'), 0o755);
    const sse = await startEverythingHttp('sse');
    const http = await startHttpFixture('windsurf');
    const neither = await htmlOnlyServer();
    const file = join(dir, 'mcp.json');
    writeFileSync(
      file,
      JSON.stringify({
        http: { port: 0 },
        // Generous: three tsx-compiled fixtures start at once on a busy machine.
        gateway: { connectTimeoutMs: 60_000 },
        store: { path: 'state/switchboard.db' },
        mcpServers: {
          // Claude Desktop: command + args + env, and its approval list.
          claude: {
            command: 'node',
            args: ['./bin/wrapper.mjs', '--name', 'claude', '--counter-file', './out/claude-calls.log'],
            env: { SOME_SETTING: 'x' },
            autoApprove: ['echo'],
          },
          // Cline: relative cwd and command, timeout in seconds, transportType, alwaysAllow (Roo Code).
          cline: {
            command: './run.mjs',
            args: ['--name', 'cline'],
            cwd: 'sub',
            transportType: 'stdio',
            timeout: 30,
            disabled: false,
            autoApprove: [],
            alwaysAllow: ['echo'],
          },
          // Cursor: a legacy SSE server named by its /sse url, no type.
          cursor: { url: sse.url },
          // Windsurf: serverUrl for a Streamable HTTP server.
          windsurf: { serverUrl: http.url },
          // A url that serves neither transport.
          broken: { url: neither },
        },
      }),
    );
    config = loadConfigFile(file, { PATH: process.env.PATH });
    hub = await startTestHub(config);
    agent = await connectAgent(hub.url);
  });

  it('lists every working server’s tools through the hub', async () => {
    const names: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await agent.listTools(cursor ? { cursor } : {});
      names.push(...page.tools.map((t) => t.name));
      cursor = page.nextCursor;
    } while (cursor);
    expect(names).toEqual(
      expect.arrayContaining(['claude__echo', 'cline__echo', 'cursor__echo', 'windsurf__echo', 'find_capability']),
    );
    expect(names.some((n) => n.startsWith('broken__'))).toBe(false);
    expect(textOf(await agent.callTool({ name: 'cursor__echo', arguments: { message: 'via sse' } }))).toContain(
      'via sse',
    );
    expect(textOf(await agent.callTool({ name: 'windsurf__echo', arguments: { text: 'via serverUrl' } }))).toContain(
      'via serverUrl',
    );
  });

  it('falls back to legacy SSE for an untyped /sse url and keeps it', () => {
    expect(instance(config, 'cursor')).toMatchObject({ kind: 'streamable-http', fallback: 'sse' });
    const servers = hub.gateway.listServers();
    expect(servers.find((s) => s.name === 'cursor')).toMatchObject({ kind: 'sse', state: 'ready' });
    expect(servers.find((s) => s.name === 'windsurf')).toMatchObject({ kind: 'streamable-http', state: 'ready' });
  });

  it('names both attempts for a url that serves neither, without the HTML page', async () => {
    const broken = hub.gateway.listServers().find((s) => s.name === 'broken');
    expect(broken?.state).not.toBe('ready');
    expect(broken?.lastError).toMatch(
      /answered neither Streamable HTTP \(HTTP 404 Not Found: Cannot POST \/sse\) nor legacy SSE \(.*404.*\)/,
    );
    expect(broken?.lastError).not.toMatch(/<|DOCTYPE/i);
  });

  it('resolves relative args, command, cwd and store.path against the config folder', async () => {
    const claude = instance(config, 'claude') as StdioSpec;
    expect(claude.args).toEqual([
      join(dir, 'bin/wrapper.mjs'),
      '--name',
      'claude',
      '--counter-file',
      join(dir, 'out/claude-calls.log'),
    ]);
    expect(claude.command).toBe('node');
    expect(textOf(await agent.callTool({ name: 'claude__count', arguments: {} }))).toBe('1');
    expect(readFileSync(join(dir, 'out/claude-calls.log'), 'utf8')).toMatch(/^\d+ 1$/m);

    const cline = instance(config, 'cline') as StdioSpec;
    expect(cline).toMatchObject({ command: join(dir, 'sub/run.mjs'), cwd: join(dir, 'sub'), timeoutMs: 30_000 });
    expect(readFileSync(join(dir, 'sub/cwd-seen.txt'), 'utf8')).toBe(join(dir, 'sub'));

    expect(config.store.path).toBe(join(dir, 'state/switchboard.db'));
    expect(existsSync(join(dir, 'state/switchboard.db'))).toBe(true);
    expect(existsSync(join(ROOT, 'state'))).toBe(false);
  });

  it('finds the shipped model from the package, not the cwd or the config folder', () => {
    expect(config.routing.modelsDir).toBe(join(ROOT, 'models'));
    expect(hub.capabilities.model).toBe('switchboard-static-v1');
  });
});

describe('the transport choice for an untyped /sse url', () => {
  const spec = (url: string): UpstreamSpec => instance(buildConfig({ servers: { s: { url } } }, { env: {} }), 's');

  it('tries Streamable HTTP, then legacy SSE, and keeps whichever connected for reconnects', () => {
    const choice = new TransportChoice(spec('http://127.0.0.1:1/sse'), silentLogger());
    expect(choice.current()).toMatchObject({ kind: 'streamable-http', fallback: 'none' });
    expect(choice.failed(new Error('HTTP 404'))).toEqual({ retry: true });
    expect(choice.current().kind).toBe('sse');
    choice.connected();
    // Lost later: reconnects stay on SSE, without trying Streamable HTTP again.
    expect(choice.failed(new Error('connection refused'))).toEqual({ retry: false, message: 'connection refused' });
    expect(choice.current().kind).toBe('sse');
  });

  it('starts over with Streamable HTTP after both failed; other urls never fall back', () => {
    const choice = new TransportChoice(spec('http://127.0.0.1:1/sse'), silentLogger());
    expect(choice.failed(new Error('a')).retry).toBe(true);
    expect(choice.failed(new Error('b'))).toMatchObject({
      retry: false,
      message: expect.stringMatching(/neither.*\(a\).*\(b\)/),
    });
    expect(choice.current().kind).toBe('streamable-http');
    const plain = new TransportChoice(spec('http://127.0.0.1:1/mcp'), silentLogger());
    expect(plain.failed(new Error('x'))).toEqual({ retry: false, message: 'x' });
  });
});

describe('VS Code files', () => {
  it('expands ${workspaceFolder} (above .vscode/) and ${userHome}, and accepts inputs', () => {
    const workspace = tempDir('switchboard-vscode-');
    mkdirSync(join(workspace, '.vscode'));
    const file = join(workspace, '.vscode/mcp.json');
    writeFileSync(
      file,
      JSON.stringify({
        inputs: [{ type: 'promptString', id: 'api-key', description: 'API key', password: true }],
        servers: {
          local: {
            type: 'stdio',
            command: 'node',
            args: ['${workspaceFolder}/bin/server.mjs', 'stdio'],
            env: { CACHE: '${userHome}/.cache/x', NAME: '${workspaceFolderBasename}' },
          },
          remote: { type: 'http', url: 'http://127.0.0.1:1/mcp' },
          old: { type: 'sse', url: 'http://127.0.0.1:1/sse' },
        },
      }),
    );
    const config = loadConfigFile(file, {});
    expect(instance(config, 'local')).toMatchObject({
      kind: 'stdio',
      args: [join(workspace, 'bin/server.mjs'), 'stdio'],
      env: { CACHE: join(homedir(), '.cache/x'), NAME: workspace.split('/').pop() },
    });
    expect(instance(config, 'remote')).toMatchObject({ kind: 'streamable-http', fallback: 'none' });
    expect(instance(config, 'old')).toMatchObject({ kind: 'sse', fallback: 'none' });
  });

  it('rejects ${input:id} with an error naming the input, once, and never sends the literal', () => {
    const issues = configIssues(() =>
      buildConfig(
        {
          inputs: [{ type: 'promptString', id: 'api-key' }],
          servers: {
            a: { command: 'node', env: { KEY: '${input:api-key}' } },
            b: { url: 'http://127.0.0.1:1/mcp', headers: { Authorization: 'Bearer ${input:api-key}' } },
            c: { command: 'node', args: ['${command:pickFile}'] },
          },
        },
        { env: {} },
      ),
    );
    const input = issues.filter((i) => i.message.includes('api-key'));
    expect(input).toHaveLength(1);
    expect(input[0]).toMatchObject({ path: 'servers.a.env.KEY' });
    expect(input[0]?.message).toMatch(
      /VS Code input "api-key" cannot be prompted for by switchboard; set it with \$\{env:/,
    );
    expect(input[0]?.message).toContain('servers.b.headers.Authorization');
    expect(issues.find((i) => i.path === 'servers.c.args[0]')?.message).toMatch(/command:pickFile.*not supported/);
  });
});

describe('values that are not set', () => {
  it('an optional secret that expands to nothing is not set', () => {
    const config = buildConfig(
      { http: { adminToken: '${SWITCHBOARD_ADMIN_TOKEN:-}', port: '${PORT:-}' } },
      { env: { SWITCHBOARD_ADMIN_TOKEN: '' } },
    );
    expect(config.http.adminToken).toBeUndefined();
    expect(config.http.port).toBe(7420);
    expect(buildConfig({ http: { adminToken: '' } }, { env: {} }).http.adminToken).toBeUndefined();
    // A short token that is really set is still checked.
    expect(configIssues(() => buildConfig({ http: { adminToken: '${T}' } }, { env: { T: 'short' } }))[0]?.path).toBe(
      'http.adminToken',
    );
  });

  it('an unset variable used several times is one issue naming the other places', () => {
    const issues = configIssues(() =>
      buildConfig(
        {
          servers: {
            a: { command: 'node', env: { T: '${GITHUB_TOKEN}' } },
            b: { url: 'http://127.0.0.1:1/mcp', headers: { Authorization: 'Bearer ${GITHUB_TOKEN}' } },
            c: { command: '${OTHER}' },
          },
        },
        { env: {} },
      ),
    );
    const github = issues.filter((i) => i.message.includes('GITHUB_TOKEN'));
    expect(github).toHaveLength(1);
    expect(github[0]).toMatchObject({ path: 'servers.a.env.T' });
    expect(github[0]?.message).toMatch(/not set.*also used at servers\.b\.headers\.Authorization/);
    expect(issues.filter((i) => i.message.includes('OTHER'))).toHaveLength(1);
  });
});

describe('paths', () => {
  it('rewrites only args and env values that are clearly paths', () => {
    const dir = tempDir('switchboard-paths-');
    mkdirSync(join(dir, 'data'));
    writeFileSync(join(dir, 'data/server.js'), '');
    const config = buildConfig(
      {
        servers: {
          a: {
            command: 'npx',
            args: ['-y', '@modelcontextprotocol/server-github', 'stdio', 'data/server.js', 'data/missing.js', '.'],
            env: { DB: './db.sqlite', URL: 'https://example.com/a/b', WORD: 'plain', MISSING: 'not/here' },
          },
          b: { command: 'node', args: ['--root=../shared', '--name=x', 'https://example.com/x'] },
        },
        routing: { modelsDir: 'my-models' },
      },
      { env: {}, baseDir: dir },
    );
    expect(instance(config, 'a')).toMatchObject({
      command: 'npx',
      args: ['-y', '@modelcontextprotocol/server-github', 'stdio', join(dir, 'data/server.js'), 'data/missing.js', dir],
      env: { DB: join(dir, 'db.sqlite'), URL: 'https://example.com/a/b', WORD: 'plain', MISSING: 'not/here' },
    });
    expect((instance(config, 'b') as StdioSpec).args).toEqual([
      `--root=${join(dir, '../shared')}`,
      '--name=x',
      'https://example.com/x',
    ]);
    expect(config.routing.modelsDir).toBe(join(dir, 'my-models'));
  });

  it('configs built in code resolve against the cwd and leave servers as written', () => {
    const config = buildConfig(
      { store: { path: 'x/db.sqlite' }, servers: { a: { command: './srv', args: ['./a'], cwd: 'w' } } },
      { env: {} },
    );
    expect(config.store.path).toBe(join(process.cwd(), 'x/db.sqlite'));
    expect(instance(config, 'a')).toMatchObject({ command: './srv', args: ['./a'], cwd: 'w' });
    expect(config.routing.modelsDir).toBe(join(ROOT, 'models'));
    expect(buildConfig({ store: { path: ':memory:' } }, { env: {} }).store.path).toBe(':memory:');
  });

  it('finds the package root from src/config and from dist/src/config', () => {
    expect(findPackageRoot()).toBe(ROOT);
    const fake = tempDir('switchboard-pkg-');
    writeFileSync(join(fake, 'package.json'), JSON.stringify({ name: 'switchboard' }));
    mkdirSync(join(fake, 'dist/src/config'), { recursive: true });
    mkdirSync(join(fake, 'dist/node_modules/other'), { recursive: true });
    writeFileSync(join(fake, 'dist/node_modules/other/package.json'), JSON.stringify({ name: 'other' }));
    expect(findPackageRoot(join(fake, 'dist/src/config'))).toBe(fake);
    expect(findPackageRoot(join(fake, 'dist/node_modules/other'))).toBe(fake);
  });
});

describe('the README reference block', () => {
  it('passes switchboard check as printed, from another folder, with none of its variables set', () => {
    const { dir, file } = readmeYamlFile('## Configuration');
    // In process, with an empty environment: nothing may be required.
    const config = loadConfigFile(file, {});
    expect(config.http.adminToken).toBeUndefined();
    expect(config.servers.map((s) => s.name)).toEqual(['github', 'search', 'old', 'slow', 'web']);
    // And through the CLI as a user runs it.
    const run = switchboardCheck(file, dir, ['SWITCHBOARD_ADMIN_TOKEN', 'GITHUB_TOKEN', 'SEARCH_TOKEN']);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('ok: 5 server(s)');
  });
});
