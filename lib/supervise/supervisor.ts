/**
 * `Supervisor`: OTP-style supervision on top of monitors and restart in place. A supervisor is a
 * coroutine that starts its children in order, monitors them, and when one ends decides by the
 * child's restart policy and its own strategy what to restart:
 *
 * - `one_for_one`: only that child;
 * - `one_for_all`: every child (the others are stopped in reverse order first, then all are
 *   started again in order);
 * - `rest_for_one`: that child and the ones started after it, the same way.
 *
 * More than `intensity` restarts within `period` ms make the supervisor give up: it stops its
 * children in reverse order and fails with {@link RestartIntensityError}, which its own monitor
 * (a parent supervisor, when they nest) hears of. Children restart in place, so a child's Coro
 * stays the same object across restarts: `sup.child(id)` can be kept.
 *
 * @module
 */
import { F_RESTARTABLE, self, sleep, spawn, type Coro, type CoroFn } from '../core/coro.js';
import { AsyncoroError, TimeoutError } from '../core/errors.js';
import { receive } from '../msg/mailbox.js';
import { MonitorStatus } from './monitor.js';

/** When a child is restarted: always, only after an error, never. */
export type RestartPolicy = 'permanent' | 'transient' | 'temporary';

/** Which children restart with a failed one. */
export type Strategy = 'one_for_one' | 'one_for_all' | 'rest_for_one';

/**
 * One child of a supervisor.
 *
 * @example
 * ```ts
 * const spec: ChildSpec = { id: 'db', fn: dbWorker, args: ['db.sqlite'], restart: 'permanent', shutdown: 2000 };
 * ```
 */
export interface ChildSpec {
  /** Unique among the supervisor's children. */
  id: string;
  /** The generator function the child runs. */
  fn: CoroFn<unknown, any>;
  /** Its arguments (kept for restarts). */
  args?: unknown[];
  /** Default `'permanent'`. A `'temporary'` child that ends is removed; so is a `'transient'` one that ends without an error. */
  restart?: RestartPolicy;
  /**
   * How long the child has to end after `terminate()` when it is stopped, in ms; after that it
   * is terminated once more and no longer waited for. Default 5000; for a nested supervisor
   * ({@link Supervisor.spec}), no limit.
   */
  shutdown?: number;
}

/** Delays between restarts of the same child: `initial * factor^(k-1)` ms for its k-th restart within the period, at most `max`. */
export interface Backoff {
  /** Delay of a first restart, in ms; default 0 (no backoff). */
  initial?: number;
  /** Default 2. */
  factor?: number;
  /** Default 30,000 ms. */
  max?: number;
}

/** Options of a {@link Supervisor}. */
export interface SupervisorOptions {
  /** The children, started in this order and stopped in the reverse order. */
  children: ChildSpec[];
  /** Default `'one_for_one'`. */
  strategy?: Strategy;
  /** Restarts allowed within `period` before the supervisor gives up; default 3. */
  intensity?: number;
  /** In ms; default 5000. */
  period?: number;
  backoff?: Backoff;
  /** The supervisor coroutine's name; default `'supervisor'`. */
  name?: string;
  /** Called with each end of a child the supervisor handles, before it acts (for logging). */
  onChildExit?: (id: string, status: MonitorStatus) => void;
}

/**
 * A supervisor gave up: more than `intensity` restarts within `period`. `code` is
 * `'ERR_RESTART_INTENSITY'`; `cause` is the error of the child whose end was one too many (if it
 * failed with one).
 */
export class RestartIntensityError extends AsyncoroError {
  constructor(message: string, cause: unknown) {
    super(message, 'ERR_RESTART_INTENSITY', { cause });
  }
}

interface Child {
  readonly spec: ChildSpec;
  coro: Coro;
  /** Restart times within the period, for backoff. */
  recent: number[];
  restarts: number;
}

const supervisors = new WeakMap<Coro, Supervisor>();

/**
 * A supervisor: a coroutine that keeps its children running (see the module description).
 *
 * @example
 * ```ts
 * const sup = new Supervisor({
 *   strategy: 'one_for_one',
 *   intensity: 5,
 *   period: 10_000,
 *   backoff: { initial: 10, max: 1000 },
 *   children: [
 *     { id: 'acceptor', fn: acceptor, args: [8080] },
 *     Supervisor.spec('workers', { strategy: 'one_for_all', children: workers }),
 *   ],
 * });
 * // later
 * yield* sup.stop();
 * ```
 */
