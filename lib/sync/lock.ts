/**
 * `Lock` and `RLock`: mutual exclusion between coroutines. Waiters are served in FIFO order: a
 * release hands the lock straight to the coroutine that has waited longest, so nobody can barge
 * in. Every acquire takes an optional timeout and then answers `false` instead of waiting on.
 *
 * @module
 */
import { checkTimeout, type Coro } from '../core/coro.js';
import { DeadlockError, NotOwnerError } from '../core/errors.js';
import { PENDING, Suspend, running, type Op } from '../core/op.js';
import { WaitQueue } from '../core/waitqueue.js';

/**
 * Counters of a lock.
 *
 * @example
 * ```ts
 * if (lock.statistics().waiting > 10) console.warn('contended');
 * ```
 */
export interface LockStatistics {
  locked: boolean;
  owner: Coro | undefined;
  /** Coroutines waiting to acquire (stale entries of timed-out waits excluded). */
  waiting: number;
}

/** @internal The shared machinery of Lock and RLock. */
abstract class BaseLock {
  /** @internal */
  _owner: Coro<unknown> | null = null;
  /** @internal */
  _depth = 0;
  /** @internal */
  readonly _waiters = new WaitQueue();
  private readonly acquireForever: AcquireOp;

  constructor() {
    this.acquireForever = new AcquireOp(this, undefined);
  }

  /**
   * Waits until the running coroutine holds the lock; with `timeout` (ms), gives up then and
   * returns false. Returns true once held.
   */
  acquire(timeout?: number): Op<boolean> {
    checkTimeout(timeout);
    return timeout === undefined ? this.acquireForever : new AcquireOp(this, timeout);
  }

  /** Takes the lock if it is free (or, for an RLock, already held by the caller); never waits. */
  tryAcquire(): boolean {
    const c = running;
    if (c === null) return false;
    return this._take(c);
  }

  /** True while some coroutine holds the lock. */
  get locked(): boolean {
    return this._owner !== null;
  }

  /** Current owner and waiters. */
  statistics(): LockStatistics {
    return { locked: this._owner !== null, owner: (this._owner ?? undefined) as Coro | undefined, waiting: this._waiters.countLive() };
  }

  /** Releases the lock held by the running coroutine; see the subclasses. */
  abstract release(): void;

  /** @internal Takes the lock for `c` without waiting, if possible. */
  abstract _take(c: Coro<unknown>): boolean;

  /** @internal Gives the lock to the longest waiter, or frees it. */
  _handOff(): void {
    const next = this._waiters.peek();
    if (next === undefined) {
      this._owner = null;
      this._depth = 0;
      return;
    }
    this._waiters.drop();
    this._owner = next;
    this._depth = 1;
    next._s._wakeNow(next, true, false);
  }

  /** @internal */
  _checkOwner(what: string): Coro<unknown> {
    const c = running;
    if (this._owner === null) throw new NotOwnerError(`${what}: the ${this.constructor.name} is not held`);
    if (c !== this._owner) {
      throw new NotOwnerError(`${what}: the ${this.constructor.name} is held by ${String(this._owner)}, not by ${c === null ? 'code outside coroutines' : String(c)}`);
    }
    return c;
  }

  /** @internal Condition support: release completely, returning the depth to restore. */
  _releaseAll(): number {
    const d = this._depth;
    this._handOff();
    return d;
  }
}

class AcquireOp extends Suspend<boolean> {
  constructor(
    readonly lock: BaseLock,
    readonly timeout: number | undefined,
  ) {
    super();
  }
  _start(c: Coro<unknown>): unknown {
    if (this.lock._take(c)) return true;
    if (this.lock._owner === c) {
      throw new DeadlockError(`${String(c)} tried to acquire a Lock it already holds (use RLock for re-entry)`);
    }
    this.lock._waiters.push(c, c._q, undefined);
    if (this.timeout !== undefined) c._s._addTimer(c, this.timeout);
    return PENDING;
  }
  override _timeout(): unknown {
    return false;
  }
}

/**
 * A mutual-exclusion lock owned by the coroutine that acquired it. Acquiring it again from the
 * owner is a {@link DeadlockError}; releasing it from another coroutine, or when nobody holds it,
 * is a {@link NotOwnerError}.
 *
 * @example
 * ```ts
 * const lock = new Lock();
 * spawn(function* () {
 *   yield* lock.acquire();
 *   try { yield* sleep(10) } finally { lock.release() }
 * });
 * ```
 */
export class Lock extends BaseLock {
  /** @internal */
  _take(c: Coro<unknown>): boolean {
    if (this._owner !== null) return false;
    this._owner = c;
    this._depth = 1;
    return true;
  }

  /** Releases the lock; the longest-waiting coroutine gets it. */
  release(): void {
    this._checkOwner('Lock.release()');
    this._handOff();
  }
}

/**
 * A reentrant lock: its owner may acquire it again, and must release it as many times.
 *
 * @example
 * ```ts
 * const lock = new RLock();
 * function* inner() { yield* lock.acquire(); try { /* ... *\/ } finally { lock.release() } }
 * spawn(function* () { yield* lock.acquire(); try { yield* inner() } finally { lock.release() } });
 * ```
 */
export class RLock extends BaseLock {
  /** @internal */
  _take(c: Coro<unknown>): boolean {
    if (this._owner === null) {
      this._owner = c;
      this._depth = 1;
      return true;
    }
    if (this._owner === c) {
      this._depth++;
      return true;
    }
    return false;
  }

  /** How many times the owner holds it (0 when free). */
  get depth(): number {
    return this._depth;
  }

  /** Releases one level; the last one hands the lock to the longest-waiting coroutine. */
  release(): void {
    this._checkOwner('RLock.release()');
    if (--this._depth === 0) this._handOff();
  }
}

export type { BaseLock };
