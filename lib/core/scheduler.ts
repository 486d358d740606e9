/**
 * The scheduler: a ready queue, a timer heap and a native poller, driving coroutines.
 *
 * One round runs the ready coroutines in FIFO order, then lets time and I/O in. How it lets them
 * in depends on the poller's mode (DESIGN.md sections 2 and 3):
 *
 * - integrated and thread: Node's event loop is in charge. Work becomes ready (spawn, a message
 *   from outside, a settled promise) and a microtask runs the ready queue; a round runs for at
 *   most {@link SchedulerOptions.slice} ms before continuing from `setImmediate`, so Node's
 *   timers, promises and I/O keep running beside busy coroutines. Timers arm ONE Node timer for
 *   the earliest deadline; fd readiness arrives through the poller's `onEvents` callback (from
 *   Node's loop in integrated mode, from the poller's thread in thread mode).
 * - exclusive: {@link Scheduler.run} owns the thread. It runs the ready queue, then blocks in the
 *   poller's `wait()` with the earliest deadline as the timeout, and returns when no non-daemon
 *   coroutine is left. Node's event loop (and so Promise callbacks) does not run meanwhile, so a
 *   coroutine cannot wait for a Promise in this mode.
 *
 * Uncaught errors: a coroutine that ends by an error other than {@link CoroExit} is reported to
 * {@link SchedulerOptions.onError} (default: `console.error`) and only that coroutine ends; its
 * `value()` promise and `finish()` waiters get the error too.
 *
 * @module
 */
import {
  Coro,
  F_DAEMON,
  F_FAILED,
  F_FRESH,
  F_PENDING_THROW,
  F_TERMINATED,
  F_THROW,
  F_TIMED,
  S_DONE,
  S_READY,
  S_RUNNING,
  S_SUSPENDED,
  checkTimeout,
  spawnOn,
  type CoroFn,
} from './coro.js';
import { CoroExit, CoroStateError, DeadlockError, HotSwap, TimeoutError, check } from './errors.js';
import { PENDING, Suspend, setRunning, running, type Op } from './op.js';
import { EV, backends, openPoller, resolvePoller, type BackendDescription, type BackendName, type PollerMode } from './poller.js';
import { ReadinessDriver, type IoDriver } from './driver.js';
import { CompletionDriver, type CompletionOptions } from './completion-driver.js';
import { Ring } from './ring.js';
import { TimerHeap } from './timers.js';
import { MockClock, realClock, type Clock } from './clock.js';

/**
 * Options of {@link Scheduler}.
 *
 * @example
 * ```ts
 * const opts: SchedulerOptions = { poller: 'epoll', mode: 'thread', onError: (e, c) => log(c.name, e) };
 * ```
 */
export interface SchedulerOptions {
  /** The poller backend; default `ASYNCORO_POLLER`, else the best this host has. */
  poller?: BackendName;
  /** The mode; default integrated where the backend can, else thread. */
  mode?: PollerMode;
  /** The clock for timers; default the real clock. Tests pass a {@link MockClock}. */
  clock?: Clock;
  /** Called with every error that ends a coroutine (not CoroExit); default `console.error`. */
  onError?: (err: unknown, coro: Coro) => void;
  /** How long one round may run ready coroutines before letting Node (or I/O) in, in ms; default 10. */
  slice?: number;
  /** Poller event-array capacity (triples per batch); default 1024. */
  capacity?: number;
  /** Sizes of the completion ring (`poller: 'io_uring'` or `'iocp'`): operations in flight, buffer slots. */
  ring?: CompletionOptions;
}

/**
 * Counters from {@link Scheduler.statistics}.
 *
 * @example
 * ```ts
 * const { alive, ready, timers } = sched.statistics();
 * ```
 */
export interface SchedulerStatistics {
  /** Coroutines alive (daemons included). */
  alive: number;
  /** Non-daemon coroutines alive. */
  aliveNonDaemon: number;
  /** Coroutines in the ready queue. */
  ready: number;
  /** Entries in the timer heap (stale ones included) and how many are known stale. */
  timers: number;
  staleTimers: number;
  /** fds with a coroutine waiting for readiness, and I/O operations in flight. */
  fdWaits: number;
  /** Coroutine steps run since the scheduler was made. */
  steps: number;
  /** I/O operations handed to a completion backend (io_uring, IOCP) so far; 0 on readiness backends. */
  completions: number;
  backend: BackendName;
  mode: PollerMode;
}

