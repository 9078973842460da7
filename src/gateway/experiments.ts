/**
 * A/B experiments at run time: which calls take part, which arm a unit is in, where the arm's
 * call goes, what happened (recorded per arm in SQLite), guardrails that stop a failing arm, and
 * the report with intervals and p-values.
 *
 * Assignment is a stable hash of the experiment's salt and the unit id (experiments/assign.ts),
 * so a unit keeps its arm across calls, restarts and gateway replicas with no shared state. An arm
 * stopped by a guardrail sends its units to the control. Experiments are replaced wholesale on a
 * config reload; stops and starts made at run time, and stopped arms, are kept in SQLite for
 * experiments that still exist, so they survive restarts.
 */
import type { ExperimentEntry } from '../config/schema.js';
import { GatewayError } from '../core/errors.js';
import type { CallToolResult } from '../core/protocol.js';
import { assignArm } from '../experiments/assign.js';
import { buildReport, type ExperimentReport } from '../experiments/report.js';
import { summarize } from '../experiments/stats.js';
import type { CallOutcome, ExperimentStore } from '../store/experiments-repo.js';
import type { Logger } from '../telemetry/logger.js';

/** Who is calling, for choosing the unit of assignment. */
export interface UnitIds {
  readonly agent: string;
  readonly user: string | undefined;
  readonly session: string;
}

/** A call's place in an experiment. */
export interface Assignment {
  readonly experiment: string;
  readonly arm: string;
  readonly unit: string;
  readonly route: ExperimentEntry['arms'][number]['route'];
}

/** An experiment's state for the admin API. */
export interface ExperimentView {
  readonly name: string;
  readonly running: boolean;
  readonly why: string;
  readonly target: ExperimentEntry['target'];
  readonly unit: ExperimentEntry['unit'];
  readonly arms: readonly {
    name: string;
    weight: number;
    stopped: string | undefined;
    route: Record<string, unknown>;
  }[];
}

const GUARDRAIL_EVERY = 10;

/** The experiments the gateway runs. */
export class ExperimentRunner {
  readonly #store: ExperimentStore;
  readonly #log: Logger;
  readonly #now: () => number;
  /** Resolves a capability target (a tool id) to the ids of every tool offering it. */
  readonly #providers: (toolId: string) => readonly string[];
  #experiments: Record<string, ExperimentEntry> = {};
  /** Stopped arms by experiment (arm -> reason), and experiments stopped or started at run time. */
  readonly #stoppedArms = new Map<string, Map<string, string>>();
  readonly #overrides = new Map<string, boolean>();
  readonly #sinceCheck = new Map<string, number>();

  constructor(deps: {
    store: ExperimentStore;
    log: Logger;
    experiments: Record<string, ExperimentEntry>;
    providers: (toolId: string) => readonly string[];
    now?: () => number;
  }) {
    this.#store = deps.store;
    this.#log = deps.log;
    this.#providers = deps.providers;
    this.#now = deps.now ?? Date.now;
    // Stops and starts made at run time, and arms guardrails stopped, survive restarts.
    for (const [name, state] of this.#store.states()) {
      if (state.running !== undefined) this.#overrides.set(name, state.running);
      if (state.stoppedArms.size) this.#stoppedArms.set(name, new Map(state.stoppedArms));
    }
    this.replace(deps.experiments, false);
  }

