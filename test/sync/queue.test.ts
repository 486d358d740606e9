import { expect } from 'chai';
import { sleep, spawn } from '../../lib/core/coro.js';
import { TimeoutError, WouldBlock } from '../../lib/core/errors.js';
import { Queue } from '../../lib/sync/queue.js';
import { closeSchedulers, makeScheduler, runCoro, type TestScheduler } from '../helpers/coro.js';

describe('sync/queue', () => {
  let t: TestScheduler;
  beforeEach(() => {
    t = makeScheduler({ mock: true });
  });
  afterEach(() => closeSchedulers());

  it('passes items FIFO; put waits while full, get while empty', async () => {
    const q = new Queue<number>(2);
    const log: string[] = [];
    const producer = t.sched.spawn(function* () {
      for (let i = 0; i < 5; i++) {
        yield* q.put(i);
        log.push(`put${i}`);
      }
    });
    const consumer = t.sched.spawn(function* () {
      const got: number[] = [];
      yield* sleep(10);
      for (let i = 0; i < 5; i++) got.push(yield* q.get());
      return got;
    });
    await producer.value();
    expect(await consumer.value()).to.deep.equal([0, 1, 2, 3, 4]);
    // The producer could put two before the consumer woke up at t=10.
    expect(log.slice(0, 2)).to.deep.equal(['put0', 'put1']);
    expect(q.size).to.equal(0);
  });

  it('getters are served in FIFO order', async () => {
    const q = new Queue<string>();
    const cs = [0, 1, 2].map((i) =>
      t.sched.spawn(function* () {
        yield* sleep(i);
        return `${i}:${yield* q.get()}`;
      }),
    );
    await runCoro(t.sched, function* () {
      yield* sleep(5);
      for (const s of ['a', 'b', 'c']) yield* q.put(s);
    });
    expect(await Promise.all(cs.map((c) => c.value()))).to.deep.equal(['0:a', '1:b', '2:c']);
  });

  it('get(timeout) and put(timeout) throw TimeoutError', async () => {
    const q = new Queue<number>(1);
    const v = await runCoro(t.sched, function* () {
      const out: string[] = [];
      try {
        yield* q.get(10);
      } catch (e) {
        out.push(e instanceof TimeoutError ? 'get timeout' : 'other');
      }
      yield* q.put(1);
      try {
        yield* q.put(2, 10);
      } catch (e) {
        out.push(e instanceof TimeoutError ? 'put timeout' : 'other');
      }
      out.push(String(yield* q.get()));
      out.push(String(q.size));
      return out;
    });
    expect(v).to.deep.equal(['get timeout', 'put timeout', '1', '0']);
  });

  it('putNowait/getNowait throw WouldBlock; a waiting putter enters when room frees', async () => {
    const q = new Queue<number>(1);
    q.putNowait(1);
    expect(q.full).to.equal(true);
    expect(() => q.putNowait(2)).to.throw(WouldBlock);
    const v = await runCoro(t.sched, function* () {
      const p = spawn(function* () {
        yield* q.put(2);
        return 'put done';
      });
      yield* sleep(1);
      expect(q.statistics().putters).to.equal(1);
      const a = q.getNowait();
      return [a, q.size, yield* p.finish(), q.getNowait()];
    });
    expect(v).to.deep.equal([1, 1, 'put done', 2]);
    expect(q.empty).to.equal(true);
    expect(() => q.getNowait()).to.throw(WouldBlock);
    expect(() => new Queue(-1)).to.throw(RangeError);
  });

  it('an item handed to a getter that is terminated before it runs is still received by it', async () => {
    const q = new Queue<string>();
    const got: string[] = [];
    const getter = t.sched.spawn(function* () {
      const item = yield* q.get();
      got.push(item);
      yield* sleep(1000); // the CoroExit arrives here
      got.push('not reached');
    });
    await new Promise((r) => setImmediate(r));
    q.putNowait('precious'); // handed straight to the waiting getter, which is now ready
    getter.terminate();
    await getter.value().catch(() => undefined);
    expect(got).to.deep.equal(['precious']);
    expect(q.size).to.equal(0);
  });

  it('an unbounded queue never makes put wait', async () => {
    const q = new Queue<number>();
    const v = await runCoro(t.sched, function* () {
      for (let i = 0; i < 10_000; i++) yield* q.put(i);
      return q.size;
    });
    expect(v).to.equal(10_000);
    expect(q.full).to.equal(false);
  });
});
