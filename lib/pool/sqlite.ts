/**
 * The SQLite backend of `AsyncDBCursor`: a better-sqlite3 connection kept in one thread of an
 * {@link AsyncThreadPool} (pinned there), driven by task functions that run in that thread.
 *
 * The task functions below are sent to the thread as source (see `AsyncThreadPool.run`), so each
 * is self-contained: the connections live in a table on the thread's `globalThis`, and the driver
 * is imported by the absolute URL resolved here, in the main thread.
 *
 * @module
 * @internal
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { pathToFileURL } from 'node:url';
import { AsyncoroError } from '../core/errors.js';
import { AsyncThreadPool, type PinnedWorker } from './thread-pool.js';
import { DatabaseError } from './errors.js';
import type { Backend, ExecResult, Params, SqliteOptions } from './db.js';

/** What the thread keeps per connection. */
interface Conn {
  db: {
    prepare(sql: string): Stmt;
    exec(sql: string): void;
    close(): void;
    transaction<F extends (...a: never[]) => unknown>(fn: F): F;
  };
  iter: Iterator<unknown> | null;
  raw: boolean;
  cache: Map<string, Stmt>;
}

interface Stmt {
  reader: boolean;
  raw(on: boolean): Stmt;
  iterate(...args: unknown[]): Iterator<unknown>;
  run(...args: unknown[]): { changes: number; lastInsertRowid: number | bigint };
  columns(): { name: string }[];
}

interface Table {
  next: number;
  conns: Map<number, Conn>;
}

// ---- task functions (run in the pool thread; self-contained) ----

const open = async (href: string, path: string, readonly: boolean, busyTimeout: number, raw: boolean): Promise<number> => {
  const g = globalThis as unknown as { __asyncoroSqlite?: Table };
  const table = (g.__asyncoroSqlite ??= { next: 1, conns: new Map() });
  const mod = (await import(href)) as { default: new (path: string, opts: object) => Conn['db'] };
  const db = new mod.default(path, { readonly, timeout: busyTimeout });
  const id = table.next++;
  table.conns.set(id, { db, iter: null, raw, cache: new Map() });
  return id;
};

const execute = (id: number, sql: string, params: unknown, prefetch: number): ExecResult => {
  const c = (globalThis as unknown as { __asyncoroSqlite: Table }).__asyncoroSqlite.conns.get(id);
  if (c === undefined) throw new Error('the SQLite connection is closed');
  // An open iterator keeps the connection busy: the previous result is dropped.
  if (c.iter !== null) {
    c.iter.return?.();
    c.iter = null;
  }
  let stmt = c.cache.get(sql);
  if (stmt === undefined) {
    stmt = c.db.prepare(sql);
    if (c.cache.size >= 64) c.cache.delete(c.cache.keys().next().value as string);
    c.cache.set(sql, stmt);
  }
  const args = params === undefined ? [] : [params];
  if (stmt.reader) {
    if (c.raw) stmt.raw(true);
    const it = stmt.iterate(...args);
    const rows: unknown[] = [];
    let done = false;
    while (prefetch < 0 || rows.length < prefetch) {
      const r = it.next();
      if (r.done === true) {
        done = true;
        break;
      }
      rows.push(r.value);
    }
    if (!done) c.iter = it;
    return { reader: true, columns: stmt.columns().map((x) => x.name), rows, done, changes: -1, lastRowId: null };
  }
  const info = stmt.run(...args);
  return { reader: false, columns: null, rows: [], done: true, changes: info.changes, lastRowId: info.lastInsertRowid };
};

const fetchRows = (id: number, n: number): { rows: unknown[]; done: boolean } => {
  const c = (globalThis as unknown as { __asyncoroSqlite: Table }).__asyncoroSqlite.conns.get(id);
  if (c === undefined) throw new Error('the SQLite connection is closed');
  const rows: unknown[] = [];
  const it = c.iter;
  if (it === null) return { rows, done: true };
  while (n < 0 || rows.length < n) {
    const r = it.next();
    if (r.done === true) {
      c.iter = null;
      return { rows, done: true };
    }
    rows.push(r.value);
  }
  return { rows, done: false };
};

const executemany = (id: number, sql: string, seq: unknown[]): number => {
  const c = (globalThis as unknown as { __asyncoroSqlite: Table }).__asyncoroSqlite.conns.get(id);
  if (c === undefined) throw new Error('the SQLite connection is closed');
  if (c.iter !== null) {
    c.iter.return?.();
    c.iter = null;
  }
  const stmt = c.db.prepare(sql);
  // better-sqlite3's transaction function uses a savepoint inside an open transaction.
  const all = c.db.transaction((sets: unknown[]) => {
    let changes = 0;
    for (const p of sets) changes += stmt.run(p).changes;
    return changes;
  });
  return all(seq);
};

