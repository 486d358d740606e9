import { expect } from 'chai';
import { sleep, spawn } from '../../lib/core/coro.js';
import { OverReleaseError } from '../../lib/core/errors.js';
import { BoundedSemaphore, Semaphore } from '../../lib/sync/semaphore.js';
import { closeSchedulers, makeScheduler, runCoro, type TestScheduler } from '../helpers/coro.js';

describe('sync/semaphore', () => {
  let t: TestScheduler;
  beforeEach(() => {
    t = makeScheduler({ mock: true });
  });
  afterEach(() => closeSchedulers());

  it('limits concurrency to its value', async () => {
    const sem = new Semaphore(2);
    let inside = 0;
    let peak = 0;
    const cs = Array.from({ length: 6 }, () =>
      t.sched.spawn(function* () {
        yield* sem.acquire();
        try {
          peak = Math.max(peak, ++inside);
          yield* sleep(10);
          inside--;
        } finally {
          sem.release();
        }
      }),
    );
    await Promise.all(cs.map((c) => c.value()));
    expect(peak).to.equal(2);
    expect(sem.value).to.equal(2);
  });

  it('an initial value of 0 makes acquirers wait for releases, served FIFO', async () => {
    const sem = new Semaphore(0);
    const order: number[] = [];
    const cs = [0, 1, 2].map((i) =>
      t.sched.spawn(function* () {
        yield* sleep(i);
        yield* sem.acquire();
        order.push(i);
      }),
    );
    await runCoro(t.sched, function* () {
      yield* sleep(10);
      for (let i = 0; i < 3; i++) {
        sem.release();
        yield* sleep(1);
      }
    });
    await Promise.all(cs.map((c) => c.value()));
    expect(order).to.deep.equal([0, 1, 2]);
    expect(sem.value).to.equal(0);
  });

  it('acquire(timeout) returns false; tryAcquire never waits; a bad value is a RangeError', async () => {
    const sem = new Semaphore(1);
    const v = await runCoro(t.sched, function* () {
      const a = sem.tryAcquire();
      const b = sem.tryAcquire();
      const c = yield* sem.acquire(10);
      const later = spawn(function* () {
        return yield* sem.acquire(100);
      });
      yield* sleep(5);
      sem.release();
      return [a, b, c, yield* later.finish()];
    });
    expect(v).to.deep.equal([true, false, false, true]);
    expect(() => new Semaphore(-1)).to.throw(RangeError);
    expect(() => new Semaphore(1.5)).to.throw(RangeError);
  });

  it('BoundedSemaphore: releasing above the initial value is an OverReleaseError', async () => {
    const sem = new BoundedSemaphore(2);
    expect(() => sem.release()).to.throw(OverReleaseError);
    await runCoro(t.sched, function* () {
      yield* sem.acquire();
      sem.release();
      expect(() => sem.release()).to.throw(OverReleaseError);
    });
    expect(sem.value).to.equal(2);
    expect(sem.bound).to.equal(2);
  });
});
