/**
 * A/B experiments end to end: a 90/10 split declared in a config file, traffic from a real MCP
 * client through a real hub to two fixture implementations, the report over REST and from the
 * CLI, explicit feedback, a guardrail stopping an arm whose server starts failing, and a config
 * change applied to a running gateway process without a restart.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { execFile } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/client';
import { loadConfigFile } from '../src/config/load.js';
import {
  cleanup,
  connectAgent,
  fixtureEntry,
  freePort,
  makeConfig,
  onCleanup,
  ROOT,
  startHttpFixture,
  startTestHub,
  tempDir,
  textOf,
  waitFor,
} from './helpers.js';

afterEach(cleanup);

const CLI = join(ROOT, 'src/cli.ts');

interface ArmReport {
  arm: string;
  units: number;
  calls: number;
  stopped?: string;
  errorRate: { rate: number };
  feedback: { successes: number; failures: number };
}
interface Report {
  arms: ArmReport[];
  srm: { pValue: number; mismatch: boolean };
}

/** Calls a__echo as `user` and returns the implementation that answered. */
async function echoAs(agent: Client, user: string): Promise<string> {
  const result = await agent.callTool({
    name: 'a__echo',
    arguments: { text: user },
    _meta: { 'io.switchboard/user': user },
  });
  if (result.isError) return `error: ${textOf(result)}`;
  return (result.structuredContent as { server: string }).server;
}

