/**
 * `AsyncThreadPool`: synchronous work on `worker_threads`, resumed into coroutines.
 *
 * Why not piscina: measured on this project's machine, piscina runs about 41,000 trivial tasks a
 * second (a Promise, a message and an event-loop turn per task each way), while `worker_threads`
 * messaging itself moves several hundred thousand. This pool keeps to the messaging:
 *
 * - Tasks are batched per worker. A coroutine's `run` only queues its task; the pool's collector
 *   coroutine (one per scheduler, a daemon) runs after the coroutines that were ready in the same
 *   round and posts one message per worker with all of their tasks.
 * - Results come back one message per task on a port the collector drains with
 *   `receiveMessageOnPort`, without the event loop, and without a Promise anywhere: it wakes the
 *   waiting coroutines directly. A worker wakes the collector through a pipe watched by the
 *   scheduler's own poller, with one byte, and only while the collector is armed (idle); one
 *   wake-up serves every result that arrives before the collector runs. So the pool works in every
 *   scheduler mode, exclusive included, where Node's event loop does not run.
 * - Each worker has a table of task slots in shared memory (see `protocol.ts`): a task not yet
 *   started can be revoked by the main thread alone (timeout, cancellation, moving it off a worker
 *   that is being replaced), and a hung task is known to be the only one its worker is running
 *   before that worker is terminated. Cancelling one task never kills another.
 *
 * @module
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { isAbsolute } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { MessageChannel, Worker, receiveMessageOnPort, type MessagePort, type ResourceLimits, type TransferListItem } from 'node:worker_threads';
import { native } from '../native/binding.js';
import { EV } from '../core/poller.js';
import { PENDING, Suspend, running, type Op } from '../core/op.js';
import { sleep, type Coro } from '../core/coro.js';
import type { Scheduler } from '../core/scheduler.js';
import { SystemError, TimeoutError } from '../core/errors.js';
import {
  BATCH_STRIDE,
  GEN_MASK,
  SLOTS,
  ST_CANCELLED,
  ST_DONE,
  ST_QUEUED,
  ST_RUNNING,
  ERROR_KEY,
  MOVE_KEY,
  decodeError,
  isMoved,
  move,
  word,
  type Control,
  type Moved,
} from './protocol.js';
import { PoolClosedError, WorkerExitError } from './errors.js';
import { workerMain, type WorkerInit } from './worker.js';

export { move, type Moved };

/**
 * A self-contained task function: its source text is what is sent to the workers, so it may use
 * only its arguments, globals, and modules it imports dynamically (`await import('node:zlib')`),
 * never variables of the code around it. It may return a Promise.
 */
export type TaskFunction = (...args: any[]) => unknown;

/**
 * A task exported by a module: an absolute path or a `file:` URL (`.ts` works when the process
 * runs under tsx, or when tsx is installed), and the export's name (default `'default'`).
 */
export interface ModuleTask {
  readonly module: string | URL;
  readonly name?: string;
}

/** What {@link AsyncThreadPool.run} runs. */
export type Task = TaskFunction | ModuleTask;

/** Options of {@link AsyncThreadPool}. */
export interface ThreadPoolOptions {
  /** How many worker threads at most (started as work needs them); default `os.availableParallelism()`. */
  readonly size?: number;
  /** A timeout in ms for every task that does not set its own; default none. */
  readonly timeout?: number;
  /** Node options of the worker threads; default the process's own (`process.execArgv`). */
  readonly execArgv?: readonly string[];
  /** V8 heap limits of each worker thread. */
  readonly resourceLimits?: ResourceLimits;
}

/** Per-task options of {@link AsyncThreadPool.runWith}. */
export interface RunOptions {
  /** Milliseconds before the task is abandoned with a {@link TimeoutError}. */
  readonly timeout?: number;
  /** Objects in the arguments to transfer rather than copy (see also {@link move}). */
  readonly transfer?: readonly TransferListItem[];
}

/** Options of {@link AsyncThreadPool.close}. */
export interface CloseOptions {
  /** End the tasks queued and running with {@link PoolClosedError} and terminate the threads now. */
  readonly terminate?: boolean;
  /** Wait at most this many ms for the tasks to finish, then terminate. */
  readonly timeout?: number;
}