/** The longest delay Node's setTimeout (and our poller waits) take as given, in ms. */
const MAX_DELAY = 2 ** 31 - 1;

/** Consecutive operations one coroutine may complete without waiting before it goes to the back of the ready queue. */
const IMMEDIATE_BUDGET = 1024;

let defaultOne: Scheduler | undefined;

/**
 * Runs coroutines: see the module description for how each mode works.
 *
 * @example
 * ```ts
 * const sched = new Scheduler({ poller: 'poll', mode: 'exclusive' });
 * sched.spawn(function* () { yield* sleep(10); console.log('done') });
 * sched.run(); // returns when no non-daemon coroutine is left
 * sched.close();
 * ```
 */
export class Scheduler {
  /** The backend and mode in use. */
  readonly backend: BackendName;
  readonly mode: PollerMode;
  readonly clock: Clock;
  /** @internal The I/O driver: readiness (a poller) or completion (a ring). */
  readonly _io: IoDriver;
  private readonly ready = new Ring<Coro<unknown>>(1024);
  private readonly timers = new TimerHeap<Coro<unknown>>();
  private readonly names = new Map<string, Coro<unknown>>();
  private readonly onError: (err: unknown, coro: Coro) => void;
  private readonly slice: number;
  private readonly mock: MockClock | undefined;
  private alive = 0;
  private aliveNonDaemon = 0;
  private steps = 0;
  private draining = false;
  private scheduled = false;
  private immediateScheduled = false;
  private closed = false;
  private nodeTimer: NodeJS.Timeout | undefined;
  private armedAt = Infinity;
  private pollerRefd = false;
  private readonly runBound = (): void => this.runRound();
  private readonly immediateBound = (): void => {
    this.immediateScheduled = false;
    this.runRound();
  };
  private readonly timerBound = (): void => {
    this.nodeTimer = undefined;
    this.armedAt = Infinity;
    this.fireDue();
    this.runRound();
  };

  /**
   * Opens a scheduler on the poller asked for; a backend or mode this host lacks is a
   * `BackendUnavailableError` (never a silent swap).
   */
  constructor(options: SchedulerOptions = {}) {
    this.clock = options.clock ?? realClock;
    this.mock = this.clock instanceof MockClock ? this.clock : undefined;
    this.onError = options.onError ?? defaultOnError;
    this.slice = options.slice ?? 10;
    const { backend, mode } = resolvePoller(options.poller, options.mode);
    this.backend = backend.name;
    if (backend.kind === 'completion') {
      this._io = new CompletionDriver(this, mode, options.ring);
    } else {
      let driver: ReadinessDriver | undefined;
      const opened = openPoller({
        poller: backend.name,
        mode,
        capacity: options.capacity ?? 1024,
        onEvents: (count) => driver!.onEvents(count),
      });
      driver = new ReadinessDriver(this, opened.poller, opened.events);
      this._io = driver;
    }
    this.mode = this._io.mode;
    // The poller keeps the process alive only while a non-daemon coroutine waits for an fd.
    if (this.mode !== 'exclusive') this._io.unref();
    this.mock?._listen(this);
  }

  /** The backends this host supports, best first (the same list as `backends()`). */
  static backends(): readonly BackendDescription[] {
    return backends();
  }

  /**
   * The scheduler used outside explicit ones, created on first use with the best backend (or
   * `ASYNCORO_POLLER`) in its default mode (integrated where possible).
   *
   * @example
   * ```ts
   * console.log(Scheduler.default().backend);
   * ```
   */
  static default(): Scheduler {
    return defaultScheduler();
  }

  /**
   * Starts a coroutine on this scheduler.
   *
   * @example
   * ```ts
   * const c = sched.spawn(function* (a: number, b: number) { return a + b }, 1, 2);
   * ```
   */
  spawn<R, A extends unknown[]>(fn: CoroFn<R, A>, ...args: A): Coro<R> {
    return spawnOn<R>(this, fn as CoroFn<R, any>, args);
  }

  /** The coroutine registered under `name`, or undefined. */
  locate(name: string): Coro | undefined {
    return this.names.get(name);
  }