describe('experiments', () => {
  it('splits 90/10 by user, stickily, and reports it over REST and from the CLI', async () => {
    const dir = tempDir();
    const file = join(dir, 'config.json');
    writeFileSync(
      file,
      JSON.stringify({
        http: { port: 0 },
        store: { path: join(dir, 'switchboard.db') },
        log: { level: 'silent' },
        servers: { a: fixtureEntry('impl-a'), b: fixtureEntry('impl-b') },
        experiments: {
          'echo-ab': {
            target: { tools: ['a__echo'] },
            unit: 'user',
            arms: [
              { name: 'control', weight: 90 },
              { name: 'treatment', weight: 10, route: { server: 'b' } },
            ],
          },
        },
      }),
    );
    const hub = await startTestHub(loadConfigFile(file));
    const agent = await connectAgent(hub.url);
    await waitFor(async () => (await agent.listTools()).tools.some((t) => t.name === 'b__echo'), 30_000, 'the catalog');

    const users = Array.from({ length: 400 }, (_, i) => `user-${i}`);
    const first = new Map<string, string>();
    for (const user of users) first.set(user, await echoAs(agent, user));
    // Sticky: the same user lands on the same implementation again.
    for (const user of users.slice(0, 100)) expect(await echoAs(agent, user)).toBe(first.get(user));
    const treated = [...first.values()].filter((v) => v === 'impl-b').length;
    expect([...first.values()].every((v) => v === 'impl-a' || v === 'impl-b')).toBe(true);
    // 10% of 400 = 40, sd = sqrt(400 * 0.1 * 0.9) = 6: within 4 sd.
    expect(treated).toBeGreaterThan(16);
    expect(treated).toBeLessThan(64);

    const report = (await (await fetch(`${hub.url}/v1/experiments/echo-ab`)).json()) as Report;
    const control = report.arms.find((a) => a.arm === 'control')!;
    const treatment = report.arms.find((a) => a.arm === 'treatment')!;
    expect(control.units + treatment.units).toBe(400);
    expect(treatment.units).toBe(treated);
    expect(control.calls + treatment.calls).toBe(500);
    expect(report.srm.mismatch).toBe(false);

    // Explicit feedback on a decision that an experiment exposed.
    const found = await agent.callTool({
      name: 'find_capability',
      arguments: { capability: 'echo the text back' },
      _meta: { 'io.switchboard/user': 'user-1' },
    });
    const decisionId = (found.structuredContent as { decisionId: string }).decisionId;
    await agent.callTool({
      name: 'a__echo',
      arguments: { text: 'x' },
      _meta: { 'io.switchboard/user': 'user-1', 'io.switchboard/decisionId': decisionId },
    });
    const feedback = await agent.callTool({
      name: 'report_outcome',
      arguments: { decisionId, success: false, note: 'wrong answer' },
    });
    expect(feedback.structuredContent).toEqual({ recorded: true });
    const rest = await fetch(`${hub.url}/v1/outcomes`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ decisionId, success: true }),
    });
    expect(await rest.json()).toEqual({ recorded: true });
    const after = (await (await fetch(`${hub.url}/v1/experiments/echo-ab`)).json()) as Report;
    const arm = after.arms.find((a) => a.arm === (first.get('user-1') === 'impl-b' ? 'treatment' : 'control'))!;
    expect(arm.feedback).toEqual({ successes: 1, failures: 1 });

    // The CLI reads the same store and prints the same numbers.
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', CLI, 'experiments', 'report', 'echo-ab', '--config', file, '--json'],
      { cwd: ROOT },
    );
    const cli = JSON.parse(stdout) as Report;
    expect(cli.arms.map((a) => [a.arm, a.units, a.calls])).toEqual(after.arms.map((a) => [a.arm, a.units, a.calls]));
    const { stdout: text } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', CLI, 'experiments', 'report', 'echo-ab', '--config', file],
      { cwd: ROOT },
    );
    expect(text).toMatch(/sample ratio check: .* \(ok\)/);
  });

  it('a capability-group experiment decides which server find_capability names, and can be stopped and started over REST', async () => {
    const hub = await startTestHub(
      makeConfig(
        { a: fixtureEntry('impl-a'), b: fixtureEntry('impl-b') },
        {
          experiments: {
            servers: {
              target: { capability: 'a__echo' },
              unit: 'user',
              arms: [
                { name: 'on-a', weight: 50, route: { server: 'a' } },
                { name: 'on-b', weight: 50, route: { server: 'b' } },
              ],
            },
          },
        },
      ),
    );
    const agent = await connectAgent(hub.url);
    await waitFor(async () => (await agent.listTools()).tools.some((t) => t.name === 'b__echo'), 30_000, 'the catalog');
    const seen = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const meta = { 'io.switchboard/user': `v${i}` };
      const found = await agent.callTool({
        name: 'find_capability',
        arguments: { capability: 'echo the text back, prefixed with the server name' },
        _meta: meta,
      });
      const top = (found.structuredContent as { matches: { tool: string; server: string; reasons: string[] }[] })
        .matches[0]!;
      expect(top.reasons.join(' ')).toMatch(/experiment servers: arm on-(a|b)/);
      // The call of either tool id lands where find_capability said.
      const served = await echoAs(agent, `v${i}`);
      expect(served).toBe(top.server === 'a' ? 'impl-a' : 'impl-b');
      seen.add(top.server);
    }
    expect([...seen].sort()).toEqual(['a', 'b']);

    // Stopped over REST: no assignment, calls go where they were addressed.
    const stopped = await (await fetch(`${hub.url}/v1/experiments/servers/stop`, { method: 'POST' })).json();
    expect(stopped).toMatchObject({ name: 'servers', running: false, why: 'stopped through the admin API' });
    for (let i = 0; i < 10; i++) expect(await echoAs(agent, `v${i}`)).toBe('impl-a');
    const started = await (await fetch(`${hub.url}/v1/experiments/servers/start`, { method: 'POST' })).json();
    expect(started).toMatchObject({ running: true });
    const afterStart = new Set<string>();
    for (let i = 0; i < 20; i++) afterStart.add(await echoAs(agent, `v${i}`));
    expect(afterStart.size).toBe(2);
    expect((await fetch(`${hub.url}/v1/experiments/nope`)).status).toBe(404);
  });

  it('a guardrail stops an arm whose server starts failing; its units go to the control', async () => {
    const b = await startHttpFixture('impl-b');
    const hub = await startTestHub(
      makeConfig(
        { a: fixtureEntry('impl-a'), b: { url: b.url } },
        {
          experiments: {
            guarded: {
              target: { tools: ['a__echo'] },
              unit: 'user',
              arms: [
                { name: 'control', weight: 50 },
                { name: 'treatment', weight: 50, route: { server: 'b' } },
              ],
              guardrails: { maxErrorRate: 0.3, minSample: 5 },
            },
          },
        },
      ),
    );
    const agent = await connectAgent(hub.url);
    await waitFor(async () => (await agent.listTools()).tools.some((t) => t.name === 'b__echo'), 30_000, 'the catalog');
    for (let i = 0; i < 20; i++) await echoAs(agent, `u${i}`);
    await b.kill('SIGKILL');
    const results: string[] = [];
    for (let i = 0; i < 60; i++) results.push(await echoAs(agent, `u${i % 20}`));
    const report = (await (await fetch(`${hub.url}/v1/experiments/guarded`)).json()) as Report;
    const treatment = report.arms.find((a) => a.arm === 'treatment')!;
    expect(treatment.stopped).toMatch(/error rate .* exceeds 30\.0%/);
    // After the stop, every unit is served by the control implementation.
    expect(results.slice(-20).every((r) => r === 'impl-a')).toBe(true);
    const list = (await (await fetch(`${hub.url}/v1/experiments`)).json()) as {
      experiments: { name: string; arms: { name: string; stopped?: string }[] }[];
    };
    expect(list.experiments[0]?.arms.find((a) => a.name === 'treatment')?.stopped).toBeTruthy();
  });

  it('applies a config change to a running gateway without a restart', async () => {
    const dir = tempDir();
    const file = join(dir, 'config.json');
    const config = (weights: [number, number]) =>
      JSON.stringify({
        http: { port: 0 },
        store: { path: join(dir, 'switchboard.db') },
        log: { level: 'info' },
        servers: { a: fixtureEntry('impl-a'), b: fixtureEntry('impl-b') },
        experiments: {
          flip: {
            target: { tools: ['a__echo'] },
            unit: 'user',
            arms: [
              { name: 'control', weight: weights[0] },
              { name: 'treatment', weight: weights[1], route: { server: 'b' } },
            ],
          },
        },
      });
    writeFileSync(file, config([100, 0]));
    const port = await freePort();
    const proc = spawn(process.execPath, ['--import', 'tsx', CLI, 'serve', '--config', file, '--port', String(port)], {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const stderr: string[] = [];
    proc.stderr.on('data', (chunk: Buffer) => stderr.push(chunk.toString()));
    onCleanup(() => proc.kill('SIGKILL'));
    const url = `http://127.0.0.1:${port}`;
    await waitFor(async () => (await fetch(`${url}/readyz`).catch(() => undefined))?.ok, 30_000, 'the hub');
    const agent = await connectAgent(url);
    await waitFor(async () => (await agent.listTools()).tools.some((t) => t.name === 'b__echo'), 30_000, 'the catalog');
    for (let i = 0; i < 10; i++) expect(await echoAs(agent, `u${i}`)).toBe('impl-a');

    writeFileSync(file, config([0, 100]));
    await waitFor(async () => (await echoAs(agent, 'u0')) === 'impl-b', 15_000, 'the new weights to apply');
    for (let i = 0; i < 10; i++) expect(await echoAs(agent, `u${i}`)).toBe('impl-b');
    expect(stderr.join('')).toMatch(/experiment changed/);

    // A broken edit is reported and ignored: the running experiment stays as it was.
    writeFileSync(file, '{"experiments": {"flip": {"arms": "nonsense"}}}');
    await waitFor(() => /config reload failed/.test(stderr.join('')), 15_000, 'the failed reload to be logged');
    expect(await echoAs(agent, 'u3')).toBe('impl-b');
    // SIGHUP re-reads the file too.
    writeFileSync(file, config([100, 0]));
    proc.kill('SIGHUP');
    await waitFor(async () => (await echoAs(agent, 'u0')) === 'impl-a', 15_000, 'SIGHUP to apply the file');
  });
});
