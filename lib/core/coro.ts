/**
 * `Coro`: one generator driven by a scheduler, with its mailbox, its result and the free
 * functions that act on the running coroutine (`self`, `sleep`, `suspend`, `spawn`).
 *
 * Memory matters here (a suspended coroutine is meant to cost a few hundred bytes with its
 * generator), so a Coro holds eight fields and everything optional (name given by the user,
 * mailbox, waiters for its end, its promise, registration, monitors) lives in an extra record
 * allocated on first use.
 *
 * Restarting a coroutine in place needs its function and arguments. The function is always in
 * `_n`. The arguments cost nothing extra: a coroutine spawned without any says so in a flag bit;
 * otherwise they wait in `_v` until its first step (the value a fresh generator's first `next()`
 * ignores), and are copied to the extra record only if a monitor is added before then
 * (lib/supervise/monitor.ts).
 *
 * @module
 */
import { DeadlockError, NotInCoroError, TerminatedError, TimeoutError, CoroExit, type HotSwap } from './errors.js';
import type { Notice } from './notice.js';
import { PENDING, Suspend, running, type Op } from './op.js';
import { WaitQueue } from './waitqueue.js';
import { defaultScheduler, type Scheduler } from './scheduler.js';
import { deliverLocal, mailboxEnded, mailboxRestarted, type Mailbox } from '../msg/mailbox.js';
import {
  addMonitor,
  monitorOp,
  notifyMonitors,
  restartCoro,
  type Monitorable,
  type MonitorStatus,
  type MonitorTarget,
} from '../supervise/monitor.js';
import { requestSwap, swapIn } from '../supervise/hotswap.js';
import { remoteLocate, type LocateOptions } from '../remote/locate-hook.js';
import type { RemoteCoro } from '../remote/refs.js';

/** @internal State bits (the low two bits of `Coro._f`). */
export const S_READY = 0;
export const S_RUNNING = 1;
export const S_SUSPENDED = 2;
export const S_DONE = 3;
/** @internal `_v` holds an error to throw in rather than a value to send in. */
export const F_THROW = 4;
// 8 is F_YIELDED (op.ts)
/** @internal The coroutine does not keep `run()` or the process alive. */
export const F_DAEMON = 16;
/** @internal The current wait has an entry in the timer heap. */
export const F_TIMED = 32;
/** @internal Ended by an error (not CoroExit). */
export const F_FAILED = 64;
/** @internal Ended by a CoroExit. */
export const F_TERMINATED = 128;
/** @internal An error waits in `_x.pendingThrow` for the next suspension point. */
export const F_PENDING_THROW = 256;
// 512 is F_HOLDING (op.ts)
/**
 * @internal Created (or restarted, or swapped) and not stepped yet: `_v` holds its arguments, or
 * undefined. The scheduler clears it at the first step.
 */
export const F_FRESH = 1024;
/** @internal Its function was called with no arguments (so a restart needs none kept). */
export const F_NOARGS = 2048;
/** @internal Ended, and may still be restarted in place: a notice of its end is being handled. */
export const F_RESTARTABLE = 4096;
/** @internal Marked swappable by `hotSwappable(true)`. */
export const F_SWAPPABLE = 8192;

/**
 * A generator function a coroutine runs; its `this` is the Coro.
 *
 * @example
 * ```ts
 * const worker: CoroFn<number, [number]> = function* (n) { yield* sleep(n); return n };
 * ```
 */
export type CoroFn<R, A extends unknown[]> = (this: Coro<any>, ...args: A) => Generator<unknown, R, any>;

/** @internal Optional per-coroutine state, allocated on first use. */
export interface CoroExtra {
  name?: string;
  mbox?: Mailbox;
  joiners?: WaitQueue;
  promise?: Promise<unknown>;
  resolve?: (v: unknown) => void;
  reject?: (e: unknown) => void;
  registered?: string;
  pendingThrow?: unknown;
  /** Whom to tell when it ends (lib/supervise/monitor.ts). */
  monitors?: MonitorTarget[];
  /** The arguments of its function, kept for a restart once it is monitored. */
  args?: readonly unknown[];
  /** The notice of its last end, while it may be restarted. */
  status?: MonitorStatus;
  /** Notices it took during its current turn (F_HOLDING). */
  held?: Notice[];
  /** A hot swap asked for and not done yet. */
  swap?: HotSwap;
}

let nextId = 1;
let spawnTarget: Scheduler | undefined;

