/**
 * `AsyncDBCursor`: a DB-API-like database cursor whose every call is an {@link Op}, so a
 * coroutine waits for the database while the scheduler runs the others.
 *
 * Two backends, one API (and one test suite):
 *
 * - SQLite through better-sqlite3 (12.x, the line for Node 20), the embedded default. The
 *   connection lives in a thread of an {@link AsyncThreadPool} and every call runs there, so a
 *   slow query never blocks the scheduler. A SELECT is stepped lazily (a statement iterator kept
 *   in the thread), so fetching a million rows in batches holds one batch at a time.
 * - PostgreSQL through `pg` with `pg-cursor`: a real server-side cursor (a portal read `n` rows
 *   at a time). `pg` is asynchronous, so it runs on Node's event loop: it needs the scheduler in
 *   integrated or thread mode (a coroutine cannot wait for a Promise in exclusive mode).
 *
 * `execute` runs a statement and prefetches up to `arraysize` rows of its result; `fetchone`,
 * `fetchmany` and `fetchall` take rows from that batch and fetch the next ones as needed. A new
 * `execute` drops what is left of the previous result. Calls on one cursor are serialised, so
 * two coroutines sharing it cannot interleave half-done calls; for concurrency open several
 * cursors (each is its own connection).
 *
 * Parameters are the driver's own: `?` (or `:name` with an object) for SQLite, `$1, $2...` for
 * PostgreSQL ({@link AsyncDBCursor.paramstyle} says which). Database errors are
 * {@link DatabaseError}s with the database's own message and code.
 *
 * @module
 */
import { Lock } from '../sync/lock.js';
import type { Op } from '../core/op.js';
import type { AsyncThreadPool } from './thread-pool.js';
import { openSqlite } from './sqlite.js';
import { openPostgres } from './postgres.js';

/** A row: an object keyed by column name (the default), or an array with `rowMode: 'array'`. */
export type Row = Record<string, unknown> | unknown[];

/** Parameters of a statement: positional (an array) or named (an object; SQLite). */
export type Params = readonly unknown[] | Record<string, unknown>;

/** Options of both backends. */
export interface CursorOptions {
  /** Rows as objects keyed by column name (default) or as arrays in column order. */
  readonly rowMode?: 'object' | 'array';
  /** Rows fetched per round trip, and the default size of `fetchmany`; default 1000. */
  readonly arraysize?: number;
}

/** Options of {@link AsyncDBCursor.sqlite}. */
export interface SqliteOptions extends CursorOptions {
  /** The pool whose thread holds the connection; default a shared pool for database work. */
  readonly pool?: AsyncThreadPool;
  /** Open read-only. */
  readonly readonly?: boolean;
  /** How long SQLite waits for a lock held by another connection, in ms; default 5000. */
  readonly busyTimeout?: number;
}

/** Connection settings of {@link AsyncDBCursor.postgres}: a connection string, or these fields. */
export type PostgresConfig =
  | string
  | {
      readonly host?: string;
      readonly port?: number;
      readonly user?: string;
      readonly password?: string;
      readonly database?: string;
      readonly connectionString?: string;
      /** Passed to `pg` as it is (`true`, or TLS options). */
      readonly ssl?: unknown;
      /** Milliseconds to wait for the connection; default `pg`'s (none). */
      readonly connectionTimeoutMillis?: number;
      /** Server settings for the session, as on a command line: `'-c search_path=app'`. */
      readonly options?: string;
    };

/** @internal What a backend's execute returns. */
export interface ExecResult {
  reader: boolean;
  columns: string[] | null;
  rows: unknown[];
  done: boolean;
  changes: number;
  lastRowId: number | bigint | null;
}

/** @internal One connection, as the cursor drives it. */
export interface Backend {
  readonly name: 'sqlite' | 'postgres';
  readonly paramstyle: 'qmark' | 'numeric';
  /** Runs a statement; prefetches up to `prefetch` rows (-1: all) of a result. */
  execute(sql: string, params: Params | undefined, prefetch: number): Op<ExecResult>;
  /** The next `n` rows (-1: all) of the open result. */
  fetch(n: number): Op<{ rows: unknown[]; done: boolean }>;
  /** Runs a statement once per parameter set, atomically; the rows changed. */
  executemany(sql: string, seq: readonly Params[]): Op<number>;
  /** Runs a statement that returns nothing (BEGIN, COMMIT...), dropping an open result. */
  exec(sql: string): Op<void>;
  close(): Op<void>;
}