/** Counters from {@link AsyncThreadPool.statistics}. */
export interface ThreadPoolStatistics {
  readonly size: number;
  /** Worker threads running now. */
  readonly threads: number;
  /** Tasks submitted and not yet ended (queued in the pool, queued in a worker, or running). */
  readonly active: number;
  /** Tasks waiting for a free slot in a worker. */
  readonly backlog: number;
  readonly completed: number;
  readonly failed: number;
  readonly timedOut: number;
  readonly cancelled: number;
  /** Worker threads replaced: terminated under a hung task, or exited under one. */
  readonly replaced: number;
}

/** The resolved form of a task, sent to each worker once. */
interface TaskDef {
  readonly id: number;
  readonly control: Control;
  readonly label: string;
}

/** tsx's ESM API if it can be found from here, for workers that must load `.ts` without a loader. */
const TSX_API: string | null = (() => {
  try {
    // require() finds the CommonJS build of the API; the worker imports its ESM twin beside it.
    const cjs = createRequire(import.meta.url).resolve('tsx/esm/api');
    const esm = cjs.replace(/\.cjs$/, '.mjs');
    return existsSync(esm) ? pathToFileURL(esm).href : null;
  } catch {
    return null;
  }
})();

/**
 * The thread's script: the worker function's own source (see `worker.ts`), with the `__name`
 * helper that code compiled with esbuild's `keepNames` (tsx) calls.
 */
const BOOT = `"use strict";
const __name = (f) => f;
(${workerMain.toString()})(require('node:worker_threads'), require('node:fs'));
`;

const WORKER_CONSTANTS: WorkerInit['k'] = {
  QUEUED: ST_QUEUED,
  RUNNING: ST_RUNNING,
  DONE: ST_DONE,
  STRIDE: BATCH_STRIDE,
  MOVE: MOVE_KEY,
  ERROR: ERROR_KEY,
};

let nextPoolId = 1;

/** One worker thread and its side of the protocol. */
class PoolWorker {
  readonly worker: Worker;
  readonly results: MessagePort;
  readonly state: Int32Array;
  /** The task in each slot, or undefined. */
  readonly tasks: (RunOp | undefined)[] = new Array<RunOp | undefined>(SLOTS).fill(undefined);
  readonly gens = new Int32Array(SLOTS);
  readonly free: number[] = [];
  inflight = 0;
  outbox: unknown[] = [];
  transfer: TransferListItem[] = [];
  readonly known = new Set<number>();
  readonly cols: boolean[] = [];
  /** Tasks that hold state in this worker (database connections): it is never terminated for a timeout. */
  pins = 0;
  /** Results it has delivered (a thread that dies before its first one may be unable to start at all). */
  delivered = 0;
  /** False once retired (terminated or exited). */
  alive = true;
  lastError: unknown = undefined;

  constructor(
    readonly pool: AsyncThreadPool,
    opts: ThreadPoolOptions,
  ) {
    for (let i = SLOTS - 1; i >= 0; i--) this.free.push(i);
    const sab = new SharedArrayBuffer(SLOTS * 4);
    this.state = new Int32Array(sab);
    const { port1, port2 } = new MessageChannel();
    this.results = port1;
    this.worker = new Worker(BOOT, {
      eval: true,
      workerData: { tsx: TSX_API, results: port2, state: sab, k: WORKER_CONSTANTS } satisfies WorkerInit,
      transferList: [port2],
      ...(opts.execArgv !== undefined ? { execArgv: [...opts.execArgv] } : {}),
      ...(opts.resourceLimits !== undefined ? { resourceLimits: opts.resourceLimits } : {}),
    });
    // The pool keeps the process alive through the scheduler (a coroutine waiting for a task
    // waits on the collector's pipe), never through idle threads.
    this.worker.unref();
    this.worker.on('error', (e) => {
      this.lastError = e;
    });
    this.worker.on('exit', (code) => pool._workerExited(this, code));
  }
}

/** The collector of one scheduler: its wake-up pipe, its armed flag and its coroutine. */
class Collector {
  readonly rfd: number;
  readonly wfd: number;
  readonly flag = new Int32Array(new SharedArrayBuffer(4));
  readonly waitOp: CollectorWait;
  coro: Coro<unknown> | null = null;
  /** Suspended in its pipe wait (so new work must wake it). */
  sleeping = false;

