/**
 * What the thread pool's main side and its workers share: the states of a task slot, the shape of
 * the messages, how errors cross the thread boundary, and {@link move}.
 *
 * Every worker has a table of task slots in a SharedArrayBuffer, one int32 per slot:
 * `generation << 3 | state`. The main thread queues a task in a free slot (QUEUED) and sends it
 * in a batch; the worker claims it with a compare-and-swap QUEUED → RUNNING and, after posting
 * the result, RUNNING → DONE. The main thread revokes a task the worker has not claimed yet with
 * QUEUED → CANCELLED, so a task is either run by exactly one worker or not at all, without any
 * round trip. The generation makes a message about a slot that has since been reused harmless:
 * its compare-and-swap fails.
 *
 * The worker side is the self-contained function in `worker.ts`; these constants reach it in
 * `workerData`.
 *
 * @module
 * @internal
 */
import type { TransferListItem } from 'node:worker_threads';

/** Slot states (the low three bits of a slot word). */
export const ST_FREE = 0;
export const ST_QUEUED = 1;
export const ST_RUNNING = 2;
export const ST_DONE = 3;
export const ST_CANCELLED = 4;
export const ST_MASK = 7;
/** Generations wrap at 2^28 so that `gen << 3` stays a positive int32. */
export const GEN_MASK = 0x0fffffff;

/** Slots per worker: how many tasks may be queued in one worker at once. */
export const SLOTS = 1024;

/** The word for `gen` and `state`. */
export function word(gen: number, state: number): number {
  return (gen << 3) | state;
}

/** Control messages from the main thread (task batches are plain arrays). */
export type Control =
  /** A task function: its source, compiled once per worker. */
  | { t: 'fn'; id: number; src: string }
  /** A task exported by a module: imported once per worker. */
  | { t: 'mod'; id: number; href: string; name: string }
  /** A collector (one per scheduler using the pool): the pipe to write to and its armed flag. */
  | { t: 'col'; k: number; fd: number; flag: Int32Array }
  /** Finish the queued tasks, then exit. */
  | { t: 'exit' };

/**
 * A task batch is a flat array of {@link BATCH_STRIDE} entries per task:
 * `[slot, gen, taskId, args, collector, ...]`. A result is `[slot, gen, ok, value]`: `ok` is 1
 * for a value, 0 for an error (encoded by {@link encodeError}).
 */
export const BATCH_STRIDE = 5;

/** The registered symbol's key that marks a value made by {@link move}. */
export const MOVE_KEY = 'asyncoro.pool.move';
const MOVE = Symbol.for(MOVE_KEY);
/** The property that marks an error encoded by a worker. */
export const ERROR_KEY = '__asyncoroError';
const ERROR = ERROR_KEY;

/** A value to transfer rather than copy, made by {@link move}. */
export interface Moved<T> {
  readonly [MOVE]: true;
  readonly value: T;
  readonly transferList: readonly TransferListItem[];
}

/**
 * Marks `value` to be transferred to (or, returned by a task, from) a worker instead of copied:
 * an `ArrayBuffer`, a typed array or `DataView` (its whole buffer moves), or a `MessagePort`; or
 * any value with an explicit `transferList`. The sender can no longer use what was transferred.
 * A Node `Buffer` carved from the shared pool (small `Buffer.from` / `allocUnsafe`) cannot move
 * and is copied. The marker is recognised by a registered symbol, so a task module can make one
 * without importing asyncoro.
 *
 * @example
 * ```ts
 * const big = new Float64Array(1 << 20);
 * const sum: number = yield* pool.run(sumTask, move(big)); // no copy; `big` is detached here
 * ```
 */
export function move<T>(value: T, transferList?: readonly TransferListItem[]): Moved<T> {
  let list = transferList;
  if (list === undefined) {
    if (value instanceof ArrayBuffer) list = [value];
    else if (ArrayBuffer.isView(value)) list = [value.buffer as ArrayBuffer];
    else if (value !== null && typeof value === 'object' && typeof (value as { postMessage?: unknown }).postMessage === 'function') {
      list = [value as unknown as TransferListItem];
    } else throw new TypeError('move(value) needs an ArrayBuffer, a typed array, a DataView or a MessagePort, or an explicit transferList');
  } else if (!Array.isArray(list)) throw new TypeError('move(value, transferList): transferList must be an array');
  return { [MOVE]: true, value, transferList: list };
}

/** Whether `v` was made by {@link move}. */
export function isMoved(v: unknown): v is Moved<unknown> {
  return v !== null && typeof v === 'object' && (v as { [MOVE]?: unknown })[MOVE] === true;
}

const BUILTIN: Record<string, ErrorConstructor> = {
  Error,
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError,
};

/*
 * A worker sends a task's Error as `{ [ERROR_KEY]: 1, name, message, stack, props }`: its class
 * name, message and stack (the worker's), plus its own enumerable properties (`code`, `errno`...).
 * Anything thrown that is not an Error passes as it is.
 */

/**
 * Rebuilds an error from {@link encodeError}: the built-in class of the same name (`TypeError`,
 * `RangeError`...) or `Error`, with the task's name, message, stack and properties.
 */
export function decodeError(v: unknown): unknown {
  if (v === null || typeof v !== 'object' || (v as Record<string, unknown>)[ERROR] !== 1) return v;
  const o = v as { name: string; message: string; stack: string | undefined; props: Record<string, unknown> };
  const Ctor = BUILTIN[o.name] ?? Error;
  const err = new Ctor(o.message);
  if (err.name !== o.name) Object.defineProperty(err, 'name', { value: o.name, configurable: true, writable: true });
  if (o.stack !== undefined) Object.defineProperty(err, 'stack', { value: o.stack, configurable: true, writable: true });
  Object.assign(err, o.props);
  return err;
}
