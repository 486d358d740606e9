import { expect } from 'chai';
import { self, sleep, spawn } from '../../lib/core/coro.js';
import { NotOwnerError, TerminatedError } from '../../lib/core/errors.js';
import { Condition } from '../../lib/sync/condition.js';
import { Lock, RLock } from '../../lib/sync/lock.js';
import { closeSchedulers, makeScheduler, runCoro, type TestScheduler } from '../helpers/coro.js';

describe('sync/condition', () => {
  let t: TestScheduler;
  beforeEach(() => {
    t = makeScheduler({ mock: true });
  });
  afterEach(() => closeSchedulers());

  it('wait releases the lock and notify wakes waiters in FIFO order, each re-holding the lock', async () => {
    const cond = new Condition(new Lock());
    const items: number[] = [];
    const got: string[] = [];
    const consumers = ['x', 'y', 'z'].map((n, i) =>
      t.sched.spawn(function* () {
        yield* sleep(i);
        yield* cond.acquire();
        try {
          while (items.length === 0) yield* cond.wait();
          got.push(`${n}${items.shift()}`);
          expect(cond.lock.locked).to.equal(true);
        } finally {
          cond.release();
        }
      }),
    );
    const producer = t.sched.spawn(function* () {
      yield* sleep(10);
      for (let i = 1; i <= 3; i++) {
        yield* cond.acquire();
        items.push(i);
        expect(cond.notify()).to.equal(1);
        cond.release();
        yield* sleep(1);
      }
    });
    await Promise.all([...consumers, producer].map((c) => c.value()));
    expect(got).to.deep.equal(['x1', 'y2', 'z3']);
  });

  it('wait(timeout) returns false after the timeout, holding the lock again', async () => {
    const cond = new Condition();
    const v = await runCoro(t.sched, function* () {
      yield* cond.acquire();
      yield* cond.acquire(); // RLock by default: depth 2 is restored after wait
      const ok = yield* cond.wait(30);
      const depth = (cond.lock as unknown as { depth: number }).depth;
      cond.release();
      cond.release();
      return [ok, depth];
    });
    expect(v).to.deep.equal([false, 2]);
  });

  it('notifyAll wakes every waiter; notify(n) wakes n', async () => {
    const cond = new Condition();
    let woke = 0;
    const cs = [1, 2, 3, 4].map(() =>
      t.sched.spawn(function* () {
        yield* cond.acquire();
        if (yield* cond.wait(1000)) woke++;
        cond.release();
      }),
    );
    const n = await runCoro(t.sched, function* () {
      yield* sleep(1);
      yield* cond.acquire();
      const a = cond.notify(2);
      const b = cond.notifyAll();
      const c = cond.notify();
      cond.release();
      return [a, b, c];
    });
    await Promise.all(cs.map((c) => c.value()));
    expect(n).to.deep.equal([2, 2, 0]);
    expect(woke).to.equal(4);
  });

  it('waitFor re-checks a predicate and honours the timeout', async () => {
    const cond = new Condition();
    let value = 0;
    const v = await runCoro(t.sched, function* () {
      spawn(function* () {
        for (let i = 0; i < 5; i++) {
          yield* sleep(10);
          yield* cond.acquire();
          value++;
          cond.notifyAll();
          cond.release();
        }
      });
      yield* cond.acquire();
      const reached = yield* cond.waitFor(() => value >= 3);
      const never = yield* cond.waitFor(() => value >= 100, 100);
      cond.release();
      return [reached, never];
    });
    expect(v).to.deep.equal([true, false]);
  });

  it('a terminated waiter still re-acquires the lock so its finally runs under it', async () => {
    const cond = new Condition(new Lock());
    const log: string[] = [];
    const waiter = t.sched.spawn(function* () {
      yield* cond.acquire();
      try {
        yield* cond.wait();
      } finally {
        log.push(cond.lock.locked && cond.lock.statistics().owner === self() ? 'held in finally' : 'not held');
        cond.release();
      }
    });
    await new Promise((r) => setImmediate(r));
    waiter.terminate();
    await waiter.value().catch(() => undefined);
    expect(log).to.deep.equal(['held in finally']);
    expect(cond.lock.locked).to.equal(false);
  });

  it('a waiter terminated again while it re-acquires still ends holding the lock at its depth', async () => {
    const rl = new RLock();
    const cond = new Condition(rl);
    const log: string[] = [];
    const waiter = t.sched.spawn(function* () {
      yield* rl.acquire();
      yield* rl.acquire();
      try {
        yield* cond.wait();
      } finally {
        log.push(`owner ${rl.statistics().owner === self()} depth ${rl.depth}`);
        rl.release();
        rl.release();
      }
    });
    const v = await runCoro(t.sched, function* () {
      yield* sleep(1);
      yield* rl.acquire();
      cond.notify();
      // The waiter now waits to re-acquire the lock this coroutine holds: interrupt it twice.
      yield* sleep(1);
      waiter.terminate();
      yield* sleep(1);
      waiter.terminate();
      yield* sleep(1);
      rl.release();
      try {
        yield* waiter.finish();
        return 'finished';
      } catch (e) {
        return e instanceof TerminatedError ? 'terminated' : String(e);
      }
    });
    expect(v).to.equal('terminated');
    expect(log).to.deep.equal(['owner true depth 2']);
    expect(rl.locked).to.equal(false);
  });

  it('wait or notify without holding the lock is a NotOwnerError', async () => {
    const cond = new Condition();
    expect(() => cond.notify()).to.throw(NotOwnerError);
    expect(() => cond.notifyAll()).to.throw(NotOwnerError);
    const v = await runCoro(t.sched, function* () {
      try {
        yield* cond.wait();
      } catch (e) {
        return e instanceof NotOwnerError;
      }
      return false;
    });
    expect(v).to.equal(true);
  });
});
