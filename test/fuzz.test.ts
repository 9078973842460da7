/**
 * A bounded, seeded fuzz run against a real hub with a real upstream (issue 10): a few thousand
 * mutated JSON-RPC messages of both protocol eras and malformed HTTP requests (truncations, type
 * swaps, huge strings, deep nesting, wrong methods, bad headers). Nothing may answer 5xx, take over
 * 5 s or bring the hub down, and an ordinary tools/call must work after every hundred cases.
 * A failing case is printed with its seed index so it can be replayed.
 */
import { Agent, request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/client';
import {
  CLIENT_CAPABILITIES_META_KEY,
  CLIENT_INFO_META_KEY,
  PROTOCOL_VERSION_META_KEY,
} from '@modelcontextprotocol/server';
import { prng, type Random } from '../src/core/prng.js';
import type { Hub } from '../src/compose.js';
import { cleanup, connectAgent, fixtureEntry, makeConfig, onCleanup, startTestHub, textOf } from './helpers.js';

const SEED = 20_260_728;
const CASES = 2_000;
const CONCURRENCY = 4;

let hub: Hub;
let agent: Client;
let sessionId: string;
// One connection per case: a case that makes the hub drop its connection must not spoil the next one.
const http = new Agent({ keepAlive: false, maxSockets: CONCURRENCY });

beforeAll(async () => {
  hub = await startTestHub(makeConfig({ alpha: fixtureEntry('alpha') }, { routing: { exposure: 'both' } }));
  agent = await connectAgent(hub.url);
  onCleanup(() => http.destroy());
  const opened = await exchange({
    method: 'POST',
    path: '/mcp',
    headers: JSON_HEADERS,
    body: JSON.stringify(legacy('initialize', { protocolVersion: '2025-11-25', capabilities: {}, clientInfo })),
  });
  sessionId = opened.session ?? '';
  expect(sessionId).not.toBe('');
});
afterAll(cleanup);

const clientInfo = { name: 'fuzzer', version: '1' };
const JSON_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
const modernMeta = {
  [PROTOCOL_VERSION_META_KEY]: '2026-07-28',
  [CLIENT_INFO_META_KEY]: clientInfo,
  [CLIENT_CAPABILITIES_META_KEY]: {},
};

function legacy(method: string, params?: unknown, id: unknown = 1): Record<string, unknown> {
  return { jsonrpc: '2.0', id, method, ...(params !== undefined ? { params } : {}) };
}

/** Well-formed messages the mutations start from. */
const BASES: (() => Record<string, unknown>)[] = [
  () => legacy('tools/list'),
  () => legacy('tools/call', { name: 'alpha__echo', arguments: { text: 'hi' } }),
  () => legacy('tools/call', { name: 'alpha__add', arguments: { a: 1, b: 2 } }),
  () => legacy('tools/call', { name: 'find_capability', arguments: { capability: 'echo some text', k: 3 } }),
  () => legacy('tools/call', { name: 'call_capability', arguments: { capability: 'add two numbers' } }),
  () => legacy('prompts/list'),
  () => legacy('prompts/get', { name: 'alpha__greet', arguments: { name: 'x' } }),
  () => legacy('resources/list'),
  () => legacy('resources/read', { uri: 'fixture://alpha/readme' }),
  () =>
    legacy('completion/complete', {
      ref: { type: 'ref/prompt', name: 'alpha__greet' },
      argument: { name: 'n', value: 'a' },
    }),
  () => legacy('logging/setLevel', { level: 'debug' }),
  () => legacy('ping'),
  () => legacy('initialize', { protocolVersion: '2025-11-25', capabilities: {}, clientInfo }),
  () => ({ jsonrpc: '2.0', method: 'notifications/initialized' }),
  () => ({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 1 } }),
  () => legacy('tools/list', { _meta: modernMeta }),
  () => legacy('tools/call', { name: 'alpha__echo', arguments: { text: 'm' }, _meta: modernMeta }),
  () => legacy('server/discover', { _meta: modernMeta }),
  () => legacy('subscriptions/listen', { _meta: modernMeta, filter: {} }),
];