  /** Counters for monitoring and tests. */
  statistics(): SchedulerStatistics {
    return {
      alive: this.alive,
      aliveNonDaemon: this.aliveNonDaemon,
      ready: this.ready.length,
      timers: this.timers.size,
      staleTimers: this.timers.stale,
      fdWaits: this._io.waiting,
      steps: this.steps,
      completions: this._io.submitted,
      backend: this.backend,
      mode: this.mode,
    };
  }

  /**
   * Exclusive mode: runs coroutines on this thread until no non-daemon coroutine is left. Throws
   * {@link DeadlockError} if non-daemon coroutines are left that nothing can wake (no ready
   * coroutine, no timer, no fd wait), and {@link CoroStateError} in other modes or when re-entered.
   *
   * @example
   * ```ts
   * const sched = new Scheduler({ mode: 'exclusive' });
   * sched.spawn(function* () { yield* sleep(5) });
   * sched.run();
   * ```
   */
  run(): void {
    if (this.mode !== 'exclusive') {
      throw new CoroStateError(`run() is for exclusive mode; this scheduler runs in ${this.mode} mode`, 'ERR_MODE');
    }
    if (this.draining) throw new CoroStateError('run() re-entered from a coroutine', 'ERR_REENTERED');
    if (this.closed) throw new CoroStateError('scheduler is closed', 'ERR_CLOSED');
    for (;;) {
      const more = this.drain();
      if (this.aliveNonDaemon === 0) return;
      if (more) {
        // Still busy after a whole slice: look at I/O without blocking, then go on.
        if (this._io.waiting > 0) this._io.poll(0);
        this.fireDue();
        continue;
      }
      this.fireDue();
      if (this.ready.length > 0) continue;
      const next = this.nextDeadline();
      let timeout: number;
      if (this.mock !== undefined) {
        if (next !== Infinity && this.mock.autoJump) {
          if (this._io.waiting > 0) this._io.poll(0);
          if (this.ready.length === 0) this.mock.jumpTo(next);
          continue;
        }
        timeout = -1;
        if (this._io.waiting === 0) this.deadlock();
      } else if (next !== Infinity) {
        timeout = Math.min(MAX_DELAY, Math.max(0, Math.ceil(next - this.clock.now())));
      } else {
        if (this._io.waiting === 0) this.deadlock();
        timeout = -1;
      }
      this._io.poll(timeout);
    }
  }

  /**
   * Stops the scheduler: closes its poller and timer. Coroutines still suspended stay suspended;
   * spawning on a closed scheduler throws. The default scheduler is replaced on next use.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.nodeTimer !== undefined) clearTimeout(this.nodeTimer);
    this.nodeTimer = undefined;
    this.mock?._unlisten(this);
    this._io.close();
    if (defaultOne === this) defaultOne = undefined;
  }

  /** True after {@link close}. */
  get isClosed(): boolean {
    return this.closed;
  }

  // ---- internal: coroutine life ----

  /** @internal A new coroutine: count it and queue it. */
  _adopt(c: Coro<unknown>): void {
    if (this.closed) throw new CoroStateError('cannot spawn on a closed scheduler', 'ERR_CLOSED');
    this.alive++;
    if ((c._f & F_DAEMON) === 0 && this.aliveNonDaemon++ === 0) this.refsChanged();
    this.ready.push(c);
    this.kick();
  }

  /** @internal */
  _daemonChanged(daemon: boolean): void {
    if (daemon) {
      if (--this.aliveNonDaemon === 0) this.refsChanged();
    } else if (this.aliveNonDaemon++ === 0) this.refsChanged();
  }

  /** @internal Wakes a suspended coroutine (caller checked it is suspended and the wake is current). */
  _wakeNow(c: Coro<unknown>, value: unknown, isError: boolean): void {
    c._q = (c._q + 1) | 0;
    let f = c._f;
    if ((f & F_TIMED) !== 0) {
      f &= ~F_TIMED;
      this.timers.stale++;
    }
    c._v = value;
    c._f = (f & ~(3 | F_THROW)) | S_READY | (isError ? F_THROW : 0);
    this.ready.push(c);
    if (!this.draining) this.kick();
  }

