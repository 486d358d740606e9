/**
 * Clocks for the scheduler's timers. The real clock is `performance.now()`; a {@link MockClock}
 * only moves when told to (or, with `autoJump`, straight to the next deadline when every
 * coroutine is waiting), which makes timer tests exact and instant.
 *
 * @module
 */

/**
 * What the scheduler asks of a clock: the current time in milliseconds.
 *
 * @example
 * ```ts
 * const fixed: Clock = { now: () => 0 }; // a clock that never moves
 * ```
 */
export interface Clock {
  /** Milliseconds on a monotonic scale; only differences matter. */
  now(): number;
}

/** @internal The scheduler side of a mock clock. */
export interface ClockListener {
  /** The clock moved: fire the timers that are now due. */
  _clockMoved(): void;
}

/**
 * The default clock: `performance.now()`, monotonic and sub-millisecond.
 *
 * @example
 * ```ts
 * const sched = new Scheduler({ clock: realClock }); // the same as the default
 * ```
 */
export const realClock: Clock = { now: () => performance.now() };

/**
 * A clock that moves only when the test says so: `advance(ms)` fires every timer that becomes
 * due, in deadline order. With `autoJump: true`, whenever no coroutine is ready the scheduler jumps
 * the clock to the next deadline at once, so `sleep(60_000)` takes no real time. (In integrated
 * and thread modes the jump waits one `setImmediate` turn first, so pending I/O and promises get in
 * before virtual time moves; fd readiness is never waited for by a jump.)
 *
 * @example
 * ```ts
 * const clock = new MockClock();
 * const sched = new Scheduler({ clock });
 * const c = sched.spawn(function* () { yield* sleep(1000); return 'woke' });
 * clock.advance(1000);          // the sleeper is now ready
 * console.log(await c.value()); // 'woke'
 * ```
 */
export class MockClock implements Clock {
  private time: number;
  /** Jump to the next deadline whenever nothing is ready. */
  autoJump: boolean;
  private readonly listeners = new Set<ClockListener>();

  constructor(options: { start?: number; autoJump?: boolean } = {}) {
    this.time = options.start ?? 0;
    this.autoJump = options.autoJump ?? false;
  }

  /** The mock time in milliseconds. */
  now(): number {
    return this.time;
  }

  /** Moves the clock forward by `ms` (>= 0) and fires what became due. */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`advance() needs a duration >= 0, got ${ms}`);
    this.time += ms;
    for (const l of this.listeners) l._clockMoved();
  }

  /** Sets the clock to `t` if that is later than now (never backwards), firing what became due. */
  jumpTo(t: number): void {
    if (t > this.time) this.advance(t - this.time);
  }

  /** @internal */
  _listen(l: ClockListener): void {
    this.listeners.add(l);
  }

  /** @internal */
  _unlisten(l: ClockListener): void {
    this.listeners.delete(l);
  }
}
