/**
 * Hardening of the configuration (issue 10): the loopback rule on the address actually bound (the real
 * CLI's `--host`, and startHub), `${VAR}` values redacted in every view, unknown keys refused with a
 * "did you mean", ports that are integers only, `${VAR:-default}` for set-but-empty variables, no
 * anonymous temporary store, and YAML alias cycles or absurd nesting reported as config errors.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildConfig, loadConfigFile, MAX_CONFIG_DEPTH, type ConfigIssue } from '../src/config/load.js';
import { redactServer, type StdioSpec } from '../src/config/spec.js';
import { startHub } from '../src/compose.js';
import { GatewayError } from '../src/core/errors.js';
import { silentLogger } from '../src/telemetry/logger.js';
import { ROOT, cleanup, fixtureEntry, makeConfig, onCleanup, tempDir } from './helpers.js';

afterAll(cleanup);

const CLI = join(ROOT, 'src/cli.ts');

/** Runs the real CLI (`node --import tsx src/cli.ts ...`) to completion, or kills it after 30 s. */
function cli(args: string[], env: NodeJS.ProcessEnv = {}) {
  return spawnSync(process.execPath, ['--import', 'tsx', CLI, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 30_000,
    env: { ...process.env, ...env },
  });
}

/** The issues of a config that must not build. */
function issuesOf(raw: unknown, env: NodeJS.ProcessEnv = {}): ConfigIssue[] {
  try {
    buildConfig(raw, { env });
  } catch (error) {
    if (error instanceof GatewayError && error.code === 'CONFIG_INVALID')
      return (error.details?.issues ?? []) as ConfigIssue[];
    throw error;
  }
  throw new Error('the config was accepted');
}

function configFile(text: string, name = 'switchboard.yaml'): string {
  const path = join(tempDir(), name);
  writeFileSync(path, text);
  return path;
}

describe('defect 1: the loopback rule follows the address actually bound', () => {
  it('`serve --host 0.0.0.0` without authentication exits non-zero with a clear message (real CLI)', () => {
    const dir = tempDir();
    const file = join(dir, 'switchboard.yaml');
    writeFileSync(file, `http: { port: 0 }\nstore: { path: ${join(dir, 'db.sqlite')} }\nrouting: { model: none }\n`);
    const run = cli(['serve', '--host', '0.0.0.0', '--config', file], { SWITCHBOARD_ADMIN_TOKEN: '' });
    expect(run.signal).toBeNull(); // not killed by the timeout: it refused instead of listening
    expect(run.status).not.toBe(0);
    expect(run.stderr).toMatch(/refusing to bind 0\.0\.0\.0: .*without authentication; set auth\.mode/);
  });

  it('startHub refuses a host option beyond loopback without authentication, before opening anything', async () => {
    const config = makeConfig({}, { routing: { model: 'none' } });
    await expect(startHub(config, { host: '0.0.0.0', log: silentLogger() })).rejects.toThrow(
      /refusing to bind 0\.0\.0\.0/,
    );
  });

  it('with auth, the Host guard follows the bound address: Host: localhost no longer passes on 0.0.0.0', async () => {
    const config = makeConfig(
      {},
      {
        routing: { model: 'none' },
        http: { adminToken: 'a-long-enough-admin-token', allowedHosts: ['gw.example'] },
        auth: { mode: 'apiKey' },
      },
    );
    const hub = await startHub(config, { host: '0.0.0.0', log: silentLogger() });
    onCleanup(() => hub.close());
    await hub.ready;
    const get = (host: string, auth?: string) =>
      new Promise<number>((resolve, reject) => {
        const req = request(
          {
            host: '127.0.0.1',
            port: hub.port,
            path: '/v1/servers',
            headers: { host, ...(auth ? { authorization: auth } : {}) },
          },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        );
        req.on('error', reject);
        req.end();
      });
    // In loopback mode a `Host: localhost` passes the guard; bound beyond loopback only allowedHosts do.
    expect(await get(`localhost:${hub.port}`, 'Bearer a-long-enough-admin-token')).toBe(403);
    expect(await get('gw.example', 'Bearer a-long-enough-admin-token')).toBe(200);
    expect(await get('gw.example')).toBe(401);
  });
});

