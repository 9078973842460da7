/**
 * The scorer: turns fused relevance into a ranked list of capabilities, weighing live signals
 * (health, latency, error rate), grouping equivalent tools offered by several servers into one
 * capability with its candidate servers, and deciding whether any match is confident at all.
 *
 * Pure: every number comes in as an argument, and every decision carries its reasons.
 */
import type { Fused } from './fusion.js';

/** What the scorer knows about one candidate tool. */
export interface Candidate {
  readonly id: string;
  readonly server: string;
  /** The tool's name on its server (equivalence is judged on it and the parameters). */
  readonly name: string;
  readonly params: readonly string[];
  /** Query terms found in the tool's text, for the reasons (may be empty). */
  readonly matchedTerms: readonly string[];
  /** IDF-weighted share of the query found in the tool's text, 0..1. */
  readonly coverage: number;
}

/** Live state of a server. */
export interface ServerSignal {
  readonly healthy: boolean;
  readonly latencyMs: number | undefined;
  /** Recent share of failed calls, 0..1. */
  readonly errorRate: number;
}

/** Scorer settings (see calibration.ts for how the defaults were measured). */
export interface ScorerSettings {
  /** Weight of the latency penalty per decade above 100 ms. */
  readonly latencyWeight: number;
  /** Weight of the error-rate penalty. */
  readonly errorWeight: number;
  /** Logistic confidence model over [coverage, dense, margin]. */
  readonly confidence: {
    readonly bias: number;
    readonly coverage: number;
    readonly dense: number;
    readonly margin: number;
  };
  /** Below this confidence the answer is "no confident match". */
  readonly threshold: number;
}

/** One server able to run a capability. */
export interface Provider {
  readonly tool: string;
  readonly server: string;
  readonly score: number;
  readonly reasons: readonly string[];
}

/** A ranked capability: the best tool/server and its equivalents on other servers. */
export interface Match {
  readonly tool: string;
  readonly server: string;
  readonly score: number;
  readonly relevance: number;
  readonly reasons: readonly string[];
  /** Equivalent tools on other servers, best first. */
  readonly alternatives: readonly Provider[];
}

/** The evidence the confidence model reads (exposed for calibration). */
export interface ConfidenceFeatures {
  readonly coverage: number;
  readonly dense: number;
  readonly margin: number;
}

/**
 * A verdict reached before scoring (the learned abstainer's), which replaces the logistic
 * confidence model; `changes` says which tools change things, so that a need that only reads
 * never gets one of those as a confident first answer.
 */
export interface Verdict {
  readonly confidence: number;
  readonly confident: boolean;
  readonly readOnlyNeed: boolean;
  readonly changes: (toolId: string) => boolean;
}

/** The scorer's answer. */
export interface Ranking {
  readonly matches: readonly Match[];
  readonly confidence: number;
  readonly confident: boolean;
  readonly features: ConfidenceFeatures;
}

function jaccard(a: readonly string[], b: readonly string[]): number {
  if (a.length === 0 && b.length === 0) return 1;
  const sa = new Set(a);
  const inter = b.filter((x) => sa.has(x)).length;
  return inter / (sa.size + new Set(b).size - inter);
}

function normalizedName(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]/g, '');
}

/** True when two tools on different servers offer the same capability (same name, similar parameters); the normalised names may be passed in when already known. */
export function equivalent(
  a: Candidate,
  b: Candidate,
  nameA = normalizedName(a.name),
  nameB = normalizedName(b.name),
): boolean {
  return a.server !== b.server && nameA === nameB && jaccard(a.params, b.params) >= 0.5;
}