const WRONG_METHODS = [
  'tools/cal',
  'TOOLS/LIST',
  '',
  'rpc.discover',
  '__proto__',
  'constructor',
  'sampling/createMessage',
  'x'.repeat(300),
];

function pick<T>(random: Random, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)] as T;
}

/** A value of another type (or an odd one of the same type). */
function swapValue(random: Random): unknown {
  return pick<unknown>(random, [
    null,
    0,
    -1,
    1e308,
    Number.MAX_SAFE_INTEGER,
    true,
    '',
    '\u0000\uffff\ud800',
    [],
    [null],
    {},
    { __proto__: null },
    { constructor: { prototype: { polluted: true } } },
    'x'.repeat(200),
  ]);
}

/** Every path to a value inside `value` (objects and arrays), for picking one to mutate. */
function paths(
  value: unknown,
  prefix: (string | number)[] = [],
  out: (string | number)[][] = [],
): (string | number)[][] {
  if (value !== null && typeof value === 'object') {
    for (const [key, child] of Object.entries(value)) {
      const path = [...prefix, Array.isArray(value) ? Number(key) : key];
      out.push(path);
      paths(child, path, out);
    }
  }
  return out;
}

function setAt(root: Record<string, unknown>, path: (string | number)[], value: unknown): void {
  let node = root as Record<string | number, unknown>;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string | number, unknown>;
  node[path[path.length - 1] as string | number] = value;
}

const nested = (depth: number) => `${'['.repeat(depth)}1${']'.repeat(depth)}`;

/** One fuzz case: an HTTP request. */
interface Case {
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body?: string;
  readonly what: string;
}

/** Mutates a base message into a case. */
function makeCase(random: Random, index: number): Case {
  const message = structuredClone(pick(random, BASES)());
  // Unique ids: concurrent cases share one session, and reusing an id there is the client's own bug.
  if ('id' in message) message.id = 1_000 + index;
  const modern = JSON.stringify(message).includes('2026-07-28');
  let headers: Record<string, string> = {
    ...JSON_HEADERS,
    ...(modern ? { 'mcp-protocol-version': '2026-07-28' } : random() < 0.5 ? { 'mcp-session-id': sessionId } : {}),
  };
  let body: string;
  let method = 'POST';
  let path = '/mcp';
  let what: string;
  const roll = random();
  const targets = paths(message);
  if (roll < 0.15) {
    const full = JSON.stringify(message);
    body = full.slice(0, Math.floor(random() * full.length));
    what = 'truncated';
  } else if (roll < 0.4 && targets.length > 0) {
    setAt(message, pick(random, targets), swapValue(random));
    body = JSON.stringify(message);
    what = 'type swap';
  } else if (roll < 0.48 && targets.length > 0) {
    setAt(message, pick(random, targets), 'z'.repeat(pick(random, [10_000, 300_000, 1_500_000])));
    body = JSON.stringify(message);
    what = 'huge string';
  } else if (roll < 0.58 && targets.length > 0) {
    const marker = '"__deep__"';
    setAt(message, pick(random, targets), '__deep__');
    body = JSON.stringify(message).replace(marker, nested(pick(random, [20, 65, 500, 4_106, 50_000])));
    what = 'deep nesting';
  } else if (roll < 0.66) {
    message.method = pick(random, WRONG_METHODS);
    body = JSON.stringify(message);
    what = 'wrong method';
  } else if (roll < 0.72) {
    body = JSON.stringify(Array.from({ length: 1 + Math.floor(random() * 5) }, () => pick(random, BASES)()));
    what = 'batch';
  } else if (roll < 0.84) {
    body = JSON.stringify(message);
    const bad = pick<Record<string, string>>(random, [
      { 'content-type': 'text/plain' },
      { 'content-type': 'application/x-www-form-urlencoded' },
      { 'content-type': 'application/json; charset=latin1' },
      { accept: 'text/html' },
      { accept: '' },
      { 'mcp-protocol-version': '1999-01-01' },
      { 'mcp-protocol-version': '2026-07-28' },
      { 'mcp-session-id': 'not-a-session' },
      { 'mcp-session-id': 'x'.repeat(4_000) },
      { 'last-event-id': 'nope' },
      { authorization: 'Bearer nothing' },
    ]);
    headers = { ...headers, ...bad };
    what = `bad header ${Object.keys(bad)[0]}`;
  } else if (roll < 0.92) {
    method = pick(random, ['PUT', 'PATCH', 'DELETE', 'OPTIONS', 'GET', 'HEAD']);
    body = method === 'GET' || method === 'HEAD' ? '' : JSON.stringify(message);
    // A GET with a live session id opens a notification stream that stays open: not a fuzz case.
    if (method === 'GET' || method === 'DELETE') headers = { ...headers, 'mcp-session-id': 'not-a-session' };
    what = `HTTP ${method}`;
  } else {
    // The admin API gets only bodies that cannot register anything (no valid server entry).
    path = pick(random, ['/v1/servers', '/v1/servers/zzz', '/v1/nope', '/v1/catalog']);
    body = pick(random, [
      '{"name":',
      `{"name":"n","command":"node","args":${nested(3_000)}}`,
      '[]',
      'null',
      '{"name":{"$ne":1}}',
      JSON.stringify({ name: 'x'.repeat(100_000) }),
    ]);
    headers = { 'content-type': 'application/json' };
    what = `admin ${path}`;
  }
  return { method, path, headers, body, what: `#${index} ${what}` };
}

