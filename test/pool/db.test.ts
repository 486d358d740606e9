/**
 * AsyncDBCursor: one suite run against both backends, each real: SQLite in a file through
 * better-sqlite3 in a pool thread, and PostgreSQL on a server this suite starts (see
 * helpers/postgres.ts) and stops. A server that cannot start fails the PostgreSQL tests.
 */
import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, sleep, type Coro } from '../../lib/core/coro.js';
import { AsyncDBCursor } from '../../lib/pool/db.js';
import { DatabaseError } from '../../lib/pool/errors.js';
import { AsyncThreadPool } from '../../lib/pool/thread-pool.js';
import { closeSchedulers, makeScheduler, runCoro, type TestScheduler } from '../helpers/coro.js';
import { startPostgres, type PostgresServer } from '../helpers/postgres.js';

interface Dialect {
  readonly name: 'sqlite' | 'postgres';
  open(rowMode?: 'object' | 'array'): Generator<unknown, AsyncDBCursor, unknown>;
  /** The i-th (1-based) placeholder. */
  p(i: number): string;
  /** A query of `n` rows (x, twice x, x as 100 digits). */
  series(n: number): string;
  /** A query that keeps the database busy for a while. */
  slow: string;
  codes: { syntax: string; noTable: string; unique: RegExp; notNull: string };
  uniqueText: RegExp;
}