const DEFAULT_ARRAYSIZE = 1000;

function checkSql(sql: unknown, what: string): string {
  if (typeof sql !== 'string' || sql.trim() === '') throw new TypeError(`${what}: sql must be a non-empty string`);
  return sql;
}

function checkParams(params: unknown, what: string): Params | undefined {
  if (params === undefined) return undefined;
  if (params === null || typeof params !== 'object') throw new TypeError(`${what}: params must be an array or an object`);
  return params as Params;
}

/**
 * A database cursor for coroutines; open one with {@link AsyncDBCursor.sqlite} or
 * {@link AsyncDBCursor.postgres}.
 *
 * @example
 * ```ts
 * spawn(function* () {
 *   const cur = yield* AsyncDBCursor.sqlite('/tmp/app.db');
 *   yield* cur.execute('CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, v TEXT)');
 *   yield* cur.transaction(function* () {
 *     yield* cur.executemany('INSERT OR REPLACE INTO kv VALUES (?, ?)', [['a', '1'], ['b', '2']]);
 *   });
 *   yield* cur.execute('SELECT k, v FROM kv ORDER BY k');
 *   for (let row; (row = yield* cur.fetchone()) !== null;) console.log(row);
 *   yield* cur.close();
 * });
 * ```
 */
export class AsyncDBCursor {
  /** Rows fetched per round trip and the default `fetchmany` size. */
  arraysize: number;
  private readonly backend: Backend;
  private readonly lock = new Lock();
  private buffer: unknown[] = [];
  private head = 0;
  private done = true;
  private fetched = 0;
  private _rowcount = -1;
  private _lastrowid: number | bigint | null = null;
  private _description: readonly string[] | null = null;
  private _inTransaction = false;
  private closed = false;

  /** @internal Use {@link AsyncDBCursor.sqlite} or {@link AsyncDBCursor.postgres}. */
  constructor(backend: Backend, options: CursorOptions) {
    this.backend = backend;
    this.arraysize = options.arraysize ?? DEFAULT_ARRAYSIZE;
  }

  /**
   * Opens an SQLite database file (created if missing; `':memory:'` for a private in-memory
   * one) on a thread of `options.pool` (default: a shared pool for database work).
   *
   * @example
   * ```ts
   * const cur = yield* AsyncDBCursor.sqlite(join(tmpdir(), 'test.db'), { rowMode: 'array' });
   * ```
   */
  static *sqlite(path: string, options: SqliteOptions = {}): Generator<unknown, AsyncDBCursor, unknown> {
    if (typeof path !== 'string' || path === '') throw new TypeError('AsyncDBCursor.sqlite: path must be a non-empty string');
    checkCursorOptions(options);
    const backend = yield* openSqlite(path, options);
    return new AsyncDBCursor(backend, options);
  }

  /**
   * Connects to PostgreSQL (needs `pg` and `pg-cursor` installed); the scheduler must be in
   * integrated or thread mode.
   *
   * @example
   * ```ts
   * const cur = yield* AsyncDBCursor.postgres({ host: '127.0.0.1', port: 5432, user: 'app', database: 'app' });
   * ```
   */
  static *postgres(config: PostgresConfig, options: CursorOptions = {}): Generator<unknown, AsyncDBCursor, unknown> {
    if (typeof config !== 'string' && (config === null || typeof config !== 'object')) {
      throw new TypeError('AsyncDBCursor.postgres: config must be a connection string or an object');
    }
    checkCursorOptions(options);
    const backend = yield* openPostgres(config, options);
    return new AsyncDBCursor(backend, options);
  }

  /** `'sqlite'` or `'postgres'`. */
  get backendName(): 'sqlite' | 'postgres' {
    return this.backend.name;
  }

  /** How parameters are written: `'qmark'` (`?`, SQLite) or `'numeric'` (`$1`, PostgreSQL). */
  get paramstyle(): 'qmark' | 'numeric' {
    return this.backend.paramstyle;
  }