  constructor(
    readonly k: number,
    readonly sched: Scheduler,
  ) {
    const fds = new Int32Array(2);
    const rc = native.pipe(fds);
    if (rc < 0) throw new SystemError('pipe', rc);
    this.rfd = fds[0]!;
    this.wfd = fds[1]!;
    this.waitOp = new CollectorWait(this);
  }

  /** New tasks to post: wake the collector if it sleeps (it flushes at every turn otherwise). */
  poke(): void {
    if (!this.sleeping) return;
    this.sleeping = false;
    const c = this.coro!;
    this.sched._unwatchFd(c, this.rfd);
    this.sched._wake(c, c._q, 0, false);
  }
}

class CollectorWait extends Suspend<number> {
  constructor(readonly col: Collector) {
    super();
  }
  _start(c: Coro<unknown>): unknown {
    // The pipe was read until EAGAIN just before, as a persistent (edge-triggered) wait needs.
    c._s._watchFd(c, this.col.rfd, EV.READ, true);
    this.col.sleeping = true;
    return PENDING;
  }
  override _cancel(c: Coro<unknown>): void {
    this.col.sleeping = false;
    c._s._unwatchFd(c, this.col.rfd);
  }
}

/** A task from submission to its end: the operation its coroutine waits in. */
class RunOp extends Suspend<unknown> {
  coro: Coro<unknown> | null = null;
  seq = 0;
  /** The collector of the coroutine's scheduler. */
  k = 0;
  w: PoolWorker | null = null;
  slot = -1;
  gen = 0;
  /** Ended: its result was delivered, or it was abandoned. */
  settled = false;

  constructor(
    readonly pool: AsyncThreadPool,
    readonly def: TaskDef,
    readonly args: unknown[],
    readonly transfer: TransferListItem[] | undefined,
    readonly timeout: number | undefined,
    readonly pin: PoolWorker | null,
  ) {
    super();
  }

  _start(c: Coro<unknown>): unknown {
    this.coro = c;
    this.seq = c._q;
    this.pool._submit(this, c);
    if (this.timeout !== undefined) c._s._addTimer(c, this.timeout);
    return PENDING;
  }

  override _timeout(): unknown {
    this.pool._abandon(this, true);
    throw new TimeoutError(`thread pool task ${this.def.label}`, this.timeout!);
  }

  override _cancel(): void {
    this.pool._abandon(this, false);
  }
}

class CloseWait extends Suspend<void> {
  constructor(
    readonly pool: AsyncThreadPool,
    readonly timeout: number | undefined,
  ) {
    super();
  }
  _start(c: Coro<unknown>): unknown {
    if (this.pool._idle()) return undefined;
    this.pool._closer = c;
    this.pool._closerSeq = c._q;
    if (this.timeout !== undefined) c._s._addTimer(c, this.timeout);
    return PENDING;
  }
  override _timeout(): unknown {
    return undefined;
  }
  override _cancel(): void {
    this.pool._closer = null;
  }
}

function checkTimeoutOption(t: unknown, what: string): number | undefined {
  if (t === undefined) return undefined;
  if (typeof t !== 'number' || !(t >= 0)) throw new RangeError(`${what}: timeout must be a number of ms >= 0, got ${String(t)}`);
  return t;
}

function moduleHref(m: unknown): string {
  let url: URL;
  if (m instanceof URL) url = m;
  else if (typeof m === 'string' && m.startsWith('file:')) url = new URL(m);
  else if (typeof m === 'string' && isAbsolute(m)) url = pathToFileURL(m);
  else throw new TypeError(`a task module is an absolute path or a file: URL, got ${JSON.stringify(String(m))}`);
  if (url.protocol !== 'file:') throw new TypeError(`a task module must be a file: URL, got ${url.href}`);
  const path = fileURLToPath(url);
  if (!existsSync(path)) throw new TypeError(`task module not found: ${path}`);
  return url.href;
}

