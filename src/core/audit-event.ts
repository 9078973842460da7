/**
 * One audit event: what the audit trail records for every agent request, policy denial and admin
 * change, and what usage metering sums (see docs/architecture.md, "Audit, limits, usage").
 *
 * The shape is shared by the pipeline stage that builds events (mcp/pipeline/stages/audit.ts), the
 * admin edge (http/), the store that chains and keeps them (store/audit-repo.ts) and the readers
 * (CLI, /v1/audit), so it lives in core. It never holds a secret: arguments are a hash unless the
 * config asks for them, and then keys that look like secrets are redacted before the event is built.
 */

/** What kind of request or change an event records (`admin`: `/v1` writes, keys, config reloads). */
export const AUDIT_METHODS = [
  'tools/call',
  'find_capability',
  'call_capability',
  'report_outcome',
  'prompts/get',
  'resources/read',
  'completion/complete',
  'tasks',
  'admin',
] as const;
export type AuditMethod = (typeof AUDIT_METHODS)[number];

/** How a request ended. `denied`: refused by scopes or policy; `limited`: by a rate limit or quota. */
export const AUDIT_OUTCOMES = ['success', 'isError', 'error', 'denied', 'limited'] as const;
export type AuditOutcome = (typeof AUDIT_OUTCOMES)[number];

/** One event, as built on the hot path (the store adds `seq`, `prevHash` and `hash`). */
export interface AuditEvent {
  /** Epoch milliseconds when the request entered. */
  readonly time: number;
  readonly tenant: string;
  readonly agent: string;
  readonly user?: string | undefined;
  readonly session?: string | undefined;
  /** The credential's subject (key id, JWT sub, certificate subject); never a secret. */
  readonly subject?: string | undefined;
  /** W3C trace id (from the request's traceparent), when there is one. */
  readonly traceId?: string | undefined;
  readonly method: AuditMethod;
  /** The exposed tool id (tools/call, call_capability), the prompt name or the resource URI. */
  readonly tool?: string | undefined;
  readonly server?: string | undefined;
  /** The instance that answered (the last attempt's). */
  readonly instance?: string | undefined;
  /** The policy decision: `deny` with the deciding policy ids (empty: a missing scope). */
  readonly decision: 'allow' | 'deny';
  readonly policies?: readonly string[] | undefined;
  readonly outcome: AuditOutcome;
  /** The GatewayError code (or JSON-RPC code as a string) of a failure. */
  readonly errorCode?: string | undefined;
  readonly latencyMs: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
  /** sha256 (hex) of the canonical JSON of the arguments. */
  readonly argsHash?: string | undefined;
  /** The arguments themselves (secret-looking keys redacted), only where `audit.arguments: full`. */
  readonly args?: unknown;
  /**
   * What else the request decided: attempts and failovers of a call, what find_capability offered
   * and how many candidates the caller's view withheld, the admin action and its target.
   */
  readonly detail?: Readonly<Record<string, unknown>> | undefined;
}

/** An event as stored: numbered and chained. */
export interface StoredAuditEvent extends AuditEvent {
  /** Position in the chain (1, 2, ...; gaps only where retention removed rows). */
  readonly seq: number;
  /** The previous row's hash (the anchor for the first row kept). */
  readonly prevHash: string;
  /** sha256 over prevHash and the canonical JSON of the event. */
  readonly hash: string;
}

/** An admin change made by the gateway or its command line (a config reload, a key made from the CLI). */
export function adminChange(
  tenant: string,
  agent: string,
  detail: Readonly<Record<string, unknown>> & { readonly action: string },
  user?: string,
): AuditEvent {
  return {
    time: Date.now(),
    tenant,
    agent,
    user,
    method: 'admin',
    decision: 'allow',
    outcome: 'success',
    latencyMs: 0,
    bytesIn: 0,
    bytesOut: 0,
    detail,
  };
}