function suite(d: () => Dialect): void {
  let t: TestScheduler;
  beforeEach(() => {
    t = makeScheduler();
  });
  afterEach(() => closeSchedulers());

  const table = (cur: AsyncDBCursor) =>
    cur.execute(`CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, age INTEGER)`);

  it('executes with parameters and fetches one, many and all; rowcount, lastrowid, description', async () => {
    const { p, name } = d();
    const out = await runCoro(t.sched, function* () {
      const cur = yield* d().open();
      yield* table(cur);
      yield* cur.execute(`INSERT INTO people (id, name, age) VALUES (${p(1)}, ${p(2)}, ${p(3)})`, [1, 'ada', 36]);
      const inserted = { rowcount: cur.rowcount, lastrowid: cur.lastrowid };
      yield* cur.execute(`INSERT INTO people (id, name, age) VALUES (2, 'bob', 20), (3, 'cy', 51), (4, 'di', 44)`);
      const four = cur.rowcount;
      yield* cur.execute(`UPDATE people SET age = age + 1 WHERE age > ${p(1)}`, [40]);
      const updated = cur.rowcount;
      yield* cur.execute('SELECT id, name, age FROM people ORDER BY id');
      const description = cur.description;
      const first = yield* cur.fetchone();
      const two = yield* cur.fetchmany(2);
      const rest = yield* cur.fetchall();
      const none = yield* cur.fetchone();
      const selected = cur.rowcount;
      const arr = yield* d().open('array');
      yield* arr.execute(`SELECT name, age FROM people WHERE id = ${p(1)}`, [1]);
      const asArray = yield* arr.fetchall();
      yield* arr.close();
      yield* cur.close();
      return { inserted, four, updated, description, first, two, rest, none, selected, asArray };
    });
    expect(out.inserted).to.deep.equal({ rowcount: 1, lastrowid: name === 'sqlite' ? 1 : null });
    expect(out.four).to.equal(3);
    expect(out.updated).to.equal(2);
    expect(out.description).to.deep.equal(['id', 'name', 'age']);
    expect(out.first).to.deep.equal({ id: 1, name: 'ada', age: 36 });
    expect(out.two).to.deep.equal([
      { id: 2, name: 'bob', age: 20 },
      { id: 3, name: 'cy', age: 52 },
    ]);
    expect(out.rest).to.deep.equal([{ id: 4, name: 'di', age: 45 }]);
    expect(out.none).to.equal(null);
    expect(out.selected).to.equal(4);
    expect(out.asArray).to.deep.equal([['ada', 36]]);
  });

  it('reports SQL errors and constraint violations with the database message and code', async () => {
    const { p, codes, uniqueText } = d();
    const errs = await runCoro(t.sched, function* () {
      const cur = yield* d().open();
      yield* table(cur);
      yield* cur.execute(`INSERT INTO people (id, name) VALUES (${p(1)}, ${p(2)})`, [1, 'ada']);
      const out: unknown[] = [];
      for (const [sql, params] of [
        ['SELEC nothing', undefined],
        ['SELECT * FROM no_such_table', undefined],
        [`INSERT INTO people (id, name) VALUES (${p(1)}, ${p(2)})`, [2, 'ada']],
        [`INSERT INTO people (id, name) VALUES (${p(1)}, ${p(2)})`, [3, null]],
      ] as const) {
        try {
          yield* cur.execute(sql, params as unknown[] | undefined);
          out.push('no error');
        } catch (e) {
          out.push(e);
        }
      }
      // The cursor goes on after errors.
      yield* cur.execute('SELECT COUNT(*) AS n FROM people');
      const row = (yield* cur.fetchone()) as { n: number | string };
      yield* cur.close();
      return { out, n: Number(row.n) };
    });
    const [syntax, noTable, unique, notNull] = errs.out as DatabaseError[];
    for (const e of [syntax, noTable, unique, notNull]) {
      expect(e).to.be.instanceOf(DatabaseError);
      expect(e!.backend).to.equal(d().name);
    }
    expect(syntax!.code).to.equal(codes.syntax);
    expect(syntax!.message).to.match(/syntax/i);
    expect(noTable!.code).to.equal(codes.noTable);
    expect(noTable!.message).to.contain('no_such_table');
    expect(unique!.code).to.match(codes.unique);
    expect(unique!.message).to.match(uniqueText);
    expect(notNull!.code).to.equal(codes.notNull);
    expect(errs.n).to.equal(1);
  });

  it('executemany applies all parameter sets or none', async () => {
    const { p } = d();
    const out = await runCoro(t.sched, function* () {
      const cur = yield* d().open();
      yield* table(cur);
      const sql = `INSERT INTO people (id, name, age) VALUES (${p(1)}, ${p(2)}, ${p(3)})`;
      const n = yield* cur.executemany(sql, Array.from({ length: 500 }, (_, i) => [i + 1, `p${i}`, i % 90]));
      let err: unknown;
      try {
        yield* cur.executemany(sql, [[1000, 'new one', 1], [1001, 'p7', 2]]);
      } catch (e) {
        err = e;
      }
      yield* cur.execute('SELECT COUNT(*) AS n FROM people');
      const count = Number(((yield* cur.fetchone()) as { n: unknown }).n);
      yield* cur.close();
      return { n, err, count };
    });
    expect(out.n).to.equal(500);
    expect(out.err).to.be.instanceOf(DatabaseError);
    expect(out.count).to.equal(500);
  });

  it('commits and rolls back transactions, and transaction() rolls back on an error', async () => {
    const { p } = d();
    const out = await runCoro(t.sched, function* () {
      const cur = yield* d().open();
      const other = yield* d().open();
      yield* table(cur);
      const ins = `INSERT INTO people (id, name) VALUES (${p(1)}, ${p(2)})`;
      yield* cur.begin();
      yield* cur.execute(ins, [1, 'kept']);
      const inside = cur.inTransaction;
      yield* cur.commit();
      yield* cur.begin();
      yield* cur.execute(ins, [2, 'dropped']);
      yield* cur.rollback();
      const id = yield* cur.transaction(function* () {
        yield* cur.execute(ins, [3, 'helper']);
        return 3;
      });
      let thrown: unknown;
      try {
        yield* cur.transaction(function* () {
          yield* cur.execute(ins, [4, 'undone']);
          throw new Error('changed my mind');
        });
      } catch (e) {
        thrown = e;
      }
      let misuse: unknown;
      try {
        yield* cur.commit();
      } catch (e) {
        misuse = e;
      }
      // Another connection sees exactly what was committed.
      yield* other.execute('SELECT name FROM people ORDER BY id');
      const names = (yield* other.fetchall()).map((r) => (r as { name: string }).name);
      yield* other.close();
      yield* cur.close();
      return { inside, after: cur.inTransaction, id, thrown: (thrown as Error).message, misuse, names };
    });
    expect(out.inside).to.equal(true);
    expect(out.after).to.equal(false);
    expect(out.id).to.equal(3);
    expect(out.thrown).to.equal('changed my mind');
    expect(out.misuse).to.be.instanceOf(TypeError);
    expect(out.names).to.deep.equal(['kept', 'helper']);
  });

  it('fetches 1,000,000 rows in batches while holding only a batch at a time', async function () {
    this.timeout(120000);
    const out = await runCoro(t.sched, function* () {
      const cur = yield* d().open();
      cur.arraysize = 10000;
      const heap0 = process.memoryUsage().heapUsed;
      let peak = 0;
      let n = 0;
      let sum = 0;
      let lenOk = true;
      yield* cur.execute(d().series(1_000_000));
      for (;;) {
        const rows = yield* cur.fetchmany<{ x: number | string; y: number | string; pad: string }>();
        if (rows.length === 0) break;
        for (const r of rows) {
          sum += Number(r.y) - 2 * Number(r.x);
          if (r.pad.length !== 100) lenOk = false;
        }
        n += rows.length;
        peak = Math.max(peak, process.memoryUsage().heapUsed - heap0);
      }
      const rowcount = cur.rowcount;
      yield* cur.close();
      return { n, sum, lenOk, peakMB: peak / 2 ** 20, rowcount };
    });
    expect(out.n).to.equal(1_000_000);
    expect(out.sum).to.equal(0);
    expect(out.lenOk).to.equal(true);
    expect(out.rowcount).to.equal(1_000_000);
    // Holding all the rows would take well over 150 MB of heap.
    expect(out.peakMB, `heap grew by ${out.peakMB.toFixed(1)} MB`).to.be.below(80);
  });

  it('runs concurrent cursors, and the scheduler keeps running while the database works', async () => {
    const { p } = d();
    const out = await runCoro(t.sched, function* () {
      const setup = yield* d().open();
      yield* setup.execute('CREATE TABLE counters (k INTEGER PRIMARY KEY, v INTEGER NOT NULL)');
      yield* setup.close();
      let ticks = 0;
      const ticker = spawn(function* () {
        for (;;) {
          yield* sleep(5);
          ticks++;
        }
      });
      const slowTicks = spawn(function* () {
        const cur = yield* d().open();
        const before = ticks;
        yield* cur.execute(d().slow);
        yield* cur.fetchall();
        const during = ticks - before;
        yield* cur.close();
        return during;
      });
      const workers: Coro<number>[] = [];
      for (let w = 0; w < 6; w++) {
        workers.push(
          spawn(function* () {
            const cur = yield* d().open();
            for (let i = 0; i < 20; i++) {
              yield* cur.execute(`INSERT INTO counters (k, v) VALUES (${p(1)}, ${p(2)})`, [w * 1000 + i, i]);
            }
            yield* cur.execute(`SELECT SUM(v) AS s FROM counters WHERE k >= ${p(1)} AND k < ${p(2)}`, [w * 1000, w * 1000 + 1000]);
            const s = Number(((yield* cur.fetchone()) as { s: unknown }).s);
            yield* cur.close();
            return s;
          }),
        );
      }
      const sums: number[] = [];
      for (const c of workers) sums.push(yield* c.finish());
      const during = yield* slowTicks.finish();
      ticker.terminate();
      return { sums, during };
    });
    expect(out.sums).to.deep.equal(Array(6).fill((19 * 20) / 2));
    expect(out.during, 'coroutines ran while the slow query did').to.be.at.least(3);
  });

  it('rejects bad input and use after close with typed errors', async () => {
    const out = await runCoro(t.sched, function* () {
      const cur = yield* d().open();
      const errs: string[] = [];
      for (const f of [() => cur.execute(''), () => cur.execute('SELECT 1', 5 as never), () => cur.fetchmany(-1), () => cur.executemany('SELECT 1', 'x' as never)]) {
        try {
          f();
          errs.push('none');
        } catch (e) {
          errs.push((e as Error).constructor.name);
        }
      }
      yield* cur.close();
      yield* cur.close();
      let after: unknown;
      try {
        yield* cur.execute('SELECT 1');
      } catch (e) {
        after = e;
      }
      return { errs, after, closed: cur.isClosed };
    });
    expect(out.errs).to.deep.equal(['TypeError', 'TypeError', 'RangeError', 'TypeError']);
    expect(out.after).to.be.instanceOf(TypeError);
    expect(out.closed).to.equal(true);
  });
}

