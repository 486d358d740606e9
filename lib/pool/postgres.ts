/**
 * The PostgreSQL backend of `AsyncDBCursor`: one `pg` client per cursor and a `pg-cursor`
 * server-side cursor for each query, read `arraysize` rows at a time. `pg` runs on Node's event
 * loop; its calls are Promises the coroutine waits for.
 *
 * @module
 * @internal
 */
import { AsyncoroError } from '../core/errors.js';
import { DatabaseError } from './errors.js';
import type { Backend, CursorOptions, ExecResult, Params, PostgresConfig } from './db.js';

/** The parts of `pg` and `pg-cursor` used here. */
interface PgResult {
  rowCount: number | null;
  fields: { name: string }[];
}
interface PgCursor {
  read(n: number, cb: (err: Error | undefined, rows: unknown[], result: PgResult) => void): void;
  close(): Promise<void>;
}
interface PgClient {
  connect(): Promise<void>;
  query(text: string, values?: unknown): Promise<PgResult>;
  query(q: PgCursor): PgCursor;
  end(): Promise<void>;
  on(event: 'error', fn: (e: Error) => void): void;
}
type CursorCtor = new (text: string, values: unknown, config: { rowMode?: 'array' }) => PgCursor;

/** Waits in the coroutine for a Promise (pg's calls), turning PostgreSQL's errors into ours. */
function* wait<T>(p: Promise<T>): Generator<unknown, T, unknown> {
  try {
    return (yield p) as T;
  } catch (e) {
    throw translate(e);
  }
}

/** pg's errors carry the SQLSTATE code and PostgreSQL's own fields. */
function translate(e: unknown): unknown {
  const x = e as { code?: unknown; detail?: unknown; constraint?: unknown } | null;
  if (e instanceof Error && typeof x?.code === 'string' && /^[0-9A-Z]{5}$/.test(x.code)) {
    return new DatabaseError('postgres', e.message, x.code, {
      ...(typeof x.detail === 'string' ? { detail: x.detail } : {}),
      ...(typeof x.constraint === 'string' ? { constraint: x.constraint } : {}),
    });
  }
  return e;
}

function read(cursor: PgCursor, n: number): Promise<{ rows: unknown[]; result: PgResult }> {
  return new Promise((resolve, reject) => {
    cursor.read(n, (err, rows, result) => (err ? reject(err) : resolve({ rows, result })));
  });
}

const ALL_CHUNK = 10000;

class PostgresBackend implements Backend {
  readonly name = 'postgres';
  readonly paramstyle = 'numeric';
  private cursor: PgCursor | null = null;
  private inTx = false;
  /** A connection-level error reported while no call was waiting (the server went away). */
  private broken: Error | null = null;

  constructor(
    private readonly client: PgClient,
    private readonly Cursor: CursorCtor,
    private readonly rowMode: 'object' | 'array',
  ) {
    client.on('error', (e) => {
      this.broken = e;
    });
  }

  private check(): void {
    if (this.broken !== null) throw this.broken;
  }

  private *drop(): Generator<unknown, void, unknown> {
    const c = this.cursor;
    this.cursor = null;
    if (c !== null) yield* wait(c.close());
  }

  /** Reads up to `n` rows (-1: all) from the open cursor. */
  private *readRows(cursor: PgCursor, n: number): Generator<unknown, { rows: unknown[]; done: boolean; result: PgResult | null }, unknown> {
    if (n >= 0) {
      const { rows, result } = yield* wait(read(cursor, n));
      return { rows, done: rows.length < n, result };
    }
    const all: unknown[] = [];
    let last: PgResult | null = null;
    for (;;) {
      const { rows, result } = yield* wait(read(cursor, ALL_CHUNK));
      last = result;
      for (const r of rows) all.push(r);
      if (rows.length < ALL_CHUNK) return { rows: all, done: true, result: last };
    }
  }

