/**
 * `Condition`: wait for a state change announced by another coroutine, under a lock.
 *
 * @module
 */
import { checkTimeout, type Coro } from '../core/coro.js';
import { NotOwnerError } from '../core/errors.js';
import { PENDING, Suspend, running, type Op } from '../core/op.js';
import { WaitQueue } from '../core/waitqueue.js';
import { RLock, type BaseLock } from './lock.js';

class NotifiedOp extends Suspend<boolean> {
  constructor(
    readonly waiters: WaitQueue,
    readonly timeout: number | undefined,
  ) {
    super();
  }
  _start(c: Coro<unknown>): unknown {
    this.waiters.push(c, c._q, undefined);
    if (this.timeout !== undefined) c._s._addTimer(c, this.timeout);
    return PENDING;
  }
  override _timeout(): unknown {
    return false;
  }
}

/**
 * A condition variable over a {@link Lock} or {@link RLock} (default: a new RLock). `wait`
 * releases the lock, waits for `notify` (FIFO) or the timeout, and re-acquires the lock before
 * returning, also when an error (such as CoroExit) is thrown in while waiting. Waiting or
 * notifying without holding the lock is a {@link NotOwnerError}.
 *
 * @example
 * ```ts
 * const cond = new Condition();
 * const items: number[] = [];
 * spawn(function* () {
 *   yield* cond.acquire();
 *   try { while (items.length === 0) yield* cond.wait(); console.log(items.shift()) }
 *   finally { cond.release() }
 * });
 * spawn(function* () { yield* cond.acquire(); items.push(1); cond.notify(); cond.release() });
 * ```
 */
export class Condition {
  /** The lock this condition uses. */
  readonly lock: BaseLock;
  private readonly waiters = new WaitQueue();

  constructor(lock?: BaseLock) {
    this.lock = lock ?? new RLock();
  }

  /** Acquires the underlying lock. */
  acquire(timeout?: number): Op<boolean> {
    return this.lock.acquire(timeout);
  }

  /** Releases the underlying lock. */
  release(): void {
    this.lock.release();
  }

  /**
   * Waits for a notification: returns true when notified, false when `timeout` ms passed first.
   * Either way the lock is held again when it returns.
   */
  *wait(timeout?: number): Generator<unknown, boolean, unknown> {
    checkTimeout(timeout);
    this.lock._checkOwner('Condition.wait()');
    const depth = this.lock._releaseAll();
    try {
      return yield* new NotifiedOp(this.waiters, timeout);
    } finally {
      // wait() always ends holding the lock, as it started, so the caller's own `finally
      // { release() }` is right on every path. An interruption while re-acquiring (a second
      // terminate, say) is held back until the lock is ours again, then rethrown.
      let interrupted = false;
      let interruption: unknown;
      for (;;) {
        try {
          yield* this.lock.acquire();
          break;
        } catch (e) {
          if (!interrupted) {
            interrupted = true;
            interruption = e;
          }
        }
      }
      this.lock._depth = depth;
      if (interrupted) throw interruption;
    }
  }

  /**
   * Waits until `predicate()` is true, re-checking after each notification; returns its last
   * value (false only if `timeout` ms passed first).
   */
  *waitFor(predicate: () => boolean, timeout?: number): Generator<unknown, boolean, unknown> {
    checkTimeout(timeout);
    const sched = running?._s;
    const end = timeout === undefined || sched === undefined ? Infinity : sched.clock.now() + timeout;
    let ok = predicate();
    while (!ok) {
      const left = end === Infinity ? undefined : Math.max(0, end - sched!.clock.now());
      if (left === 0) return predicate();
      yield* this.wait(left);
      ok = predicate();
    }
    return ok;
  }

  /** Wakes up to `n` waiting coroutines (longest waiting first); returns how many. */
  notify(n = 1): number {
    this.lock._checkOwner('Condition.notify()');
    let woken = 0;
    while (woken < n && this.waiters.wakeOne(true) !== undefined) woken++;
    return woken;
  }

  /** Wakes every waiting coroutine; returns how many. */
  notifyAll(): number {
    this.lock._checkOwner('Condition.notifyAll()');
    return this.waiters.wakeAll(true);
  }

  /** How many coroutines wait. */
  statistics(): { waiting: number } {
    return { waiting: this.waiters.countLive() };
  }
}

