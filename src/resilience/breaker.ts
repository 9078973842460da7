/**
 * A circuit breaker per upstream instance: closed (calls flow), open (calls are refused so a
 * failing instance gets no traffic), half-open (a limited number of probe calls test whether it
 * recovered). Opens on a run of consecutive failures or on a failure rate over a sliding window of
 * recent calls; closes again when every probe succeeds. The clock is injected, so the state
 * machine is tested without sleeping. Pure: no I/O, no timers.
 */
import type { CircuitSettings } from '../config/spec.js';

/** Where a breaker is. */
export type CircuitState = 'closed' | 'open' | 'half-open';

/** A state change, for logs and the admin API. */
export interface CircuitTransition {
  readonly from: CircuitState;
  readonly to: CircuitState;
  readonly reason: string;
  readonly at: number;
}

/** The breaker's state for the admin API. */
export interface CircuitView {
  readonly state: CircuitState;
  readonly consecutiveFailures: number;
  /** Failure rate over the window (0..1), once it holds at least one call. */
  readonly failureRate: number;
  readonly windowCalls: number;
  readonly openedAt: number | undefined;
  readonly opens: number;
}

/** One instance's circuit breaker. */
export class CircuitBreaker {
  readonly #settings: CircuitSettings;
  readonly #now: () => number;
  readonly #onChange: (transition: CircuitTransition) => void;
  #state: CircuitState = 'closed';
  #consecutive = 0;
  /** Outcomes of the last `window` calls (true = failure), oldest first. */
  #window: boolean[] = [];
  #openedAt: number | undefined;
  #probesLeft = 0;
  #probesOut = 0;
  #opens = 0;

  constructor(
    settings: CircuitSettings,
    onChange: (transition: CircuitTransition) => void = () => {},
    now: () => number = () => performance.now(),
  ) {
    this.#settings = settings;
    this.#onChange = onChange;
    this.#now = now;
  }

  /** The current state (moves open to half-open once `openMs` has passed). */
  get state(): CircuitState {
    if (
      this.#state === 'open' &&
      this.#openedAt !== undefined &&
      this.#now() - this.#openedAt >= this.#settings.openMs
    ) {
      this.#to(
        'half-open',
        `open for ${this.#settings.openMs} ms; letting ${this.#settings.halfOpenProbes} probe call(s) through`,
      );
    }
    return this.#state;
  }

  /** True when a call may go to this instance now (in half-open, only the probe calls). */
  canPass(): boolean {
    const state = this.state;
    return state === 'closed' || (state === 'half-open' && this.#probesLeft > 0);
  }

  /** Claims a pass for a call about to start; false when the breaker refuses it. */
  tryPass(): boolean {
    if (!this.canPass()) return false;
    if (this.#state === 'half-open') {
      this.#probesLeft--;
      this.#probesOut++;
    }
    return true;
  }

  /** Records a call the instance answered (whatever the answer). */
  onSuccess(): void {
    this.#consecutive = 0;
    this.#record(false);
    if (this.#state === 'half-open') {
      this.#probesOut = Math.max(0, this.#probesOut - 1);
      if (this.#probesLeft === 0 && this.#probesOut === 0) this.#to('closed', 'probe call(s) succeeded');
      return;
    }
    // The rate is judged after every call, as a success can complete a window already over the bound.
    if (this.#state === 'closed') this.#checkRate('a success completed the window');
  }

  /** Records a backend failure (transport error, timeout, protocol failure). */
  onFailure(reason: string): void {
    this.#consecutive++;
    this.#record(true);
    if (this.#state === 'half-open') {
      this.#open(`probe failed: ${reason}`);
      return;
    }
    if (this.#state !== 'closed') return;
    if (this.#consecutive >= this.#settings.failures) {
      this.#open(`${this.#consecutive} consecutive failures (last: ${reason})`);
      return;
    }
    this.#checkRate(reason);
  }

  #checkRate(last: string): void {
    const { failureRate, minCalls } = this.#settings;
    const rate = this.#rate();
    if (this.#window.length >= minCalls && rate >= failureRate)
      this.#open(`failure rate ${Math.round(rate * 100)}% over the last ${this.#window.length} calls (last: ${last})`);
  }

  /** Gives back a pass whose call ended without an outcome (the caller cancelled it). */
  release(): void {
    if (this.#state === 'half-open' && this.#probesOut > 0) {
      this.#probesOut--;
      this.#probesLeft++;
    }
  }

  /** Opens at once (the connection was lost). */
  trip(reason: string): void {
    if (this.#state !== 'open') this.#open(reason);
  }

  /** The connection came back: skip the rest of the open period and probe. */
  recovered(reason: string): void {
    if (this.#state === 'open') this.#to('half-open', reason);
  }

  /** State for the admin API. */
  view(): CircuitView {
    return {
      state: this.state,
      consecutiveFailures: this.#consecutive,
      failureRate: Math.round(this.#rate() * 1000) / 1000,
      windowCalls: this.#window.length,
      openedAt: this.#openedAt,
      opens: this.#opens,
    };
  }

  #rate(): number {
    return this.#window.length === 0 ? 0 : this.#window.filter(Boolean).length / this.#window.length;
  }

  #record(failed: boolean): void {
    this.#window.push(failed);
    if (this.#window.length > this.#settings.window) this.#window.shift();
  }

  #open(reason: string): void {
    this.#openedAt = this.#now();
    this.#opens++;
    this.#to('open', reason);
  }

  #to(state: CircuitState, reason: string): void {
    const from = this.#state;
    if (from === state) return;
    this.#state = state;
    if (state === 'half-open') {
      this.#probesLeft = this.#settings.halfOpenProbes;
      this.#probesOut = 0;
    }
    if (state === 'closed') {
      this.#consecutive = 0;
      this.#window = [];
      this.#openedAt = undefined;
    }
    this.#onChange({ from, to: state, reason, at: this.#now() });
  }
}