/**
 * A pool of worker threads that run synchronous (or Promise-returning) work for coroutines: the
 * calling coroutine waits in `yield* pool.run(task, ...args)` and resumes with the task's result,
 * or with its error (its own class, message and stack), while the scheduler runs other
 * coroutines.
 *
 * Arguments and results are copied with the structured clone algorithm; wrap an `ArrayBuffer` or
 * typed array in {@link move} (as an argument, or as a task's return value) to transfer it
 * instead. A task that times out, or whose coroutine is terminated or thrown into, is abandoned:
 * if it had not started it never runs; if it is running, its worker thread is terminated and
 * replaced, and the tasks queued behind it move to other threads.
 *
 * @example
 * ```ts
 * const pool = new AsyncThreadPool({ size: 4 });
 * spawn(function* () {
 *   const digest: string = yield* pool.run(
 *     (data: string) => require('node:crypto').createHash('sha256').update(data).digest('hex'),
 *     'hello',
 *   );
 *   const n: number = yield* pool.run({ module: new URL('./tasks.js', import.meta.url), name: 'count' }, 10);
 *   yield* pool.close();
 * });
 * ```
 */
export class AsyncThreadPool {
  /** The most worker threads this pool runs at once. */
  readonly size: number;
  /** The default task timeout in ms, if any. */
  readonly timeout: number | undefined;
  private readonly options: ThreadPoolOptions;
  private readonly id = nextPoolId++;
  private readonly workers: PoolWorker[] = [];
  private readonly collectors = new Map<Scheduler, Collector>();
  private readonly fnDefs = new WeakMap<TaskFunction, TaskDef>();
  private readonly srcDefs = new Map<string, TaskDef>();
  private readonly specDefs = new WeakMap<ModuleTask, TaskDef>();
  private readonly modDefs = new Map<string, TaskDef>();
  private nextDef = 1;
  private backlog: RunOp[] = [];
  private backlogHead = 0;
  private active = 0;
  private threads = 0;
  private closing = false;
  private closed = false;
  private fdsClosed = false;
  private completed = 0;
  private failed = 0;
  private timedOut = 0;
  private cancelled = 0;
  private replaced = 0;
  /** @internal The coroutine waiting in close() for the tasks to end. */
  _closer: Coro<unknown> | null = null;
  /** @internal */
  _closerSeq = 0;

  /**
   * Makes a pool; threads start when tasks need them. A bad option is a `RangeError` here.
   */
  constructor(options: ThreadPoolOptions = {}) {
    const size = options.size ?? availableParallelism();
    if (!Number.isInteger(size) || size < 1 || size > 1024) throw new RangeError(`size must be an integer from 1 to 1024, got ${String(size)}`);
    this.size = size;
    this.timeout = checkTimeoutOption(options.timeout, 'AsyncThreadPool');
    if (options.execArgv !== undefined && !Array.isArray(options.execArgv)) throw new TypeError('execArgv must be an array of strings');
    this.options = options;
  }

  /** Marks a value to transfer rather than copy; see {@link move}. */
  static move = move;

  /**
   * Runs `task(...args)` on a worker thread and returns its result; throws the task's error, a
   * {@link TimeoutError} after the pool's default timeout, {@link WorkerExitError} if the thread
   * died under it, or {@link PoolClosedError}. A task that is not a self-contained function or a
   * `{ module, name }` is a `TypeError` at the call.
   *
   * @example
   * ```ts
   * const sum: number = yield* pool.run((a: number, b: number) => a + b, 1, 2);
   * ```
   */
  run<R = unknown>(task: Task, ...args: unknown[]): Op<R> {
    return this.op(task, args, this.timeout, undefined, null) as Op<R>;
  }

  /**
   * {@link run} with per-task options: a timeout and objects to transfer.
   *
   * @example
   * ```ts
   * const buf = new ArrayBuffer(1 << 20);
   * const n: number = yield* pool.runWith({ timeout: 500, transfer: [buf] }, (b: ArrayBuffer) => b.byteLength, buf);
   * ```
   */
  runWith<R = unknown>(options: RunOptions, task: Task, ...args: unknown[]): Op<R> {
    if (options === null || typeof options !== 'object') throw new TypeError('runWith: options must be an object');
    const timeout = checkTimeoutOption(options.timeout, 'runWith') ?? this.timeout;
    const transfer = options.transfer;
    if (transfer !== undefined && !Array.isArray(transfer)) throw new TypeError('runWith: transfer must be an array');
    return this.op(task, args, timeout, transfer, null) as Op<R>;
  }