export class Supervisor {
  /** The supervisor's coroutine: monitor it, or terminate it to stop the tree. */
  readonly coro: Coro<void>;
  private readonly options: SupervisorOptions;
  private kids: Child[] = [];
  private restartTimes: number[] = [];
  private restarts = 0;
  private stopping = false;

  /**
   * Starts a supervisor coroutine (on the running coroutine's scheduler, or the default one),
   * which starts the children in order.
   */
  constructor(options: SupervisorOptions);
  /** @internal A supervisor run by `coro` itself (a nested supervisor's child function). */
  constructor(options: SupervisorOptions, coro: Coro);
  constructor(options: SupervisorOptions, coro?: Coro) {
    checkOptions(options);
    this.options = options;
    // Spawned without arguments (it finds this object by its coroutine), so a monitor added at
    // any time can restart it.
    this.coro = (coro ?? spawn(runSupervisor)) as Coro<void>;
    if (coro === undefined) this.coro.name = options.name ?? 'supervisor';
    supervisors.set(this.coro, this);
  }

  /**
   * A child spec that runs a nested supervisor with `options`: supervisors nest.
   *
   * @example
   * ```ts
   * const top = new Supervisor({ children: [Supervisor.spec('pool', { strategy: 'one_for_all', children })] });
   * ```
   */
  static spec(id: string, options: SupervisorOptions, restart: RestartPolicy = 'permanent'): ChildSpec {
    checkOptions(options);
    return { id, fn: nestedSupervisor, args: [options], restart, shutdown: Infinity };
  }

  /** The supervisor run by `coro` (the one of its current run), if it is one. */
  static of(coro: Coro): Supervisor | undefined {
    return supervisors.get(coro);
  }

  /** The coroutine of the child `id` (the same object across restarts), or undefined. */
  child(id: string): Coro | undefined {
    return this.kids.find((k) => k.spec.id === id)?.coro;
  }

  /** The children in start order: id, coroutine, whether it runs, how many times it was restarted. */
  children(): { id: string; coro: Coro; alive: boolean; restarts: number }[] {
    return this.kids.map((k) => ({ id: k.spec.id, coro: k.coro, alive: k.coro.isAlive, restarts: k.restarts }));
  }

  /** Counters: children, restarts done since the supervisor (last) started. */
  statistics(): { children: number; alive: number; restarts: number } {
    let alive = 0;
    for (const k of this.kids) if (k.coro.isAlive) alive++;
    return { children: this.kids.length, alive, restarts: this.restarts };
  }

  /**
   * Stops the supervisor: its children are stopped in reverse order, then it ends (terminated).
   * Waits for that inside a coroutine.
   *
   * @example
   * ```ts
   * yield* sup.stop();
   * ```
   */
  *stop(): Generator<unknown, void, unknown> {
    if (!this.coro.isAlive) return;
    this.coro.terminate();
    try {
      yield* this.coro.finish();
    } catch {
      // Terminated, as asked (or failed while stopping: its monitor hears of that).
    }
  }

  /** @internal The supervisor's run. */
  *_main(): Generator<unknown, void, unknown> {
    const me = self();
    this.kids = [];
    this.restartTimes = [];
    this.restarts = 0;
    this.stopping = false;
    try {
      for (const spec of this.options.children) this.kids.push({ spec, coro: startChild(spec, me), recent: [], restarts: 0 });
      for (;;) {
        const msg = yield* receive();
        if (msg instanceof MonitorStatus) yield* this.handle(msg, me);
      }
    } finally {
      this.stopping = true;
      yield* this.stopAll(this.kids);
    }
  }

  private *handle(st: MonitorStatus, me: Coro): Generator<unknown, void, unknown> {
    const i = this.kids.findIndex((k) => k.coro === st.coro);
    // Not a child (any more), or an end from before a restart already done: nothing to do.
    if (i < 0 || st.coro.isAlive || this.stopping) return;
    const k = this.kids[i]!;
    this.options.onChildExit?.(k.spec.id, st);
    const policy = k.spec.restart ?? 'permanent';
    if (policy === 'temporary' || (policy === 'transient' && st.kind !== 'error')) {
      this.kids.splice(i, 1);
      return;
    }
    const now = me.scheduler.clock.now();
    this.countRestart(now, st);
    const delay = this.backoff(k, now);
    const strategy = this.options.strategy ?? 'one_for_one';
    if (strategy === 'one_for_one') {
      this.restart(k, me, delay);
      return;
    }
    // one_for_all / rest_for_one: stop the others of the group (waiting for them), then start
    // the group again in order. The status is held meanwhile, so the failed child stays
    // restartable across the waits.
    const release = st.hold();
    try {
      const group = strategy === 'one_for_all' ? this.kids.slice() : this.kids.slice(i);
      yield* this.stopAll(group.filter((g) => g !== k));
      if (delay > 0) yield* sleep(delay);
      for (const g of group) {
        if (g !== k && (g.spec.restart ?? 'permanent') === 'temporary') {
          // A temporary child stopped for a sibling is not restarted (as in OTP).
          this.kids.splice(this.kids.indexOf(g), 1);
          continue;
        }
        this.restart(g, me, 0);
      }
    } finally {
      release();
    }
  }

