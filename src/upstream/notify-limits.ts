/**
 * Per-upstream limits on notifications, so one server flooding them cannot hold the gateway's event
 * loop or grow its memory: progress thinned per call past a burst (the last one always delivered), log messages
 * capped by a token bucket with a count of the dropped ones reported afterwards, and a brake that
 * stops reading a stdio server's output for the rest of a short window once it has sent too many
 * notifications in it (the pipe fills and the server blocks: its flood costs it, not the gateway).
 * (list_changed is coalesced in Upstream itself: it causes a refresh, not a forward.)
 */

/** A progress notification's payload, as the SDK hands it over. */
export interface Progress {
  progress: number;
  total?: number;
  message?: string;
}

/**
 * Passes a call's progress updates through a token bucket: a burst of `burst` at once (so an ordinary
 * tool's few updates all arrive, as they would directly), then at most `perSecond`; of the ones in
 * between, only the latest is kept and sent when a token is back, or by `finish()` when the call ends
 * (before its result).
 */
export class ProgressThinner {
  readonly #deliver: (p: Progress) => void;
  readonly #perMs: number;
  readonly #burst: number;
  #tokens: number;
  #refilled = performance.now();
  #pending: Progress | undefined;
  #timer: NodeJS.Timeout | undefined;
  #done = false;

  constructor(deliver: (p: Progress) => void, perSecond: number, burst = 20) {
    this.#deliver = deliver;
    this.#perMs = perSecond > 0 ? perSecond / 1000 : Infinity;
    this.#burst = Math.max(1, burst);
    this.#tokens = this.#burst;
  }

  /** The SDK's onprogress callback (bound). */
  readonly push = (p: Progress): void => {
    if (this.#done) return;
    this.#refill();
    if (this.#tokens >= 1 && !this.#timer) {
      this.#tokens--;
      this.#deliver(p);
      return;
    }
    this.#pending = p;
    this.#timer ??= setTimeout(() => this.#flush(), Math.ceil((1 - this.#tokens) / this.#perMs));
  };

  /** The call ended: deliver what is pending, then ignore the rest. */
  finish(): void {
    if (this.#done) return;
    this.#flush();
    this.#done = true;
  }

  #refill(): void {
    const now = performance.now();
    this.#tokens = Math.min(this.#burst, this.#tokens + (now - this.#refilled) * this.#perMs);
    this.#refilled = now;
  }

  #flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const pending = this.#pending;
    this.#pending = undefined;
    if (!pending) return;
    this.#refill();
    this.#tokens = Math.max(0, this.#tokens - 1);
    this.#deliver(pending);
  }
}

/** How many log messages a server may send: a burst, then a steady rate. */
export interface LogRate {
  readonly burst: number;
  readonly perSecond: number;
}

/** The default log rate per upstream. */
export const DEFAULT_LOG_RATE: LogRate = { burst: 100, perSecond: 50 };

/**
 * A token bucket for one upstream's log messages. `take()` says whether a message may pass; a dropped
 * one is counted. The count is reported at most once a second: by `due()` next to a message that
 * passes (so it travels the same way, to the same agent), or by `report` when no message follows.
 */
export class LogLimiter {
  readonly #rate: LogRate;
  readonly #report: (dropped: number) => void;
  #tokens: number;
  #at = performance.now();
  #dropped = 0;
  #reportedAt = -Infinity;
  #timer: NodeJS.Timeout | undefined;

  constructor(rate: LogRate, report: (dropped: number) => void) {
    this.#rate = rate;
    this.#report = report;
    this.#tokens = rate.burst;
  }

  /** True when this message may pass. */
  take(): boolean {
    const now = performance.now();
    this.#tokens = Math.min(this.#rate.burst, this.#tokens + ((now - this.#at) / 1000) * this.#rate.perSecond);
    this.#at = now;
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      return true;
    }
    this.#dropped++;
    if (!this.#timer) {
      // Longer than due()'s interval: while messages still pass, the count travels with them.
      this.#timer = setTimeout(() => this.#flush(), 2000);
      this.#timer.unref();
    }
    return false;
  }

  /** After a `take()` that passed: the dropped count to report with that message now (0: none, or too soon). */
  due(): number {
    if (this.#dropped === 0 || performance.now() - this.#reportedAt < 1000) return 0;
    return this.#drain();
  }

  /** Reports what is still uncounted and stops the timer. */
  close(): void {
    this.#flush();
  }

  #drain(): number {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const dropped = this.#dropped;
    this.#dropped = 0;
    this.#reportedAt = performance.now();
    return dropped;
  }

  #flush(): void {
    const dropped = this.#drain();
    if (dropped > 0) this.#report(dropped);
  }
}

/** The part of a readable stream the brake needs. */
export interface Pausable {
  pause(): unknown;
  resume(): unknown;
}

/** The default notification budget of one stdio upstream, per second. */
export const DEFAULT_NOTIFICATIONS_PER_SECOND = 2_000;

/**
 * Counts a server's notifications in 100 ms windows; past the window's share of `perSecond`, pauses
 * the stream until the window ends. Responses are not counted, only notifications, so a busy server
 * answering many calls is never slowed; `onBrake` hears when braking starts (once per episode).
 */
export class FloodBrake {
  static readonly WINDOW_MS = 100;
  readonly #perWindow: number;
  readonly #onBrake: () => void;
  #stream: Pausable | undefined;
  #windowStart = 0;
  #count = 0;
  #timer: NodeJS.Timeout | undefined;
  #braking = false;
  #closed = false;

  constructor(perSecond: number, onBrake: () => void) {
    this.#perWindow = Math.max(1, Math.round((perSecond * FloodBrake.WINDOW_MS) / 1000));
    this.#onBrake = onBrake;
  }

  /** The stream to pause (set once the child is running). */
  attach(stream: Pausable | undefined): void {
    this.#stream = stream;
  }

  /** One notification arrived. */
  count(): void {
    const now = performance.now();
    if (now - this.#windowStart >= FloodBrake.WINDOW_MS) {
      if (this.#count <= this.#perWindow) this.#braking = false;
      this.#windowStart = now;
      this.#count = 0;
    }
    if (++this.#count <= this.#perWindow || this.#timer || !this.#stream || this.#closed) return;
    if (!this.#braking) {
      this.#braking = true;
      this.#onBrake();
    }
    this.#stream.pause();
    this.#timer = setTimeout(
      () => {
        this.#timer = undefined;
        if (!this.#closed) this.#stream?.resume();
      },
      Math.max(1, this.#windowStart + FloodBrake.WINDOW_MS - now),
    );
  }

  /** Stops braking for good. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
