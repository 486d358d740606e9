/**
 * Coroutines at work on the chosen poller backend: a ring of coroutines passing a token, sleepers
 * on timers, a bounded queue between producers and consumers, a lock, and a pipe read through the
 * poller. Prints a short summary.
 *
 * Run: `npx tsx examples/coro-demo.ts` (backend: ASYNCORO_POLLER=epoll|poll|select, or
 * `--poller poll --mode exclusive`).
 */
import {
  Coro,
  Lock,
  Queue,
  Scheduler,
  native,
  receive,
  self,
  sleep,
  waitReadable,
  waitWritable,
  type BackendName,
  type PollerMode,
} from '../lib/index.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const RING = 3000;
const LAPS = 20;
const SLEEPERS = 2000;
const ITEMS = 20_000;

const poller = arg('poller') as BackendName | undefined;
const mode = arg('mode') as PollerMode | undefined;
const sched = new Scheduler({ ...(poller ? { poller } : {}), ...(mode ? { mode } : {}) });
const t0 = performance.now();
const stats = { spawned: 0, messages: 0, timers: 0, lateSum: 0, lateMax: 0, items: 0, pipeBytes: 0 };

function* main(): Generator<unknown, void, unknown> {
  const me = self();

  // 1. A ring of coroutines: each forwards the token (the count of hops so far) to the next one,
  // LAPS times around; the first one reports to main when the token has made every lap.
  const ring: Coro[] = [];
  for (let i = 0; i < RING; i++) {
    ring.push(
      sched.spawn(function* (index: number) {
        const next = (): Coro => ring[(index + 1) % RING]!;
        for (;;) {
          const token = yield* receive<number | 'stop'>();
          if (token === 'stop') return;
          stats.messages++;
          if (index === 0 && token > LAPS * RING) {
            me.send('ring done');
          } else {
            next().send(token + 1);
          }
        }
      }, i),
    );
  }
  stats.spawned += RING;
  ring[0]!.send(1);
  stats.messages--; // the first send came from main, not from the ring

  // 2. Sleepers: each sleeps a random 10-200 ms and records how late it woke.
  const sleepers: Coro[] = [];
  for (let i = 0; i < SLEEPERS; i++) {
    sleepers.push(
      sched.spawn(function* () {
        const ms = 10 + Math.random() * 190;
        const due = performance.now() + ms;
        yield* sleep(ms);
        const late = performance.now() - due;
        stats.timers++;
        stats.lateSum += late;
        stats.lateMax = Math.max(stats.lateMax, late);
      }),
    );
  }
  stats.spawned += SLEEPERS;

  // 3. Producers and consumers through a bounded queue; a lock guards the shared total.
  const q = new Queue<number>(64);
  const lock = new Lock();
  let total = 0;
  const producers = [0, 1, 2, 3].map((p) =>
    sched.spawn(function* () {
      for (let i = p; i < ITEMS; i += 4) yield* q.put(i);
    }),
  );
  const consumers = [0, 1, 2, 3].map(() =>
    sched.spawn(function* () {
      for (;;) {
        const item = yield* q.get();
        if (item < 0) return;
        yield* lock.acquire();
        try {
          total += item;
          stats.items++;
        } finally {
          lock.release();
        }
      }
    }),
  );
  stats.spawned += 8;

  // 4. A pipe read through the scheduler's poller.
  const fds = new Int32Array(2);
  if (native.pipe(fds) < 0) throw new Error('pipe failed');
  const [rfd, wfd] = [fds[0]!, fds[1]!];
  const reader = sched.spawn(function* () {
    const buf = Buffer.alloc(4096);
    for (;;) {
      yield* waitReadable(rfd, 10_000);
      const n = native.read(rfd, buf, 0, buf.length);
      if (n <= 0) return;
      stats.pipeBytes += n;
    }
  });
  const writer = sched.spawn(function* () {
    const chunk = Buffer.alloc(1000, 7);
    for (let i = 0; i < 100; i++) {
      yield* waitWritable(wfd);
      native.write(wfd, chunk, 0, chunk.length);
      if (i % 10 === 0) yield* sleep(1);
    }
    native.close(wfd); // the reader sees EOF
  });
  stats.spawned += 2;

  // Wait for everything.
  const ringDone = yield* receive<string>(30_000, 'ring TIMED OUT');
  for (const c of ring) c.send('stop');
  for (const c of sleepers) yield* c.finish();
  for (const c of producers) yield* c.finish();
  for (let i = 0; i < consumers.length; i++) yield* q.put(-1);
  for (const c of consumers) yield* c.finish();
  yield* writer.finish();
  yield* reader.finish();
  native.close(rfd);

  const expected = (ITEMS * (ITEMS - 1)) / 2;
  console.log(`asyncoro coroutine demo on ${sched.backend} (${sched.mode} mode)`);
  console.log(`  coroutines spawned     ${stats.spawned.toLocaleString('en-US')} (+1 main)`);
  console.log(`  token ring (${RING})     ${ringDone}: ${stats.messages.toLocaleString('en-US')} messages in ${LAPS} laps`);
  console.log(
    `  timers fired           ${stats.timers.toLocaleString('en-US')}, late by ${(stats.lateSum / stats.timers).toFixed(2)} ms on average, ${stats.lateMax.toFixed(1)} ms at most`,
  );
  console.log(`  queue items            ${stats.items.toLocaleString('en-US')} through Queue(64), total ${total === expected ? 'correct' : `WRONG (${total})`}`);
  console.log(`  pipe bytes via poller  ${stats.pipeBytes.toLocaleString('en-US')}`);
  console.log(`  elapsed                ${(performance.now() - t0).toFixed(0)} ms, RSS ${(process.memoryUsage().rss / 1e6).toFixed(0)} MB`);
}

const m = sched.spawn(main);
if (sched.mode === 'exclusive') sched.run();
m.value().then(
  () => sched.close(),
  (e: unknown) => {
    console.error(e);
    sched.close();
    process.exitCode = 1;
  },
);