interface Outcome {
  status: number;
  ms: number;
  session?: string;
}

/** Sends one request and reads the whole answer (10 s hard stop, so a hang fails instead of stalling). */
function exchange(fuzz: Omit<Case, 'what'>): Promise<Outcome> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(
      `${hub.url}${fuzz.path}`,
      {
        method: fuzz.method,
        agent: http,
        // Framed as any real client frames a body: Node sends GET/DELETE/OPTIONS bodies without a length
        // otherwise, and the stray bytes then spoil the kept-alive connection for the next request.
        headers: {
          ...Object.fromEntries(Object.entries(fuzz.headers).filter(([, v]) => v !== '')),
          ...(fuzz.body !== undefined ? { 'content-length': String(Buffer.byteLength(fuzz.body)) } : {}),
        },
        timeout: 10_000,
      },
      (res) => {
        res.resume();
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            ms: performance.now() - started,
            ...(typeof res.headers['mcp-session-id'] === 'string' ? { session: res.headers['mcp-session-id'] } : {}),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('no answer within 10 s')));
    req.on('error', reject);
    req.end(fuzz.body);
  });
}

describe('fuzz', () => {
  it(`survives ${CASES} mutated requests (seed ${SEED})`, { timeout: 120_000 }, async () => {
    const random = prng(SEED);
    const cases = Array.from({ length: CASES }, (_, i) => makeCase(random, i));
    const failures: string[] = [];
    let slowest = 0;
    for (let start = 0; start < cases.length; start += 100) {
      const batch = cases.slice(start, start + 100);
      let next = 0;
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (next < batch.length) {
            const fuzz = batch[next++] as Case;
            try {
              const outcome = await exchange(fuzz);
              slowest = Math.max(slowest, outcome.ms);
              if (outcome.status >= 500) failures.push(`${fuzz.what}: HTTP ${outcome.status}`);
              if (outcome.ms > 5_000) failures.push(`${fuzz.what}: ${Math.round(outcome.ms)} ms`);
            } catch (error) {
              failures.push(
                `${fuzz.what}: ${(error as Error).message} (${JSON.stringify(fuzz.headers)} ${fuzz.body?.slice(0, 300)})`,
              );
            }
          }
        }),
      );
      // An ordinary agent is still served after every hundred cases.
      const echoed = await agent.callTool({ name: 'alpha__echo', arguments: { text: `after ${start + 100}` } });
      expect(textOf(echoed)).toBe(`alpha: after ${start + 100}`);
    }
    console.log(`fuzz: ${CASES} cases, slowest ${Math.round(slowest)} ms, ${failures.length} failures`);
    expect(failures).toEqual([]);
    expect((await fetch(`${hub.url}/healthz`)).status).toBe(200);
  });
});
