/**
 * A third-party client against an authenticated hub: the MCP Inspector's CLI mode
 * (`@modelcontextprotocol/inspector-cli`, pinned in devDependencies), run as a user would run it:
 * `mcp-inspector-cli --cli <url> --transport http --method tools/list --header "Authorization: Bearer …"`.
 *
 * Why this package and version: `@modelcontextprotocol/inspector` 2.x needs Node 22 (and 1.x declares
 * node >= 22.7.5); `inspector-cli` 1.0.3, the newest of that package, declares no engines, runs on Node 20
 * and has `--cli` and `--header`. It is built on the v1 SDK (@modelcontextprotocol/sdk 1.x), so this also
 * checks the hub's bearer auth against the other SDK generation's Streamable HTTP client.
 *
 * Its quirk: the CLI finds its own package.json by a path relative to the working directory (it tests
 * `fs.existsSync("../package.json")` and then imports that path relative to its module), so it is run with
 * its `build/` folder as the working directory; anywhere else it exits with "Cannot find module
 * .../@modelcontextprotocol/package.json".
 */
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '../src/compose.js';
import { cleanup, fixtureEntry, makeConfig, postMcp, ROOT, startTestHub } from './helpers.js';

const CLI = join(ROOT, 'node_modules/@modelcontextprotocol/inspector-cli/build/cli.js');
const ADMIN = 'admin-token-0123456789abcdef';
let hub: Hub;
let key: string;

/** What one run of the Inspector CLI ended with. */
interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `mcp-inspector-cli --cli <hub>/mcp --transport http --method tools/list` with `headers`. */
function inspectTools(headers: string[]): Promise<Run> {
  const args = [CLI, '--cli', `${hub.url}/mcp`, '--transport', 'http', '--method', 'tools/list'];
  for (const header of headers) args.push('--header', header);
  return new Promise((resolve) => {
    execFile(process.execPath, args, { cwd: dirname(CLI), timeout: 50_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? ((error as { code?: number }).code ?? -1) : 0, stdout, stderr }),
    );
  });
}

/** The body of the hub's answer to an initialize POST with `authorization` (undefined: no header). */
async function rawInitialize(authorization?: string): Promise<{ status: number; body: string }> {
  const res = await postMcp(hub.url, { authorization });
  return { status: res.status, body: await res.text() };
}

beforeAll(async () => {
  hub = await startTestHub(
    makeConfig({ pub: fixtureEntry('pub') }, { http: { adminToken: ADMIN }, auth: { mode: 'apiKey' } }),
  );
  const res = await fetch(`${hub.url}/v1/keys`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN}` },
    body: JSON.stringify({ tenant: 'default', agent: 'inspector', scopes: ['servers:pub'] }),
  });
  expect(res.status).toBe(201);
  key = ((await res.json()) as { key: string }).key;
});
afterAll(cleanup);

describe('the MCP Inspector CLI against a hub with auth apiKey', () => {
  it('with "Authorization: Bearer <key>" it lists the tools', async () => {
    const run = await inspectTools([`Authorization: Bearer ${key}`]);
    expect(run.code, run.stderr).toBe(0);
    const names = (JSON.parse(run.stdout) as { tools: { name: string }[] }).tools.map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining(['pub__echo', 'pub__add', 'find_capability']));
  });

  it("without the header it fails, reporting the hub's 401 answer", async () => {
    const refusal = await rawInitialize();
    expect(refusal.status).toBe(401);
    expect(refusal.body).toMatch(/authentication required: present an API key as a bearer token/);
    const run = await inspectTools([]);
    expect(run.code).not.toBe(0);
    expect(run.stdout).toBe('');
    // The v1 SDK's transport puts the answer's body, not its status, in the message: the body is the 401's.
    expect(run.stderr).toContain(
      `Failed to connect to MCP server: Streamable HTTP error: Error POSTing to endpoint: ${refusal.body}`,
    );
  });

  it('with a key the hub does not know it fails with the invalid-key 401', async () => {
    const forged = 'sbk_0123456789ab_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
    const refusal = await rawInitialize(`Bearer ${forged}`);
    expect(refusal.status).toBe(401);
    const run = await inspectTools([`Authorization: Bearer ${forged}`]);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain(refusal.body);
  });
});