function liveAdjustment(signal: ServerSignal | undefined, settings: ScorerSettings, reasons: string[]): number {
  if (!signal) return 0;
  let delta = 0;
  if (signal.latencyMs !== undefined && signal.latencyMs > 100) {
    delta -= settings.latencyWeight * Math.log10(signal.latencyMs / 100);
    reasons.push(`slow server (${Math.round(signal.latencyMs)} ms)`);
  }
  if (signal.errorRate > 0.05) {
    delta -= settings.errorWeight * signal.errorRate;
    reasons.push(`recent errors (${Math.round(signal.errorRate * 100)}%)`);
  }
  return delta;
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/**
 * Ranks fused candidates. Candidates on unhealthy servers are dropped (a down server is never
 * offered); equivalent tools are grouped under the best-scoring provider.
 */
export function rank(
  fused: readonly Fused[],
  candidates: ReadonlyMap<string, Candidate>,
  signals: ReadonlyMap<string, ServerSignal>,
  settings: ScorerSettings,
  k: number,
  verdict?: Verdict,
): Ranking {
  // Reasons are written only for the providers a match shows (the top k and their alternatives),
  // and each tool's name is normalised once: the pool is a hundred tools, the answer a handful.
  const providers: (Omit<Provider, 'reasons'> & {
    candidate: Candidate;
    relevance: number;
    key: string;
    dense: number | undefined;
    live: string[];
  })[] = [];
  for (const f of fused) {
    const candidate = candidates.get(f.id);
    if (!candidate) continue;
    const signal = signals.get(candidate.server);
    if (signal && !signal.healthy) continue;
    const live: string[] = [];
    const score = f.fused + liveAdjustment(signal, settings, live);
    providers.push({
      tool: f.id,
      server: candidate.server,
      score,
      candidate,
      relevance: f.fused,
      key: normalizedName(candidate.name),
      dense: f.dense,
      live,
    });
  }
  providers.sort((a, b) => b.score - a.score || (a.tool < b.tool ? -1 : 1));
  const reasonsOf = (p: (typeof providers)[number]): string[] => {
    const reasons: string[] = [];
    if (p.candidate.matchedTerms.length > 0)
      reasons.push(`matches ${p.candidate.matchedTerms.map((t) => `"${t}"`).join(', ')}`);
    if (p.dense !== undefined) reasons.push(`meaning similarity ${p.dense.toFixed(2)}`);
    return [...reasons, ...p.live];
  };
  const same = (a: (typeof providers)[number], b: (typeof providers)[number]) =>
    equivalent(a.candidate, b.candidate, a.key, b.key);

  const matches: Match[] = [];
  const grouped = new Set<string>();
  for (const p of providers) {
    if (grouped.has(p.tool)) continue;
    grouped.add(p.tool);
    const alternatives = providers.filter((q) => !grouped.has(q.tool) && same(p, q));
    for (const a of alternatives) grouped.add(a.tool);
    const reasons = alternatives.length
      ? [
          ...reasonsOf(p),
          `also offered by ${alternatives.map((a) => `"${a.server}"`).join(', ')}; "${p.server}" ranks best`,
        ]
      : reasonsOf(p);
    matches.push({
      tool: p.tool,
      server: p.server,
      score: round(p.score),
      relevance: round(p.relevance),
      reasons,
      alternatives: alternatives.map((a) => ({
        tool: a.tool,
        server: a.server,
        score: round(a.score),
        reasons: reasonsOf(a),
      })),
    });
    if (matches.length >= k) break;
  }

  const top = providers[0];
  const second = providers.find((p) => top && p !== top && !same(top, p));
  const features: ConfidenceFeatures = top
    ? // A lone candidate has no margin to speak of: one weak hit must not look decisive.
      {
        coverage: top.candidate.coverage,
        dense: fused.find((f) => f.id === top.tool)?.dense ?? 0,
        margin: second ? Math.min(3, top.relevance - second.relevance) : 0,
      }
    : { coverage: 0, dense: 0, margin: 0 };
  if (verdict) {
    const confidence = top ? verdict.confidence : 0;
    let confident = top ? verdict.confident : false;
    const first = matches[0];
    if (first && confident && verdict.readOnlyNeed && verdict.changes(first.tool)) {
      // A need that only looks must not be answered "confidently" with a tool that writes: the agent
      // would call it without a second thought.
      confident = false;
      matches[0] = { ...first, reasons: [...first.reasons, 'the need only reads, and this tool changes things'] };
    }
    return { matches, confidence: round(confidence), confident, features };
  }
  const confidence = top ? confidenceOf(features, settings) : 0;
  return { matches, confidence: round(confidence), confident: confidence >= settings.threshold, features };
}

/** The logistic confidence model. */
export function confidenceOf(features: ConfidenceFeatures, settings: ScorerSettings): number {
  const c = settings.confidence;
  return sigmoid(c.bias + c.coverage * features.coverage + c.dense * features.dense + c.margin * features.margin);
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}
