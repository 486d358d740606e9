/**
 * Errors of the pools: a closed pool, a worker that died under a task, and a database's own
 * errors. A task's own error is rethrown as itself (its class, message and stack), not wrapped.
 *
 * @module
 */
import { AsyncoroError } from '../core/errors.js';

/**
 * The thread pool is closed: `run` after `close()`, or a task still queued or running when
 * `close({ terminate: true })` ended it. `code` is `'ERR_POOL_CLOSED'`.
 *
 * @example
 * ```ts
 * try { yield* pool.run(task) } catch (e) { if (e instanceof PoolClosedError) return }
 * ```
 */
export class PoolClosedError extends AsyncoroError {
  constructor(what = 'the thread pool is closed') {
    super(what, 'ERR_POOL_CLOSED');
  }
}

/**
 * The worker thread running the task exited before the task ended: the task called
 * `process.exit()`, or threw an error its worker could not survive (`cause`). Tasks queued behind
 * it on that worker are not lost: they run on another worker. `code` is `'ERR_WORKER_EXIT'`.
 *
 * @example
 * ```ts
 * try { yield* pool.run(task) } catch (e) { if (e instanceof WorkerExitError) console.log(e.exitCode) }
 * ```
 */
export class WorkerExitError extends AsyncoroError {
  /** The worker thread's exit code. */
  readonly exitCode: number;
  constructor(message: string, exitCode: number, cause?: unknown) {
    super(message, 'ERR_WORKER_EXIT', cause !== undefined ? { cause } : undefined);
    this.exitCode = exitCode;
  }
}

/**
 * An error reported by the database, with its own message and code: SQLite's extended result
 * code name (`'SQLITE_CONSTRAINT_UNIQUE'`, `'SQLITE_ERROR'`) or PostgreSQL's SQLSTATE (`'23505'`,
 * `'42P01'`). PostgreSQL's details, when it gives them, are kept in `detail` and `constraint`.
 *
 * @example
 * ```ts
 * try { yield* cur.execute('INSERT INTO t (id) VALUES (?)', [1]) }
 * catch (e) { if (e instanceof DatabaseError && e.code === 'SQLITE_CONSTRAINT_PRIMARYKEY') console.log('duplicate') }
 * ```
 */
export class DatabaseError extends AsyncoroError {
  /** Which database said it. */
  readonly backend: 'sqlite' | 'postgres';
  /** PostgreSQL's DETAIL field, if any. */
  readonly detail: string | undefined;
  /** The constraint that was violated (PostgreSQL), if any. */
  readonly constraint: string | undefined;
  constructor(backend: 'sqlite' | 'postgres', message: string, code: string, extra: { detail?: string; constraint?: string } = {}) {
    super(message, code);
    this.backend = backend;
    this.detail = extra.detail;
    this.constraint = extra.constraint;
  }
}