describe('pool/AsyncDBCursor on SQLite (better-sqlite3 in a pool thread)', function () {
  this.timeout(60000);
  let dir: string;
  let file = 0;
  const pool = new AsyncThreadPool({ size: 2 });
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'asyncoro-sqlite-'));
  });
  after(async () => {
    const s = makeScheduler();
    await runCoro(s.sched, function* () { yield* pool.close({ terminate: true }); });
    closeSchedulers();
    rmSync(dir, { recursive: true, force: true });
  });
  // Each test gets a new database file; the cursors of one test share it.
  beforeEach(() => {
    file++;
  });
  suite(() => ({
    name: 'sqlite',
    open: (rowMode) => AsyncDBCursor.sqlite(join(dir, `t${file}.db`), { pool, ...(rowMode ? { rowMode } : {}) }),
    p: () => '?',
    series: (n) =>
      `WITH RECURSIVE s(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM s WHERE x < ${n}) SELECT x, 2 * x AS y, printf('%0100d', x) AS pad FROM s`,
    slow: 'WITH RECURSIVE s(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM s WHERE x < 3000000) SELECT COUNT(*) AS n FROM s',
    codes: { syntax: 'SQLITE_ERROR', noTable: 'SQLITE_ERROR', unique: /^SQLITE_CONSTRAINT_(UNIQUE|PRIMARYKEY)$/, notNull: 'SQLITE_CONSTRAINT_NOTNULL' },
    uniqueText: /UNIQUE constraint failed: people\.name/,
  }));

  it('works in exclusive mode: the pool needs no Node event loop', async () => {
    const s = makeScheduler({ poller: 'epoll', mode: 'exclusive' });
    const out = await runCoro(s.sched, function* () {
      const cur = yield* AsyncDBCursor.sqlite(':memory:', { pool });
      yield* cur.execute('CREATE TABLE t (x INTEGER)');
      yield* cur.executemany('INSERT INTO t VALUES (?)', [[1], [2], [3]]);
      yield* cur.execute('SELECT SUM(x) AS s FROM t');
      const row = yield* cur.fetchone();
      yield* cur.close();
      return row;
    });
    expect(out).to.deep.equal({ s: 6 });
  });
});

