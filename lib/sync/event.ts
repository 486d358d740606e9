/**
 * `Event`: a flag coroutines can wait for.
 *
 * @module
 */
import { checkTimeout, type Coro } from '../core/coro.js';
import { PENDING, Suspend, type Op } from '../core/op.js';
import { WaitQueue } from '../core/waitqueue.js';

class EventWaitOp extends Suspend<boolean> {
  constructor(
    readonly event: Event,
    readonly timeout: number | undefined,
  ) {
    super();
  }
  _start(c: Coro<unknown>): unknown {
    if (this.event.isSet) return true;
    this.event._waiters.push(c, c._q, undefined);
    if (this.timeout !== undefined) c._s._addTimer(c, this.timeout);
    return PENDING;
  }
  override _timeout(): unknown {
    return false;
  }
}

/**
 * A flag, initially clear. `set()` wakes every waiter (in the order they started waiting);
 * `wait(timeout)` returns true at once while the flag is set, false if `timeout` ms pass first.
 *
 * @example
 * ```ts
 * const ready = new Event();
 * spawn(function* () { if (yield* ready.wait(1000)) console.log('go') });
 * spawn(function* () { yield* sleep(10); ready.set() });
 * ```
 */
export class Event {
  private flag = false;
  /** @internal */
  readonly _waiters = new WaitQueue();
  private readonly waitForever = new EventWaitOp(this, undefined);

  /** True while set. */
  get isSet(): boolean {
    return this.flag;
  }

  /** Sets the flag and wakes every waiter; returns how many were woken. */
  set(): number {
    this.flag = true;
    return this._waiters.wakeAll(true);
  }

  /** Clears the flag. */
  clear(): void {
    this.flag = false;
  }

  /** Waits for the flag: true when set, false after `timeout` ms. */
  wait(timeout?: number): Op<boolean> {
    checkTimeout(timeout);
    return timeout === undefined ? this.waitForever : new EventWaitOp(this, timeout);
  }

  /** How many coroutines wait. */
  statistics(): { set: boolean; waiting: number } {
    return { set: this.flag, waiting: this._waiters.countLive() };
  }
}