/** @internal Creates a coroutine on scheduler `s` (what `scheduler.spawn` uses). */
export function spawnOn<R>(s: Scheduler, fn: CoroFn<R, any>, args: unknown[]): Coro<R> {
  spawnTarget = s;
  try {
    return new Coro<R>(fn, ...args);
  } finally {
    spawnTarget = undefined;
  }
}

/**
 * A coroutine: a generator function run by a {@link Scheduler}, suspended at each `yield*` of an
 * {@link Op} and resumed when the operation completes. Create one with {@link spawn} (or
 * `new Coro(fn, ...args)`, or `scheduler.spawn`); it is scheduled at once.
 *
 * @example
 * ```ts
 * const echo = spawn(function* () {
 *   for (;;) {
 *     const [from, text] = yield* receive<[Coro, string]>();
 *     from.send(text.toUpperCase());
 *   }
 * });
 * echo.daemon = true;
 * ```
 */
export class Coro<R = unknown> {
  /** @internal The generator; null once the coroutine has ended. */
  _g: Generator<unknown, R, unknown> | null;
  /** @internal The scheduler that runs it. */
  readonly _s: Scheduler;
  /** A process-wide unique number. */
  readonly id: number;
  /** @internal State and flag bits (S_*, F_*). */
  _f: number;
  /**
   * @internal One slot, three uses by state: while suspended, the operation it waits in; while
   * ready, the value (or error, with F_THROW) to resume with; once ended, its result.
   */
  _v: unknown;
  /** @internal Wait sequence: bumped at every wake, so stale wakers (timers, queues) are ignored. */
  _q: number;
  /** @internal The generator function: for the default name, and for restarts. */
  _n: CoroFn<R, any>;
  /** @internal Optional state. */
  _x: CoroExtra | undefined;

  /**
   * Creates a coroutine running `fn(...args)` (with `this` the coroutine) and schedules it on the
   * scheduler of the running coroutine, or the default scheduler outside coroutines.
   */
  constructor(fn: CoroFn<R, any>, ...args: any[]);
  /** @internal */
  constructor(fn: CoroFn<R, any>, ...args: any[]) {
    const s = spawnTarget ?? running?._s ?? defaultScheduler();
    spawnTarget = undefined;
    if (typeof fn !== 'function') throw new TypeError('a coroutine needs a generator function');
    this._s = s;
    this.id = nextId++;
    this._f = S_READY | F_FRESH | F_NOARGS;
    this._v = undefined;
    this._q = 0;
    this._n = fn;
    this._x = undefined;
    if (args.length !== 0) {
      // Kept until the first step, for a monitor added before then (module description). Only
      // on this path does the rest array escape, so without arguments V8 need not allocate it.
      this._f = S_READY | F_FRESH;
      this._v = args;
    }
    this._g = checkGenerator(fn.apply(this, args), fn);
    s._adopt(this as Coro<unknown>);
  }

  /** @internal The operation a suspended coroutine waits in (its `_v`), else null. */
  _pendingOp(): Suspend<unknown> | null {
    return (this._f & 3) === S_SUSPENDED ? (this._v as Suspend<unknown>) : null;
  }

  /** @internal */
  _extra(): CoroExtra {
    return (this._x ??= {});
  }

  /** The coroutine's name: the one given, else its generator function's name, else `'coro'`. */
  get name(): string {
    return this._x?.name ?? (this._n.name || 'coro');
  }
  set name(v: string) {
    this._extra().name = String(v);
  }

  /** True until the generator has returned or thrown. */
  get isAlive(): boolean {
    return (this._f & 3) !== S_DONE;
  }

  /**
   * A daemon coroutine keeps neither `scheduler.run()` nor the process alive: they end when only
   * daemons are left.
   */
  get daemon(): boolean {
    return (this._f & F_DAEMON) !== 0;
  }
  set daemon(on: boolean) {
    if (on === this.daemon) return;
    this._f ^= F_DAEMON;
    if (this.isAlive) this._s._daemonChanged(on);
  }

  /** The scheduler running this coroutine. */
  get scheduler(): Scheduler {
    return this._s;
  }

  /**
   * Puts `msg` in the coroutine's mailbox; never blocks. A message to a coroutine that has ended
   * is dropped (as in Erlang), unless the coroutine may still be restarted in place
   * ({@link restart}): then it waits for the next run. If the coroutine is waiting in a
   * `receive` that accepts the message, it gets the message directly.
   *
   * @example
   * ```ts
   * worker.send({ job: 42, replyTo: self() });
   * ```
   */
  send(msg: unknown): void {
    deliverLocal(this as Coro<unknown>, msg);
  }

