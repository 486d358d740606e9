import { expect } from 'chai';
import { Coro, self, sleep, spawn } from '../../lib/core/coro.js';
import { NotInCoroError } from '../../lib/core/errors.js';
import { pending, receive, receiveMatching } from '../../lib/msg/mailbox.js';
import { closeSchedulers, makeScheduler, runCoro, type TestScheduler } from '../helpers/coro.js';

describe('msg/mailbox', () => {
  let t: TestScheduler;
  beforeEach(() => {
    t = makeScheduler({ mock: true });
  });
  afterEach(() => closeSchedulers());

  it('send never blocks and receive takes messages oldest first', async () => {
    const c = t.sched.spawn(function* () {
      const got: unknown[] = [];
      for (let i = 0; i < 4; i++) got.push(yield* receive());
      return got;
    });
    c.send(1);
    c.send('two');
    c.send({ three: 3 });
    c.send(undefined);
    expect(await c.value()).to.deep.equal([1, 'two', { three: 3 }, undefined]);
  });

  it('a receiver waiting gets the message directly; the mailbox is allocated only when needed', async () => {
    const c = t.sched.spawn(function* () {
      return yield* receive<string>();
    });
    await new Promise((r) => setImmediate(r));
    expect(c._x).to.equal(undefined);
    c.send('direct');
    expect(await c.value()).to.equal('direct');
    expect(c._x?.mbox).to.equal(undefined);
  });

  it('receive(timeout, alarm) returns the alarm value when nothing comes', async () => {
    const v = await runCoro(t.sched, function* () {
      const a = yield* receive(100, 'alarm');
      const b = yield* receive(100);
      return [a, b];
    });
    expect(v).to.deep.equal(['alarm', undefined]);
  });

  it('a message arriving before the timeout wins, and the stale timer does nothing later', async () => {
    const v = await runCoro(t.sched, function* () {
      const me = self();
      spawn(function* () {
        yield* sleep(10);
        me.send('in time');
      });
      const first = yield* receive(100, 'alarm');
      const second = yield* receive(200, 'second alarm');
      return [first, second];
    });
    expect(v).to.deep.equal(['in time', 'second alarm']);
  });

  it('selective receive takes the first accepted message and keeps the others in order', async () => {
    const v = await runCoro(t.sched, function* () {
      const me = self();
      for (const m of [1, 'a', 2, 'b', 3]) me.send(m);
      const s = yield* receiveMatching((m): m is string => typeof m === 'string');
      const rest: unknown[] = [];
      while (pending() > 0) rest.push(yield* receive());
      return [s, rest];
    });
    expect(v).to.deep.equal(['a', [1, 2, 'b', 3]]);
  });

  it('selective receive waits for a matching message, queueing the others', async () => {
    const c = t.sched.spawn(function* () {
      const big = yield* receive((m) => typeof m === 'number' && m > 100);
      return [big, pending()];
    });
    await new Promise((r) => setImmediate(r));
    c.send(1);
    c.send(2);
    c.send(500);
    expect(await c.value()).to.deep.equal([500, 2]);
  });

  it('selective receive with timeout returns the alarm when nothing matches', async () => {
    const v = await runCoro(t.sched, function* () {
      self().send('x');
      return [yield* receive((m) => m === 'y', 50, 'none'), pending()];
    });
    expect(v).to.deep.equal(['none', 1]);
  });

  it('a predicate that throws makes receive throw, and the message stays queued', async () => {
    const c = t.sched.spawn(function* () {
      try {
        yield* receive((m) => {
          if (m === 'bad') throw new Error('predicate failed');
          return false;
        });
      } catch (e) {
        return [(e as Error).message, yield* receive()];
      }
      return 'no';
    });
    await new Promise((r) => setImmediate(r));
    c.send('bad');
    expect(await c.value()).to.deep.equal(['predicate failed', 'bad']);
  });

  it('a message to an ended coroutine is dropped; deliver() counts recipients', async () => {
    const dead = t.sched.spawn(function* () {});
    await dead.value();
    dead.send('lost');
    expect(dead._x?.mbox).to.equal(undefined);
    const v = await runCoro(t.sched, function* () {
      const live = spawn(function* () {
        return yield* receive();
      });
      const a = yield* live.deliver('hello', 1000);
      const b = yield* dead.deliver('hello');
      return [a, b, yield* live.finish()];
    });
    expect(v).to.deep.equal([1, 0, 'hello']);
  });

  it('the mailbox is cleared when the coroutine ends', async () => {
    const c = t.sched.spawn(function* () {
      yield* receive();
    });
    c.send(1);
    c.send(2);
    c.send(3);
    await c.value();
    expect(pending(c)).to.equal(0);
  });

  it('pending() outside a coroutine without an argument throws; bad timeouts are RangeErrors', () => {
    expect(() => pending()).to.throw(NotInCoroError);
    expect(() => receive(-1)).to.throw(RangeError);
    expect(() => receiveMatching(5 as never)).to.throw(TypeError);
  });

  it('100,000 coroutines exchange messages without loss', async function () {
    this.timeout(60_000);
    const r = makeScheduler();
    const N = 100_000;
    const result = await runCoro(r.sched, function* () {
      const me = self();
      // Each worker gets its index from the collector, passes index+1 on to its right neighbour,
      // receives from its left neighbour, and reports the sum to the collector.
      const workers: Coro[] = [];
      for (let i = 0; i < N; i++) {
        workers.push(
          spawn(function* () {
            const [idx, right] = yield* receive<[number, Coro]>();
            right.send(idx + 1);
            const fromLeft = yield* receive<number>();
            me.send(idx + fromLeft);
          }),
        );
      }
      for (let i = 0; i < N; i++) workers[i]!.send([i, workers[(i + 1) % N]!]);
      let sum = 0;
      let count = 0;
      for (let i = 0; i < N; i++) {
        sum += yield* receive<number>();
        count++;
      }
      return { sum, count };
    });
    // Worker i receives from worker i-1 the value (i-1)+1 = i (worker 0 receives N from worker N-1),
    // so it reports 2i, except worker 0 which reports N.
    const expected = N * (N - 1) - 0 + N;
    expect(result.count).to.equal(N);
    expect(result.sum).to.equal(expected);
    expect(r.sched.statistics().alive).to.equal(0);
  });
});