describe('pool/AsyncDBCursor on PostgreSQL (pg + pg-cursor, a real server)', function () {
  this.timeout(60000);
  let server: PostgresServer;
  let schema = 0;
  before(async function () {
    this.timeout(120000);
    server = await startPostgres();
  });
  after(() => server?.stop());
  // Each test works in a schema of its own, so tables from one test do not meet the next.
  beforeEach(async () => {
    schema++;
    const s = makeScheduler();
    await runCoro(s.sched, function* () {
      const cur = yield* AsyncDBCursor.postgres({ host: server.host, port: server.port, user: server.user, database: server.database });
      yield* cur.execute(`CREATE SCHEMA s${schema}`);
      yield* cur.close();
    });
  });
  suite(() => ({
    name: 'postgres',
    open: (rowMode) =>
      AsyncDBCursor.postgres(
        { host: server.host, port: server.port, user: server.user, database: server.database, options: `-c search_path=s${schema}` },
        rowMode ? { rowMode } : {},
      ),
    p: (i) => `$${i}`,
    series: (n) => `SELECT x, 2 * x AS y, lpad(x::text, 100, '0') AS pad FROM generate_series(1, ${n}) AS x`,
    slow: 'SELECT pg_sleep(0.3)',
    codes: { syntax: '42601', noTable: '42P01', unique: /^23505$/, notNull: '23502' },
    uniqueText: /duplicate key value violates unique constraint/,
  }));

  it('a server that is not there is an error at open', async () => {
    const t = makeScheduler();
    const err = await runCoro(t.sched, function* () {
      try {
        yield* AsyncDBCursor.postgres({ host: '127.0.0.1', port: 1, user: 'nobody', database: 'none', connectionTimeoutMillis: 2000 });
        return null;
      } catch (e) {
        return e;
      }
    });
    closeSchedulers();
    expect(err).to.be.instanceOf(Error);
    expect((err as { code?: string }).code).to.equal('ECONNREFUSED');
  });
});