  /**
   * Ends the pool. By default waits until every task queued or running has ended (with
   * `timeout`, at most that long), then lets the threads exit; with `terminate: true` (or after
   * the timeout) the tasks still there end with {@link PoolClosedError} and the threads are
   * terminated. `run` after `close` throws {@link PoolClosedError}. Idempotent.
   *
   * @example
   * ```ts
   * yield* pool.close();                      // wait for the work in flight
   * yield* pool.close({ terminate: true });   // or stop now
   * ```
   */
  *close(options: CloseOptions = {}): Generator<unknown, void, unknown> {
    const timeout = checkTimeoutOption(options.timeout, 'close');
    if (this.closed) return;
    this.closing = true;
    if (options.terminate !== true && !this._idle()) {
      yield* new CloseWait(this, timeout);
      if (this.closed) return;
    }
    this.closed = true;
    const graceful = this._idle();
    const err = new PoolClosedError('the thread pool was closed before the task ended');
    for (const w of this.workers) {
      for (let s = 0; s < SLOTS; s++) {
        const op = w.tasks[s];
        if (op !== undefined) this.fail(op, err);
      }
    }
    for (let i = this.backlogHead; i < this.backlog.length; i++) this.fail(this.backlog[i]!, err);
    this.backlog = [];
    this.backlogHead = 0;
    for (const w of this.workers.splice(0)) {
      w.alive = false;
      if (graceful) w.worker.postMessage({ t: 'exit' } satisfies Control);
      else void w.worker.terminate();
    }
    for (const col of this.collectors.values()) {
      const c = col.coro;
      col.coro = null;
      if (c !== null && c !== running) c.terminate();
      col.sched._forgetFd(col.rfd);
    }
    if (this.threads === 0) this.closeFds();
  }

  /** Whether {@link close} has begun. */
  get isClosed(): boolean {
    return this.closing;
  }

  /** Counters for monitoring and tests. */
  statistics(): ThreadPoolStatistics {
    return {
      size: this.size,
      threads: this.threads,
      active: this.active,
      backlog: this.backlog.length - this.backlogHead,
      completed: this.completed,
      failed: this.failed,
      timedOut: this.timedOut,
      cancelled: this.cancelled,
      replaced: this.replaced,
    };
  }

  toString(): string {
    return `AsyncThreadPool(${this.id}, ${this.threads}/${this.size} threads${this.closing ? ', closed' : ''})`;
  }

  // ---- submission ----

  private op(task: Task, args: unknown[], timeout: number | undefined, transfer: readonly TransferListItem[] | undefined, pin: PoolWorker | null): RunOp {
    if (this.closing) throw new PoolClosedError();
    const def = this.defFor(task);
    let list: TransferListItem[] | undefined = transfer !== undefined ? [...transfer] : undefined;
    for (let i = 0; i < args.length; i++) {
      const a = args[i];
      if (isMoved(a)) {
        args[i] = a.value;
        (list ??= []).push(...a.transferList);
      }
    }
    return new RunOp(this, def, args, list, timeout, pin);
  }

  private defFor(task: Task): TaskDef {
    if (typeof task === 'function') {
      let d = this.fnDefs.get(task);
      if (d !== undefined) return d;
      // A closure made anew at each call (an arrow written inline) has the same source each time.
      const src = Function.prototype.toString.call(task);
      d = this.srcDefs.get(src);
      if (d === undefined) {
        if (/\{\s*\[native code\]\s*\}\s*$/.test(src)) {
          throw new TypeError(`task ${task.name || '(anonymous)'} is a native or bound function: a task function must be sent as source`);
        }
        try {
          new Function('__name', `return (${src});`);
        } catch {
          throw new TypeError(
            `task ${task.name || '(anonymous)'} is not a function expression (a method or class member cannot be sent as source): use a function or arrow function`,
          );
        }
        const id = this.nextDef++;
        d = { id, control: { t: 'fn', id, src }, label: task.name || '(anonymous function)' };
        this.srcDefs.set(src, d);
      }
      this.fnDefs.set(task, d);
      return d;
    }
    if (task === null || typeof task !== 'object' || !('module' in task)) {
      throw new TypeError('a task is a self-contained function or { module, name }');
    }
    let d = this.specDefs.get(task);
    if (d === undefined) {
      const href = moduleHref(task.module);
      const name = task.name ?? 'default';
      if (typeof name !== 'string' || name === '') throw new TypeError('a module task name must be a non-empty string');
      const key = `${href}#${name}`;
      d = this.modDefs.get(key);
      if (d === undefined) {
        const id = this.nextDef++;
        d = { id, control: { t: 'mod', id, href, name }, label: `${name} of ${href}` };
        this.modDefs.set(key, d);
      }
      this.specDefs.set(task, d);
    }
    return d;
  }

