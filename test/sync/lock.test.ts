import { expect } from 'chai';
import { sleep, spawn } from '../../lib/core/coro.js';
import { DeadlockError, NotOwnerError, TerminatedError } from '../../lib/core/errors.js';
import { Lock, RLock } from '../../lib/sync/lock.js';
import { closeSchedulers, makeScheduler, runCoro, type TestScheduler } from '../helpers/coro.js';

describe('sync/lock', () => {
  let t: TestScheduler;
  beforeEach(() => {
    t = makeScheduler({ mock: true });
  });
  afterEach(() => closeSchedulers());

  describe('Lock', () => {
    it('gives mutual exclusion and wakes waiters in FIFO order', async () => {
      const lock = new Lock();
      const log: string[] = [];
      const cs = ['a', 'b', 'c', 'd'].map((n, i) =>
        t.sched.spawn(function* () {
          yield* sleep(i); // arrive in order a, b, c, d
          yield* lock.acquire();
          try {
            log.push(`${n}+`);
            yield* sleep(10);
            log.push(`${n}-`);
          } finally {
            lock.release();
          }
        }),
      );
      await Promise.all(cs.map((c) => c.value()));
      expect(log.join(' ')).to.equal('a+ a- b+ b- c+ c- d+ d-');
      expect(lock.locked).to.equal(false);
    });

    it('acquire(timeout) returns false when the lock stays held, and the timed-out waiter is skipped', async () => {
      const lock = new Lock();
      const v = await runCoro(t.sched, function* () {
        yield* lock.acquire();
        const impatient = spawn(function* () {
          return yield* lock.acquire(10);
        });
        const patient = spawn(function* () {
          const ok = yield* lock.acquire();
          lock.release();
          return ok;
        });
        yield* sleep(50);
        expect(lock.statistics().waiting).to.equal(1);
        lock.release();
        return [yield* impatient.finish(), yield* patient.finish()];
      });
      expect(v).to.deep.equal([false, true]);
      expect(lock.locked).to.equal(false);
    });

    it('tryAcquire never waits', async () => {
      const lock = new Lock();
      const v = await runCoro(t.sched, function* () {
        const a = lock.tryAcquire();
        const other = spawn(function* () {
          return lock.tryAcquire();
        });
        const b = yield* other.finish();
        lock.release();
        return [a, b];
      });
      expect(v).to.deep.equal([true, false]);
    });

    it('release by a non-owner or of an unlocked lock is a NotOwnerError', async () => {
      const lock = new Lock();
      expect(() => lock.release()).to.throw(NotOwnerError, /not held/);
      const v = await runCoro(t.sched, function* () {
        yield* lock.acquire();
        const other = spawn(function* () {
          try {
            lock.release();
          } catch (e) {
            return e instanceof NotOwnerError;
          }
          return false;
        });
        const r = yield* other.finish();
        lock.release();
        return r;
      });
      expect(v).to.equal(true);
    });

    it('re-acquiring by the owner is a DeadlockError', async () => {
      const lock = new Lock();
      const v = await runCoro(t.sched, function* () {
        yield* lock.acquire();
        try {
          yield* lock.acquire();
        } catch (e) {
          return e instanceof DeadlockError;
        } finally {
          lock.release();
        }
        return false;
      });
      expect(v).to.equal(true);
    });

    it('a waiter terminated while waiting is skipped by the next release', async () => {
      const lock = new Lock();
      const v = await runCoro(t.sched, function* () {
        yield* lock.acquire();
        const doomed = spawn(function* () {
          yield* lock.acquire();
          return 'doomed got it';
        });
        const next = spawn(function* () {
          yield* lock.acquire();
          lock.release();
          return 'next got it';
        });
        yield* sleep(1);
        doomed.terminate();
        yield* sleep(1);
        lock.release();
        return yield* next.finish();
      });
      expect(v).to.equal('next got it');
    });

    it('a waiter handed the lock and terminated before it runs still releases it in its finally', async () => {
      const lock = new Lock();
      const log: string[] = [];
      const v = await runCoro(t.sched, function* () {
        yield* lock.acquire();
        const heir = spawn(function* () {
          const got = yield* lock.acquire();
          try {
            log.push(`heir got ${got}`);
            yield* sleep(1000);
            log.push('not reached');
          } finally {
            lock.release();
          }
        });
        const next = spawn(function* () {
          yield* lock.acquire();
          lock.release();
          return 'next got it';
        });
        yield* sleep(1);
        lock.release(); // hands the lock to heir, which is now ready but has not run
        heir.terminate();
        const r = yield* next.finish();
        try {
          yield* heir.finish();
        } catch (e) {
          log.push(e instanceof TerminatedError ? 'heir terminated' : 'other');
        }
        return r;
      });
      expect(v).to.equal('next got it');
      expect(log).to.deep.equal(['heir got true', 'heir terminated']);
      expect(lock.locked).to.equal(false);
    });

    it('timed-out waiters do not pile up in the wait queue', async () => {
      const lock = new Lock();
      const v = await runCoro(t.sched, function* () {
        yield* lock.acquire();
        const loser = spawn(function* () {
          let fails = 0;
          for (let i = 0; i < 2000; i++) if (!(yield* lock.acquire(1))) fails++;
          return fails;
        });
        const fails = yield* loser.finish();
        const queued = (lock as unknown as { _waiters: { size: number } })._waiters.size;
        lock.release();
        return [fails, queued];
      });
      expect(v[0]).to.equal(2000);
      expect(v[1]).to.be.below(200);
    });

    it('rejects a negative timeout', () => {
      expect(() => new Lock().acquire(-1)).to.throw(RangeError);
    });
  });

  describe('RLock', () => {
    it('the owner may re-acquire and must release as many times', async () => {
      const lock = new RLock();
      const log: string[] = [];
      const v = await runCoro(t.sched, function* () {
        yield* lock.acquire();
        yield* lock.acquire();
        expect(lock.depth).to.equal(2);
        const other = spawn(function* () {
          yield* lock.acquire();
          log.push('other');
          lock.release();
        });
        yield* sleep(5);
        lock.release();
        yield* sleep(5);
        log.push('still held');
        lock.release();
        yield* other.finish();
        return lock.depth;
      });
      expect(log).to.deep.equal(['still held', 'other']);
      expect(v).to.equal(0);
    });

    it('release by a non-owner is a NotOwnerError; acquire(timeout) can time out', async () => {
      const lock = new RLock();
      const v = await runCoro(t.sched, function* () {
        yield* lock.acquire();
        const other = spawn(function* () {
          let notOwner = false;
          try {
            lock.release();
          } catch (e) {
            notOwner = e instanceof NotOwnerError;
          }
          return [notOwner, yield* lock.acquire(20)];
        });
        const r = yield* other.finish();
        lock.release();
        return r;
      });
      expect(v).to.deep.equal([true, false]);
      expect(() => lock.release()).to.throw(NotOwnerError);
    });
  });
});
