/**
 * Slow work off the scheduler's thread: CPU work in a thread pool, a SQLite database through an
 * asynchronous cursor, and a shell-style pipeline of child processes, all driven by coroutines
 * while a ticker coroutine shows that the scheduler never stops.
 *
 * Run: `npx tsx examples/pool-demo.ts` (or `--poller poll --mode exclusive`: none of this needs
 * Node's event loop).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AsyncDBCursor,
  AsyncPipe,
  AsyncThreadPool,
  Scheduler,
  sleep,
  spawn,
  type BackendName,
  type Coro,
  type PollerMode,
} from '../lib/index.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const poller = arg('poller') as BackendName | undefined;
const mode = arg('mode') as PollerMode | undefined;
const sched = new Scheduler({ ...(poller ? { poller } : {}), ...(mode ? { mode } : {}) });
const dir = mkdtempSync(join(tmpdir(), 'asyncoro-pool-demo-'));

/** Counts primes below n the slow way: real CPU work for a worker thread. Self-contained. */
function countPrimes(from: number, to: number): number {
  let n = 0;
  for (let i = Math.max(2, from); i < to; i++) {
    let prime = true;
    for (let d = 2; d * d <= i; d++) {
      if (i % d === 0) {
        prime = false;
        break;
      }
    }
    if (prime) n++;
  }
  return n;
}

function* main(): Generator<unknown, void, unknown> {
  let ticks = 0;
  const ticker = spawn(function* () {
    for (;;) {
      yield* sleep(10);
      ticks++;
    }
  });
  ticker.daemon = true;

  // 1. CPU work in threads: 8 slices of a range, in parallel, each resumed into its coroutine.
  const pool = new AsyncThreadPool({ size: 2 });
  const slices: Coro<number>[] = [];
  for (let i = 0; i < 8; i++) slices.push(spawn(function* () { return yield* pool.run<number>(countPrimes, i * 125_000, (i + 1) * 125_000); }));
  let primes = 0;
  for (const s of slices) primes += yield* s.finish();
  console.log(`primes below 1,000,000    ${primes.toLocaleString('en-US')} (8 tasks on 2 threads)`);

  // 2. A database: writes in a transaction, a query read in batches.
  const cur = yield* AsyncDBCursor.sqlite(join(dir, 'demo.db'), { pool });
  yield* cur.execute('CREATE TABLE words (word TEXT PRIMARY KEY, len INTEGER NOT NULL)');
  const words = 'the quick brown fox jumps over the lazy dog and keeps on running far away'.split(' ');
  yield* cur.transaction(function* () {
    yield* cur.executemany('INSERT OR IGNORE INTO words (word, len) VALUES (?, ?)', words.map((w) => [w, w.length]));
  });
  yield* cur.execute('SELECT len, COUNT(*) AS n FROM words GROUP BY len ORDER BY len');
  const byLength = (yield* cur.fetchall<{ len: number; n: number }>()).map((r) => `${r.len}:${r.n}`).join(' ');
  console.log(`distinct words by length  ${byLength}`);
  yield* cur.close();

  // 3. A pipeline, as a shell would run it: seq | grep 7 | wc -l, pipe to pipe in the kernel.
  const ps = AsyncPipe.pipeline([['seq', ['1', '100000']], ['grep', ['7']], ['wc', ['-l']]]);
  const sevens = (yield* ps[2]!.readline()).trim();
  for (const p of ps) {
    yield* p.wait();
    p.close();
  }
  console.log(`numbers with a 7 to 1e5   ${Number(sevens).toLocaleString('en-US')} (seq | grep 7 | wc -l)`);

  // 4. A conversation with one process: write, read back, exit status.
  const { stdout, code } = yield* AsyncPipe.spawn('sort', ['-r']).communicate('apple\ncherry\nbanana\n');
  console.log(`sort -r                   ${stdout.toString().trim().split('\n').join(', ')} (exit ${code})`);

  yield* pool.close();
  console.log(`ticker kept ticking       ${ticks > 0 ? 'yes' : 'no'} (${ticks} ticks meanwhile)`);
}

const c = sched.spawn(main);
if (sched.mode === 'exclusive') sched.run();
c.value()
  .catch((e: unknown) => {
    console.error(e);
    process.exitCode = 1;
  })
  .finally(() => {
    rmSync(dir, { recursive: true, force: true });
    sched.close();
  });