  /**
   * Sends `msg` and tells how many recipients got it: 1 for a live local coroutine (queued in its
   * mailbox) or an ended one that may still be restarted (kept for its next run), 0 for another
   * ended one. The timeout is for recipients that must acknowledge (remote
   * coroutines, a later issue); a local one answers at once.
   *
   * @example
   * ```ts
   * const n: number = yield* peer.deliver('ping', 1000);
   * ```
   */
  deliver(msg: unknown, timeout?: number): Op<number> {
    checkTimeout(timeout);
    return new DeliverOp(this as Coro<unknown>, msg);
  }

  /**
   * Wakes the coroutine if it is waiting in {@link suspend} or {@link sleep}, which then return
   * `value`. Returns false (and does nothing) when it is not waiting there.
   *
   * @example
   * ```ts
   * const c = spawn(function* () { return yield* suspend() });
   * c.resume('go'); // c ends with 'go'
   * ```
   */
  resume(value?: unknown): boolean {
    if ((this._f & 3) !== S_SUSPENDED || !(this._v instanceof SuspendOp)) return false;
    this._s._wakeNow(this as Coro<unknown>, value, false);
    return true;
  }

  /**
   * Throws `err` into the coroutine where it waits (or where it would start, if it has not run
   * yet; or, if it was already woken and has not run since, at its next suspension point, so the
   * result of its last wait, such as a lock handed over to it, is not lost). Returns false if it
   * has ended. Called by the coroutine on itself, it throws `err` at
   * once, which is the same place.
   *
   * @example
   * ```ts
   * worker.throw(new Error('cancelled by user'));
   * ```
   */
  throw(err: unknown): boolean {
    const st = this._f & 3;
    if (st === S_DONE) return false;
    if (st === S_RUNNING) throw err;
    if (st === S_READY) {
      if ((this._f & F_FRESH) !== 0) {
        // Not started yet: the error ends it where it would start.
        this._v = err;
        this._f |= F_THROW;
      } else {
        // Woken but not yet run: its wait has already produced a result (a lock handed over, a
        // queue item taken), which must not be lost. It gets that result, and the error at its
        // next suspension point.
        this._extra().pendingThrow = err;
        this._f |= F_PENDING_THROW;
      }
      return true;
    }
    this._s._interrupt(this as Coro<unknown>, err);
    return true;
  }

  /**
   * Ends the coroutine by throwing a {@link CoroExit} into it where it waits, so its `finally`
   * blocks run to the end even if they suspend. Returns false if it had already ended. Called on
   * itself, it throws the `CoroExit` at once. Each call throws one `CoroExit`, so a cleanup that
   * hangs can be terminated again.
   *
   * @example
   * ```ts
   * const c = spawn(function* () {
   *   try { yield* sleep(60_000) } finally { yield* sleep(5); console.log('cleaned up') }
   * });
   * c.terminate();
   * ```
   */
  terminate(): boolean {
    return this.throw(new CoroExit());
  }

  /**
   * Makes this coroutine a monitor of `target`: each time `target` ends (normally, with an
   * error, or terminated) this coroutine receives a {@link MonitorStatus} message, and may restart
   * it. Returns false if it was watching already. A target that has already ended is reported at
   * once. It is an operation because watching a remote coroutine (the peers layer) takes a round
   * trip; a local one answers at once.
   *
   * @example
   * ```ts
   * const worker = spawn(work, 'job-1');
   * yield* self().monitor(worker);
   * const st = yield* receive((m): m is MonitorStatus => m instanceof MonitorStatus);
   * if (st.kind === 'error') worker.restart();
   * ```
   */
  monitor(target: Monitorable): Op<boolean> {
    return monitorOp(this as Coro<unknown>, target);
  }

  /**
   * Tells `monitor` (a coroutine, a channel, or anything with `send(msg)` and `isAlive`) with a
   * {@link MonitorStatus} message each time this coroutine ends; `target.notify(m)` is
   * `m.monitor(target)` said from the other side, callable from anywhere. Returns false if
   * `monitor` was told already or has ended. Add monitors before the coroutine first runs to
   * keep its arguments for {@link restart}.
   *
   * @example
   * ```ts
   * const worker = spawn(work, 'job-1');
   * worker.notify(supervisor);
   * ```
   */
  notify(monitor: MonitorTarget): boolean {
    return addMonitor(this as Coro<unknown>, monitor);
  }

