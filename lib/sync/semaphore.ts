/**
 * `Semaphore` and `BoundedSemaphore`: a counter of available units. A release with coroutines
 * waiting hands its unit straight to the longest waiter (FIFO, no barging).
 *
 * @module
 */
import { checkTimeout, type Coro } from '../core/coro.js';
import { OverReleaseError } from '../core/errors.js';
import { PENDING, Suspend, type Op } from '../core/op.js';
import { WaitQueue } from '../core/waitqueue.js';

class SemAcquireOp extends Suspend<boolean> {
  constructor(
    readonly sem: Semaphore,
    readonly timeout: number | undefined,
  ) {
    super();
  }
  _start(c: Coro<unknown>): unknown {
    if (this.sem.tryAcquire()) return true;
    this.sem._waiters.push(c, c._q, undefined);
    if (this.timeout !== undefined) c._s._addTimer(c, this.timeout);
    return PENDING;
  }
  override _timeout(): unknown {
    return false;
  }
}

/**
 * A counting semaphore starting at `value` (an integer >= 0; 0 makes the first acquirers wait
 * for a release). Any coroutine (or plain code) may release.
 *
 * @example
 * ```ts
 * const slots = new Semaphore(3); // at most three downloads at a time
 * spawn(function* () {
 *   yield* slots.acquire();
 *   try { yield* download() } finally { slots.release() }
 * });
 * ```
 */
export class Semaphore {
  /** @internal */
  _value: number;
  /** @internal */
  readonly _waiters = new WaitQueue();
  private readonly acquireForever = new SemAcquireOp(this, undefined);

  constructor(value = 1) {
    if (!Number.isInteger(value) || value < 0) throw new RangeError(`a semaphore's value must be an integer >= 0, got ${value}`);
    this._value = value;
  }

  /** Units available now. */
  get value(): number {
    return this._value;
  }

  /** Takes a unit, waiting for one; with `timeout` (ms), returns false if none came in time. */
  acquire(timeout?: number): Op<boolean> {
    checkTimeout(timeout);
    return timeout === undefined ? this.acquireForever : new SemAcquireOp(this, timeout);
  }

  /** Takes a unit if one is available now. */
  tryAcquire(): boolean {
    if (this._value === 0) return false;
    this._value--;
    return true;
  }

  /** Returns a unit: the longest waiter gets it, else the count goes up. */
  release(): void {
    if (this._waiters.wakeOne(true) === undefined) this._value++;
  }

  /** Units and waiters. */
  statistics(): { value: number; waiting: number } {
    return { value: this._value, waiting: this._waiters.countLive() };
  }
}

/**
 * A semaphore that may not be released above its initial value: that is an
 * {@link OverReleaseError}, which catches a release without a matching acquire.
 *
 * @example
 * ```ts
 * const pool = new BoundedSemaphore(2);
 * pool.release(); // throws OverReleaseError: nothing was acquired
 * ```
 */
export class BoundedSemaphore extends Semaphore {
  /** The initial value, which is also the bound. */
  readonly bound: number;

  constructor(value = 1) {
    super(value);
    this.bound = value;
  }

  override release(): void {
    if (this._value >= this.bound) {
      throw new OverReleaseError(`BoundedSemaphore released above its initial value ${this.bound}`);
    }
    super.release();
  }
}
