/**
 * Configuration: the mcpServers shape loads as is, ${VAR} expands, and a bad file reports every
 * problem with its path (in-process and through the real CLI, which exits non-zero).
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildConfig, loadConfigFile } from '../src/config/load.js';
import { GatewayError } from '../src/core/errors.js';
import { ROOT, tempDir } from './helpers.js';

function issuesOf(raw: unknown, env: NodeJS.ProcessEnv = {}): { path: string; message: string }[] {
  try {
    buildConfig(raw, { env });
  } catch (error) {
    expect(error).toBeInstanceOf(GatewayError);
    expect((error as GatewayError).code).toBe('CONFIG_INVALID');
    return ((error as GatewayError).details?.issues ?? []) as { path: string; message: string }[];
  }
  throw new Error('expected the config to be rejected');
}

describe('config', () => {
  it('loads a Claude Desktop / Cursor mcpServers file as is', () => {
    const dir = tempDir();
    const file = join(dir, 'mcp.json');
    writeFileSync(
      file,
      JSON.stringify({
        mcpServers: {
          github: { command: 'npx', args: ['-y', '@modelcontextprotocol/server-github'], env: { GITHUB_TOKEN: 'x' } },
          remote: { url: 'https://example.com/mcp', headers: { Authorization: 'Bearer y' } },
          legacy: { type: 'sse', url: 'http://127.0.0.1:9/sse' },
          off: { command: 'true', disabled: true },
        },
      }),
    );
    const config = loadConfigFile(file, {});
    expect(config.servers.map((s) => [s.name, s.instances[0]?.kind])).toEqual([
      ['github', 'stdio'],
      ['remote', 'streamable-http'],
      ['legacy', 'sse'],
    ]);
    expect(config.http).toMatchObject({ host: '127.0.0.1', port: 7420 });
    expect(config.gateway.prefix).toBe('always');
    expect(Object.isFrozen(config.servers)).toBe(true);
  });

  it('loads a VS Code file (servers + type + inputs)', () => {
    const config = buildConfig(
      {
        inputs: [{ id: 'tok', type: 'promptString' }],
        servers: { a: { type: 'stdio', command: 'node' }, b: { type: 'http', url: 'http://127.0.0.1:1/mcp' } },
      },
      { env: {} },
    );
    expect(config.servers.map((s) => s.instances[0]?.kind)).toEqual(['stdio', 'streamable-http']);
  });

  it('expands ${VAR}, ${env:VAR} and ${VAR:-default}', () => {
    const config = buildConfig(
      {
        http: { port: '${PORT:-7000}' },
        servers: { a: { command: '${CMD}', args: ['${env:ARG}'], env: { TOKEN: 'pre-${SECRET}' } } },
      },
      { env: { CMD: 'node', ARG: 'x', SECRET: 's' } },
    );
    const spec = config.servers[0]?.instances[0];
    expect(config.http.port).toBe(7000);
    expect(spec).toMatchObject({ kind: 'stdio', command: 'node', args: ['x'], env: { TOKEN: 'pre-s' } });
  });

  it('reports every problem with its path at once', () => {
    const issues = issuesOf({
      gateway: { prefix: 'sometimes', callTimeoutMs: -1 },
      http: { port: 70000 },
      servers: {
        nothing: {},
        both: { command: 'node', url: 'http://127.0.0.1/mcp' },
        badurl: { url: 'ftp://example.com' },
        'bad name!': { command: 'x' },
        vars: { command: '${MISSING}' },
      },
      unknownKey: true,
    });
    const paths = issues.map((i) => i.path);
    expect(paths).toEqual(
      expect.arrayContaining([
        'gateway.prefix',
        'gateway.callTimeoutMs',
        'http.port',
        'servers.nothing',
        'servers.both.url',
        'servers.badurl.url',
        'servers.vars.command',
      ]),
    );
    expect(paths.some((p) => p.startsWith('servers'))).toBe(true);
    expect(issues.find((i) => i.path === 'servers.vars.command')?.message).toMatch(/MISSING is not set/);
    expect(issues.some((i) => /unknownKey|Unrecognized/.test(i.message) || i.path === 'unknownKey')).toBe(true);
    expect(issues.length).toBeGreaterThanOrEqual(8);
  });

  it('the CLI prints each problem with its path and exits non-zero', () => {
    const dir = tempDir();
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'servers:\n  a:\n    args: [1]\n  b:\n    url: not-a-url\nhttp:\n  port: -5\n');
    const run = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli.ts'), 'serve', '--config', file], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('invalid configuration');
    expect(run.stderr).toContain('servers.a.args[0]');
    expect(run.stderr).toContain('servers.b.url');
    expect(run.stderr).toContain('http.port');
  });

  it('the CLI reports unreadable and unparsable files clearly', () => {
    const dir = tempDir();
    const broken = join(dir, 'broken.json');
    writeFileSync(broken, '{"servers": {');
    const cli = (file: string) =>
      spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli.ts'), 'check', '--config', file], {
        cwd: ROOT,
        encoding: 'utf8',
        timeout: 30_000,
      });
    const missing = cli(join(dir, 'nope.yaml'));
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/cannot read config file/);
    const bad = cli(broken);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/not valid YAML\/JSON/);
    const good = cli(join(ROOT, 'examples/default.yaml'));
    expect(good.status).toBe(0);
    expect(good.stdout).toMatch(/ok: 3 server/);
  });

  it('refuses to bind beyond loopback without authentication (an admin token alone leaves /mcp open)', async () => {
    const { assertSafeBind } = await import('../src/http/app.js');
    const config = buildConfig({ http: { host: '0.0.0.0' } }, { env: {} });
    expect(() => assertSafeBind(config)).toThrow(/without authentication; set auth\.mode/);
    const tokenOnly = buildConfig({ http: { host: '0.0.0.0', adminToken: 'a-long-enough-token-123' } }, { env: {} });
    expect(() => assertSafeBind(tokenOnly)).toThrow(/auth\.mode/);
    const safe = buildConfig({ http: { host: '0.0.0.0' }, auth: { mode: 'apiKey' } }, { env: {} });
    expect(() => assertSafeBind(safe)).not.toThrow();
  });
});
