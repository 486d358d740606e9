/**
 * Monitors and restarting in place. `target.notify(monitor)` (or `yield* monitor.monitor(target)`)
 * makes `monitor` receive a {@link MonitorStatus} message each time `target` ends. Until every
 * monitor has handled that message, the coroutine can be restarted in place with
 * `target.restart()` (or given a new function with `target.hotSwap(fn, ...args)`): the same Coro,
 * id, monitors and mailbox with its queued messages, running its function again from the start.
 * A coroutine that nobody restarts is released: its mailbox, arguments and monitor list are
 * dropped, and nothing of the scheduler's refers to it any more.
 *
 * "Handled" is counted on the notice (lib/core/notice.ts): a monitor decides in the turn it
 * receives the status, that is before its next suspension, unless it holds the status
 * ({@link MonitorStatus.hold}) to decide later.
 *
 * Monitors are anything with `send(msg)` and `isAlive` ({@link MonitorTarget}): a coroutine, a
 * channel, or (the peers layer) a proxy of a remote coroutine, to which the status travels as a
 * message. Targets are anything with `notify(monitor)` ({@link Monitorable}), so a proxy of a
 * remote coroutine can be monitored the same way: its monitors receive a {@link MonitorStatus}
 * whose `coro` is the proxy when it ends there, or when its peer is lost (kind `'error'`, a
 * `PeerLostError`). Only a monitor on the coroutine's own node can restart it: the network
 * forwards the status and does not hold it, so the coroutine is released (or restarted) by what
 * its local monitors decide.
 *
 * @module
 */
import {
  Coro,
  F_FAILED,
  F_FRESH,
  F_NOARGS,
  F_RESTARTABLE,
  F_TERMINATED,
  F_THROW,
  checkTimeout,
  sleep,
  type CoroFn,
} from '../core/coro.js';
import { CoroStateError } from '../core/errors.js';
import { Notice } from '../core/notice.js';
import type { Op } from '../core/op.js';
import { mailboxRestarted } from '../msg/mailbox.js';
import { setRemoteMonitorHooks } from '../remote/monitor-seam.js';
import type { RemoteCoro } from '../remote/refs.js';

/**
 * What can be told that a coroutine ended: a {@link Coro}, a `Channel` (which broadcasts the
 * notice to its subscribers), or a proxy of a remote coroutine.
 */
export interface MonitorTarget {
  send(msg: unknown): void;
  readonly isAlive: boolean;
  /**
   * Optional: told when a coroutine it monitors is restarted in place (after the status of its
   * end). The peers layer's relay uses it to tell a remote monitor that the coroutine lives again.
   */
  restarted?(coro: Coro): void;
}

/**
 * What can be monitored: a {@link Coro}, or a proxy of a remote one, whose answer is an operation
 * (it takes a round trip to the peer).
 */
export interface Monitorable {
  notify(monitor: MonitorTarget): boolean | Op<boolean>;
}

/** How a coroutine ended. */
export type ExitKind = 'normal' | 'error' | 'terminated';

/**
 * The message a monitor receives when a coroutine it watches ends.
 *
 * @example
 * ```ts
 * const st = yield* receive((m): m is MonitorStatus => m instanceof MonitorStatus);
 * if (st.kind === 'error') {
 *   console.log(`${st.coro} failed:`, st.error);
 *   if (st.coro instanceof Coro) st.coro.restart(); // a RemoteCoro can be restarted only on its own node
 * }
 * ```
 */
export class MonitorStatus extends Notice {
  /** The coroutine that ended: a {@link Coro}, or the proxy of one on a peer ({@link RemoteCoro}). */
  readonly coro: Coro | RemoteCoro;
  /** `'normal'` (it returned), `'error'` (an error left it), `'terminated'` (a `CoroExit` did). */
  readonly kind: ExitKind;
  /** What it returned (`'normal'`), else undefined. */
  readonly value: unknown;
  /** The error (`'error'`) or the `CoroExit` (`'terminated'`), else undefined. */
  readonly error: unknown;

  /** @internal Made by the monitors layer, and by the peers layer for a remote coroutine. */
  constructor(coro: Coro | RemoteCoro, kind: ExitKind, valueOrError: unknown) {
    super();
    this.coro = coro;
    this.kind = kind;
    this.value = kind === 'normal' ? valueOrError : undefined;
    this.error = kind === 'normal' ? undefined : valueOrError;
  }

  /** @internal The status of `c`'s last end. */
  static _of(c: Coro<unknown>): MonitorStatus {
    const f = c._f;
    const kind: ExitKind = (f & F_FAILED) !== 0 ? 'error' : (f & F_TERMINATED) !== 0 ? 'terminated' : 'normal';
    return new MonitorStatus(c as Coro, kind, c._v);
  }

  /**
   * True while the coroutine can still be restarted for this end: not restarted yet, and not
   * released. Always false for a remote coroutine (its own node decides).
   */
  get restartable(): boolean {
    const c = this.coro;
    return c instanceof Coro && (c._f & F_RESTARTABLE) !== 0 && c._x?.status === this;
  }

  /**
   * Keeps the coroutine restartable beyond the current turn, until the returned function is
   * called (once; later calls do nothing). For a decision that needs to wait: stopping siblings
   * first, asking elsewhere.
   *
   * @example
   * ```ts
   * const release = st.hold();
   * try { yield* stopSiblings(); worker.restart() } finally { release() }
   * ```
   */
  hold(): () => void {
    this._hold();
    let held = true;
    return () => {
      if (held) {
        held = false;
        this._settle();
      }
    };
  }

