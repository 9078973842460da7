/**
 * Fusion and scoring rules on plain numbers: z-score fusion, live signals, grouping of equivalent
 * tools across servers, and the confidence decision.
 */
import { describe, expect, it } from 'vitest';
import { zFuse } from '../src/router/fusion.js';
import { equivalent, rank, type Candidate, type ScorerSettings } from '../src/router/scorer.js';

const settings: ScorerSettings = {
  latencyWeight: 0.3,
  errorWeight: 2,
  confidence: { bias: -3, coverage: 4, dense: 2, margin: 0.5 },
  threshold: 0.5,
};

const candidate = (
  id: string,
  server: string,
  name: string,
  params: string[] = ['query'],
  coverage = 1,
): Candidate => ({ id, server, name, params, matchedTerms: ['search'], coverage });

describe('zFuse', () => {
  it('combines standardised lists and penalises absence from one list', () => {
    const fused = zFuse(
      [
        { id: 'a', score: 10 },
        { id: 'b', score: 5 },
        { id: 'c', score: 1 },
      ],
      [
        { id: 'b', score: 0.9 },
        { id: 'c', score: 0.5 },
        { id: 'd', score: 0.4 },
      ],
      1,
    );
    expect(fused[0]?.id).toBe('b');
    expect(fused.map((f) => f.id)).toEqual(expect.arrayContaining(['a', 'b', 'c', 'd']));
    const a = fused.find((f) => f.id === 'a');
    expect(a?.dense).toBeUndefined();
    expect(a?.zDense).toBeLessThan(Math.min(...fused.filter((f) => f.dense !== undefined).map((f) => f.zDense)));
  });

  it('with weight 0 ranks by the lexical list alone', () => {
    const fused = zFuse(
      [
        { id: 'a', score: 3 },
        { id: 'b', score: 2 },
      ],
      [{ id: 'b', score: 0.99 }],
      0,
    );
    expect(fused.map((f) => f.id)).toEqual(['a', 'b']);
  });
});

describe('rank', () => {
  const fused = zFuse(
    [
      { id: 'brave/web_search', score: 9 },
      { id: 'tavily/web_search', score: 8.5 },
      { id: 'github/search_code', score: 3 },
    ],
    [],
    0.5,
  );
  const candidates = new Map([
    ['brave/web_search', candidate('brave/web_search', 'brave', 'web_search')],
    ['tavily/web_search', candidate('tavily/web_search', 'tavily', 'web_search')],
    ['github/search_code', candidate('github/search_code', 'github', 'search_code', ['q'], 0.3)],
  ]);

  it('groups equivalent tools on several servers and names the best server', () => {
    const ranking = rank(fused, candidates, new Map(), settings, 5);
    expect(ranking.matches.map((m) => m.tool)).toEqual(['brave/web_search', 'github/search_code']);
    expect(ranking.matches[0]?.alternatives.map((a) => a.server)).toEqual(['tavily']);
    expect(ranking.matches[0]?.reasons.join(' ')).toMatch(/also offered by "tavily"/);
  });

  it('a slow or failing server sinks below its equivalent; a down server is not offered', () => {
    const slow = rank(
      fused,
      candidates,
      new Map([['brave', { healthy: true, latencyMs: 5_000, errorRate: 0.3 }]]),
      settings,
      5,
    );
    expect(slow.matches[0]?.server).toBe('tavily');
    expect(slow.matches[0]?.alternatives[0]?.reasons.join(' ')).toMatch(/slow server|recent errors/);
    const down = rank(
      fused,
      candidates,
      new Map([['brave', { healthy: false, latencyMs: undefined, errorRate: 0 }]]),
      settings,
      5,
    );
    expect(down.matches.flatMap((m) => [m.server, ...m.alternatives.map((a) => a.server)])).not.toContain('brave');
  });

  it('is confident with full coverage and a clear margin, not with poor coverage', () => {
    expect(rank(fused, candidates, new Map(), settings, 5).confident).toBe(true);
    // A lone weak hit has no margin and is not confident.
    const lone = rank(zFuse([{ id: 'github/search_code', score: 1 }], [], 0.5), candidates, new Map(), settings, 5);
    expect(lone.features.margin).toBe(0);
    const weak = new Map([...candidates].map(([id, c]) => [id, { ...c, coverage: 0.1 }]));
    const ranking = rank(fused, weak, new Map(), settings, 5);
    expect(ranking.confident).toBe(false);
    expect(ranking.features.coverage).toBeCloseTo(0.1);
  });

  it('judges equivalence by name and parameters, never within one server', () => {
    expect(
      equivalent(
        candidate('a/x', 'a', 'send_message', ['to', 'text']),
        candidate('b/x', 'b', 'sendMessage', ['to', 'text']),
      ),
    ).toBe(true);
    expect(
      equivalent(
        candidate('a/x', 'a', 'send_message', ['to', 'text']),
        candidate('b/x', 'b', 'send_message', ['channel', 'blocks', 'thread']),
      ),
    ).toBe(false);
    expect(equivalent(candidate('a/x', 'a', 'search'), candidate('a/y', 'a', 'search'))).toBe(false);
  });
});