const exec = (id: number, sql: string): void => {
  const c = (globalThis as unknown as { __asyncoroSqlite: Table }).__asyncoroSqlite.conns.get(id);
  if (c === undefined) throw new Error('the SQLite connection is closed');
  if (c.iter !== null) {
    c.iter.return?.();
    c.iter = null;
  }
  c.db.exec(sql);
};

const close = (id: number): void => {
  const table = (globalThis as unknown as { __asyncoroSqlite?: Table }).__asyncoroSqlite;
  const c = table?.conns.get(id);
  if (c === undefined) return;
  table!.conns.delete(id);
  if (c.iter !== null) c.iter.return?.();
  c.db.close();
};

// ---- main thread ----

let shared: AsyncThreadPool | undefined;

/** The pool database connections live in when the caller names none. */
function dbPool(): AsyncThreadPool {
  if (shared === undefined || shared.isClosed) {
    shared = new AsyncThreadPool({ size: Math.max(2, Math.min(4, availableParallelism())) });
  }
  return shared;
}

let driver: string | undefined;

function driverHref(): string {
  if (driver !== undefined) return driver;
  let path: string;
  try {
    path = createRequire(import.meta.url).resolve('better-sqlite3');
  } catch {
    throw new AsyncoroError('AsyncDBCursor.sqlite needs better-sqlite3: npm install better-sqlite3@12', 'ERR_DRIVER_MISSING');
  }
  if (!existsSync(path)) throw new AsyncoroError(`better-sqlite3 resolved to ${path}, which does not exist`, 'ERR_DRIVER_MISSING');
  driver = pathToFileURL(path).href;
  return driver;
}

/** better-sqlite3's errors carry SQLite's extended result code name. */
function translate(e: unknown): unknown {
  const code = (e as { code?: unknown } | null)?.code;
  if (e instanceof Error && typeof code === 'string' && code.startsWith('SQLITE_')) return new DatabaseError('sqlite', e.message, code);
  return e;
}

class SqliteBackend implements Backend {
  readonly name = 'sqlite';
  readonly paramstyle = 'qmark';
  constructor(
    private readonly pool: AsyncThreadPool,
    private readonly worker: PinnedWorker,
    private readonly id: number,
  ) {}

  private *call<R>(fn: (...args: never[]) => unknown, args: unknown[]): Generator<unknown, R, unknown> {
    try {
      return yield* this.pool._runOn<R>(this.worker, fn, args);
    } catch (e) {
      throw translate(e);
    }
  }

  execute(sql: string, params: Params | undefined, prefetch: number): Generator<unknown, ExecResult, unknown> {
    return this.call<ExecResult>(execute, [this.id, sql, params, prefetch]);
  }
  fetch(n: number): Generator<unknown, { rows: unknown[]; done: boolean }, unknown> {
    return this.call(fetchRows, [this.id, n]);
  }
  executemany(sql: string, seq: readonly Params[]): Generator<unknown, number, unknown> {
    return this.call<number>(executemany, [this.id, sql, seq]);
  }
  exec(sql: string): Generator<unknown, void, unknown> {
    return this.call<void>(exec, [this.id, sql]);
  }
  *close(): Generator<unknown, void, unknown> {
    try {
      yield* this.call<void>(close, [this.id]);
    } finally {
      this.pool._unpin(this.worker);
    }
  }
}

/** @internal Opens a connection in a pool thread. */
export function* openSqlite(path: string, options: SqliteOptions): Generator<unknown, Backend, unknown> {
  const busy = options.busyTimeout ?? 5000;
  if (!Number.isInteger(busy) || busy < 0) throw new RangeError(`busyTimeout must be an integer >= 0, got ${busy}`);
  const pool = options.pool ?? dbPool();
  if (!(pool instanceof AsyncThreadPool)) throw new TypeError('options.pool must be an AsyncThreadPool');
  const href = driverHref();
  const worker = pool._pin();
  let id: number;
  try {
    id = yield* pool._runOn<number>(worker, open, [href, path, options.readonly === true, busy, options.rowMode === 'array']);
  } catch (e) {
    pool._unpin(worker);
    throw translate(e);
  }
  return new SqliteBackend(pool, worker, id);
}
