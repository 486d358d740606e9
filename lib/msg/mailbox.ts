/**
 * Mailboxes: every coroutine has one, allocated with its first message. `send` never blocks;
 * `receive` takes the oldest message, or with a predicate the oldest one the predicate accepts
 * (Erlang's selective receive), leaving the others in order. A message sent to a coroutine that is
 * waiting for it is handed over directly, without touching the mailbox.
 *
 * Notices (a `MonitorStatus`) are counted as they pass (see lib/core/notice.ts): a copy queued in
 * a live coroutine's mailbox holds the notice, and so does a coroutine that took it, until its
 * turn ends.
 *
 * @module
 */
import { F_RESTARTABLE, S_DONE, S_SUSPENDED, checkTimeout, type Coro } from '../core/coro.js';
import { NotInCoroError } from '../core/errors.js';
import { Notice } from '../core/notice.js';
import { F_HOLDING, PENDING, Suspend, running, type Op } from '../core/op.js';
import { Ring } from '../core/ring.js';

/** @internal A coroutine's queued messages. */
export type Mailbox = Ring<unknown>;

/** @internal */
export class ReceiveOp<M> extends Suspend<M> {
  constructor(
    readonly timeout: number | undefined,
    readonly alarm: unknown,
    readonly accept: ((msg: unknown) => boolean) | undefined,
  ) {
    super();
  }

  _start(c: Coro<unknown>): unknown {
    const box = c._x?.mbox;
    if (box !== undefined && box.length > 0) {
      const accept = this.accept;
      if (accept === undefined) return taken(c, box.shift());
      for (let i = 0; i < box.length; i++) {
        if (accept(box.at(i))) return taken(c, box.removeAt(i));
      }
    }
    if (this.timeout !== undefined) c._s._addTimer(c, this.timeout);
    return PENDING;
  }

  override _timeout(): unknown {
    return this.alarm;
  }
}

const RECEIVE_ANY = new ReceiveOp<unknown>(undefined, undefined, undefined);

/**
 * @internal Queues `msg` for `to`, or hands it over if `to` waits in a receive that accepts it.
 * A predicate that throws makes the receiver's `receive` throw that error (the message stays
 * queued). A coroutine that has ended is sent nothing, unless it may still be restarted: then the
 * message waits for its next run.
 */
export function deliverLocal(to: Coro<unknown>, msg: unknown): void {
  const f = to._f & 3;
  if (f === S_DONE) {
    // Its mailbox does not hold a notice: a coroutine that has ended cannot act on it.
    if ((to._f & F_RESTARTABLE) !== 0) queue(to, msg);
    return;
  }
  const notice = msg instanceof Notice;
  if (notice) msg._hold();
  if (f === S_SUSPENDED) {
    const op = to._v;
    if (op === RECEIVE_ANY) {
      handOver(to, msg, notice);
      return;
    }
    if (op instanceof ReceiveOp) {
      const accept = op.accept;
      if (accept === undefined) {
        handOver(to, msg, notice);
        return;
      }
      let ok: boolean;
      try {
        ok = accept(msg);
      } catch (err) {
        queue(to, msg);
        to._s._wakeNow(to, err, true);
        return;
      }
      if (ok) {
        handOver(to, msg, notice);
        return;
      }
    }
  }
  queue(to, msg);
}

function queue(to: Coro<unknown>, msg: unknown): void {
  (to._extra().mbox ??= new Ring<unknown>(4)).push(msg);
}

function handOver(to: Coro<unknown>, msg: unknown, notice: boolean): void {
  if (notice) took(to, msg as Notice);
  to._s._wakeNow(to, msg, false);
}

/** A message leaves `c`'s mailbox for `c`: a notice is now held by `c`'s turn (the same hold). */
function taken(c: Coro<unknown>, msg: unknown): unknown {
  if (msg instanceof Notice) took(c, msg);
  return msg;
}

function took(c: Coro<unknown>, n: Notice): void {
  (c._extra().held ??= []).push(n);
  c._f |= F_HOLDING;
}

/** @internal The mailbox's owner has ended: it no longer holds the notices queued there. */
export function mailboxEnded(box: Mailbox): void {
  for (let i = 0; i < box.length; i++) {
    const m = box.at(i);
    if (m instanceof Notice) m._settle();
  }
}

/** @internal The mailbox's owner was restarted: it holds the notices queued there again. */
export function mailboxRestarted(box: Mailbox): void {
  for (let i = 0; i < box.length; i++) {
    const m = box.at(i);
    if (m instanceof Notice) m._hold();
  }
}

/**
 * Takes the oldest message from the running coroutine's mailbox, waiting for one if it is empty.
 * With `timeout` (ms), returns `alarmValue` when none came in time. The type parameter is what
 * the caller expects to receive; mailboxes themselves are untyped. Given a predicate first, it is
 * the selective receive of {@link receiveMatching}.
 *
 * @example
 * ```ts
 * const msg = yield* receive<string>();
 * const maybe = yield* receive<string | null>(100, null);
 * const big = yield* receive((m) => typeof m === 'number' && m > 100);
 * ```
 */
export function receive<M = unknown>(timeout?: number, alarmValue?: M): Op<M>;
export function receive<M>(accept: (msg: unknown) => msg is M, timeout?: number, alarmValue?: M): Op<M>;
export function receive<M = unknown>(accept: (msg: unknown) => boolean, timeout?: number, alarmValue?: M): Op<M>;
export function receive<M>(a?: number | ((msg: unknown) => boolean), b?: unknown, c?: unknown): Op<M> {
  if (typeof a === 'function') return receiveMatching<M>(a, b as number | undefined, c as M | undefined);
  checkTimeout(a);
  if (a === undefined) return RECEIVE_ANY as ReceiveOp<M>;
  return new ReceiveOp<M>(a, b, undefined);
}

/**
 * Selective receive: takes the oldest message that `accept` returns true for, leaving the others
 * queued in order; waits for one if none is there. With `timeout`, returns `alarmValue` when none
 * came in time.
 *
 * @example
 * ```ts
 * // Take the reply to request 7 and leave other messages for later.
 * const reply = yield* receiveMatching((m): m is Reply => (m as Reply).id === 7, 1000);
 * ```
 */
export function receiveMatching<M>(accept: (msg: unknown) => msg is M, timeout?: number, alarmValue?: M): Op<M>;
export function receiveMatching<M = unknown>(accept: (msg: unknown) => boolean, timeout?: number, alarmValue?: M): Op<M>;
export function receiveMatching<M>(accept: (msg: unknown) => boolean, timeout?: number, alarmValue?: M): Op<M> {
  if (typeof accept !== 'function') throw new TypeError('receiveMatching() needs a predicate function');
  checkTimeout(timeout);
  return new ReceiveOp<M>(timeout, alarmValue, accept);
}

/**
 * How many messages wait in the running coroutine's mailbox (or `coro`'s).
 *
 * @example
 * ```ts
 * if (pending() > 1000) console.warn('falling behind');
 * ```
 */
export function pending(coro?: Coro<unknown>): number {
  const c = coro ?? running;
  if (c === null) throw new NotInCoroError('pending()');
  return c._x?.mbox?.length ?? 0;
}
