import { expect } from 'chai';
import { Coro, self, sleep, spawn, suspend } from '../../lib/core/coro.js';
import {
  CoroExit,
  CoroStateError,
  DeadlockError,
  NotInCoroError,
  TerminatedError,
  TimeoutError,
} from '../../lib/core/errors.js';
import { Scheduler } from '../../lib/core/scheduler.js';
import { receive } from '../../lib/msg/mailbox.js';
import { closeSchedulers, makeScheduler, runCoro, type TestScheduler } from '../helpers/coro.js';

describe('core/coro', () => {
  let t: TestScheduler;
  beforeEach(() => {
    t = makeScheduler({ mock: true });
  });
  afterEach(() => closeSchedulers());

  describe('spawn, value, self', () => {
    it('runs the generator with its arguments and resolves value() with its result', async () => {
      const c = t.sched.spawn(function* (a: number, b: string) {
        yield* sleep(0);
        return `${a}${b}`;
      }, 4, 'x');
      expect(await c.value()).to.equal('4x');
      expect(c.isAlive).to.equal(false);
    });

    it('self() is the running coroutine and the generator\'s this', async () => {
      let seen: unknown[] = [];
      const c = t.sched.spawn(function* () {
        seen = [self(), this];
        yield* sleep(1);
        seen.push(self());
      });
      await c.value();
      expect(seen).to.deep.equal([c, c, c]);
    });

    it('self() outside a coroutine throws NotInCoroError', () => {
      expect(() => self()).to.throw(NotInCoroError);
    });

    it('spawn() inside a coroutine uses that coroutine\'s scheduler', async () => {
      const inner = await runCoro(t.sched, function* () {
        return spawn(function* () {
          return 1;
        });
      });
      expect(inner.scheduler).to.equal(t.sched);
      expect(await inner.value()).to.equal(1);
    });

    it('new Coro() is scheduled at once like spawn', async () => {
      const c = await runCoro(t.sched, function* () {
        return new Coro(function* (n: number) {
          return n + 1;
        }, 1);
      });
      expect(await c.value()).to.equal(2);
    });

    it('a function that does not return a generator is a TypeError', () => {
      expect(() => t.sched.spawn((() => 5) as never)).to.throw(TypeError, /generator/);
    });

    it('ids are unique and increasing; names default to the function name and can be set', async () => {
      function* worker() {
        yield* sleep(0);
      }
      const a = t.sched.spawn(worker);
      const b = t.sched.spawn(function* () {});
      expect(b.id).to.be.greaterThan(a.id);
      expect(a.name).to.equal('worker');
      b.name = 'named';
      expect(b.name).to.equal('named');
      expect(String(b)).to.equal(`Coro(named/${b.id})`);
      await Promise.all([a.value(), b.value()]);
    });

    it('value() after the end resolves at once, and several calls share one promise', async () => {
      const c = t.sched.spawn(function* () {
        return 3;
      });
      await c.value();
      expect(c.value()).to.equal(c.value());
      expect(await c.value()).to.equal(3);
    });
  });

  describe('scheduling order', () => {
    it('runs ready coroutines in FIFO order, sleep(0) going to the back', async () => {
      const log: string[] = [];
      const mk = (name: string) =>
        t.sched.spawn(function* () {
          for (let i = 0; i < 3; i++) {
            log.push(`${name}${i}`);
            yield* sleep(0);
          }
        });
      const cs = [mk('a'), mk('b'), mk('c')];
      await Promise.all(cs.map((c) => c.value()));
      expect(log.join(' ')).to.equal('a0 b0 c0 a1 b1 c1 a2 b2 c2');
    });

    it('a plain yield of a value lets others run, then resumes with that value', async () => {
      const log: unknown[] = [];
      const a = t.sched.spawn(function* () {
        const v = yield 'echo';
        log.push(v);
      });
      const b = t.sched.spawn(function* () {
        log.push('b');
      });
      await Promise.all([a.value(), b.value()]);
      expect(log).to.deep.equal(['b', 'echo']);
    });

    it('a coroutine completing operations at once is still preempted after a budget', async () => {
      const log: string[] = [];
      const busy = t.sched.spawn(function* () {
        const me = self();
        for (let i = 0; i < 5000; i++) me.send(i);
        for (let i = 0; i < 5000; i++) {
          yield* receive();
          log.push('busy');
        }
      });
      const other = t.sched.spawn(function* () {
        yield* sleep(0);
        log.push('other');
      });
      await Promise.all([busy.value(), other.value()]);
      const at = log.indexOf('other');
      expect(at).to.be.greaterThan(0);
      expect(at).to.be.lessThan(5000);
    });

    it('timers fire in deadline order, equal deadlines in the order they were set', async () => {
      const log: number[] = [];
      const cs = [30, 10, 20, 10, 0.5].map((ms, i) =>
        t.sched.spawn(function* () {
          yield* sleep(ms);
          log.push(i);
        }),
      );
      await Promise.all(cs.map((c) => c.value()));
      expect(log).to.deep.equal([4, 1, 3, 2, 0]);
    });
  });

  describe('Op and yield', () => {
    it('a plain yield of an Op works (untyped) like yield*', async () => {
      const v = await runCoro(t.sched, function* () {
        self().send('m');
        const m = yield receive();
        const s = yield sleep(5);
        return [m, s];
      });
      expect(v).to.deep.equal(['m', undefined]);
    });

    it('yielding a Promise waits for it and throws its rejection in', async () => {
      const v = await runCoro(t.sched, function* () {
        const a = yield Promise.resolve(1);
        const b = yield new Promise((r) => setTimeout(() => r(2), 5));
        try {
          yield Promise.reject(new Error('boom'));
          return 'not reached';
        } catch (e) {
          return [a, b, (e as Error).message];
        }
      });
      expect(v).to.deep.equal([1, 2, 'boom']);
    });

    it('yielding a generator instead of yield* throws a CoroStateError in', async () => {
      const v = await runCoro(t.sched, function* () {
        function* inner() {
          yield* sleep(1);
        }
        try {
          yield inner();
        } catch (e) {
          return (e as CoroStateError).code;
        }
        return 'no';
      });
      expect(v).to.equal('ERR_BAD_YIELD');
    });

    it('a user generator returning T composes as Op<T>', async () => {
      function* twice(): Generator<unknown, number, unknown> {
        const a = yield* receive<number>();
        const b = yield* receive<number>();
        return a + b;
      }
      const v = await runCoro(t.sched, function* () {
        self().send(20);
        self().send(22);
        return yield* twice();
      });
      expect(v).to.equal(42);
    });

    it('one Op instance may be yielded by many coroutines at the same time', async () => {
      const op = sleep(10);
      const cs = [1, 2, 3].map((i) =>
        t.sched.spawn(function* () {
          yield* op;
          yield* op;
          return i;
        }),
      );
      expect(await Promise.all(cs.map((c) => c.value()))).to.deep.equal([1, 2, 3]);
    });
  });

  describe('sleep', () => {
    it('lasts at least the time asked on the real clock', async () => {
      const r = makeScheduler();
      const t0 = performance.now();
      await runCoro(r.sched, function* () {
        yield* sleep(30);
      });
      expect(performance.now() - t0).to.be.at.least(29);
    });

    it('uses the mock clock: 60 s pass at once with autoJump', async () => {
      const start = t.clock!.now();
      await runCoro(t.sched, function* () {
        yield* sleep(60_000);
      });
      expect(t.clock!.now() - start).to.equal(60_000);
    });

    it('rejects a negative or NaN duration', () => {
      expect(() => sleep(-1)).to.throw(RangeError);
      expect(() => sleep(NaN)).to.throw(RangeError);
    });
  });

  describe('suspend / resume', () => {
    it('resume(value) wakes a suspended coroutine with the value', async () => {
      const c = t.sched.spawn(function* () {
        return yield* suspend();
      });
      await Promise.resolve();
      await Promise.resolve();
      expect(c.resume('go')).to.equal(true);
      expect(await c.value()).to.equal('go');
    });

    it('suspend(timeout, alarm) returns the alarm value when nobody resumes', async () => {
      const v = await runCoro(t.sched, function* () {
        return yield* suspend(100, 'alarm');
      });
      expect(v).to.equal('alarm');
    });

    it('resume also wakes a sleeping coroutine early, and the timer is then ignored', async () => {
      const m = makeScheduler({ mock: true, autoJump: false });
      const c = m.sched.spawn(function* () {
        const v = yield* sleep(1000);
        const w = yield* suspend(50, 'second-alarm');
        return [v, w];
      });
      await new Promise((r) => setImmediate(r));
      expect(c.resume('early')).to.equal(true);
      await new Promise((r) => setImmediate(r));
      m.clock!.advance(50);
      expect(await c.value()).to.deep.equal(['early', 'second-alarm']);
    });

    it('resume of a coroutine that is not suspended returns false', async () => {
      const c = t.sched.spawn(function* () {
        yield* receive();
      });
      expect(c.resume(1)).to.equal(false); // ready, not suspended
      await new Promise((r) => setImmediate(r));
      expect(c.resume(1)).to.equal(false); // waiting in receive, not suspend
      c.send(0);
      await c.value();
      expect(c.resume(1)).to.equal(false); // ended
    });
  });

  describe('throw', () => {
    it('throws an error in where the coroutine waits', async () => {
      const c = t.sched.spawn(function* () {
        try {
          yield* receive();
        } catch (e) {
          return `caught ${(e as Error).message}`;
        }
        return 'no';
      });
      await new Promise((r) => setImmediate(r));
      expect(c.throw(new Error('x'))).to.equal(true);
      expect(await c.value()).to.equal('caught x');
      expect(c.throw(new Error('late'))).to.equal(false);
    });

    it('before the coroutine first runs, the error ends it at the start', async () => {
      let ran = false;
      const c = t.sched.spawn(function* () {
        ran = true;
      });
      c.throw(new Error('early'));
      await c.value().then(
        () => expect.fail('should reject'),
        (e) => expect((e as Error).message).to.equal('early'),
      );
      expect(ran).to.equal(false);
      expect(t.errors.map((e) => (e.err as Error).message)).to.deep.equal(['early']);
    });

    it('on itself throws at once', async () => {
      const v = await runCoro(t.sched, function* () {
        try {
          self().throw(new Error('self'));
        } catch (e) {
          return (e as Error).message;
        }
        return 'no';
      });
      expect(v).to.equal('self');
    });
  });

  describe('terminate', () => {
    it('throws CoroExit in; value() rejects with TerminatedError; not reported as an error', async () => {
      let exit: unknown;
      const c = t.sched.spawn(function* () {
        try {
          yield* sleep(1e9);
        } catch (e) {
          exit = e;
          throw e;
        }
      });
      await new Promise((r) => setImmediate(r));
      expect(c.terminate()).to.equal(true);
      const err = await c.value().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(exit).to.be.instanceOf(CoroExit);
      expect(err).to.be.instanceOf(TerminatedError);
      expect((err as TerminatedError).cause).to.equal(exit);
      expect(t.errors).to.deep.equal([]);
      expect(c.isAlive).to.equal(false);
      expect(c.terminate()).to.equal(false);
    });

    it('a finally block that yields runs to its end', async () => {
      const log: string[] = [];
      const c = t.sched.spawn(function* () {
        try {
          log.push('start');
          yield* receive();
          log.push('not reached');
        } finally {
          log.push('cleanup 1');
          yield* sleep(50);
          log.push('cleanup 2');
          self().send('x');
          yield* receive();
          log.push('cleanup 3');
        }
      });
      await new Promise((r) => setImmediate(r));
      c.terminate();
      await c.value().catch(() => undefined);
      expect(log).to.deep.equal(['start', 'cleanup 1', 'cleanup 2', 'cleanup 3']);
    });

    it('terminating again during a yielding finally throws a second CoroExit there', async () => {
      const log: string[] = [];
      const c = t.sched.spawn(function* () {
        try {
          yield* suspend();
        } finally {
          try {
            yield* suspend();
          } catch (e) {
            log.push(e instanceof CoroExit ? 'second exit' : 'other');
          }
        }
      });
      await new Promise((r) => setImmediate(r));
      c.terminate();
      await new Promise((r) => setImmediate(r));
      expect(c.isAlive).to.equal(true);
      c.terminate();
      await c.value().catch(() => undefined);
      expect(log).to.deep.equal(['second exit']);
    });

    it('a coroutine may catch CoroExit and return a value', async () => {
      const c = t.sched.spawn(function* () {
        try {
          yield* suspend();
        } catch (e) {
          if (e instanceof CoroExit) return 'stopped cleanly';
        }
        return 'no';
      });
      await new Promise((r) => setImmediate(r));
      c.terminate();
      expect(await c.value()).to.equal('stopped cleanly');
    });

    it('on itself throws CoroExit at once', async () => {
      const c = t.sched.spawn(function* () {
        self().terminate();
        return 'no';
      });
      const e = await c.value().catch((x: unknown) => x);
      expect(e).to.be.instanceOf(TerminatedError);
    });
  });

  describe('finish', () => {
    it('waits for the result in another coroutine', async () => {
      const v = await runCoro(t.sched, function* () {
        const w = spawn(function* () {
          yield* sleep(100);
          return 'result';
        });
        return yield* w.finish();
      });
      expect(v).to.equal('result');
    });

    it('throws the error that ended the coroutine, or TerminatedError', async () => {
      const v = await runCoro(t.sched, function* () {
        const bad = spawn(function* () {
          yield* sleep(1);
          throw new Error('bad');
        });
        const killed = spawn(function* () {
          yield* suspend();
        });
        const out: string[] = [];
        try {
          yield* bad.finish();
        } catch (e) {
          out.push((e as Error).message);
        }
        killed.terminate();
        try {
          yield* killed.finish();
        } catch (e) {
          out.push(e instanceof TerminatedError ? 'terminated' : 'other');
        }
        try {
          yield* bad.finish(); // already ended
        } catch (e) {
          out.push(`again ${(e as Error).message}`);
        }
        return out;
      });
      expect(v).to.deep.equal(['bad', 'terminated', 'again bad']);
      expect(t.errors).to.have.length(1);
    });

    it('throws TimeoutError after the timeout, leaving the target running', async () => {
      const v = await runCoro(t.sched, function* () {
        const slow = spawn(function* () {
          yield* sleep(1000);
          return 'slow';
        });
        try {
          yield* slow.finish(10);
        } catch (e) {
          if (!(e instanceof TimeoutError)) throw e;
        }
        return [slow.isAlive, yield* slow.finish()];
      });
      expect(v).to.deep.equal([true, 'slow']);
    });

    it('on itself is a DeadlockError; a negative timeout is a RangeError', async () => {
      const v = await runCoro(t.sched, function* () {
        try {
          yield* self().finish();
        } catch (e) {
          return e instanceof DeadlockError;
        }
        return false;
      });
      expect(v).to.equal(true);
      const c = t.sched.spawn(function* () {});
      expect(() => c.finish(-5)).to.throw(RangeError);
      await c.value();
    });
  });

  describe('errors', () => {
    it('an uncaught error is reported and ends only that coroutine', async () => {
      const bad = t.sched.spawn(function* failing() {
        yield* sleep(1);
        throw new Error('oops');
      });
      const good = t.sched.spawn(function* () {
        yield* sleep(5);
        return 'fine';
      });
      expect(await good.value()).to.equal('fine');
      await bad.value().catch(() => undefined);
      expect(t.errors).to.have.length(1);
      expect((t.errors[0]!.err as Error).message).to.equal('oops');
      expect(t.errors[0]!.name).to.equal('failing');
    });

    it('the default report goes to console.error', async () => {
      const s = new Scheduler({ poller: 'epoll' });
      const seen: unknown[][] = [];
      const orig = console.error;
      console.error = (...args: unknown[]) => void seen.push(args);
      try {
        const c = s.spawn(function* () {
          throw new Error('reported');
        });
        await c.value().catch(() => undefined);
      } finally {
        console.error = orig;
        s.close();
      }
      expect(seen).to.have.length(1);
      expect(String(seen[0]![0])).to.match(/failed with an uncaught error/);
      expect((seen[0]![1] as Error).message).to.equal('reported');
    });
  });

  describe('daemon, register, locate', () => {
    it('daemon flag can be read and set', async () => {
      const c = t.sched.spawn(function* () {
        yield* suspend();
      });
      expect(c.daemon).to.equal(false);
      expect(t.sched.statistics().aliveNonDaemon).to.equal(1);
      c.daemon = true;
      expect(c.daemon).to.equal(true);
      expect(t.sched.statistics().aliveNonDaemon).to.equal(0);
      c.terminate();
      await c.value().catch(() => undefined);
      expect(t.sched.statistics().alive).to.equal(0);
    });

    it('register/locate/unregister, and the name is freed when the coroutine ends', async () => {
      const c = t.sched.spawn(function* () {
        yield* receive();
      });
      c.register('svc');
      expect(t.sched.locate('svc')).to.equal(c);
      const other = t.sched.spawn(function* () {
        yield* receive();
      });
      expect(() => other.register('svc')).to.throw(CoroStateError, /taken/);
      const found = await runCoro(t.sched, function* () {
        return Coro.locate('svc');
      });
      expect(found).to.equal(c);
      c.send('stop');
      await c.value();
      expect(t.sched.locate('svc')).to.equal(undefined);
      other.register('svc');
      other.unregister();
      expect(t.sched.locate('svc')).to.equal(undefined);
      other.register();
      expect(t.sched.locate(other.name)).to.equal(other);
      other.send(1);
      await other.value();
      expect(() => other.register('late')).to.throw(CoroStateError);
    });
  });
});
