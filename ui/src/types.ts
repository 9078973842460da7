/**
 * The /v1 answers the dashboard reads, as they arrive on the wire (the hub's own types live in src/ and
 * are not imported here: this is browser code, and these are the API's contract, not its internals).
 */

export type Health = 'healthy' | 'degraded' | 'down';

export interface Circuit {
  readonly state: 'closed' | 'open' | 'half-open';
  readonly consecutiveFailures: number;
  readonly failureRate: number;
  readonly windowCalls: number;
  readonly openedAt?: number;
  readonly opens: number;
}

export interface Instance {
  readonly instance: string;
  readonly tier: number;
  readonly kind: string;
  readonly state: string;
  readonly health: Health;
  readonly circuit: Circuit;
  readonly era?: string;
  readonly protocolVersion?: string;
  readonly serverInfo?: { readonly name: string; readonly version: string };
  readonly connects: number;
  readonly lastError?: string;
  readonly inFlight: number;
  readonly latencyMs?: number;
  readonly errorRate: number;
  readonly tools: number;
}

/** A connected server (with `instances`) or a disabled one (state `disabled`). */
export interface Server {
  readonly name: string;
  readonly state: string;
  readonly source: string;
  readonly kind?: string;
  readonly health?: Health;
  readonly balance?: string;
  readonly inFlight?: number;
  readonly latencyMs?: number;
  readonly errorRate?: number;
  readonly tools?: number;
  readonly instances?: readonly Instance[];
}

export interface Tenant {
  readonly name: string;
  readonly servers: number;
  readonly tools: number;
  readonly ready: boolean;
}

export interface CatalogTool {
  readonly id: string;
  readonly server: string;
  readonly name: string;
  readonly title?: string;
  readonly description?: string;
}

export interface Catalog {
  readonly version: number;
  readonly tools: readonly CatalogTool[];
  readonly prompts: readonly unknown[];
  readonly resources: readonly unknown[];
  readonly conflicts: readonly unknown[];
}

export interface Provider {
  readonly tool: string;
  readonly server: string;
  readonly score: number;
  readonly reasons: readonly string[];
}

export interface Match extends Provider {
  readonly relevance: number;
  readonly title?: string;
  readonly description?: string;
  readonly alternatives: readonly Provider[];
}

export interface FindResult {
  readonly decisionId: string;
  readonly catalogVersion: number;
  readonly confident: boolean;
  readonly confidence: number;
  readonly matches: readonly Match[];
}

export interface ExperimentView {
  readonly name: string;
  readonly running: boolean;
  readonly why: string;
  readonly unit: string;
  readonly arms: readonly { readonly name: string; readonly weight: number; readonly stopped?: string }[];
}

export interface Rate {
  readonly rate: number;
  readonly low: number;
  readonly high: number;
}

export interface ArmReport {
  readonly arm: string;
  readonly weight: number;
  readonly stopped?: string;
  readonly exposures: number;
  readonly units: number;
  readonly calls: number;
  readonly errorRate: Rate;
  readonly successRate: Rate;
  readonly latencyMs: { readonly p50: number | null; readonly p95: number | null };
  readonly vsControl?: { readonly successLift: number; readonly successP: number; readonly latencyP: number };
}

export interface ExperimentReport {
  readonly experiment: string;
  readonly control: string;
  readonly running: boolean;
  readonly why: string;
  readonly arms: readonly ArmReport[];
  readonly srm: { readonly chi2: number; readonly pValue: number; readonly mismatch: boolean };
}

export interface MatrixRow {
  readonly server: string;
  readonly tool: string;
  readonly version: number;
  readonly fingerprint: string;
  readonly declaredVersion: string | null;
  readonly firstSeen: string;
  readonly lastSeen: string;
  readonly backends: readonly {
    readonly instance: string;
    readonly current?: number;
    readonly verdict: 'compatible' | 'additive' | 'breaking' | 'absent';
  }[];
}

export interface AuditEvent {
  readonly seq: number;
  readonly time: number;
  readonly tenant: string;
  readonly agent: string;
  readonly user?: string;
  readonly method: string;
  readonly tool?: string;
  readonly server?: string;
  readonly instance?: string;
  readonly decision: 'allow' | 'deny';
  readonly outcome: string;
  readonly errorCode?: string;
  readonly latencyMs: number;
  readonly traceId?: string;
}

export interface AuditPage {
  readonly events: readonly AuditEvent[];
  readonly nextCursor?: string;
}

export interface UsageLine {
  readonly key: string;
  readonly calls: number;
  readonly errors: number;
  readonly durationMs: number;
  readonly cost: number;
}

export interface UsageReport {
  readonly groupBy: string;
  readonly currency: string;
  readonly lines: readonly UsageLine[];
  readonly total: Omit<UsageLine, 'key'>;
}

/** GET /v1/alerts (the built-in alert engine; absent or `enabled: false`: the engine is off). */
export interface Alert {
  readonly id: string;
  readonly rule: string;
  readonly signal: string;
  readonly severity: string;
  readonly state: 'pending' | 'firing';
  readonly labels: { readonly tenant?: string; readonly server?: string; readonly instance?: string };
  readonly value: number;
  readonly summary: string;
  readonly activeSince: string;
  readonly firingSince?: string;
  readonly step: number;
  readonly notified: readonly string[];
}

export interface AlertsAnswer {
  readonly enabled: boolean;
  readonly alerts: readonly Alert[];
}