  /** @internal Queues a started RunOp on a worker (or in the backlog) and makes sure it is posted. */
  _submit(op: RunOp, c: Coro<unknown>): void {
    if (this.closing) throw new PoolClosedError();
    const col = this.collectorFor(c._s);
    op.k = col.k;
    if (op.pin !== null) {
      if (!op.pin.alive) throw new WorkerExitError('the worker thread holding this state has exited', -1, op.pin.lastError);
      if (op.pin.free.length === 0) this.backlog.push(op);
      else this.assign(op, op.pin);
    } else {
      const w = this.pick();
      if (w === null) this.backlog.push(op);
      else this.assign(op, w);
    }
    this.active++;
    col.poke();
  }

  /** The least loaded worker with a free slot, starting a new thread while under `size`. */
  private pick(): PoolWorker | null {
    let best: PoolWorker | null = null;
    const ws = this.workers;
    for (let i = 0; i < ws.length; i++) {
      const w = ws[i]!;
      if (w.inflight === 0) return w;
      if (w.free.length > 0 && (best === null || w.inflight < best.inflight)) best = w;
    }
    if (ws.length < this.size) return this.startWorker();
    return best;
  }

  private startWorker(): PoolWorker {
    const w = new PoolWorker(this, this.options);
    this.workers.push(w);
    this.threads++;
    return w;
  }

  private assign(op: RunOp, w: PoolWorker): void {
    const slot = w.free.pop()!;
    const gen = (w.gens[slot]! + 1) & GEN_MASK;
    w.gens[slot] = gen;
    Atomics.store(w.state, slot, word(gen, ST_QUEUED));
    w.tasks[slot] = op;
    w.inflight++;
    op.w = w;
    op.slot = slot;
    op.gen = gen;
    const def = op.def;
    if (!w.known.has(def.id)) {
      w.known.add(def.id);
      w.worker.postMessage(def.control);
    }
    if (w.cols[op.k] !== true) {
      const col = this.collectorByIndex(op.k);
      w.cols[op.k] = true;
      w.worker.postMessage({ t: 'col', k: col.k, fd: col.wfd, flag: col.flag } satisfies Control);
    }
    w.outbox.push(slot, gen, def.id, op.args, op.k);
    if (op.transfer !== undefined) for (const t of op.transfer) w.transfer.push(t);
  }

  private collectorFor(sched: Scheduler): Collector {
    let col = this.collectors.get(sched);
    if (col === undefined) {
      col = new Collector(this.collectors.size, sched);
      this.collectors.set(sched, col);
      const pool = this;
      const c = sched.spawn(function* collector() {
        yield* pool.collect(col!);
      });
      c.daemon = true;
      c.name = `${String(this)} collector`;
      col.coro = c;
    }
    return col;
  }

  private collectorByIndex(k: number): Collector {
    for (const col of this.collectors.values()) if (col.k === k) return col;
    throw new Error(`thread pool: no collector ${k}`);
  }

  // ---- the collector ----

  private *collect(col: Collector): Generator<unknown, void, unknown> {
    const scratch = new Uint8Array(64);
    for (;;) {
      this.flush();
      if (this.drain() > 0) {
        // Let the coroutines just woken run (and queue their next tasks) before posting again.
        yield* sleep(0);
        continue;
      }
      while (native.read(col.rfd, scratch, 0, scratch.length) > 0);
      Atomics.store(col.flag, 0, 1);
      // A result posted before the flag was armed did not write to the pipe: look once more.
      if (this.drain() > 0 || this.hasOutbox()) {
        Atomics.store(col.flag, 0, 0);
        yield* sleep(0);
        continue;
      }
      yield* col.waitOp;
      col.sleeping = false;
      Atomics.store(col.flag, 0, 0);
    }
  }

  private hasOutbox(): boolean {
    for (const w of this.workers) if (w.outbox.length > 0) return true;
    return false;
  }

