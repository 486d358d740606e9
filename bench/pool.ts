/**
 * Thread pool and database cursor benchmarks, side by side with their peers in one run (issue 7).
 * Run: `npx tsx bench/pool.ts` (or `npm run bench:pool`; `--tasks N`, `--rows N`). Benchmarks are
 * reports, never pass/fail tests.
 *
 * - trivial tasks (`x => x + 1`) on 2 threads: throughput with 1,000 tasks in flight, and the
 *   round-trip latency of one task at a time, for AsyncThreadPool (1,000 coroutines), piscina used
 *   directly (1,000 async loops awaiting `run`), and raw worker_threads messaging (one message per
 *   task each way, 1,000 in flight);
 * - SQLite: inserts and selects per second through AsyncDBCursor against better-sqlite3 called
 *   synchronously, on a file database.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { Piscina } from 'piscina';
import { AsyncDBCursor, AsyncThreadPool, Scheduler, spawn, type Coro } from '../lib/index.js';
import { option, printMachine, printTable } from './common.js';

const TASKS = Number(option('tasks', '200000'));
const ROWS = Number(option('rows', '100000'));
const THREADS = 2;
const IN_FLIGHT = 1000;
const LATENCY_N = 5000;

interface Figures {
  perSec: number;
  p50: number;
  p99: number;
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
const us = (ms: number): string => `${(ms * 1000).toFixed(1)} µs`;

function percentiles(samples: number[]): { p50: number; p99: number } {
  samples.sort((a, b) => a - b);
  return { p50: samples[Math.floor(samples.length * 0.5)]!, p99: samples[Math.floor(samples.length * 0.99)]! };
}

const inc = (x: number): number => x + 1;

async function asyncoroPool(): Promise<Figures> {
  const sched = new Scheduler();
  const pool = new AsyncThreadPool({ size: THREADS });
  const c = sched.spawn(function* () {
    // Warm up: both threads started and the task compiled.
    const warm: Coro<unknown>[] = [];
    for (let i = 0; i < IN_FLIGHT; i++) warm.push(spawn(function* () { for (let j = 0; j < 10; j++) yield* pool.run(inc, j); }));
    for (const w of warm) yield* w.finish();
    const t0 = performance.now();
    const cs: Coro<unknown>[] = [];
    for (let i = 0; i < IN_FLIGHT; i++) {
      cs.push(
        spawn(function* () {
          for (let j = 0; j < TASKS / IN_FLIGHT; j++) yield* pool.run(inc, j);
        }),
      );
    }
    for (const x of cs) yield* x.finish();
    const perSec = (TASKS / (performance.now() - t0)) * 1000;
    const lat: number[] = [];
    for (let i = 0; i < LATENCY_N; i++) {
      const t = performance.now();
      yield* pool.run(inc, i);
      lat.push(performance.now() - t);
    }
    yield* pool.close();
    return { perSec, ...percentiles(lat) };
  });
  const r = await c.value();
  sched.close();
  return r;
}

async function piscina(dir: string): Promise<Figures> {
  const file = join(dir, 'inc.mjs');
  writeFileSync(file, 'export default function (x) { return x + 1; }\n');
  const p = new Piscina({ filename: pathToFileURL(file).href, minThreads: THREADS, maxThreads: THREADS });
  const loop = async (n: number): Promise<void> => {
    for (let j = 0; j < n; j++) await p.run(j);
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, () => loop(10)));
  const t0 = performance.now();
  await Promise.all(Array.from({ length: IN_FLIGHT }, () => loop(TASKS / IN_FLIGHT)));
  const perSec = (TASKS / (performance.now() - t0)) * 1000;
  const lat: number[] = [];
  for (let i = 0; i < LATENCY_N; i++) {
    const t = performance.now();
    await p.run(i);
    lat.push(performance.now() - t);
  }
  await p.destroy();
  return { perSec, ...percentiles(lat) };
}

/** One message per task each way, spread over the threads, IN_FLIGHT outstanding. */
async function rawWorkers(): Promise<Figures> {
  const src = `
    const { parentPort } = require('node:worker_threads');
    parentPort.on('message', (m) => parentPort.postMessage([m[0], m[1] + 1]));`;
  const workers = Array.from({ length: THREADS }, () => new Worker(src, { eval: true }));
  const run = (n: number): Promise<void> =>
    new Promise((resolve) => {
      let sent = 0;
      let got = 0;
      const onMessage = (w: Worker) => () => {
        got++;
        if (sent < n) w.postMessage([sent, sent++]);
        if (got === n) {
          for (const x of workers) x.removeAllListeners('message');
          resolve();
        }
      };
      workers.forEach((w) => w.on('message', onMessage(w)));
      for (let i = 0; i < Math.min(IN_FLIGHT, n); i++) workers[i % THREADS]!.postMessage([sent, sent++]);
    });
  await run(IN_FLIGHT * 10);
  const t0 = performance.now();
  await run(TASKS);
  const perSec = (TASKS / (performance.now() - t0)) * 1000;
  const lat: number[] = [];
  const w = workers[0]!;
  for (let i = 0; i < LATENCY_N; i++) {
    const t = performance.now();
    await new Promise<void>((resolve) => {
      w.once('message', () => resolve());
      w.postMessage([i, i]);
    });
    lat.push(performance.now() - t);
  }
  await Promise.all(workers.map((x) => x.terminate()));
  return { perSec, ...percentiles(lat) };
}

