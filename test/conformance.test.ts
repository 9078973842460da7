/**
 * The protocol's own conformance suite (@modelcontextprotocol/conformance 0.1.13, every server
 * scenario) against our conformance fixture, directly and through a hub with prefixes off. The
 * fixture must pass everything directly (else the comparison means nothing), and whatever passes
 * directly must pass through the gateway: a transparent gateway loses no feature.
 * scripts/conformance.ts does the work (and prints the same comparison as a table).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { runConformance, type ConformanceReport, type SuiteRun } from '../scripts/conformance.js';

/** Scenario -> failure messages, for every scenario that did not pass in `run`. */
function failing(run: SuiteRun, only?: readonly string[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const o of run.outcomes.values())
    if (o.status !== 'pass' && (!only || only.includes(o.scenario))) out[o.scenario] = o.failures;
  return out;
}

describe('conformance suite 0.1.13: directly and through the gateway', () => {
  let report: ConformanceReport;

  beforeAll(async () => {
    report = await runConformance({ timeoutMs: 100_000 });
  }, 240_000);

  it('runs all 32 server scenarios of the pinned suite', () => {
    expect(report.scenarios).toHaveLength(32);
    expect(report.scenarios).toContain('tools-call-sampling');
    expect(report.direct.outcomes.size).toBe(32);
    expect(report.gateway.outcomes.size).toBe(32);
  });

  it("through the gateway an agent lists exactly the fixture's tools (no prefixes, no meta-tools)", () => {
    const names = (run: SuiteRun): string[] | undefined =>
      (run.outcomes.get('tools-list')?.checks[0]?.details as { tools?: string[] } | undefined)?.tools?.slice().sort();
    expect(names(report.direct)).toContain('test_simple_text');
    expect(names(report.gateway)).toEqual(names(report.direct));
  });

  it('the fixture passes every scenario directly', () => {
    expect(failing(report.direct)).toEqual({});
  });

  it('no scenario that passes directly fails through the gateway', () => {
    expect(failing(report.gateway, report.regressions)).toEqual({});
  });
});