describe('defect 5: values expanded from the environment are redacted in views', () => {
  it('collects the expanded values and hides them in args, url, headers and cwd', () => {
    const env = { SB_TOKEN: 'tok-4f9d1c', SB_PORT: '48123', SB_DIR: '/srv/secret-dir', SB_EMPTY: '' };
    const config = buildConfig(
      {
        servers: {
          local: { command: 'node', args: ['--key=${SB_TOKEN}', 'x'], cwd: '${SB_DIR}', env: { A: '${SB_TOKEN}' } },
          remote: { url: 'http://127.0.0.1:${SB_PORT}/mcp', headers: { 'X-Trace': 'id ${SB_TOKEN}' } },
          plain: { command: 'node', args: ['${SB_EMPTY:-default-arg}'] },
        },
      },
      { env },
    );
    expect(config.secrets).toEqual(expect.arrayContaining(['tok-4f9d1c', '48123', '/srv/secret-dir']));
    const views = JSON.stringify(config.servers.map((s) => redactServer(s, config.secrets ?? [])));
    for (const value of Object.values(env).filter(Boolean)) expect(views).not.toContain(value);
    expect(views).toContain('--key=***');
    expect(views).toContain('http://127.0.0.1:***/mcp');
    expect(views).toContain('id ***');
    expect(views).toContain('default-arg'); // a default written in the file is no secret
  });
});

describe('defect 9: validation gaps', () => {
  it('refuses unknown keys in server entries with a "did you mean"', () => {
    const issues = issuesOf({
      servers: {
        a: { command: 'node', timeoutMS: 5, retrysafe: true },
        b: { instances: [{ url: 'http://x/', tire: 1 }] },
      },
    });
    const text = issues.map((i) => `${i.path}: ${i.message}`).join('\n');
    expect(text).toMatch(/servers\.a: .*unknown key "timeoutMS"; did you mean "timeoutMs"\?/);
    expect(text).toMatch(/unknown key "retrysafe"; did you mean "retrySafe"\?/);
    expect(text).toMatch(/servers\.b\.instances\[0\]: unknown key "tire"; did you mean "tier"\?/);
  });

  it('still accepts the host-specific keys, and explains envFile instead of ignoring it', () => {
    const config = buildConfig({
      mcpServers: {
        cline: {
          command: 'node',
          autoApprove: [],
          alwaysAllow: [],
          timeout: 30,
          transportType: 'stdio',
          disabled: false,
        },
        windsurf: { serverUrl: 'http://127.0.0.1:1/mcp' },
        vscode: { type: 'stdio', command: 'node', dev: { watch: 'src/**' } },
      },
    });
    expect(config.servers.map((s) => s.name)).toEqual(['cline', 'windsurf', 'vscode']);
    const issues = issuesOf({ servers: { v: { command: 'node', envFile: '${workspaceFolder}/.env' } } });
    expect(issues[0]?.message).toMatch(/envFile .* is not read by switchboard: list the variables under env/);
  });

  it.each([true, [], '', null, 1.5, -1, 70_000, 'eighty'])('refuses http.port %j', (port) => {
    const issues = issuesOf({ http: { port } });
    expect(issues.map((i) => i.path)).toContain('http.port');
  });

  it('accepts an integer port, or the digits `${PORT}` expands to', () => {
    expect(buildConfig({ http: { port: 8080 } }).http.port).toBe(8080);
    expect(buildConfig({ http: { port: '${SB_PORT}' } }, { env: { SB_PORT: '9090' } }).http.port).toBe(9090);
    expect(buildConfig({ http: { port: '${SB_PORT:-}' } }, { env: {} }).http.port).toBe(7420);
  });

  it('`${VAR:-default}` uses the default when VAR is set but empty (shell semantics)', () => {
    const dir = tempDir();
    const config = buildConfig(
      {
        store: { path: '${SB_STORE:-' + join(dir, 'kept.db') + '}' },
        servers: { a: { command: 'node', args: ['${SB_ARG:-x}'] } },
      },
      { env: { SB_STORE: '', SB_ARG: '' } },
    );
    expect(config.store.path).toBe(join(dir, 'kept.db'));
    expect((config.servers[0]?.instances[0] as StdioSpec).args).toEqual(['x']);
    // Without a default, a set-but-empty variable still expands to the empty string.
    expect(
      buildConfig({ servers: { a: { command: 'node', args: ['a${SB_ARG}b'] } } }, { env: { SB_ARG: '' } }).servers[0]
        ?.instances[0],
    ).toMatchObject({ args: ['ab'] });
  });

  it('refuses an empty store.path instead of opening an anonymous temporary database', () => {
    const issues = issuesOf({ store: { path: '' } });
    expect(issues[0]).toMatchObject({ path: 'store.path', message: expect.stringMatching(/store\.path is empty/) });
  });

  it('says so when the store is in memory (the CLI)', () => {
    const run = cli(['check', '--config', configFile('store: { path: ":memory:" }\n')]);
    expect(run.status).toBe(0);
    expect(run.stderr).toMatch(/store\.path is ":memory:": .*lost at exit/);
  });
});

