/**
 * The thread pool's worker: runs the tasks the main thread sends, in order, and posts each
 * result as soon as it has one.
 *
 * Tasks arrive in batches (flat arrays, see `protocol.ts`) on `parentPort`. Each is claimed in
 * the shared slot table before it runs, so a task the main thread revoked meanwhile (cancelled,
 * timed out, or moved to another worker) is skipped. Results go out one message per task on a
 * port the main thread drains without its event loop (`receiveMessageOnPort`), so a worker that
 * is terminated while a task hangs has already handed over every result it had. The main thread
 * is told that results are waiting by one byte written to its collector's pipe, and only when
 * the collector has armed its flag: while it is busy taking results, workers do not write, so
 * one wake-up serves a whole batch.
 *
 * The worker is one self-contained function, {@link workerMain}, whose source the pool runs as the
 * thread's script: a thread starts without loading a module (or the addon, or a TypeScript
 * loader), which keeps starting one as cheap as Node makes it. So this function refers to
 * nothing outside itself but its parameters and globals; the constants it shares with the main
 * side come in `workerData`.
 *
 * @module
 * @internal
 */
import type * as WorkerThreads from 'node:worker_threads';
import type * as Fs from 'node:fs';
import type { MessagePort, TransferListItem } from 'node:worker_threads';
import type { Control } from './protocol.js';

/** What the pool gives each thread in `workerData`. */
export interface WorkerInit {
  results: MessagePort;
  state: SharedArrayBuffer;
  /** tsx's ESM API, to load a `.ts` task module when this thread has no TypeScript loader. */
  tsx: string | null;
  /** Constants of `protocol.ts`. */
  k: { QUEUED: number; RUNNING: number; DONE: number; STRIDE: number; MOVE: string; ERROR: string };
}

/**
 * The worker thread's main function (see the module description). `__name` is the helper that
 * tsx and esbuild's `keepNames` call inside compiled function bodies; the script that runs this
 * function's source defines it.
 */