  *execute(sql: string, params: Params | undefined, prefetch: number): Generator<unknown, ExecResult, unknown> {
    this.check();
    yield* this.drop();
    if (params !== undefined && !Array.isArray(params)) throw new TypeError('PostgreSQL parameters are positional ($1, $2...): pass an array');
    const cursor = this.client.query(new this.Cursor(sql, params ?? [], this.rowMode === 'array' ? { rowMode: 'array' } : {}));
    this.cursor = cursor;
    let got: { rows: unknown[]; done: boolean; result: PgResult | null };
    try {
      got = yield* this.readRows(cursor, prefetch === 0 ? 1 : prefetch);
    } catch (e) {
      this.cursor = null;
      throw e;
    }
    const fields = got.result?.fields ?? [];
    const reader = fields.length > 0;
    if (got.done) {
      this.cursor = null;
      yield* wait(cursor.close());
    }
    return {
      reader,
      columns: reader ? fields.map((f) => f.name) : null,
      rows: got.rows,
      done: got.done,
      changes: reader ? -1 : (got.result?.rowCount ?? 0),
      lastRowId: null,
    };
  }

  *fetch(n: number): Generator<unknown, { rows: unknown[]; done: boolean }, unknown> {
    this.check();
    const cursor = this.cursor;
    if (cursor === null) return { rows: [], done: true };
    const got = yield* this.readRows(cursor, n);
    if (got.done) yield* this.drop();
    return { rows: got.rows, done: got.done };
  }

  *executemany(sql: string, seq: readonly Params[]): Generator<unknown, number, unknown> {
    this.check();
    yield* this.drop();
    // Atomic: a transaction of its own, or a savepoint inside the open one.
    const nested = this.inTx;
    yield* wait(this.client.query(nested ? 'SAVEPOINT asyncoro_executemany' : 'BEGIN'));
    let changes = 0;
    try {
      for (const p of seq) {
        if (!Array.isArray(p)) throw new TypeError('PostgreSQL parameters are positional ($1, $2...): pass arrays');
        const r = yield* wait(this.client.query(sql, p));
        changes += r.rowCount ?? 0;
      }
    } catch (e) {
      yield* wait(this.client.query(nested ? 'ROLLBACK TO SAVEPOINT asyncoro_executemany' : 'ROLLBACK'));
      throw e;
    }
    yield* wait(this.client.query(nested ? 'RELEASE SAVEPOINT asyncoro_executemany' : 'COMMIT'));
    return changes;
  }

  *exec(sql: string): Generator<unknown, void, unknown> {
    this.check();
    yield* this.drop();
    yield* wait(this.client.query(sql));
    if (sql === 'BEGIN') this.inTx = true;
    else if (sql === 'COMMIT' || sql === 'ROLLBACK') this.inTx = false;
  }

  *close(): Generator<unknown, void, unknown> {
    try {
      if (this.broken === null) yield* this.drop();
    } finally {
      yield* wait(this.client.end());
    }
  }
}

/** @internal Connects a pg client. */
export function* openPostgres(config: PostgresConfig, options: CursorOptions): Generator<unknown, Backend, unknown> {
  let pg: { Client: new (config: unknown) => PgClient };
  let Cursor: CursorCtor;
  try {
    const mod = (yield import('pg')) as { default?: typeof pg } & typeof pg;
    pg = mod.default ?? mod;
    const cmod = (yield import('pg-cursor')) as { default?: CursorCtor } & CursorCtor;
    Cursor = cmod.default ?? cmod;
  } catch {
    throw new AsyncoroError('AsyncDBCursor.postgres needs pg and pg-cursor: npm install pg pg-cursor', 'ERR_DRIVER_MISSING');
  }
  const client = new pg.Client(typeof config === 'string' ? { connectionString: config } : config);
  yield* wait(client.connect());
  return new PostgresBackend(client, Cursor, options.rowMode ?? 'object');
}
