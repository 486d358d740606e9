/**
 * `Op<T>`: the one suspending type. Every operation that may suspend a coroutine is an `Op<T>`
 * consumed with `yield*`, so TypeScript types its result (`const b: Buffer = yield* op`). A plain
 * `yield op` also works, as in Python's asyncoro, but its result is untyped. Any generator
 * function that returns `T` is also an `Op<T>`, so user code composes operations by writing
 * ordinary `function*` helpers.
 *
 * The built-in operations are instances of {@link Suspend}: `yield*` delegates to it, it yields
 * itself once to the scheduler, and the scheduler resumes it with the result. This file holds the
 * library's one unchecked cast, where that result is handed back typed.
 *
 * @module
 */
import type { Coro } from './coro.js';

/**
 * An operation that produces a `T` when consumed with `yield*` inside a coroutine.
 *
 * @example
 * ```ts
 * function* twice(): Op<number> {
 *   const a = yield* receive<number>();
 *   const b = yield* receive<number>();
 *   return a + b;
 * }
 * spawn(function* () { const sum: number = yield* twice() });
 * ```
 */
export interface Op<T> {
  [Symbol.iterator](): Iterator<unknown, T, unknown>;
}

/** @internal What {@link Suspend._start} returns when the coroutine must wait. */
export const PENDING: unique symbol = Symbol('asyncoro.pending');

/** @internal Flag bit of `Coro._f`: the coroutine is between the two halves of a `yield*` on a Suspend. */
export const F_YIELDED = 8;

/**
 * @internal Flag bit of `Coro._f`: the coroutine took notices during its current turn (listed in
 * `Coro._x.held`), given back when the turn ends.
 */
export const F_HOLDING = 512;

/** @internal The coroutine whose generator is executing right now, or null. */
export let running: Coro<unknown> | null = null;

/**
 * @internal Every change of the running coroutine goes through here, so this is where a turn
 * ends: a coroutine that stops running (it suspends, yields, or ends: the scheduler sets null)
 * gives back the notices it took during the turn. A monitor that received a `MonitorStatus` has
 * decided by then whether to restart the coroutine; if nobody did, the coroutine is released. (A
 * coroutine that runs another scheduler's `run()` is not at the end of its turn when that
 * scheduler's coroutines start running, hence the null.)
 */
export function setRunning(c: Coro<unknown> | null): void {
  const was = running;
  running = c;
  if (c === null && was !== null && (was._f & F_HOLDING) !== 0) endTurn(was);
}

function endTurn(c: Coro<unknown>): void {
  c._f &= ~F_HOLDING;
  const held = c._x!.held!;
  for (let i = 0; i < held.length; i++) held[i]!._settle();
  held.length = 0;
}

// Two shared iterator results: `yield*` reads `done` and `value` at once and never keeps the
// object, so reusing them makes a built-in operation cost no allocation per step.
const yielded: { done: false; value: unknown } = { done: false, value: undefined };
const returned: { done: true; value: unknown } = { done: true, value: undefined };

/**
 * The base of every built-in suspending operation (internal: users see {@link Op}). A subclass
 * says what starting the wait means ({@link Suspend._start}), what a timeout produces, and how to
 * forget the wait when the coroutine is woken another way. Instances hold only their arguments,
 * so one instance may be yielded by many coroutines.
 *
 * @internal
 */
export abstract class Suspend<T> implements Op<T>, Iterator<unknown, T, unknown> {
  [Symbol.iterator](): Iterator<unknown, T, unknown> {
    return this;
  }

  /**
   * The first call (from `yield*`) yields this operation to the scheduler; the second one (the
   * scheduler resuming the coroutine) returns the result. The coroutine's flag tells them apart,
   * since the operation object itself may be shared between coroutines.
   */
  next(value?: unknown): IteratorResult<unknown, T> {
    const c = running;
    if (c === null || (c._f & F_YIELDED) === 0) {
      if (c !== null) c._f |= F_YIELDED;
      yielded.value = this;
      return yielded;
    }
    c._f &= ~F_YIELDED;
    // The one unchecked cast in asyncoro: the scheduler resumes a coroutine suspended in this
    // operation only with the value the operation produced (its _start, its timeout, or the
    // waker it registered with), which is a T by construction of each subclass.
    returned.value = value as T;
    return returned as IteratorResult<unknown, T>;
  }

  /** An error thrown into the coroutine while it waits here propagates out of the `yield*`. */
  throw(err: unknown): IteratorResult<unknown, T> {
    if (running !== null) running._f &= ~F_YIELDED;
    throw err;
  }

  return(value?: unknown): IteratorResult<unknown, T> {
    if (running !== null) running._f &= ~F_YIELDED;
    returned.value = value;
    return returned as IteratorResult<unknown, T>;
  }

  /**
   * Starts the operation for `c`, which the scheduler has already marked suspended with this as
   * its pending operation. Returns the result when it is available at once, or {@link PENDING}
   * after registering a waker. May throw: the error is thrown into the coroutine.
   */
  abstract _start(c: Coro<unknown>): unknown;

  /**
   * The coroutine's timeout ran out while waiting here: return its result or throw, or return
   * {@link PENDING} to keep waiting for a wake that will come (a completion being cancelled).
   */
  _timeout(_c: Coro<unknown>): unknown {
    return undefined;
  }

  /** The coroutine was woken another way (throw, terminate): undo registrations that are not lazy. */
  _cancel(_c: Coro<unknown>): void {}
}