  /**
   * Restarts in place a coroutine that has ended: the same Coro (id, monitors, and mailbox with
   * its queued messages) runs its function again from the start, with the same arguments; with
   * `delay`, the new run starts after `delay` ms. A coroutine can be restarted from its end until
   * each of its monitors has handled the {@link MonitorStatus}: a monitor decides in the turn it
   * receives it (before it next suspends), or holds it ({@link MonitorStatus.hold}). After that
   * the coroutine is released.
   *
   * Throws {@link CoroStateError}: `ERR_ALIVE` while it runs, `ERR_RELEASED` once released,
   * `ERR_NO_ARGS` if it was spawned with arguments and first monitored after it had started (its
   * arguments were not kept; `hotSwap(fn, ...args)` restarts it with arguments given).
   *
   * @example
   * ```ts
   * const st = yield* receive((m): m is MonitorStatus => m instanceof MonitorStatus && m.coro === worker);
   * if (st.kind !== 'normal') worker.restart({ delay: 100 });
   * ```
   */
  restart(options: { delay?: number } = {}): this {
    restartCoro(this as Coro<unknown>, undefined, undefined, options.delay ?? 0);
    return this;
  }

  /**
   * Replaces the coroutine's function with `fn(...args)`, keeping its id and mailbox. A running
   * coroutine is offered a {@link HotSwap} error at its next suspension point once it has
   * declared itself swappable ({@link hotSwappable}); letting the error through accepts the
   * swap, catching it refuses it. On a coroutine that has ended and can still be restarted, it
   * restarts it with the new function. Throws {@link CoroStateError} (`ERR_RELEASED`) on one
   * that has been released.
   *
   * @example
   * ```ts
   * server.hotSwap(serverV2, config);
   * ```
   */
  hotSwap<A extends unknown[]>(fn: CoroFn<unknown, A>, ...args: A): void {
    requestSwap(this as Coro<unknown>, fn as CoroFn<unknown, any>, args);
  }

  /**
   * A Promise of the coroutine's result, for async/await code. It rejects with the error that
   * ended the coroutine, or with a {@link TerminatedError} if it was terminated.
   *
   * @example
   * ```ts
   * const c = spawn(function* () { yield* sleep(10); return 42 });
   * console.log(await c.value()); // 42
   * ```
   */
  value(): Promise<R> {
    const x = this._extra();
    if (x.promise === undefined) {
      if ((this._f & 3) === S_DONE) {
        x.promise = this._outcomeIsError() ? Promise.reject(this._outcomeError()) : Promise.resolve(this._v);
      } else {
        x.promise = new Promise<unknown>((res, rej) => {
          x.resolve = res;
          x.reject = rej;
        });
      }
    }
    return x.promise as Promise<R>;
  }

  /**
   * Waits inside another coroutine for this one to end and returns its result; throws its error
   * (or {@link TerminatedError}), or {@link TimeoutError} after `timeout` ms.
   *
   * @example
   * ```ts
   * const result = yield* worker.finish(5000);
   * ```
   */
  finish(timeout?: number): Op<R> {
    checkTimeout(timeout);
    return new FinishOp<R>(this, timeout);
  }

  /**
   * Registers the coroutine under `name` (default: its name) so {@link Coro.locate} finds it on
   * its scheduler; the registration ends with the coroutine. A name that is taken throws
   * {@link CoroStateError}.
   *
   * @example
   * ```ts
   * spawn(function* () { self().register('logger'); for (;;) console.log(yield* receive()) });
   * Coro.locate('logger')?.send('hello');
   * ```
   */
  register(name: string = this.name): this {
    this._s._register(name, this as Coro<unknown>);
    return this;
  }

  /** Removes the coroutine's registration, if any. */
  unregister(): void {
    const n = this._x?.registered;
    if (n !== undefined) this._s._unregister(n, this as Coro<unknown>);
  }