  /** @internal Wakes `c` if it still waits with sequence `seq`; returns whether it did. */
  _wake(c: Coro<unknown>, seq: number, value: unknown, isError: boolean): boolean {
    if ((c._f & 3) !== S_SUSPENDED || c._q !== seq) return false;
    this._wakeNow(c, value, isError);
    return true;
  }

  /** @internal Throws `err` into a suspended coroutine, undoing its wait. */
  _interrupt(c: Coro<unknown>, err: unknown): void {
    const op = c._pendingOp();
    if (op !== null) op._cancel(c);
    this._wakeNow(c, err, true);
  }

  /** @internal `c` (being stepped) goes to the back of the ready queue. */
  _yieldNow(c: Coro<unknown>): void {
    c._q = (c._q + 1) | 0;
    c._v = undefined;
    c._f = (c._f & ~(3 | F_THROW)) | S_READY;
    this.ready.push(c);
  }

  /** @internal Arms a timeout for `c`'s current wait. */
  _addTimer(c: Coro<unknown>, ms: number): void {
    c._f |= F_TIMED;
    this.timers.push(this.clock.now() + ms, c, c._q);
    if (!this.draining && this.mode !== 'exclusive') this.arm();
  }

  /** @internal */
  _register(name: string, c: Coro<unknown>): void {
    if (!c.isAlive) throw new CoroStateError(`${String(c)} has ended and cannot be registered`);
    const held = this.names.get(name);
    if (held === c) return;
    if (held !== undefined) throw new CoroStateError(`name '${name}' is taken by ${String(held)}`, 'ERR_NAME_TAKEN');
    c.unregister();
    this.names.set(name, c);
    c._extra().registered = name;
  }

  /** @internal */
  _unregister(name: string, c: Coro<unknown>): void {
    if (this.names.get(name) === c) this.names.delete(name);
    if (c._x !== undefined) c._x.registered = undefined;
  }

  /** @internal The mock clock moved. */
  _clockMoved(): void {
    this.fireDue();
    if (this.ready.length > 0 && this.mode !== 'exclusive' && !this.draining) this.kick();
  }

  // ---- internal: fd readiness and I/O completions ----

  /**
   * @internal Starts waiting for `fd` to be readable (READ) or writable (WRITE). With
   * `persistent`, the fd stays registered after the wait (edge-triggered where the backend has
   * it) until {@link _forgetFd}; the caller must wait only after its system call said EAGAIN,
   * since an edge that came before the wait is not reported again.
   */
  _watchFd(c: Coro<unknown>, fd: number, dir: number, persistent = false): void {
    if (this.closed) throw new CoroStateError('scheduler is closed', 'ERR_CLOSED');
    this._io.watch(c, fd, dir, persistent);
  }

  /** @internal Forgets `c`'s wait on `fd` (timeout, terminate). */
  _unwatchFd(c: Coro<unknown>, fd: number): void {
    this._io.unwatch(c, fd);
  }

  /**
   * @internal How many read-side events were dispatched for a persistently registered fd, or -1
   * when it is not registered. A stream socket that read less than it asked for (so the kernel's
   * buffer was empty) can wait at once, without another read that would say EAGAIN, as long as
   * this count has not moved since: any data that arrived since then produced an event.
   */
  _readEvents(fd: number): number {
    return this._io.readEvents(fd);
  }

  /**
   * @internal The fd is about to be closed: removes it from the poller and forgets it. Waiters
   * must have been woken first (the socket throws into them).
   */
  _forgetFd(fd: number): void {
    this._io.forget(fd);
  }

  /** @internal For the driver: an error no coroutine can be told about. */
  _report(err: unknown): void {
    this.report(err, null);
  }

  /** @internal For the driver: what can wake a coroutine changed. */
  _refsChanged(): void {
    this.refsChanged();
  }

  /** @internal For the driver: a batch of events was dispatched (integrated and thread modes). */
  _afterBatch(): void {
    if (!this.closed && !this.draining) this.runRound();
  }

  // ---- internal: running ----

  private kick(): void {
    if (this.scheduled || this.mode === 'exclusive' || this.closed) return;
    this.scheduled = true;
    queueMicrotask(this.runBound);
  }

