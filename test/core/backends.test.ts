/**
 * The same coroutine suite under every backend and mode this host has (epoll integrated, thread
 * and exclusive; io_uring integrated and exclusive; poll and select thread and exclusive here), on
 * explicit schedulers with the real clock.
 */
import { expect } from 'chai';
import { Coro, self, sleep, spawn } from '../../lib/core/coro.js';
import { CoroExit } from '../../lib/core/errors.js';
import { EV } from '../../lib/core/poller.js';
import { waitReadable } from '../../lib/core/scheduler.js';
import { receive } from '../../lib/msg/mailbox.js';
import { Lock } from '../../lib/sync/lock.js';
import { Queue } from '../../lib/sync/queue.js';
import { closeAll, drain, pipePair, writeByte } from '../helpers/native.js';
import { testedBackends } from '../helpers/backends.js';
import { closeSchedulers, makeScheduler, runCoro, type TestScheduler } from '../helpers/coro.js';

for (const b of testedBackends()) {
  for (const mode of b.modes) {
    describe(`core on ${b.name} (${mode})`, () => {
      let t: TestScheduler;
      beforeEach(() => {
        t = makeScheduler({ poller: b.name, mode });
      });
      afterEach(() => {
        closeSchedulers();
        closeAll();
        expect(t.errors).to.deep.equal([]);
      });

      it('runs coroutines in order and returns results', async () => {
        const v = await runCoro(t.sched, function* () {
          const log: string[] = [];
          const cs = ['a', 'b', 'c'].map((n) =>
            spawn(function* () {
              log.push(`${n}1`);
              yield* sleep(0);
              log.push(`${n}2`);
              return n;
            }),
          );
          const results: string[] = [];
          for (const c of cs) results.push(yield* c.finish());
          return [log.join(' '), results.join('')];
        });
        expect(v).to.deep.equal(['a1 b1 c1 a2 b2 c2', 'abc']);
      });

      it('ping-pongs 10,000 messages and times out receives', async () => {
        const v = await runCoro(t.sched, function* () {
          const me = self();
          const pong = spawn(function* () {
            for (;;) {
              const m = yield* receive<[Coro, number] | 'stop'>();
              if (m === 'stop') return 'pong done';
              m[0].send(m[1] + 1);
            }
          });
          let x = 0;
          for (let i = 0; i < 10_000; i++) {
            pong.send([me, x]);
            x = yield* receive<number>();
          }
          pong.send('stop');
          const alarm = yield* receive(15, 'alarm');
          return [x, yield* pong.finish(), alarm];
        });
        expect(v).to.deep.equal([10_000, 'pong done', 'alarm']);
      });

      it('fires timers in deadline order on the real clock', async () => {
        const v = await runCoro(t.sched, function* () {
          const order: number[] = [];
          const t0 = performance.now();
          const cs = [30, 10, 20].map((ms) =>
            spawn(function* () {
              yield* sleep(ms);
              order.push(ms);
              return performance.now() - t0 >= ms - 1;
            }),
          );
          const onTime: boolean[] = [];
          for (const c of cs) onTime.push(yield* c.finish());
          return [order, onTime];
        });
        expect(v).to.deep.equal([
          [10, 20, 30],
          [true, true, true],
        ]);
      });

      it('fires timers while the ready queue stays busy', async () => {
        const v = await runCoro(t.sched, function* () {
          const t0 = performance.now();
          const sleeper = spawn(function* () {
            yield* sleep(10);
            return performance.now() - t0;
          });
          const busy = spawn(function* () {
            while (performance.now() - t0 < 150) yield* sleep(0);
            return performance.now() - t0;
          });
          return [yield* sleeper.finish(), yield* busy.finish()];
        });
        expect(v[0]).to.be.at.least(9);
        expect(v[0]).to.be.below(v[1]! - 20); // woke well before the busy coroutine let go
        expect(v[1]).to.be.at.least(150);
      });

      it('waits for pipe readiness', async () => {
        const [r, w] = pipePair();
        const v = await runCoro(t.sched, function* () {
          spawn(function* () {
            yield* sleep(5);
            writeByte(w);
          });
          const bits = yield* waitReadable(r, 5000);
          return [(bits & EV.READ) !== 0, drain(r)];
        });
        expect(v).to.deep.equal([true, 1]);
      });

      it('serves a contended lock and a bounded queue in FIFO order', async () => {
        const v = await runCoro(t.sched, function* () {
          const lock = new Lock();
          const q = new Queue<number>(2);
          const order: number[] = [];
          const workers = [0, 1, 2, 3].map((i) =>
            spawn(function* () {
              yield* lock.acquire();
              try {
                yield* sleep(1);
                order.push(i);
                yield* q.put(i);
              } finally {
                lock.release();
              }
            }),
          );
          const got: number[] = [];
          for (let i = 0; i < 4; i++) got.push(yield* q.get(5000));
          for (const w of workers) yield* w.finish();
          return [order, got];
        });
        expect(v).to.deep.equal([
          [0, 1, 2, 3],
          [0, 1, 2, 3],
        ]);
      });

      it('terminate runs a yielding finally to its end', async () => {
        const v = await runCoro(t.sched, function* () {
          const log: string[] = [];
          const victim = spawn(function* () {
            try {
              yield* receive();
            } finally {
              yield* sleep(5);
              log.push('finally done');
            }
          });
          yield* sleep(1);
          victim.terminate();
          try {
            yield* victim.finish();
          } catch (e) {
            log.push(e instanceof Error && e.cause instanceof CoroExit ? 'terminated' : 'other');
          }
          return log;
        });
        expect(v).to.deep.equal(['finally done', 'terminated']);
      });

      it('10,000 coroutines each get and answer a message', async function () {
        this.timeout(30_000);
        const v = await runCoro(t.sched, function* () {
          const me = self();
          const N = 10_000;
          const cs: Coro[] = [];
          for (let i = 0; i < N; i++) {
            cs.push(
              spawn(function* () {
                const n = yield* receive<number>();
                me.send(n * 2);
              }),
            );
          }
          for (let i = 0; i < N; i++) cs[i]!.send(i);
          let sum = 0;
          for (let i = 0; i < N; i++) sum += yield* receive<number>(5000, Number.NaN);
          return sum;
        });
        expect(v).to.equal(10_000 * 9_999);
      });
    });
  }
}
