/**
 * Agents and upstreams that speak tasks, for the task tests: a 2025-11-25 agent on the v1 SDK (its
 * experimental tasks client is an independent implementation of the 2025 task methods), raw
 * 2026-07-28 requests that declare the tasks extension (the v2 client has no task runtime and refuses
 * a `resultType: "task"` answer), so the wire shapes themselves are what the tests check; and the two
 * task fixtures (test/fixtures/tasks-2025-server.ts, tasks-2026-server.ts) as upstreams.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Client as V1Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as V1Transport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { onCleanup, ROOT } from './helpers.js';

const TASK_FIXTURES = {
  '2025-11-25': join(ROOT, 'test/fixtures/tasks-2025-server.ts'),
  '2026-07-28': join(ROOT, 'test/fixtures/tasks-2026-server.ts'),
} as const;

/** The era of a task fixture. */
export type TaskEra = keyof typeof TASK_FIXTURES;

/** Starts a task fixture over HTTP as a child process (killed at cleanup); resolves with its /mcp URL. */
export async function startTaskFixture(era: TaskEra, counterFile: string): Promise<string> {
  const proc = spawn(
    process.execPath,
    ['--import', 'tsx', TASK_FIXTURES[era], '--transport', 'http', '--port', '0', '--counter-file', counterFile],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  onCleanup(() => proc.kill('SIGKILL'));
  const port = await new Promise<number>((resolve, reject) => {
    proc.once('exit', (code) => reject(new Error(`the ${era} task fixture exited with ${code}`)));
    createInterface({ input: proc.stdout }).on('line', (line) => {
      const match = /^LISTENING (\d+)/.exec(line);
      if (match) resolve(Number(match[1]));
    });
  });
  return `http://127.0.0.1:${port}/mcp`;
}

/** A task fixture as a stdio server entry. */
export function taskFixtureEntry(era: TaskEra, counterFile: string): { command: string; args: string[] } {
  return { command: process.execPath, args: ['--import', 'tsx', TASK_FIXTURES[era], '--counter-file', counterFile] };
}

/** A 2025-era v1 client connected to a hub's /mcp (a session), optionally with a bearer token. */
export async function connectV1(url: string, name = 'v1-agent', token?: string): Promise<V1Client> {
  const client = new V1Client({ name, version: '1.0.0' }, { capabilities: {} });
  await client.connect(
    new V1Transport(
      new URL(`${url}/mcp`),
      token ? { requestInit: { headers: { authorization: `Bearer ${token}` } } } : {},
    ),
  );
  onCleanup(() => client.close());
  return client;
}

let nextId = 1;

/** The answer of one raw 2026-07-28 request: its result, or its JSON-RPC error. */
export interface RawAnswer {
  readonly result?: Record<string, unknown>;
  readonly error?: { code: number; message: string; data?: unknown };
}

/**
 * One 2026-07-28 request as a raw POST to a hub's /mcp, declaring the tasks extension unless
 * `tasks: false`; answers JSON or a one-message SSE stream.
 */
export async function post2026(
  url: string,
  method: string,
  params: Record<string, unknown>,
  options: { tasks?: boolean; token?: string; agent?: string } = {},
): Promise<RawAnswer> {
  const meta = {
    ...(params._meta as Record<string, unknown> | undefined),
    'io.modelcontextprotocol/protocolVersion': '2026-07-28',
    'io.modelcontextprotocol/clientInfo': { name: options.agent ?? 'raw-2026', version: '1' },
    'io.modelcontextprotocol/clientCapabilities':
      options.tasks === false ? {} : { extensions: { 'io.modelcontextprotocol/tasks': {} } },
  };
  const name =
    typeof params.name === 'string' ? params.name : typeof params.taskId === 'string' ? params.taskId : undefined;
  const response = await fetch(`${url}/mcp`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': '2026-07-28',
      'mcp-method': method,
      ...(name ? { 'mcp-name': name } : {}),
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: nextId++, method, params: { ...params, _meta: meta } }),
  });
  const text = await response.text();
  const json = response.headers.get('content-type')?.includes('text/event-stream')
    ? text
        .split('\n')
        .filter((l) => l.startsWith('data:'))
        .map((l) => JSON.parse(l.slice(5)) as Record<string, unknown>)
        .find((m) => 'result' in m || 'error' in m)
    : (JSON.parse(text) as Record<string, unknown>);
  if (!json) throw new Error(`no answer to ${method}: HTTP ${response.status} ${text.slice(0, 300)}`);
  return json;
}