describe('defect 8 (YAML): alias cycles and absurd nesting are config errors with a path', () => {
  it('`check` reports a YAML alias cycle instead of crashing with a RangeError', () => {
    const run = cli(['check', '--config', configFile('servers:\n  a:\n    command: node\n    examples: &a [*a]\n')]);
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/servers\.a\.examples(\[0\])?: this value contains itself/);
    expect(run.stderr).not.toMatch(/RangeError|Maximum call stack/);
  });

  it('reports nesting deeper than the limit with its path', () => {
    const deep = `servers:\n  a:\n    command: node\n    autoApprove: ${'['.repeat(200)}${']'.repeat(200)}\n`;
    expect(() => loadConfigFile(configFile(deep))).toThrow(
      new RegExp(`servers\\.a\\.autoApprove(\\[0\\])+: nested more than ${MAX_CONFIG_DEPTH} levels deep`),
    );
  });

  it('reports nesting that overflows the YAML parser as too deep, not as a stack overflow', () => {
    const run = cli(['check', '--config', configFile(`a: ${'['.repeat(20_000)}${']'.repeat(20_000)}\n`)]);
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/nested too deeply \(more than 64 levels are refused\)/);
  });

  it('a cyclic config built in code is refused too', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(issuesOf({ servers: { a: { command: 'node', autoApprove: cyclic } } })[0]?.path).toBe(
      'servers.a.autoApprove.self',
    );
  });
});

it('fixtureEntry servers still load (sanity)', () => {
  expect(makeConfig({ alpha: fixtureEntry('alpha') }).servers).toHaveLength(1);
});

describe('policy files in `check`', () => {
  it('a misspelt attribute is an error with file, line and column and a did-you-mean; a good file passes', () => {
    const dir = tempDir();
    const file = join(dir, 'switchboard.yaml');
    writeFileSync(file, 'routing: { model: none }\npolicy: { files: [rules.cedar] }\n');
    const policy = join(dir, 'rules.cedar');
    const call = 'action == Switchboard::Action::"call"';
    writeFileSync(policy, `permit (principal, ${call}, resource) when { resource.destructiv };\n`);
    const bad = cli(['check', '--config', file]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain(`${policy}:1:`);
    expect(bad.stderr).toMatch(/did you mean `destructive`/);
    writeFileSync(policy, `permit (principal, ${call}, resource) when { !resource.destructive };\n`);
    const good = cli(['check', '--config', file]);
    expect(good.stderr).toBe('');
    expect(good.stdout).toMatch(/ok: 1 policy rule/);
  });
});