  private runRound(): void {
    this.scheduled = false;
    if (this.draining || this.closed) return;
    const more = this.drain();
    if (more) {
      // Still busy after a whole slice: wake the sleepers that are due now (a busy ready queue
      // must not starve timers), and continue after Node has had its turn.
      this.fireDue();
      if (!this.immediateScheduled) {
        this.immediateScheduled = true;
        setImmediate(this.immediateBound);
      }
    }
    this.arm();
  }

  /** Runs ready coroutines until the queue is empty (false) or the slice is used up (true). */
  private drain(): boolean {
    const ready = this.ready;
    if (ready.length === 0) return false;
    this.draining = true;
    // Another scheduler's coroutine may be running this one (a nested exclusive run()): put it
    // back as the running coroutine afterwards.
    const outer = running;
    const start = performance.now();
    let n = 0;
    try {
      for (;;) {
        const c = ready.shift();
        if (c === undefined) {
          ready.shrinkIfIdle();
          return false;
        }
        this.step(c);
        if ((++n & 255) === 0) {
          if (performance.now() - start >= this.slice) return ready.length > 0;
          // Sleepers due now join the back of the queue instead of waiting for the round to end.
          if (this.timers.size > 0 && this.timers.topDeadline() <= this.clock.now()) this.fireDue();
        }
      }
    } finally {
      this.steps += n;
      this.draining = false;
      setRunning(outer);
    }
  }

  /** Runs one coroutine until it waits, ends, or uses up its budget of immediate results. */
  private step(c: Coro<unknown>): void {
    const g = c._g;
    if (g === null) return;
    c._f = (c._f & ~(3 | F_FRESH)) | S_RUNNING;
    setRunning(c);
    for (let budget = IMMEDIATE_BUDGET; ; ) {
      let r: IteratorResult<unknown, unknown>;
      const v = c._v;
      c._v = undefined;
      try {
        if ((c._f & F_THROW) !== 0) {
          c._f &= ~F_THROW;
          r = g.throw(v);
        } else {
          r = g.next(v);
        }
      } catch (err) {
        this.end(c, err, true);
        return;
      }
      if (r.done === true) {
        this.end(c, r.value, false);
        return;
      }
      const y = r.value;
      if ((c._f & F_PENDING_THROW) !== 0) {
        // A throw()/terminate() arrived while the coroutine was ready: deliver it here, at the
        // first suspension point after it received its last result.
        c._f = (c._f & ~F_PENDING_THROW) | F_THROW;
        c._v = c._x!.pendingThrow;
        c._x!.pendingThrow = undefined;
        continue;
      }
      let result: unknown;
      if (y instanceof Suspend) {
        c._f = (c._f & ~3) | S_SUSPENDED;
        c._v = y;
        try {
          result = y._start(c);
        } catch (err) {
          if ((c._f & F_TIMED) !== 0) this.untime(c);
          c._f = (c._f & ~3) | S_RUNNING | F_THROW;
          c._v = err;
          continue;
        }
        if (result === PENDING) {
          setRunning(null);
          return;
        }
        if ((c._f & F_TIMED) !== 0) this.untime(c);
        c._f = (c._f & ~3) | S_RUNNING;
      } else if (isThenable(y)) {
        if (this.mode === 'exclusive') {
          c._v = new CoroStateError(
            'a coroutine cannot wait for a Promise in exclusive mode: Node\'s event loop does not run during scheduler.run()',
            'ERR_PROMISE_IN_EXCLUSIVE',
          );
          c._f |= F_THROW;
          continue;
        }
        c._f = (c._f & ~3) | S_SUSPENDED;
        c._v = PROMISE_WAIT;
        const seq = c._q;
        y.then(
          (value) => this._wake(c, seq, value, false),
          (err) => this._wake(c, seq, err, true),
        );
        setRunning(null);
        return;
      } else if (isIterator(y)) {
        c._v = new CoroStateError('a coroutine yielded a generator: use yield* to run it', 'ERR_BAD_YIELD');
        c._f |= F_THROW;
        continue;
      } else {
        // A plain `yield value`: let the other ready coroutines run, then resume with the value.
        c._v = y;
        c._q = (c._q + 1) | 0;
        c._f = (c._f & ~3) | S_READY;
        this.ready.push(c);
        setRunning(null);
        return;
      }
      c._v = result;
      if (--budget === 0) {
        c._q = (c._q + 1) | 0;
        c._f = (c._f & ~3) | S_READY;
        this.ready.push(c);
        setRunning(null);
        return;
      }
    }
  }

