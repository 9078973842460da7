/**
 * Against a real Prometheus (Debian's, test/fixtures/prometheus.ts): it scrapes a hub's /metrics every
 * second with the admin token; after known traffic its HTTP API answers a call counter and the
 * latency histogram (count, and a quantile inside the buckets) with the values the traffic implies.
 * And the shipped files: `promtool check rules` and `promtool test rules` on deploy/prometheus/, the
 * example Prometheus config checked by promtool and the Alertmanager example by amtool.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { DURATION_BUCKETS } from '../src/telemetry/metrics.js';
import { startPrometheus } from './fixtures/prometheus.js';
import { cleanup, connectAgent, fixtureEntry, makeConfig, ROOT, startTestHub, waitFor } from './helpers.js';

afterAll(cleanup);

const run = promisify(execFile);
const ADMIN = 'prometheus-admin-token-0123456789abcdef';

describe('a real Prometheus scraping the hub', () => {
  it('answers the call counter and the latency histogram after known traffic', async () => {
    const hub = await startTestHub(makeConfig({ alpha: fixtureEntry('alpha') }, { http: { adminToken: ADMIN } }));
    const prometheus = await startPrometheus({ address: new URL(hub.url).host, bearer: ADMIN });
    const agent = await connectAgent(hub.url);
    for (let i = 0; i < 4; i++) await agent.callTool({ name: 'alpha__echo', arguments: { text: `hi ${i}` } });
    for (let i = 0; i < 2; i++) await agent.callTool({ name: 'alpha__fail', arguments: {} });

    const echo = 'tool="alpha__echo", server="alpha", server_instance="alpha", tenant="default"';
    const scraped = await waitFor(
      async () => {
        const [sample] = await prometheus.query(`switchboard_tool_calls_total{${echo}, outcome="success"}`);
        return sample?.value === 4 ? sample : undefined;
      },
      30_000,
      'the echo counter at 4 in Prometheus',
    );
    expect(scraped.metric).toMatchObject({ job: 'switchboard', instance: new URL(hub.url).host });
    const [failed] = await prometheus.query(`sum(switchboard_tool_calls_total{tool="alpha__fail", outcome="isError"})`);
    expect(failed?.value).toBe(2);
    const [count] = await prometheus.query(`sum(switchboard_tool_call_duration_seconds_count{${echo}})`);
    expect(count?.value).toBe(4);
    const [p95] = await prometheus.query(
      `histogram_quantile(0.95, sum by (le) (switchboard_tool_call_duration_seconds_bucket{${echo}}))`,
    );
    expect(Number.isFinite(p95?.value)).toBe(true);
    expect(p95!.value).toBeGreaterThan(0);
    expect(p95!.value).toBeLessThanOrEqual(DURATION_BUCKETS.at(-1)!);
    const [up] = await prometheus.query('up{job="switchboard"}');
    expect(up?.value).toBe(1);
  });
});

describe('the shipped alerting files', () => {
  const deploy = join(ROOT, 'deploy');

  it('promtool checks the alert rules and passes their unit tests', async () => {
    const checked = await run('promtool', ['check', 'rules', join(deploy, 'prometheus/alerts.yml')]);
    expect(checked.stdout).toMatch(/SUCCESS: \d+ rules found/);
    const tested = await run('promtool', ['test', 'rules', 'alerts.test.yml'], { cwd: join(deploy, 'prometheus') });
    expect(`${tested.stdout}${tested.stderr}`).toMatch(/SUCCESS/);
  });

  it('every rule has a unit test', async () => {
    const { readFile } = await import('node:fs/promises');
    const rules = await readFile(join(deploy, 'prometheus/alerts.yml'), 'utf8');
    const tests = await readFile(join(deploy, 'prometheus/alerts.test.yml'), 'utf8');
    const names = [...rules.matchAll(/^\s+- alert: (\w+)$/gm)].map((m) => m[1]!);
    expect(names.length).toBeGreaterThanOrEqual(7);
    const tested = new Set([...tests.matchAll(/alertname: (\w+)$/gm)].map((m) => m[1]!));
    expect(names.filter((name) => !tested.has(name))).toEqual([]);
  });

  it('the example Prometheus and Alertmanager configs are valid', async () => {
    const prometheus = await run('promtool', [
      'check',
      'config',
      '--syntax-only',
      join(deploy, 'prometheus/prometheus.yml'),
    ]);
    expect(prometheus.stdout).toMatch(/SUCCESS/);
    const alertmanager = await run('amtool', ['check-config', join(deploy, 'alertmanager/alertmanager.yml')]);
    expect(alertmanager.stdout).toMatch(/SUCCESS/);
  });
});