  /** Replaces the experiments (config reload), logging one line per change. */
  replace(experiments: Record<string, ExperimentEntry>, log = true): void {
    const before = this.#experiments;
    this.#experiments = { ...experiments };
    for (const name of Object.keys(before)) {
      if (!experiments[name]) {
        this.#stoppedArms.delete(name);
        this.#overrides.delete(name);
        this.#store.setRunning(name, undefined);
        if (log) this.#log.info({ experiment: name }, 'experiment removed');
      } else if (JSON.stringify(before[name]) !== JSON.stringify(experiments[name])) {
        if (log)
          this.#log.info(
            { experiment: name, arms: experiments[name].arms.map((a) => `${a.name}:${a.weight}`) },
            'experiment changed',
          );
      }
    }
    for (const name of Object.keys(experiments))
      if (!before[name] && log)
        this.#log.info(
          { experiment: name, arms: experiments[name]!.arms.map((a) => `${a.name}:${a.weight}`) },
          'experiment added',
        );
  }

  /** Every experiment with its state. */
  list(): ExperimentView[] {
    return Object.entries(this.#experiments).map(([name, e]) => {
      const { running, why } = this.#running(name, e);
      const stopped = this.#stoppedArms.get(name);
      return {
        name,
        running,
        why,
        target: e.target,
        unit: e.unit,
        arms: e.arms.map((a) => ({ name: a.name, weight: a.weight, stopped: stopped?.get(a.name), route: a.route })),
      };
    });
  }

  /** Starts (true) or stops (false) an experiment at run time. */
  setRunning(name: string, running: boolean): ExperimentView {
    if (!this.#experiments[name])
      throw new GatewayError('NOT_FOUND', `no experiment named "${name}"`, { experiment: name });
    this.#overrides.set(name, running);
    if (running) this.#stoppedArms.delete(name);
    this.#store.setRunning(name, running);
    this.#log.info({ experiment: name, running }, running ? 'experiment started' : 'experiment stopped');
    return this.list().find((e) => e.name === name)!;
  }

  /** The experiment (if any) a call of `toolId` takes part in, its arm, and the exposure recorded. */
  assignCall(toolId: string, units: UnitIds, decisionId?: string): Assignment | undefined {
    for (const [name, e] of Object.entries(this.#experiments)) {
      if ('find' in e.target || !this.#targets(e, toolId) || !this.#running(name, e).running) continue;
      return this.#assign(name, e, units, decisionId);
    }
    return undefined;
  }

  /** The find_capability experiment (if any) this unit takes part in. */
  assignFind(units: UnitIds, decisionId: string): Assignment | undefined {
    for (const [name, e] of Object.entries(this.#experiments)) {
      if (!('find' in e.target) || !this.#running(name, e).running) continue;
      return this.#assign(name, e, units, decisionId);
    }
    return undefined;
  }

  /** Records how an experiment call went, then checks the guardrails. */
  recordCall(
    assignment: Assignment,
    tool: string,
    server: string,
    result: CallToolResult | undefined,
    error: unknown,
    ms: number,
    decisionId?: string,
  ): void {
    const outcome: CallOutcome = result
      ? result.isError
        ? 'is_error'
        : 'success'
      : error instanceof GatewayError && error.code === 'UPSTREAM_TIMEOUT'
        ? 'timeout'
        : 'transport_error';
    this.#store.recordOutcome({
      experiment: assignment.experiment,
      arm: assignment.arm,
      unit: assignment.unit,
      tool,
      server,
      outcome,
      latencyMs: ms,
      ...(decisionId ? { decisionId } : {}),
    });
    const seen = (this.#sinceCheck.get(assignment.experiment) ?? 0) + 1;
    this.#sinceCheck.set(assignment.experiment, seen);
    if (seen >= GUARDRAIL_EVERY || outcome !== 'success') {
      this.#sinceCheck.set(assignment.experiment, 0);
      this.#checkGuardrails(assignment.experiment);
    }
  }

  /** Explicit feedback on a decision (report_outcome); false when no experiment exposed it. */
  feedback(decisionId: string, success: boolean, note?: string): boolean {
    return this.#store.recordFeedback(decisionId, success, note);
  }

  /** The report of one experiment. */
  report(name: string): ExperimentReport & { running: boolean; why: string } {
    const e = this.#experiments[name];
    if (!e) throw new GatewayError('NOT_FOUND', `no experiment named "${name}"`, { experiment: name });
    return {
      ...buildReport(name, e.arms, this.#store.armStats(name), this.#stoppedArms.get(name)),
      ...this.#running(name, e),
    };
  }

  #targets(e: ExperimentEntry, toolId: string): boolean {
    if ('tools' in e.target) return e.target.tools.includes(toolId);
    if ('capability' in e.target)
      return e.target.capability === toolId || this.#providers(e.target.capability).includes(toolId);
    return false;
  }

  #running(name: string, e: ExperimentEntry): { running: boolean; why: string } {
    const override = this.#overrides.get(name);
    if (override === false) return { running: false, why: 'stopped through the admin API' };
    if (override === undefined && !e.enabled) return { running: false, why: 'disabled in config' };
    const now = this.#now();
    if (e.start && now < Date.parse(e.start)) return { running: false, why: `starts at ${e.start}` };
    if (e.end && now >= Date.parse(e.end)) return { running: false, why: `ended at ${e.end}` };
    return { running: true, why: override ? 'started through the admin API' : 'running' };
  }

  #assign(name: string, e: ExperimentEntry, units: UnitIds, decisionId: string | undefined): Assignment {
    const unit =
      e.unit === 'agent'
        ? units.agent
        : e.unit === 'user'
          ? (units.user ?? units.agent)
          : e.unit === 'session'
            ? units.session
            : `request:${Math.random().toString(36).slice(2)}${this.#now()}`;
    let arm = assignArm(e.arms, e.salt ?? name, unit);
    if (this.#stoppedArms.get(name)?.has(arm)) arm = e.arms[0]!.name; // a stopped arm's units go to the control
    this.#store.recordExposure({ experiment: name, arm, unit, ...(decisionId ? { decisionId } : {}) });
    return { experiment: name, arm, unit, route: e.arms.find((a) => a.name === arm)?.route ?? {} };
  }

  #checkGuardrails(name: string): void {
    const e = this.#experiments[name];
    const rails = e?.guardrails;
    if (!e || !rails || (rails.maxErrorRate === undefined && rails.maxP95Ms === undefined)) return;
    const stopped = this.#stoppedArms.get(name) ?? new Map<string, string>();
    for (const arm of this.#store.armStats(name)) {
      if (arm.arm === e.arms[0]?.name || stopped.has(arm.arm) || arm.calls < rails.minSample) continue;
      const errorRate = arm.errors / arm.calls;
      const p95 = summarize(arm.latencies).p95 ?? 0;
      let reason: string | undefined;
      if (rails.maxErrorRate !== undefined && errorRate > rails.maxErrorRate)
        reason = `error rate ${(errorRate * 100).toFixed(1)}% over ${arm.calls} calls exceeds ${(rails.maxErrorRate * 100).toFixed(1)}%`;
      else if (rails.maxP95Ms !== undefined && p95 > rails.maxP95Ms)
        reason = `p95 latency ${p95.toFixed(1)} ms over ${arm.calls} calls exceeds ${rails.maxP95Ms} ms`;
      if (!reason) continue;
      stopped.set(arm.arm, reason);
      this.#stoppedArms.set(name, stopped);
      this.#store.stopArm(name, arm.arm, reason);
      this.#log.warn(
        { experiment: name, arm: arm.arm, reason },
        'guardrail stopped an experiment arm; its units now get the control',
      );
    }
  }
}
