/**
 * Hot swap: replacing a running coroutine's function without stopping it. The coroutine says
 * when it may be swapped with {@link hotSwappable}; `coro.hotSwap(fn, ...args)` asks from
 * anywhere. The request is offered as a {@link HotSwap} error thrown in at the coroutine's next
 * suspension point while it is swappable (at once if it is waiting now). If the error leaves the
 * generator, the scheduler replaces the generator with `fn(...args)` (lib/core/scheduler.ts, where
 * the coroutine would have ended): the coroutine keeps its id, mailbox, monitors, name and
 * registration, and its monitors hear nothing. If the coroutine catches it, the swap is refused
 * and is not offered again.
 *
 * JavaScript's `yield*` delegation is invisible to the scheduler, so it cannot tell a suspension
 * in the coroutine's own loop from one inside a helper it called: "top level" is what the
 * coroutine declares by turning `hotSwappable` on where a swap is safe (typically around the
 * `receive` of its main loop) and off around the rest.
 *
 * @module
 */
import { F_FRESH, F_PENDING_THROW, F_SWAPPABLE, S_READY, S_SUSPENDED, type Coro, type CoroFn } from '../core/coro.js';
import { HotSwap, NotInCoroError } from '../core/errors.js';
import { running } from '../core/op.js';
import { restartCoro } from './monitor.js';

/**
 * Marks the running coroutine as hot-swappable (or not). A swap asked for while it was not
 * swappable waits, and is offered at the coroutine's next suspension point once it is. Returns
 * the previous setting. A new run (after a swap or a restart) starts not swappable.
 *
 * @example
 * ```ts
 * function* server() {
 *   for (;;) {
 *     hotSwappable(true);
 *     const req = yield* receive<Request>(); // a swap may happen while waiting here
 *     hotSwappable(false);
 *     yield* handle(req);                    // never in the middle of a request
 *   }
 * }
 * ```
 */
export function hotSwappable(on = true): boolean {
  const c = running;
  if (c === null) throw new NotInCoroError('hotSwappable()');
  const was = (c._f & F_SWAPPABLE) !== 0;
  if (on) {
    c._f |= F_SWAPPABLE;
    if (c._x?.swap !== undefined) offerSwap(c);
  } else {
    c._f &= ~F_SWAPPABLE;
  }
  return was;
}

/** @internal `c.hotSwap(fn, ...args)`. */
export function requestSwap(c: Coro<unknown>, fn: CoroFn<unknown, any>, args: unknown[]): void {
  if (typeof fn !== 'function') throw new TypeError('hotSwap() needs a generator function');
  if (!c.isAlive) {
    // An ended coroutine that may still be restarted is restarted with the new function.
    restartCoro(c, fn, args, 0);
    return;
  }
  c._extra().swap = new HotSwap(c as Coro, fn, args);
  if ((c._f & F_SWAPPABLE) !== 0) offerSwap(c);
}

/** @internal Offers the pending swap of a swappable coroutine, if it was not offered yet. */
export function offerSwap(c: Coro<unknown>): void {
  const req = c._x!.swap!;
  if (req._offered) return;
  const st = c._f & 3;
  if (st === S_SUSPENDED) {
    req._offered = true;
    c._s._interrupt(c, req);
    return;
  }
  // Running, or woken and not run yet: at its next suspension point, through the slot throw()
  // uses for the same purpose. If an error from throw() already waits there, the swap waits
  // for the next hotSwappable(true).
  if ((c._f & F_PENDING_THROW) !== 0 || (st === S_READY && (c._f & F_FRESH) !== 0)) return;
  req._offered = true;
  c._x!.pendingThrow = req;
  c._f |= F_PENDING_THROW;
}

/**
 * @internal The scheduler saw `err` (a HotSwap) leave `c`'s generator: if it is `c`'s pending
 * request, `c` now runs the new function and this returns true.
 */
export function swapIn(c: Coro<unknown>, err: HotSwap): boolean {
  const x = c._x;
  if (err.coro !== (c as unknown) || x === undefined || x.swap !== err) return false;
  x.swap = undefined;
  c._load(err.fn, err.args, err._handed ? [...err.args, err._state] : err.args);
  return true;
}