  /**
   * The coroutine registered under `name` on the running coroutine's scheduler (or the default
   * scheduler outside coroutines), or undefined.
   *
   * @example
   * ```ts
   * const logger = Coro.locate('logger');
   * ```
   */
  static locate(name: string): Coro | undefined;
  /**
   * With options, an operation that looks among peers too: on the peer at `location` only, or
   * on this scheduler and then every peer online (the first to answer), for up to `timeout` ms.
   * Gives the local coroutine or a {@link RemoteCoro} proxy, or undefined.
   *
   * @example
   * ```ts
   * const logger = yield* Coro.locate('logger', { location: '10.0.0.2:9705', timeout: 2000 });
   * ```
   */
  static locate(name: string, options: LocateOptions): Op<Coro | RemoteCoro | undefined>;
  static locate(name: string, options?: LocateOptions): Coro | undefined | Op<Coro | RemoteCoro | undefined> {
    if (options !== undefined) return remoteLocate(0, name, options) as Op<Coro | RemoteCoro | undefined>;
    const s = running?._s ?? defaultScheduler();
    return s.locate(name);
  }

  toString(): string {
    return `Coro(${this.name}/${this.id})`;
  }

  /**
   * @internal The scheduler ended a coroutine that has an extra record: wakes the waiters,
   * settles the promise, tells the monitors, and releases what the coroutine holds unless a
   * monitor may restart it. Returns whether a monitor was told (a failure is then not reported to
   * onError).
   */
  _ended(): boolean {
    const x = this._x!;
    x.pendingThrow = undefined;
    if (x.swap !== undefined) x.swap = undefined;
    if (x.registered !== undefined) this.unregister();
    const failed = this._outcomeIsError();
    const outcome = failed ? this._outcomeError() : this._v;
    if (x.joiners !== undefined) x.joiners.wakeAll(outcome, failed);
    if (x.resolve !== undefined) {
      if (failed) x.reject!(outcome);
      else x.resolve(outcome);
      x.resolve = x.reject = undefined;
    }
    if (x.mbox !== undefined) mailboxEnded(x.mbox);
    if (x.monitors === undefined) {
      this._release();
      return false;
    }
    return notifyMonitors(this as Coro<unknown>);
  }

  /**
   * @internal Drops what an ended coroutine kept for a restart: its mailbox, monitors, arguments
   * and the notice of its end. Its result stays for `value()` and `finish()`.
   */
  _release(): void {
    this._f &= ~F_RESTARTABLE;
    const x = this._x;
    if (x === undefined) return;
    // Only the fields that are there: assigning the others would add properties to the record.
    if (x.mbox !== undefined) x.mbox = undefined;
    if (x.joiners !== undefined) x.joiners = undefined;
    if (x.held !== undefined) x.held = undefined;
    if (x.monitors !== undefined) x.monitors = x.args = x.status = undefined;
  }

  /**
   * @internal A new run (restart, hot swap): `fn(...call)` becomes the generator; `args` are what
   * a later restart passes again. A function that does not return a generator makes the run fail
   * at its first step, as an error its monitors hear of.
   */
  _load(fn: CoroFn<R, any>, args: readonly unknown[], call: readonly unknown[]): void {
    let g: Generator<unknown, R, unknown>;
    try {
      g = checkGenerator(fn.apply(this, call as unknown[]), fn);
    } catch (err) {
      g = failWith(err) as Generator<unknown, R, unknown>;
    }
    this._g = g;
    this._n = fn;
    this._v = args.length === 0 ? undefined : args;
    this._f = (this._f & (F_DAEMON | F_PENDING_THROW)) | S_READY | F_FRESH | (args.length === 0 ? F_NOARGS : 0);
    this._q = (this._q + 1) | 0;
    const x = this._x;
    if (x !== undefined && x.monitors !== undefined) x.args = args;
  }

  /** @internal A HotSwap left the generator: true if it was this coroutine's swap (now done). */
  _swapIn(err: HotSwap): boolean {
    return swapIn(this as Coro<unknown>, err);
  }

  /** @internal */
  _outcomeIsError(): boolean {
    return (this._f & (F_FAILED | F_TERMINATED)) !== 0;
  }

  /** @internal The error a waiter sees for an ended coroutine that did not return. */
  _outcomeError(): unknown {
    return (this._f & F_TERMINATED) !== 0 ? new TerminatedError(String(this), this._v) : this._v;
  }
}

function* failWith(err: unknown): Generator<never, never, unknown> {
  throw err;
}

function checkGenerator<R>(g: Generator<unknown, R, unknown>, fn: CoroFn<R, any>): Generator<unknown, R, unknown> {
  if (g === null || typeof g !== 'object' || typeof g.next !== 'function' || typeof g.throw !== 'function') {
    throw new TypeError(`${fn.name || 'a coroutine function'} did not return a generator: use function*`);
  }
  return g;
}

