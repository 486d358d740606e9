/**
 * The errors asyncoro throws. Every error a user can meet is a subclass of {@link AsyncoroError},
 * so `instanceof` tells them apart, and each carries a stable `code` string.
 *
 * @module
 */
import { native } from '../native/binding.js';
import type { Coro, CoroFn } from './coro.js';

/** Base class of every error asyncoro throws on purpose. */
export class AsyncoroError extends Error {
  /** A stable, machine-readable name for the condition, e.g. `'ERR_BACKEND_UNAVAILABLE'`. */
  readonly code: string;
  constructor(message: string, code: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/**
 * A poller backend or mode that this host or this binary does not have.
 *
 * @example
 * ```ts
 * try { openPoller({ poller: 'kqueue' }) }
 * catch (e) { if (e instanceof BackendUnavailableError) console.log(e.available) }
 * ```
 */
export class BackendUnavailableError extends AsyncoroError {
  /** The backends this host does have, best first. */
  readonly available: readonly string[];
  constructor(message: string, available: readonly string[]) {
    super(message, 'ERR_BACKEND_UNAVAILABLE');
    this.available = available;
  }
}

/** A system call failed: `errno` is the positive error number, `code` its name (`'EBADF'`). */
export class SystemError extends AsyncoroError {
  readonly errno: number;
  readonly syscall: string;
  constructor(syscall: string, errno: number) {
    const e = Math.abs(errno);
    const name = native.errnoName(e) || `E${e}`;
    super(`${syscall}: ${native.strerror(e)} (${name})`, name);
    this.errno = e;
    this.syscall = syscall;
  }
}

/**
 * Throws a {@link SystemError} when a native call returned `-errno`; otherwise returns the result.
 *
 * @example
 * ```ts
 * const n = check('read', native.read(fd, buf, 0, buf.length));
 * ```
 */
export function check(syscall: string, result: number): number {
  if (result < 0) throw new SystemError(syscall, result);
  return result;
}

/**
 * Thrown into a coroutine by {@link Coro.terminate}. It unwinds the generator like any error, so
 * `finally` blocks run to the end even when they yield; catching it and returning is allowed (the
 * coroutine then ends normally with what it returned).
 *
 * @example
 * ```ts
 * spawn(function* () {
 *   try { yield* sleep(60_000) }
 *   finally { yield* sleep(10) } // cleanup that suspends still completes after terminate()
 * })
 * ```
 */
export class CoroExit extends AsyncoroError {
  constructor(message = 'coroutine terminated') {
    super(message, 'ERR_CORO_EXIT');
  }
}

/**
 * A wait that ends an operation with no result to give ran out of time: `finish(timeout)`,
 * `Queue.get/put(timeout)`, `waitReadable(fd, timeout)`. (Waits that can answer "no" return a value
 * instead: `acquire(timeout)` returns `false`, `receive(timeout, alarm)` returns `alarm`.)
 *
 * @example
 * ```ts
 * try { yield* worker.finish(100) } catch (e) { if (e instanceof TimeoutError) worker.terminate() }
 * ```
 */
export class TimeoutError extends AsyncoroError {
  /** The timeout that ran out, in milliseconds. */
  readonly timeout: number;
  constructor(what: string, timeout: number) {
    super(`${what} timed out after ${timeout} ms`, 'ERR_TIMEOUT');
    this.timeout = timeout;
  }
}

/**
 * The coroutine being waited for (`coro.value()`, `yield* coro.finish()`) was terminated: a
 * {@link CoroExit} left its generator. The `CoroExit` is the `cause`.
 *
 * @example
 * ```ts
 * c.terminate();
 * await c.value().catch((e) => e instanceof TerminatedError); // true
 * ```
 */
export class TerminatedError extends AsyncoroError {
  constructor(what: string, cause: unknown) {
    super(`${what} was terminated`, 'ERR_TERMINATED', { cause });
  }
}

/**
 * A suspending operation, or `self()`, was used outside a running coroutine (for example from a
 * plain function or a Promise callback).
 *
 * @example
 * ```ts
 * try { self() } catch (e) { e instanceof NotInCoroError } // true outside a coroutine
 * ```
 */
export class NotInCoroError extends AsyncoroError {
  constructor(what: string) {
    super(`${what} must be called inside a running coroutine`, 'ERR_NOT_IN_CORO');
  }
}

/**
 * A lock, reentrant lock or condition used by a coroutine that does not hold it: release by a
 * non-owner, release of an unlocked lock, `Condition.wait/notify` without the lock.
 *
 * @example
 * ```ts
 * const lock = new Lock();
 * try { lock.release() } catch (e) { e instanceof NotOwnerError } // true: nobody holds it
 * ```
 */
export class NotOwnerError extends AsyncoroError {
  constructor(message: string) {
    super(message, 'ERR_NOT_OWNER');
  }
}

/**
 * A `BoundedSemaphore` released more times than it was acquired.
 *
 * @example
 * ```ts
 * const s = new BoundedSemaphore(1);
 * try { s.release() } catch (e) { e instanceof OverReleaseError } // true
 * ```
 */
export class OverReleaseError extends AsyncoroError {
  constructor(message: string) {
    super(message, 'ERR_OVER_RELEASE');
  }
}

/**
 * A wait that can never end: a coroutine acquiring a `Lock` it holds, finishing itself, or
 * `scheduler.run()` left with non-daemon coroutines that nothing (no ready coroutine, timer or fd
 * wait) can wake.
 *
 * @example
 * ```ts
 * try { sched.run() } catch (e) { if (e instanceof DeadlockError) console.log(e.message) }
 * ```
 */
export class DeadlockError extends AsyncoroError {
  constructor(message: string) {
    super(message, 'ERR_DEADLOCK');
  }
}

/**
 * A `*Nowait` call (`Queue.putNowait`, `Queue.getNowait`) that would have had to wait.
 *
 * @example
 * ```ts
 * try { q.getNowait() } catch (e) { if (e instanceof WouldBlock) console.log('empty') }
 * ```
 */
export class WouldBlock extends AsyncoroError {
  constructor(message: string) {
    super(message, 'ERR_WOULD_BLOCK');
  }
}

/**
 * A coroutine or scheduler used in a way its current state does not allow: registering a name
 * that is taken, two coroutines waiting for the same fd direction, `run()` outside exclusive
 * mode or re-entered, spawning on a closed scheduler, yielding something that is not an operation.
 *
 * @example
 * ```ts
 * try { a.register('db'); b.register('db') } catch (e) { e instanceof CoroStateError } // true
 * ```
 */
export class CoroStateError extends AsyncoroError {
  constructor(message: string, code = 'ERR_CORO_STATE') {
    super(message, code);
  }
}

/**
 * Offered to a hot-swappable coroutine by `coro.hotSwap(fn, ...args)`, thrown in at its next
 * suspension point. Letting it propagate out of the generator accepts the swap: the generator is
 * replaced by `fn(...args)`, the coroutine keeps its id and mailbox and its monitors hear
 * nothing. Catching it refuses the swap and the coroutine goes on. Before rethrowing, the old
 * code may hand its state over ({@link HotSwap.handOver}), the way OTP's `code_change` does.
 *
 * @example
 * ```ts
 * function* counter(count = 0) {
 *   hotSwappable(true);
 *   try {
 *     for (;;) { yield* receive(); count++ }
 *   } catch (e) {
 *     if (e instanceof HotSwap) throw e.handOver(count); // the new function gets count as its last argument
 *     throw e;
 *   }
 * }
 * ```
 */
export class HotSwap extends AsyncoroError {
  /** The coroutine being swapped. */
  readonly coro: Coro;
  /** The function that replaces the generator. */
  readonly fn: CoroFn<unknown, any>;
  /** Its arguments. */
  readonly args: readonly unknown[];
  /** @internal Whether {@link handOver} was called, and with what. */
  _handed = false;
  _state: unknown = undefined;
  /** @internal Thrown in already (a refused swap is not offered again). */
  _offered = false;

  constructor(coro: Coro, fn: CoroFn<unknown, any>, args: readonly unknown[]) {
    super(`hot swap of ${String(coro)} to ${fn.name || 'a new function'}`, 'ERR_HOT_SWAP');
    this.coro = coro;
    this.fn = fn;
    this.args = args;
  }

  /**
   * Hands `state` to the new function, which receives it as one more argument after the ones
   * given to `hotSwap`. Returns this error, to rethrow.
   */
  handOver(state: unknown): this {
    this._handed = true;
    this._state = state;
    return this;
  }
}