  /**
   * Rows changed by the last INSERT/UPDATE/DELETE or `executemany`; for a query, the rows it
   * produced once all were fetched, -1 before that.
   */
  get rowcount(): number {
    return this._rowcount;
  }

  /** The rowid of the last row inserted (SQLite); null for PostgreSQL (use `RETURNING`). */
  get lastrowid(): number | bigint | null {
    return this._lastrowid;
  }

  /** The column names of the last query's result, or null after a statement without one. */
  get description(): readonly string[] | null {
    return this._description;
  }

  /** Whether a transaction begun with {@link begin} (or {@link transaction}) is open. */
  get inTransaction(): boolean {
    return this._inTransaction;
  }

  /** Whether {@link close} was called. */
  get isClosed(): boolean {
    return this.closed;
  }

  private *locked<R>(what: string, body: () => Generator<unknown, R, unknown>): Generator<unknown, R, unknown> {
    if (this.closed) throw new TypeError(`${what}: the cursor is closed`);
    yield* this.lock.acquire();
    try {
      if (this.closed) throw new TypeError(`${what}: the cursor is closed`);
      return yield* body();
    } finally {
      this.lock.release();
    }
  }

  /**
   * Runs one statement with its parameters. A query's first `arraysize` rows come with it.
   *
   * @example
   * ```ts
   * yield* cur.execute('UPDATE users SET seen = ? WHERE id = ?', [Date.now(), 7]);
   * console.log(cur.rowcount);
   * ```
   */
  execute(sql: string, params?: Params): Op<this> {
    checkSql(sql, 'execute');
    const p = checkParams(params, 'execute');
    const self = this;
    return this.locked('execute', function* () {
      self.reset();
      const r = yield* self.backend.execute(sql, p, self.arraysize);
      self.buffer = r.rows;
      self.head = 0;
      self.done = r.done;
      self.fetched = r.rows.length;
      self._description = r.columns;
      if (r.reader) self._rowcount = r.done ? r.rows.length : -1;
      else {
        self._rowcount = r.changes;
        self._lastrowid = r.lastRowId;
      }
      return self;
    });
  }

  /**
   * Runs one statement once per parameter set, atomically (inside a transaction, or a savepoint
   * of the open one): all of them apply or none. Returns (and sets `rowcount` to) the rows changed.
   *
   * @example
   * ```ts
   * yield* cur.executemany('INSERT INTO points (x, y) VALUES (?, ?)', points.map((p) => [p.x, p.y]));
   * ```
   */
  executemany(sql: string, seq: readonly Params[]): Op<number> {
    checkSql(sql, 'executemany');
    if (!Array.isArray(seq)) throw new TypeError('executemany: the parameter sets must be an array');
    for (const p of seq) checkParams(p, 'executemany');
    const self = this;
    return this.locked('executemany', function* () {
      self.reset();
      self._rowcount = yield* self.backend.executemany(sql, seq);
      self._description = null;
      return self._rowcount;
    });
  }

  private reset(): void {
    this.buffer = [];
    this.head = 0;
    this.done = true;
    this.fetched = 0;
    this._rowcount = -1;
    this._description = null;
  }

  private *take(n: number): Generator<unknown, unknown[], unknown> {
    const out: unknown[] = [];
    while (n < 0 || out.length < n) {
      if (this.head < this.buffer.length) {
        const end = n < 0 ? this.buffer.length : Math.min(this.buffer.length, this.head + (n - out.length));
        for (let i = this.head; i < end; i++) out.push(this.buffer[i]);
        this.head = end;
        continue;
      }
      if (this.done) break;
      const want = n < 0 ? -1 : Math.max(this.arraysize, n - out.length);
      const r = yield* this.backend.fetch(want);
      this.buffer = r.rows;
      this.head = 0;
      this.done = r.done;
      this.fetched += r.rows.length;
    }
    if (this.head >= this.buffer.length && this.head > 0) {
      this.buffer = [];
      this.head = 0;
    }
    if (this.done && this.head >= this.buffer.length && this._description !== null) this._rowcount = this.fetched;
    return out;
  }

