/**
 * Coroutine benchmarks, side by side with their peers (issue 3). Run: `npx tsx bench/coro.ts`
 * (or `npm run bench:coro`; `--quick` for smaller counts). Every measurement runs in its own child
 * process (`node --expose-gc --import tsx bench/coro.ts --child <case> <n>`) so memory figures
 * are not polluted by another case. Benchmarks are reports, never pass/fail tests.
 *
 * - memory per suspended coroutine (RSS and V8 heap deltas over a baseline, after GC) at 100,000
 *   and 1,000,000: asyncoro coroutines waiting in receive(), bare suspended generators, pending
 *   async functions, effection 4 tasks waiting in suspend();
 * - switches per second: two coroutines ping-ponging through send/receive, one coroutine yielding
 *   sleep(0) in a loop, against two async functions ping-ponging over promises;
 * - local messages per second, one producer to one consumer;
 * - 1,000,000 timers: time to schedule them and lateness when they fire, asyncoro sleep() in
 *   1,000,000 coroutines against 1,000,000 setTimeout calls.
 */
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(import.meta.url);

interface Result {
  [k: string]: number | string;
}

function gc(): void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g === undefined) throw new Error('run children with --expose-gc');
  g();
  g();
}

function mem(): { rss: number; heap: number } {
  gc();
  const m = process.memoryUsage();
  return { rss: m.rss, heap: m.heapUsed };
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

// ---- child cases ----

async function memAsyncoro(n: number): Promise<Result> {
  const { spawn, receive, defaultScheduler } = await import('../lib/index.js');
  const sched = defaultScheduler();
  function* waiter(): Generator<unknown, void, unknown> {
    yield* receive();
  }
  await tick();
  const before = mem();
  const keep = new Array<unknown>(n);
  for (let i = 0; i < n; i++) keep[i] = spawn(waiter);
  while (sched.statistics().ready > 0) await tick();
  const after = mem();
  if (sched.statistics().alive !== n) throw new Error('not all alive');
  return perItem(before, after, n, keep);
}

async function memGenerators(n: number): Promise<Result> {
  function* g(): Generator<number, void, unknown> {
    yield 1;
  }
  await tick();
  const before = mem();
  const keep = new Array<unknown>(n);
  for (let i = 0; i < n; i++) {
    const it = g();
    it.next();
    keep[i] = it;
  }
  const after = mem();
  return perItem(before, after, n, keep);
}

async function memAsync(n: number): Promise<Result> {
  const never = new Promise<void>(() => {});
  async function f(): Promise<void> {
    await never;
  }
  await tick();
  const before = mem();
  const keep = new Array<unknown>(n);
  for (let i = 0; i < n; i++) keep[i] = f();
  await tick();
  const after = mem();
  return perItem(before, after, n, keep);
}

async function memEffection(n: number): Promise<Result> {
  const { run, spawn, suspend, sleep } = await import('effection');
  let out: Result = {};
  await tick();
  const before = mem();
  await run(function* () {
    for (let i = 0; i < n; i++) {
      yield* spawn(function* () {
        yield* suspend();
      });
    }
    yield* sleep(1);
    const after = mem();
    out = perItem(before, after, n, null);
    // Returning halts the suspended tasks; the measurement is already taken.
  });
  return out;
}

function perItem(before: { rss: number; heap: number }, after: { rss: number; heap: number }, n: number, keep: unknown): Result {
  if (keep !== null && (keep as unknown[]).length !== n) throw new Error('lost references');
  return {
    rssPer: (after.rss - before.rss) / n,
    heapPer: (after.heap - before.heap) / n,
    rssTotalMB: after.rss / 1e6,
  };
}

async function pingPong(m: number): Promise<Result> {
  const { spawn, receive, self } = await import('../lib/index.js');
  type Coro = ReturnType<typeof self>;
  const t0 = performance.now();
  const pong = spawn(function* () {
    for (;;) {
      const from = yield* receive<Coro>();
      from.send(null);
    }
  });
  pong.daemon = true;
  const ping = spawn(function* () {
    const me = self();
    for (let i = 0; i < m; i++) {
      pong.send(me);
      yield* receive();
    }
  });
  await ping.value();
  const dt = (performance.now() - t0) / 1000;
  return { perSec: (2 * m) / dt };
}

async function sleepZero(m: number): Promise<Result> {
  const { spawn, sleep } = await import('../lib/index.js');
  const t0 = performance.now();
  const c = spawn(function* () {
    for (let i = 0; i < m; i++) yield* sleep(0);
  });
  await c.value();
  return { perSec: m / ((performance.now() - t0) / 1000) };
}

async function asyncPingPong(m: number): Promise<Result> {
  let resA!: () => void;
  let resB!: () => void;
  let pA = new Promise<void>((r) => (resA = r));
  let pB = new Promise<void>((r) => (resB = r));
  void pA;
  async function ping(): Promise<void> {
    for (let i = 0; i < m; i++) {
      const wakeB = resB;
      pA = new Promise<void>((r) => (resA = r));
      wakeB();
      await pA;
    }
  }
  async function pong(): Promise<void> {
    for (let i = 0; i < m; i++) {
      await pB;
      pB = new Promise<void>((r) => (resB = r));
      resA();
    }
  }
  const t0 = performance.now();
  const done = pong();
  await ping();
  await done;
  return { perSec: (2 * m) / ((performance.now() - t0) / 1000) };
}

async function messages(m: number): Promise<Result> {
  const { spawn, receive, sleep } = await import('../lib/index.js');
  const t0 = performance.now();
  const consumer = spawn(function* () {
    let sum = 0;
    for (let i = 0; i < m; i++) sum += yield* receive<number>();
    return sum;
  });
  spawn(function* () {
    // Batches keep the mailbox bounded; send itself never blocks.
    for (let i = 0; i < m; ) {
      const end = Math.min(m, i + 1024);
      for (; i < end; i++) consumer.send(1);
      yield* sleep(0);
    }
  });
  const sum = await consumer.value();
  if (sum !== m) throw new Error(`lost messages: ${sum} of ${m}`);
  return { perSec: m / ((performance.now() - t0) / 1000) };
}

/**
 * Timer delays: spread over 8-10 s, longer than scheduling a million takes on this machine, so
 * lateness measures the timers, not the scheduling loop still running when they are due.
 */
const TIMER_BASE = 8000;
const TIMER_SPREAD = 2000;

/** Delays spread over [base, base + spread) ms, the same for both timer cases. */
function delays(n: number, base: number, spread: number): Float64Array {
  const d = new Float64Array(n);
  let seed = 42;
  for (let i = 0; i < n; i++) {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    d[i] = base + (seed % spread);
  }
  return d;
}

function lateness(late: Float64Array): Result {
  const sorted = Float64Array.from(late).sort();
  let sum = 0;
  for (const x of sorted) sum += x;
  return {
    lateMean: sum / sorted.length,
    lateP50: sorted[Math.floor(sorted.length * 0.5)]!,
    lateP99: sorted[Math.floor(sorted.length * 0.99)]!,
    lateMax: sorted[sorted.length - 1]!,
  };
}

async function timersAsyncoro(n: number): Promise<Result> {
  const { spawn, sleep, defaultScheduler } = await import('../lib/index.js');
  const sched = defaultScheduler();
  const d = delays(n, TIMER_BASE, TIMER_SPREAD);
  const late = new Float64Array(n);
  let done = 0;
  let finished!: () => void;
  const all = new Promise<void>((r) => (finished = r));
  function* sleeper(i: number): Generator<unknown, void, unknown> {
    const due = performance.now() + d[i]!;
    yield* sleep(d[i]!);
    late[i] = performance.now() - due;
    if (++done === n) finished();
  }
  const t0 = performance.now();
  for (let i = 0; i < n; i++) spawn(sleeper, i);
  while (sched.statistics().ready > 0) await tick();
  const schedMs = performance.now() - t0;
  const rssMB = process.memoryUsage().rss / 1e6;
  await all;
  return { scheduleMs: schedMs, rssMB, ...lateness(late) };
}

async function timersNode(n: number): Promise<Result> {
  const d = delays(n, TIMER_BASE, TIMER_SPREAD);
  const late = new Float64Array(n);
  let done = 0;
  let finished!: () => void;
  const all = new Promise<void>((r) => (finished = r));
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const due = performance.now() + d[i]!;
    setTimeout(() => {
      late[i] = performance.now() - due;
      if (++done === n) finished();
    }, d[i]!);
  }
  const schedMs = performance.now() - t0;
  const rssMB = process.memoryUsage().rss / 1e6;
  await all;
  return { scheduleMs: schedMs, rssMB, ...lateness(late) };
}