  /** A timer was armed by an operation that then completed at once: its entry is stale. */
  private untime(c: Coro<unknown>): void {
    c._f &= ~F_TIMED;
    c._q = (c._q + 1) | 0;
    this.timers.stale++;
  }

  private end(c: Coro<unknown>, value: unknown, isError: boolean): void {
    setRunning(null);
    // A hot swap the coroutine let through gives it a new generator instead of an end.
    if (isError && value instanceof HotSwap && c._swapIn(value)) {
      this.ready.push(c);
      return;
    }
    let f = (c._f & ~(3 | F_THROW | F_PENDING_THROW)) | S_DONE;
    if (isError) f |= value instanceof CoroExit ? F_TERMINATED : F_FAILED;
    c._f = f;
    c._v = value;
    c._g = null;
    c._q = (c._q + 1) | 0;
    this.alive--;
    if ((f & F_DAEMON) === 0 && --this.aliveNonDaemon === 0) this.refsChanged();
    // Waiters, the promise and monitors (coro.ts); a failure a monitor was told of is not reported.
    let told = false;
    try {
      told = c._x !== undefined && c._ended();
    } catch (err) {
      this.report(err, c);
    }
    if ((f & F_FAILED) !== 0 && !told) this.report(value, c);
  }

  private report(err: unknown, c: Coro<unknown> | null): void {
    try {
      this.onError(err, (c ?? undefined) as Coro);
    } catch (e) {
      console.error('asyncoro: onError threw', e);
    }
  }

  private deadlock(): never {
    throw new DeadlockError(
      `scheduler.run(): ${this.aliveNonDaemon} non-daemon coroutine(s) are suspended and nothing ` +
        '(no ready coroutine, timer or fd wait) can wake them',
    );
  }

  // ---- internal: timers ----

  /** Wakes the coroutines whose deadline has passed, in deadline order. */
  private fireDue(): void {
    const t = this.timers;
    if (t.size === 0) return;
    const now = this.clock.now();
    while (t.size > 0 && t.topDeadline() <= now) {
      const c = t.topItem()!;
      const seq = t.topSeq();
      t.pop();
      if ((c._f & 3) !== S_SUSPENDED || c._q !== seq) {
        if (t.stale > 0) t.stale--;
        continue;
      }
      c._f &= ~F_TIMED;
      const op = c._v as Suspend<unknown>;
      let value: unknown;
      let isError = false;
      try {
        value = op._timeout(c);
      } catch (e) {
        value = e;
        isError = true;
      }
      // PENDING: the operation ends later by itself (a completion being cancelled).
      if (value === PENDING && !isError) continue;
      op._cancel(c);
      this._wakeNow(c, value, isError);
    }
    if (t.stale > 1024 && t.stale * 2 > t.size) {
      t.compact((c, seq) => (c._f & 3) === S_SUSPENDED && c._q === seq);
    }
  }

  /** The earliest live deadline (dropping stale entries on top), or Infinity. */
  private nextDeadline(): number {
    const t = this.timers;
    while (t.size > 0) {
      const c = t.topItem()!;
      if ((c._f & 3) === S_SUSPENDED && c._q === t.topSeq()) return t.topDeadline();
      t.pop();
      if (t.stale > 0) t.stale--;
    }
    return Infinity;
  }

  /** Integrated/thread modes: keeps one Node timer armed for the earliest deadline. */
  private arm(): void {
    if (this.mode === 'exclusive' || this.closed) return;
    const next = this.nextDeadline();
    if (this.mock !== undefined) {
      if (next !== Infinity && this.mock.autoJump && this.ready.length === 0 && !this.immediateScheduled) {
        this.immediateScheduled = true;
        setImmediate(() => {
          this.immediateScheduled = false;
          if (this.ready.length === 0 && !this.closed) this.mock!.jumpTo(this.nextDeadline());
          this.runRound();
        });
      }
      return;
    }
    if (next === Infinity) {
      if (this.nodeTimer !== undefined) clearTimeout(this.nodeTimer);
      this.nodeTimer = undefined;
      this.armedAt = Infinity;
      return;
    }
    if (next >= this.armedAt && this.nodeTimer !== undefined) return;
    if (this.nodeTimer !== undefined) clearTimeout(this.nodeTimer);
    this.armedAt = next;
    // Node turns a delay above 2^31-1 ms into 1 ms: cap it, and re-arm when it fires early.
    this.nodeTimer = setTimeout(this.timerBound, Math.min(MAX_DELAY, Math.max(1, Math.ceil(next - this.clock.now()))));
    if (this.aliveNonDaemon === 0) this.nodeTimer.unref();
  }