  /** Moves backlog into free slots, then posts each worker's batch. */
  private flush(): void {
    while (this.backlogHead < this.backlog.length) {
      const op = this.backlog[this.backlogHead]!;
      if (op.settled) {
        this.backlogHead++;
        continue;
      }
      const w = op.pin !== null ? (op.pin.alive && op.pin.free.length > 0 ? op.pin : null) : this.pick();
      if (w === null || w.free.length === 0) break;
      this.backlogHead++;
      this.assign(op, w);
    }
    if (this.backlogHead === this.backlog.length && this.backlogHead > 0) {
      this.backlog = [];
      this.backlogHead = 0;
    }
    for (let i = 0; i < this.workers.length; i++) {
      const w = this.workers[i]!;
      if (w.outbox.length === 0) continue;
      const batch = w.outbox;
      const transfer = w.transfer;
      w.outbox = [];
      w.transfer = [];
      try {
        w.worker.postMessage(batch, transfer);
      } catch {
        this.postOneByOne(w, batch);
      }
    }
  }

  /** A batch could not be cloned: post its tasks one by one and fail the ones that cannot be. */
  private postOneByOne(w: PoolWorker, batch: unknown[]): void {
    for (let i = 0; i < batch.length; i += BATCH_STRIDE) {
      const op = w.tasks[batch[i] as number];
      if (op === undefined || op.gen !== batch[i + 1]) continue;
      try {
        w.worker.postMessage(batch.slice(i, i + BATCH_STRIDE), op.transfer);
      } catch (e) {
        this.revoke(op);
        this.settle(op, new TypeError(`the arguments of task ${op.def.label} cannot be sent to a worker thread: ${(e as Error).message}`), true);
      }
    }
  }

  /** Takes every result waiting in the workers' ports and wakes their coroutines: how many. */
  private drain(): number {
    let n = 0;
    const ws = this.workers;
    for (let i = 0; i < ws.length; i++) n += this.drainWorker(ws[i]!);
    return n;
  }

  private drainWorker(w: PoolWorker): number {
    let n = 0;
    for (;;) {
      const m = receiveMessageOnPort(w.results) as { message: [number, number, number, unknown] } | undefined;
      if (m === undefined) return n;
      const [slot, gen, ok, value] = m.message;
      const op = w.tasks[slot];
      if (op === undefined || op.gen !== gen) continue;
      w.tasks[slot] = undefined;
      w.free.push(slot);
      w.inflight--;
      w.delivered++;
      n++;
      if (ok === 1) this.settle(op, value, false);
      else this.settle(op, decodeError(value), true);
    }
  }

  /** Ends `op` with a value or an error and wakes its coroutine. */
  private settle(op: RunOp, value: unknown, isError: boolean): void {
    if (op.settled) return;
    op.settled = true;
    op.w = null;
    if (isError) this.failed++;
    else this.completed++;
    this.ended();
    const c = op.coro!;
    c._s._wake(c, op.seq, value, isError);
  }

  private fail(op: RunOp, err: unknown): void {
    if (op.w !== null) this.revoke(op);
    this.settle(op, err, true);
  }

  private ended(): void {
    if (--this.active === 0 && this._closer !== null) {
      const c = this._closer;
      this._closer = null;
      c._s._wake(c, this._closerSeq, undefined, false);
    }
  }

  /** @internal Nothing queued or running. */
  _idle(): boolean {
    return this.active === 0;
  }

  /** Takes `op` off its worker's table; true if it had not started (it never will). */
  private revoke(op: RunOp): boolean {
    const w = op.w!;
    const q = word(op.gen, ST_QUEUED);
    const prev = Atomics.compareExchange(w.state, op.slot, q, word(op.gen, ST_CANCELLED));
    if (prev === word(op.gen, ST_RUNNING)) Atomics.compareExchange(w.state, op.slot, prev, word(op.gen, ST_CANCELLED));
    w.tasks[op.slot] = undefined;
    w.free.push(op.slot);
    w.inflight--;
    op.w = null;
    return prev === q;
  }