const cases: Record<string, (n: number) => Promise<Result>> = {
  memAsyncoro,
  memGenerators,
  memAsync,
  memEffection,
  pingPong,
  sleepZero,
  asyncPingPong,
  messages,
  timersAsyncoro,
  timersNode,
};

// ---- parent ----

function child(name: string, n: number): Result | string {
  const r = spawnSync(process.execPath, ['--expose-gc', '--max-old-space-size=16384', '--import', 'tsx', here, '--child', name, String(n)], {
    encoding: 'utf8',
    timeout: 600_000,
    maxBuffer: 1 << 24,
  });
  const line = r.stdout.split('\n').find((l) => l.startsWith('RESULT '));
  if (line === undefined) return `failed: ${(r.stderr || r.stdout || String(r.signal)).trim().split('\n').slice(-2).join(' ')}`;
  return JSON.parse(line.slice(7)) as Result;
}

function fmtInt(x: number): string {
  return Math.round(x).toLocaleString('en-US');
}
function fmtRate(x: number): string {
  return x >= 1e6 ? `${(x / 1e6).toFixed(2)} M/s` : `${(x / 1e3).toFixed(0)} k/s`;
}

function table(rows: string[][]): string {
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => '| ' + r.map((c, i) => c.padEnd(w[i]!)).join(' | ') + ' |';
  const sep = '|' + w.map((x) => '-'.repeat(x + 2)).join('|') + '|';
  return [line(rows[0]!), sep, ...rows.slice(1).map(line)].join('\n');
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args[0] === '--child') {
    const fn = cases[args[1]!];
    if (fn === undefined) throw new Error(`unknown case ${args[1]}`);
    const res = await fn(Number(args[2]));
    console.log('RESULT ' + JSON.stringify(res));
    process.exit(0);
  }
  const quick = args.includes('--quick');
  const cpus = os.cpus();
  console.log('asyncoro coroutine benchmarks');
  console.log(
    `machine: ${cpus[0]?.model ?? 'unknown CPU'}, ${cpus.length} cores, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM; ` +
      `Node ${process.version}; ${os.type()} ${os.release()} ${os.arch()}`,
  );
  console.log(`backend: ${process.env['ASYNCORO_POLLER'] ?? '(best)'}; each row a fresh child process\n`);

  const memRows: string[][] = [['suspended, per item', 'n', 'RSS B/item', 'heap B/item', 'process RSS MB']];
  const sizes = quick ? [100_000] : [100_000, 1_000_000];
  const memCases: [string, string][] = [
    ['asyncoro coroutine (in receive)', 'memAsyncoro'],
    ['bare suspended generator', 'memGenerators'],
    ['pending async function', 'memAsync'],
    ['effection 4 task (in suspend)', 'memEffection'],
  ];
  for (const n of sizes) {
    for (const [label, name] of memCases) {
      if (name === 'memEffection' && n > 100_000 && !args.includes('--effection-1m')) {
        // About 13.5 KB per task: 1,000,000 would need ~13.5 GB on a machine shared with others.
        memRows.push([label, fmtInt(n), 'skipped (~13.5 GB; --effection-1m)', '', '']);
        continue;
      }
      const r = child(name, n);
      if (typeof r === 'string') memRows.push([label, fmtInt(n), r, '', '']);
      else memRows.push([label, fmtInt(n), fmtInt(r['rssPer'] as number), fmtInt(r['heapPer'] as number), fmtInt(r['rssTotalMB'] as number)]);
    }
  }
  console.log(table(memRows) + '\n');

  const m = quick ? 200_000 : 2_000_000;
  const rateRows: string[][] = [['throughput', 'count', 'best rate', 'three runs']];
  const rateCases: [string, string, number][] = [
    ['asyncoro ping-pong send/receive (switches)', 'pingPong', m],
    ['asyncoro sleep(0) loop (switches)', 'sleepZero', m],
    ['async/await ping-pong over promises (switches)', 'asyncPingPong', m],
    ['asyncoro messages, 1 producer -> 1 consumer', 'messages', m * 2],
  ];
  // The machine is shared: each rate is the best of three fresh processes, the spread shown.
  for (const [label, name, count] of rateCases) {
    const rates: number[] = [];
    let failure = '';
    for (let i = 0; i < 3; i++) {
      const r = child(name, count);
      if (typeof r === 'string') failure = r;
      else rates.push(r['perSec'] as number);
    }
    rates.sort((a, b) => b - a);
    rateRows.push([
      label,
      fmtInt(count),
      rates.length === 0 ? failure : fmtRate(rates[0]!),
      rates.length === 0 ? '' : rates.map(fmtRate).join(', '),
    ]);
  }
  console.log(table(rateRows) + '\n');

  const nt = quick ? 100_000 : 1_000_000;
  const timerRows: string[][] = [['timers (delays 8-10 s)', 'n', 'schedule ms', 'late mean ms', 'p50', 'p99', 'max', 'RSS MB']];
  for (const [label, name] of [
    ['asyncoro sleep() in coroutines', 'timersAsyncoro'],
    ['setTimeout', 'timersNode'],
  ] as const) {
    const r = child(name, nt);
    if (typeof r === 'string') timerRows.push([label, fmtInt(nt), r, '', '', '', '', '']);
    else {
      const f = (k: string) => (r[k] as number).toFixed(1);
      timerRows.push([label, fmtInt(nt), fmtInt(r['scheduleMs'] as number), f('lateMean'), f('lateP50'), f('lateP99'), f('lateMax'), fmtInt(r['rssMB'] as number)]);
    }
  }
  console.log(table(timerRows));
  console.log(
    '\nReference figures from the issue (same machine kind): bare generator ~185 B, async function ~450 B, ' +
      'effection task ~13 KB, Erlang process ~2.7 KB, Python asyncoro ~1.8 KB; async/await ping-pong ~13 M/s; ' +
      'Erlang local messages ~10 M/s. Goals: 1,000,000 coroutines under 300 MB, switches ahead of async/await, 10 M messages/s.',
  );
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