interface SqlFigures {
  insertRow: number;
  insertMany: number;
  select: number;
}

function sqliteSync(file: string): SqlFigures {
  const db = new Database(file);
  db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, n INTEGER)');
  const ins = db.prepare('INSERT INTO t (name, n) VALUES (?, ?)');
  let t0 = performance.now();
  db.exec('BEGIN');
  for (let i = 0; i < ROWS; i++) ins.run(`row ${i}`, i);
  db.exec('COMMIT');
  const insertRow = (ROWS / (performance.now() - t0)) * 1000;
  const many = db.transaction((rows: [string, number][]) => {
    for (const r of rows) ins.run(r[0], r[1]);
  });
  const rows = Array.from({ length: ROWS }, (_, i): [string, number] => [`row ${i}`, i]);
  t0 = performance.now();
  many(rows);
  const insertMany = (ROWS / (performance.now() - t0)) * 1000;
  t0 = performance.now();
  let n = 0;
  for (const _ of db.prepare('SELECT id, name, n FROM t').iterate()) n++;
  const select = (n / (performance.now() - t0)) * 1000;
  db.close();
  return { insertRow, insertMany, select };
}

async function sqliteCursor(file: string): Promise<SqlFigures> {
  const sched = new Scheduler();
  const pool = new AsyncThreadPool({ size: 1 });
  const c = sched.spawn(function* () {
    const cur = yield* AsyncDBCursor.sqlite(file, { pool, arraysize: 5000 });
    yield* cur.execute('CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, n INTEGER)');
    let t0 = performance.now();
    yield* cur.begin();
    for (let i = 0; i < ROWS; i++) yield* cur.execute('INSERT INTO t (name, n) VALUES (?, ?)', [`row ${i}`, i]);
    yield* cur.commit();
    const insertRow = (ROWS / (performance.now() - t0)) * 1000;
    const rows = Array.from({ length: ROWS }, (_, i): [string, number] => [`row ${i}`, i]);
    t0 = performance.now();
    yield* cur.executemany('INSERT INTO t (name, n) VALUES (?, ?)', rows);
    const insertMany = (ROWS / (performance.now() - t0)) * 1000;
    t0 = performance.now();
    yield* cur.execute('SELECT id, name, n FROM t');
    let n = 0;
    for (let batch; (batch = yield* cur.fetchmany()).length > 0; ) n += batch.length;
    const select = (n / (performance.now() - t0)) * 1000;
    yield* cur.close();
    yield* pool.close();
    return { insertRow, insertMany, select };
  });
  const r = await c.value();
  sched.close();
  return r;
}

async function main(): Promise<void> {
  printMachine('asyncoro thread pool and database cursor benchmark');
  console.log(`tasks:   ${fmt(TASKS)} trivial tasks on ${THREADS} threads, ${fmt(IN_FLIGHT)} in flight; latency over ${fmt(LATENCY_N)} one at a time`);
  console.log(`sqlite:  ${fmt(ROWS)} rows, a file database\n`);
  const dir = mkdtempSync(join(tmpdir(), 'asyncoro-bench-'));
  try {
    const ours = await asyncoroPool();
    const theirs = await piscina(dir);
    const raw = await rawWorkers();
    const rows: string[][] = [
      ['AsyncThreadPool (coroutines)', fmt(ours.perSec), `${(ours.perSec / theirs.perSec).toFixed(1)}x`, us(ours.p50), us(ours.p99)],
      ['piscina 5 (async/await)', fmt(theirs.perSec), '1.0x', us(theirs.p50), us(theirs.p99)],
      ['raw worker_threads messages', fmt(raw.perSec), `${(raw.perSec / theirs.perSec).toFixed(1)}x`, us(raw.p50), us(raw.p99)],
    ];
    printTable(['trivial task', 'tasks/s', 'vs piscina', 'latency p50', 'latency p99'], rows);
    console.log('');

    const sync = sqliteSync(join(dir, 'sync.db'));
    const cur = await sqliteCursor(join(dir, 'cursor.db'));
    const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}x`;
    printTable(
      ['sqlite, rows/s', 'AsyncDBCursor', 'better-sqlite3 sync', 'cursor / sync'],
      [
        ['insert, one execute per row (1 transaction)', fmt(cur.insertRow), fmt(sync.insertRow), ratio(cur.insertRow, sync.insertRow)],
        ['insert, executemany', fmt(cur.insertMany), fmt(sync.insertMany), ratio(cur.insertMany, sync.insertMany)],
        ['select, fetchmany(5000)', fmt(cur.select), fmt(sync.select), ratio(cur.select, sync.select)],
      ],
    );
    console.log('\nThe cursor runs each call in a pool thread, so the scheduler never blocks on SQLite; the cost is');
    console.log('one round trip per execute, which executemany and fetchmany spread over many rows.');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