  /**
   * The next row of the result, or null when there is none.
   *
   * @example
   * ```ts
   * const user = yield* cur.fetchone<{ id: number; name: string }>();
   * ```
   */
  fetchone<T = Row>(): Op<T | null> {
    const self = this;
    return this.locked('fetchone', function* () {
      const rows = yield* self.take(1);
      return (rows.length > 0 ? rows[0] : null) as T | null;
    });
  }

  /**
   * The next `n` rows (default `arraysize`); fewer at the end, none after it.
   *
   * @example
   * ```ts
   * for (let rows; (rows = yield* cur.fetchmany(500)).length > 0;) process(rows);
   * ```
   */
  fetchmany<T = Row>(n: number = this.arraysize): Op<T[]> {
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`fetchmany: n must be an integer >= 0, got ${n}`);
    const self = this;
    return this.locked('fetchmany', function* () {
      return (yield* self.take(n)) as T[];
    });
  }

  /**
   * All the remaining rows.
   *
   * @example
   * ```ts
   * const rows = yield* (yield* cur.execute('SELECT * FROM t')).fetchall();
   * ```
   */
  fetchall<T = Row>(): Op<T[]> {
    const self = this;
    return this.locked('fetchall', function* () {
      return (yield* self.take(-1)) as T[];
    });
  }

  private control(what: 'begin' | 'commit' | 'rollback'): Op<void> {
    const self = this;
    return this.locked(what, function* () {
      if (what === 'begin' && self._inTransaction) throw new TypeError('begin: a transaction is already open');
      if (what !== 'begin' && !self._inTransaction) throw new TypeError(`${what}: no transaction is open`);
      self.reset();
      yield* self.backend.exec(what === 'begin' ? 'BEGIN' : what === 'commit' ? 'COMMIT' : 'ROLLBACK');
      self._inTransaction = what === 'begin';
    });
  }

  /** Begins a transaction. */
  begin(): Op<void> {
    return this.control('begin');
  }

  /** Commits the open transaction. */
  commit(): Op<void> {
    return this.control('commit');
  }

  /** Rolls the open transaction back. */
  rollback(): Op<void> {
    return this.control('rollback');
  }

  /**
   * Runs `body` in a transaction: commits when it returns, rolls back when it throws (and
   * rethrows). Returns what `body` returned.
   *
   * @example
   * ```ts
   * const id = yield* cur.transaction(function* () {
   *   yield* cur.execute('INSERT INTO orders (item) VALUES (?)', ['book']);
   *   yield* cur.execute('UPDATE stock SET n = n - 1 WHERE item = ?', ['book']);
   *   return cur.lastrowid;
   * });
   * ```
   */
  *transaction<R>(body: () => Generator<unknown, R, unknown>): Generator<unknown, R, unknown> {
    if (typeof body !== 'function') throw new TypeError('transaction: body must be a generator function');
    yield* this.begin();
    let result: R;
    try {
      result = yield* body();
    } catch (e) {
      if (this._inTransaction && !this.closed) yield* this.rollback();
      throw e;
    }
    yield* this.commit();
    return result;
  }

  /** Closes the cursor and its connection (an open transaction is rolled back). Idempotent. */
  *close(): Generator<unknown, void, unknown> {
    if (this.closed) return;
    yield* this.lock.acquire();
    try {
      if (this.closed) return;
      this.closed = true;
      this.reset();
      this._inTransaction = false;
      yield* this.backend.close();
    } finally {
      this.lock.release();
    }
  }

  toString(): string {
    return `AsyncDBCursor(${this.backend.name}${this.closed ? ', closed' : ''})`;
  }
}

function checkCursorOptions(options: CursorOptions): void {
  if (options === null || typeof options !== 'object') throw new TypeError('cursor options must be an object');
  const a = options.arraysize;
  if (a !== undefined && (!Number.isInteger(a) || a < 1)) throw new RangeError(`arraysize must be an integer >= 1, got ${String(a)}`);
  const m = options.rowMode;
  if (m !== undefined && m !== 'object' && m !== 'array') throw new TypeError(`rowMode must be 'object' or 'array', got ${String(m)}`);
}