/** @internal */
export function checkTimeout(timeout: number | undefined): void {
  if (timeout !== undefined && !(timeout >= 0)) {
    throw new RangeError(`a timeout must be a number of milliseconds >= 0 (or undefined), got ${timeout}`);
  }
}

/**
 * The running coroutine. Throws {@link NotInCoroError} outside coroutines.
 *
 * @example
 * ```ts
 * spawn(function* () { console.log(self().name) });
 * ```
 */
export function self(): Coro {
  if (running === null) throw new NotInCoroError('self()');
  return running;
}

/**
 * Starts a coroutine running `fn(...args)` on the running coroutine's scheduler, or the default
 * scheduler outside coroutines; it is scheduled at once.
 *
 * @example
 * ```ts
 * const c = spawn(function* (n: number) { yield* sleep(n); return n * 2 }, 10);
 * ```
 */
export function spawn<R, A extends unknown[]>(fn: CoroFn<R, A>, ...args: A): Coro<R> {
  return new Coro<R>(fn as CoroFn<R, any>, ...args);
}

/** @internal */
export class SuspendOp<T> extends Suspend<T> {
  constructor(
    readonly timeout: number | undefined,
    readonly alarm: T | undefined,
  ) {
    super();
  }
  _start(c: Coro<unknown>): unknown {
    if (this.timeout !== undefined) c._s._addTimer(c, this.timeout);
    return PENDING;
  }
  override _timeout(): unknown {
    return this.alarm;
  }
}
const SUSPEND_FOREVER = new SuspendOp<unknown>(undefined, undefined);

class SleepOp extends SuspendOp<unknown> {
  constructor(readonly ms: number) {
    super(ms, undefined);
  }
  override _start(c: Coro<unknown>): unknown {
    if (this.ms <= 0) {
      c._s._yieldNow(c);
      return PENDING;
    }
    c._s._addTimer(c, this.ms);
    return PENDING;
  }
}
const SLEEP_0 = new SleepOp(0);

/**
 * Suspends the running coroutine for `ms` milliseconds (`sleep(0)` just lets the other ready
 * coroutines run first). Returns `undefined`, or the value given to {@link Coro.resume} if it was
 * woken early.
 *
 * @example
 * ```ts
 * yield* sleep(100);
 * ```
 */
export function sleep(ms: number): Op<unknown> {
  if (!(ms >= 0)) throw new RangeError(`sleep() needs a duration >= 0 ms, got ${ms}`);
  return ms === 0 ? SLEEP_0 : new SleepOp(ms);
}


/**
 * Suspends the running coroutine until {@link Coro.resume} wakes it (returning the value given
 * there), or until `timeout` ms pass (returning `alarmValue`).
 *
 * @example
 * ```ts
 * const answer = yield* suspend(1000, 'no answer');
 * ```
 */
export function suspend<T = unknown>(timeout?: number, alarmValue?: T): Op<T | undefined> {
  checkTimeout(timeout);
  if (timeout === undefined) return SUSPEND_FOREVER as SuspendOp<T>;
  return new SuspendOp<T>(timeout, alarmValue);
}

class DeliverOp extends Suspend<number> {
  constructor(
    readonly to: Coro<unknown>,
    readonly msg: unknown,
  ) {
    super();
  }
  _start(): unknown {
    const to = this.to;
    if ((to._f & (3 | F_RESTARTABLE)) === S_DONE) return 0;
    deliverLocal(to, this.msg);
    return 1;
  }
}

class FinishOp<R> extends Suspend<R> {
  constructor(
    readonly target: Coro<R>,
    readonly timeout: number | undefined,
  ) {
    super();
  }
  _start(c: Coro<unknown>): unknown {
    const t = this.target as Coro<unknown>;
    if ((t._f & 3) === S_DONE) {
      if (t._outcomeIsError()) throw t._outcomeError();
      return t._v;
    }
    if (t === c) throw new DeadlockError(`${String(c)} cannot wait for its own end`);
    (t._extra().joiners ??= new WaitQueue()).push(c, c._q, undefined);
    if (this.timeout !== undefined) c._s._addTimer(c, this.timeout);
    return PENDING;
  }
  override _timeout(): unknown {
    throw new TimeoutError(`finish() of ${String(this.target)}`, this.timeout!);
  }
}