  /** @internal Every monitor has handled it: release the coroutine unless it was restarted. */
  protected _settled(): void {
    if (this.restartable) (this.coro as Coro)._release();
  }

  override toString(): string {
    return `MonitorStatus(${String(this.coro)} ${this.kind})`;
  }
}

/** @internal `c.notify(m)`. */
export function addMonitor(c: Coro<unknown>, m: MonitorTarget): boolean {
  if (m === null || typeof m !== 'object' || typeof m.send !== 'function') {
    throw new TypeError('a monitor is a Coro, a Channel, or has send(msg) and isAlive');
  }
  if (m === (c as unknown)) throw new CoroStateError(`${String(c)} cannot monitor itself`);
  if (!m.isAlive) return false;
  if (!c.isAlive && (c._f & F_RESTARTABLE) === 0) {
    // Ended and released: the monitor hears of the end at once, and that is all.
    tell([m], MonitorStatus._of(c));
    return true;
  }
  const x = c._extra();
  const list = (x.monitors ??= []);
  if (list.includes(m)) return false;
  list.push(m);
  // A restart needs the arguments: they are still in `_v` if the coroutine has not started.
  if ((c._f & (F_FRESH | F_THROW | F_NOARGS)) === F_FRESH) x.args = c._v as unknown[];
  if (x.status !== undefined) tell([m], x.status);
  return true;
}

/** @internal `c` (with monitors) has ended: tell them. Returns whether any was told. */
export function notifyMonitors(c: Coro<unknown>): boolean {
  const x = c._x!;
  const st = MonitorStatus._of(c);
  x.status = st;
  c._f |= F_RESTARTABLE;
  // Monitors that have ended are dropped. The others are told from a copy of the list: a
  // channel's transform may add a monitor meanwhile, which addMonitor tells itself.
  const live = (x.monitors = x.monitors!.filter((m) => m.isAlive));
  return tell(live.slice(), st) > 0;
}

/**
 * Sends `st` to each live monitor. The sender holds the notice meanwhile, so it cannot settle
 * half-way; if no monitor kept a hold, it settles when the sender lets go (and the coroutine is
 * released). A monitor whose `send` throws (a channel's transform, a proxy) does not keep the
 * others from being told; the first such error is rethrown at the end.
 */
function tell(monitors: MonitorTarget[], st: MonitorStatus): number {
  st._hold();
  let told = 0;
  let failure: { err: unknown } | undefined;
  for (const m of monitors) {
    if (!m.isAlive) continue;
    try {
      m.send(st);
      told++;
    } catch (err) {
      failure ??= { err };
    }
  }
  st._settle();
  if (failure !== undefined) throw failure.err;
  return told;
}

/** @internal `yield* c.monitor(target)`. */
export function* monitorOp(c: Coro<unknown>, target: Monitorable): Generator<unknown, boolean, unknown> {
  if (target === null || typeof target !== 'object' || typeof target.notify !== 'function') {
    throw new TypeError('monitor() needs a Coro (or a proxy of a remote one)');
  }
  const r = target.notify(c as Coro);
  return typeof r === 'boolean' ? r : yield* r;
}

/**
 * @internal Restarts `c` in place: `c.restart()` (fn undefined: its own function and arguments)
 * and `c.hotSwap(fn, ...args)` on a coroutine that has ended.
 */
export function restartCoro(c: Coro<unknown>, fn: CoroFn<unknown, any> | undefined, args: readonly unknown[] | undefined, delay: number): void {
  checkTimeout(delay);
  if (c.isAlive) throw new CoroStateError(`${String(c)} is running: only a coroutine that has ended can be restarted`, 'ERR_ALIVE');
  if ((c._f & F_RESTARTABLE) === 0) {
    throw new CoroStateError(
      `${String(c)} has been released: a coroutine can be restarted only until its monitors have handled its MonitorStatus`,
      'ERR_RELEASED',
    );
  }
  if (c._s.isClosed) throw new CoroStateError('cannot restart on a closed scheduler', 'ERR_CLOSED');
  const x = c._x!;
  if (fn === undefined) {
    fn = c._n;
    args = (c._f & F_NOARGS) !== 0 ? [] : x.args;
    if (args === undefined) {
      throw new CoroStateError(
        `the arguments of ${String(c)} were not kept (it was first monitored after it had started): restart it with hotSwap(fn, ...args)`,
        'ERR_NO_ARGS',
      );
    }
  }
  x.status = undefined;
  x.promise = x.resolve = x.reject = undefined;
  c._load(fn, args!, args!);
  if (delay > 0) c._g = delayedStart(delay, c._g!);
  if (x.mbox !== undefined) mailboxRestarted(x.mbox);
  c._s._adopt(c);
  for (const m of x.monitors!) if (m.restarted !== undefined) m.restarted(c as Coro);
}

// The peers layer's half of monitoring across the network (lib/remote/monitor-seam.ts): a relay
// on this node monitors a local coroutine for a remote monitor, and the statuses that come back
// from peers are MonitorStatus messages like local ones.
setRemoteMonitorHooks({
  notify: (c, target) => addMonitor(c as Coro<unknown>, target),
  status: (coro, kind, valueOrError) => new MonitorStatus(coro, kind, valueOrError),
  unpack(st) {
    const s = st as MonitorStatus;
    return [s.kind, s.kind === 'normal' ? s.value : s.error];
  },
});

/** A restart with a delay: the new run waits first (and can be terminated meanwhile). */
function* delayedStart(ms: number, g: Generator<unknown, unknown, unknown>): Generator<unknown, unknown, unknown> {
  yield* sleep(ms);
  return yield* g;
}