  /** Restarts `k` in place, or starts it anew if its old run can no longer be restarted. */
  private restart(k: Child, me: Coro, delay: number): void {
    k.restarts++;
    this.restarts++;
    if (k.coro.isAlive) return; // stopping it timed out: it ends by itself and is handled then
    if ((k.coro._f & F_RESTARTABLE) !== 0) k.coro.restart({ delay });
    else k.coro = startChild(k.spec, me);
  }

  private countRestart(now: number, st: MonitorStatus): void {
    const period = this.options.period ?? 5000;
    const intensity = this.options.intensity ?? 3;
    const n = within(this.restartTimes, now, period);
    if (n > intensity) {
      throw new RestartIntensityError(
        `${String(this.coro)}: ${n} restarts within ${period} ms (intensity ${intensity}); giving up`,
        st.error,
      );
    }
  }

  private backoff(k: Child, now: number): number {
    const b = this.options.backoff;
    const n = within(k.recent, now, this.options.period ?? 5000);
    if (b === undefined || !(b.initial! > 0)) return 0;
    return Math.min(b.max ?? 30_000, b.initial! * (b.factor ?? 2) ** (n - 1));
  }

  /** Stops the live children of `group` in reverse order, each within its shutdown time. */
  private *stopAll(group: Child[]): Generator<unknown, void, unknown> {
    for (let j = group.length - 1; j >= 0; j--) {
      const c = group[j]!.coro;
      if (!c.isAlive) continue;
      const shutdown = group[j]!.spec.shutdown ?? 5000;
      c.terminate();
      try {
        yield* c.finish(shutdown === Infinity ? undefined : shutdown);
      } catch (e) {
        // A child that does not end in time gets one more CoroExit and is not waited for.
        if (e instanceof TimeoutError) c.terminate();
      }
    }
  }
}

/** Adds `now` to `times`, drops the times `period` or more ago, and returns how many are left. */
function within(times: number[], now: number, period: number): number {
  times.push(now);
  while (times[0]! <= now - period) times.shift();
  return times.length;
}

function startChild(spec: ChildSpec, sup: Coro): Coro {
  const c = sup.scheduler.spawn(spec.fn, ...(spec.args ?? []));
  // Monitored before it first runs, so its arguments are kept for restarts in place.
  c.notify(sup);
  return c;
}

function* runSupervisor(this: Coro): Generator<unknown, void, unknown> {
  yield* supervisors.get(this)!._main();
}

function* nestedSupervisor(this: Coro, options: SupervisorOptions): Generator<unknown, void, unknown> {
  yield* new Supervisor(options, this)._main();
}

function checkOptions(o: SupervisorOptions): void {
  if (o === null || typeof o !== 'object' || !Array.isArray(o.children)) throw new TypeError('a supervisor needs options with children: ChildSpec[]');
  const ids = new Set<string>();
  for (const c of o.children) {
    if (c === null || typeof c !== 'object' || typeof c.fn !== 'function') throw new TypeError('a child spec needs fn, a generator function');
    if (typeof c.id !== 'string' || ids.has(c.id)) throw new TypeError(`child ids must be unique strings (got ${String(c.id)})`);
    ids.add(c.id);
    if (c.restart !== undefined && !['permanent', 'transient', 'temporary'].includes(c.restart)) throw new TypeError(`unknown restart policy '${c.restart}'`);
    if (c.shutdown !== undefined && !(c.shutdown >= 0)) throw new RangeError(`shutdown must be >= 0 ms, got ${c.shutdown}`);
  }
  if (o.strategy !== undefined && !['one_for_one', 'one_for_all', 'rest_for_one'].includes(o.strategy)) throw new TypeError(`unknown strategy '${o.strategy}'`);
  if (o.intensity !== undefined && !(Number.isInteger(o.intensity) && o.intensity >= 0)) throw new RangeError(`intensity must be an integer >= 0, got ${o.intensity}`);
  if (o.period !== undefined && !(o.period > 0)) throw new RangeError(`period must be > 0 ms, got ${o.period}`);
}