  /** Keeps the process alive exactly while a non-daemon coroutine lives and a timer or fd wait could wake something. */
  private refsChanged(): void {
    if (this.mode === 'exclusive' || this.closed) return;
    const keep = this.aliveNonDaemon > 0;
    if (this.nodeTimer !== undefined) {
      if (keep) this.nodeTimer.ref();
      else this.nodeTimer.unref();
    }
    const pollKeep = keep && this._io.waiting > 0;
    if (pollKeep !== this.pollerRefd) {
      this.pollerRefd = pollKeep;
      if (pollKeep) this._io.ref();
      else this._io.unref();
    }
  }
}

class PromiseWait extends Suspend<unknown> {
  _start(): unknown {
    return PENDING;
  }
}
const PROMISE_WAIT = new PromiseWait();

function isThenable(y: unknown): y is PromiseLike<unknown> {
  return y !== null && (typeof y === 'object' || typeof y === 'function') && typeof (y as PromiseLike<unknown>).then === 'function';
}

function isIterator(y: unknown): boolean {
  return y !== null && typeof y === 'object' && typeof (y as Iterator<unknown>).next === 'function' && Symbol.iterator in y;
}

function defaultOnError(err: unknown, coro: Coro | undefined): void {
  console.error(`asyncoro: ${coro !== undefined ? String(coro) : 'scheduler'} failed with an uncaught error:`, err);
}

/**
 * The default scheduler, created on first use (see {@link Scheduler.default}).
 *
 * @example
 * ```ts
 * const s = defaultScheduler();
 * ```
 */
export function defaultScheduler(): Scheduler {
  if (defaultOne === undefined || defaultOne.isClosed) defaultOne = new Scheduler();
  return defaultOne;
}

class FdWaitOp extends Suspend<number> {
  constructor(
    readonly fd: number,
    readonly dir: number,
    readonly timeout: number | undefined,
  ) {
    super();
  }
  _start(c: Coro<unknown>): unknown {
    c._s._watchFd(c, this.fd, this.dir);
    if (this.timeout !== undefined) c._s._addTimer(c, this.timeout);
    return PENDING;
  }
  override _timeout(): unknown {
    throw new TimeoutError(`waiting for fd ${this.fd} to be ${this.dir === EV.READ ? 'readable' : 'writable'}`, this.timeout!);
  }
  override _cancel(c: Coro<unknown>): void {
    c._s._unwatchFd(c, this.fd);
  }
}

/**
 * Low-level: waits until `fd` is readable (or at EOF, or in error) on the running coroutine's
 * scheduler's poller and returns the reported event bits (`EV.READ`, `EV.ERROR`, `EV.HANGUP`).
 * Throws {@link TimeoutError} after `timeout` ms. One coroutine at a time may wait per fd and
 * direction. The fd must be non-blocking and stays owned by the caller (unwatched before close).
 *
 * @example
 * ```ts
 * const bits = yield* waitReadable(fd, 1000);
 * const n = native.read(fd, buf, 0, buf.length);
 * ```
 */
export function waitReadable(fd: number, timeout?: number): Op<number> {
  checkFd(fd);
  checkTimeout(timeout);
  return new FdWaitOp(fd, EV.READ, timeout);
}

/**
 * Low-level: waits until `fd` is writable (or in error); see {@link waitReadable}.
 *
 * @example
 * ```ts
 * yield* waitWritable(fd);
 * native.write(fd, data, 0, data.length);
 * ```
 */
export function waitWritable(fd: number, timeout?: number): Op<number> {
  checkFd(fd);
  checkTimeout(timeout);
  return new FdWaitOp(fd, EV.WRITE, timeout);
}

function checkFd(fd: number): void {
  if (!Number.isInteger(fd) || fd < 0) throw new RangeError(`an fd must be an integer >= 0, got ${fd}`);
}