  /**
   * @internal The coroutine stopped waiting (timeout, terminate, throw): the task never starts if
   * it had not; a task already running gets its worker terminated, unless the worker holds state.
   */
  _abandon(op: RunOp, timedOut: boolean): void {
    if (op.settled) return;
    op.settled = true;
    if (timedOut) this.timedOut++;
    else this.cancelled++;
    this.ended();
    const w = op.w;
    if (w === null) return; // still in the backlog: skipped there
    const slot = op.slot;
    const wasRunning = Atomics.load(w.state, slot) === word(op.gen, ST_RUNNING);
    this.revoke(op);
    if (wasRunning && w.alive && w.pins === 0) this.replaceIfStuck(w);
  }

  /**
   * `w` was running a task that was abandoned. Revokes everything queued on it; if it is then
   * running nothing else, it is still inside the abandoned task (or idle): terminate it, which
   * kills no other task. The revoked tasks go to other threads.
   */
  private replaceIfStuck(w: PoolWorker): void {
    this.drainWorker(w);
    const moved: RunOp[] = [];
    let busy = false;
    for (let s = 0; s < SLOTS; s++) {
      const op = w.tasks[s];
      if (op === undefined) continue;
      if (op.pin !== null) continue;
      const prevState = Atomics.load(w.state, s);
      if (prevState === word(op.gen, ST_QUEUED)) {
        if (this.revoke(op)) moved.push(op);
        else busy = true;
      } else if (prevState === word(op.gen, ST_RUNNING)) busy = true;
    }
    if (!busy) {
      // Results of tasks that finished before the revocation are in the port already.
      this.drainWorker(w);
      this.retire(w);
      void w.worker.terminate();
    }
    w.outbox = [];
    w.transfer = [];
    if (moved.length > 0) this.backlog.splice(this.backlogHead, 0, ...moved);
    for (const col of this.collectors.values()) col.poke();
  }

  /** Takes `w` out of service (it is terminated or has exited). */
  private retire(w: PoolWorker): void {
    if (!w.alive) return;
    w.alive = false;
    const i = this.workers.indexOf(w);
    if (i >= 0) this.workers.splice(i, 1);
    this.replaced++;
  }

  /** @internal A worker thread exited: expected (closed, terminated) or not (a task killed it). */
  _workerExited(w: PoolWorker, code: number): void {
    this.threads--;
    if (w.alive && !this.closed) {
      this.retire(w);
      this.drainWorker(w);
      const why = `the worker thread exited with code ${code} while running the task`;
      for (let s = 0; s < SLOTS; s++) {
        const op = w.tasks[s];
        if (op === undefined) continue;
        const queued = Atomics.load(w.state, s) === word(op.gen, ST_QUEUED);
        // A thread that failed before delivering anything may fail to start at all: its tasks
        // end with its error rather than go round to the next thread.
        const startFailed = w.delivered === 0 && w.lastError !== undefined;
        if (queued && op.pin === null && !startFailed && this.revoke(op)) {
          this.backlog.splice(this.backlogHead, 0, op);
          continue;
        }
        this.fail(op, new WorkerExitError(op.pin !== null && queued ? 'the worker thread holding this state has exited' : why, code, w.lastError));
      }
      for (const col of this.collectors.values()) col.poke();
    }
    if (this.closed && this.threads === 0) this.closeFds();
  }

  /** Every thread has exited, so none can write to the pipes any more: close them. */
  private closeFds(): void {
    if (this.fdsClosed) return;
    this.fdsClosed = true;
    for (const col of this.collectors.values()) {
      native.close(col.rfd);
      native.close(col.wfd);
    }
  }

  // ---- pinned work (state kept in one worker, such as a database connection) ----

  /** @internal A worker to keep state in: the one holding the least state, started if need be. */
  _pin(): PoolWorker {
    if (this.closing) throw new PoolClosedError();
    let best: PoolWorker | null = null;
    for (const w of this.workers) if (best === null || w.pins < best.pins) best = w;
    const w = (best === null || best.pins > 0) && this.workers.length < this.size ? this.startWorker() : best!;
    w.pins++;
    return w;
  }

  /** @internal */
  _unpin(w: PoolWorker): void {
    if (w.pins > 0) w.pins--;
  }

  /** @internal Runs `task` on worker `w` (no timeout: a task holding state cannot be abandoned mid-way). */
  _runOn<R>(w: PoolWorker, task: Task, args: unknown[]): Op<R> {
    return this.op(task, args, undefined, undefined, w) as Op<R>;
  }
}

/** @internal A worker handle for pinned work. */
export type PinnedWorker = PoolWorker;