export function workerMain(wt: typeof WorkerThreads, fs: typeof Fs): void {
  type TaskFn = (...args: unknown[]) => unknown;
  const init = wt.workerData as WorkerInit;
  const K = init.k;
  const port = wt.parentPort!;
  const results = init.results;
  const state = new Int32Array(init.state);
  const ONE = new Uint8Array([1]);
  const MOVE = Symbol.for(K.MOVE);
  const word = (gen: number, st: number): number => (gen << 3) | st;

  /** Task functions by id: the function, a promise while its module loads, or the load error. */
  const tasks = new Map<number, TaskFn | Promise<void> | Error>();
  const collectors: ({ fd: number; flag: Int32Array } | undefined)[] = [];
  let queue: unknown[] = [];
  let head = 0;
  let pumping = false;
  let exiting = false;
  let tsxRegistered = false;

  const keepName = <T>(f: T, name: string): T => {
    try {
      Object.defineProperty(f, 'name', { value: name, configurable: true });
    } catch {
      // A frozen function keeps the name it has.
    }
    return f;
  };

  /** Compiles a task function from its source, with the `__name` helper compiled code may call. */
  const compile = (src: string): TaskFn | Error => {
    try {
      const f = new Function('__name', `return (${src});`)(keepName) as unknown;
      if (typeof f !== 'function') return new TypeError('the task source did not evaluate to a function');
      return f as TaskFn;
    } catch (e) {
      return e instanceof Error ? e : new Error(String(e));
    }
  };

  const importModule = async (href: string): Promise<Record<string, unknown>> => {
    try {
      return (await import(href)) as Record<string, unknown>;
    } catch (e) {
      // A `.ts` module in a thread without a TypeScript loader: register tsx here, if it is there.
      if ((e as { code?: string }).code !== 'ERR_UNKNOWN_FILE_EXTENSION' || init.tsx === null) throw e;
      if (!tsxRegistered) {
        const api = (await import(init.tsx)) as { register(): unknown };
        api.register();
        tsxRegistered = true;
      }
      // A failed import stays cached under its URL: load the module again under another one.
      return (await import(`${href}${href.includes('?') ? '&' : '?'}tsx`)) as Record<string, unknown>;
    }
  };

  const load = (id: number, href: string, name: string): Promise<void> =>
    importModule(href).then(
      (mod) => {
        const f = mod[name];
        tasks.set(id, typeof f === 'function' ? (f as TaskFn) : new TypeError(`${href} has no function export '${name}'`));
      },
      (e: unknown) => {
        tasks.set(id, e instanceof Error ? e : new Error(String(e)));
      },
    );

  const encodeError = (e: unknown, plain: boolean): unknown => {
    if (!(e instanceof Error)) return plain ? { [K.ERROR]: 1, name: 'Error', message: String(e), stack: undefined, props: {} } : e;
    const props: Record<string, unknown> = {};
    if (!plain) {
      for (const key of Object.keys(e)) {
        const v = (e as unknown as Record<string, unknown>)[key];
        if (typeof v !== 'function' && typeof v !== 'symbol') props[key] = v;
      }
    }
    return { [K.ERROR]: 1, name: e.name, message: e.message, stack: e.stack, props };
  };

  /**
   * Posts a result, then marks the slot DONE (in that order: a main thread that sees DONE knows
   * the message is already in the port), then wakes the collector if it is armed.
   */
  const finish = (slot: number, gen: number, ok: boolean, value: unknown, k: number): void => {
    let transfer: TransferListItem[] | undefined;
    if (ok && value !== null && typeof value === 'object' && (value as Record<symbol, unknown>)[MOVE] === true) {
      const moved = value as { value: unknown; transferList: TransferListItem[] };
      transfer = moved.transferList;
      value = moved.value;
    }
    try {
      results.postMessage([slot, gen, ok ? 1 : 0, ok ? value : encodeError(value, false)], transfer);
    } catch (e) {
      // The value cannot be cloned (a function, an object with a method...): the task fails with
      // the DataCloneError, or with the plain fields of its own error.
      const err = encodeError(ok ? e : value, true) as { message: string };
      if (ok) err.message = `the task's result cannot be sent to the main thread: ${err.message}`;
      results.postMessage([slot, gen, 0, err]);
    }
    Atomics.compareExchange(state, slot, word(gen, K.RUNNING), word(gen, K.DONE));
    const c = collectors[k];
    if (c !== undefined && Atomics.load(c.flag, 0) !== 0 && Atomics.exchange(c.flag, 0, 0) !== 0) {
      try {
        fs.writeSync(c.fd, ONE);
      } catch {
        // EAGAIN: the pipe is full of wake-ups already, which is as good.
      }
    }
  };

  /** Runs one claimed task; false when it went asynchronous (the pump resumes when it settles). */
  const execute = (slot: number, gen: number, id: number, args: unknown[], k: number): boolean => {
    const f = tasks.get(id);
    if (f instanceof Promise) {
      void f.then(() => {
        if (execute(slot, gen, id, args, k)) pump();
      });
      return false;
    }
    if (f === undefined || f instanceof Error) {
      finish(slot, gen, false, f ?? new Error(`thread pool worker: unknown task ${id}`), k);
      return true;
    }
    let v: unknown;
    try {
      v = f(...args);
    } catch (e) {
      finish(slot, gen, false, e, k);
      return true;
    }
    if (v !== null && (typeof v === 'object' || typeof v === 'function') && typeof (v as PromiseLike<unknown>).then === 'function') {
      (v as PromiseLike<unknown>).then(
        (r) => {
          finish(slot, gen, true, r, k);
          pump();
        },
        (e: unknown) => {
          finish(slot, gen, false, e, k);
          pump();
        },
      );
      return false;
    }
    finish(slot, gen, true, v, k);
    return true;
  };

  /** Runs queued tasks until the queue is empty or a task must be awaited (async task, module load). */
  const pump = (): void => {
    pumping = true;
    while (head < queue.length) {
      const q = queue;
      const slot = q[head] as number;
      const gen = q[head + 1] as number;
      const id = q[head + 2] as number;
      const args = q[head + 3] as unknown[];
      const k = q[head + 4] as number;
      head += K.STRIDE;
      const queued = word(gen, K.QUEUED);
      // Claim the task; a task the main thread revoked meanwhile is skipped.
      if (Atomics.compareExchange(state, slot, queued, word(gen, K.RUNNING)) !== queued) continue;
      if (!execute(slot, gen, id, args, k)) return;
    }
    queue = [];
    head = 0;
    pumping = false;
    if (exiting) {
      port.close();
      results.close();
    }
  };

  const control = (m: Control): void => {
    switch (m.t) {
      case 'fn':
        tasks.set(m.id, compile(m.src));
        break;
      case 'mod':
        tasks.set(m.id, load(m.id, m.href, m.name));
        break;
      case 'col':
        collectors[m.k] = { fd: m.fd, flag: m.flag };
        break;
      case 'exit':
        exiting = true;
        break;
    }
  };

  port.on('message', (m: unknown[] | Control) => {
    if (Array.isArray(m)) {
      if (head === queue.length) {
        queue = m;
        head = 0;
      } else for (let i = 0; i < m.length; i++) queue.push(m[i]);
    } else control(m);
    if (!pumping) pump();
  });
}
