import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { self, sleep, spawn, suspend } from '../../lib/core/coro.js';
import { BackendUnavailableError, CoroStateError, DeadlockError, TimeoutError } from '../../lib/core/errors.js';
import { EV, backends } from '../../lib/core/poller.js';
import { Scheduler, defaultScheduler, waitReadable, waitWritable } from '../../lib/core/scheduler.js';
import { receive } from '../../lib/msg/mailbox.js';
import { closeAll, drain, fill, pipePair, writeByte } from '../helpers/native.js';
import { closeSchedulers, delay, makeScheduler, runCoro } from '../helpers/coro.js';

describe('core/scheduler', () => {
  afterEach(() => {
    closeSchedulers();
    closeAll();
  });

  describe('construction', () => {
    it('opens the backend and mode asked for, and lists backends', () => {
      const { sched } = makeScheduler({ poller: 'poll', mode: 'thread' });
      expect(sched.backend).to.equal('poll');
      expect(sched.mode).to.equal('thread');
      expect(Scheduler.backends()).to.equal(backends());
    });

    it('a backend or mode this host lacks is a clear error, never a silent swap', () => {
      expect(() => new Scheduler({ poller: 'kqueue' })).to.throw(BackendUnavailableError, /not available/);
      expect(() => new Scheduler({ poller: 'select', mode: 'integrated' })).to.throw(BackendUnavailableError, /cannot run in integrated/);
    });

    it('honours ASYNCORO_POLLER when no poller is given', () => {
      const saved = process.env['ASYNCORO_POLLER'];
      process.env['ASYNCORO_POLLER'] = 'select';
      try {
        const { sched } = makeScheduler();
        expect(sched.backend).to.equal('select');
        expect(sched.mode).to.equal('thread');
      } finally {
        if (saved === undefined) delete process.env['ASYNCORO_POLLER'];
        else process.env['ASYNCORO_POLLER'] = saved;
      }
    });

    it('the default scheduler is created on first use with the best backend, and replaced after close', () => {
      const saved = process.env['ASYNCORO_POLLER'];
      delete process.env['ASYNCORO_POLLER'];
      try {
        defaultScheduler().close();
        const d = defaultScheduler();
        expect(Scheduler.default()).to.equal(d);
        expect(d.backend).to.equal(backends()[0]!.name);
        expect(d.mode).to.equal(backends()[0]!.modes[0]);
        d.close();
        expect(d.isClosed).to.equal(true);
        const e = defaultScheduler();
        expect(e).to.not.equal(d);
        e.close();
      } finally {
        if (saved !== undefined) process.env['ASYNCORO_POLLER'] = saved;
      }
    });

    it('spawn() outside coroutines uses the default scheduler', async () => {
      const c = spawn(function* () {
        yield* sleep(1);
        return self().scheduler;
      });
      expect(await c.value()).to.equal(defaultScheduler());
      defaultScheduler().close();
    });

    it('spawning on a closed scheduler is a CoroStateError', () => {
      const { sched } = makeScheduler();
      sched.close();
      expect(() => sched.spawn(function* () {})).to.throw(CoroStateError, /closed/);
    });
  });

  describe('exclusive mode', () => {
    it('run() returns when no non-daemon coroutine is left, leaving daemons suspended', () => {
      const { sched } = makeScheduler({ poller: 'epoll', mode: 'exclusive' });
      const log: string[] = [];
      const daemon = sched.spawn(function* () {
        for (;;) {
          yield* sleep(5);
          log.push('tick');
        }
      });
      daemon.daemon = true;
      sched.spawn(function* () {
        yield* sleep(22);
        log.push('main done');
      });
      const t0 = performance.now();
      sched.run();
      expect(performance.now() - t0).to.be.at.least(20);
      expect(log.filter((l) => l === 'tick').length).to.be.within(1, 4); // 4 on time, fewer if late under load
      // A tick due in the same round as the main coroutine's wake-up may still run after it.
      expect(log.slice(-2)).to.include('main done');
      expect(daemon.isAlive).to.equal(true);
    });

    it('run() throws DeadlockError when nothing can wake the coroutines left', () => {
      const { sched } = makeScheduler({ poller: 'poll', mode: 'exclusive' });
      sched.spawn(function* () {
        yield* receive();
      });
      expect(() => sched.run()).to.throw(DeadlockError, /nothing/);
    });

    it('run() in another mode, or re-entered, is a CoroStateError', async () => {
      const { sched } = makeScheduler();
      expect(() => sched.run()).to.throw(CoroStateError, /exclusive/);
      const ex = makeScheduler({ poller: 'select', mode: 'exclusive' });
      const c = ex.sched.spawn(function* () {
        try {
          ex.sched.run();
        } catch (e) {
          return (e as CoroStateError).code;
        }
        return 'no';
      });
      ex.sched.run();
      expect(await c.value()).to.equal('ERR_REENTERED');
    });

    it('a coroutine may run another exclusive scheduler and go on suspending afterwards', async () => {
      const outer = makeScheduler({ poller: 'epoll' });
      const inner = makeScheduler({ poller: 'poll', mode: 'exclusive' });
      const v = await runCoro(outer.sched, function* () {
        const c = inner.sched.spawn(function* () {
          yield* sleep(2);
          return 'inner';
        });
        inner.sched.run();
        self().send('after'); // this coroutine is the running one again
        yield* sleep(2);
        return [yield* c.finish(), yield* receive()];
      });
      expect(v).to.deep.equal(['inner', 'after']);
    });

    it('waiting for a Promise is a clear error thrown into the coroutine', async () => {
      const { sched } = makeScheduler({ poller: 'epoll', mode: 'exclusive' });
      const c = sched.spawn(function* () {
        try {
          yield Promise.resolve(1);
        } catch (e) {
          return (e as CoroStateError).code;
        }
        return 'no';
      });
      sched.run();
      expect(await c.value()).to.equal('ERR_PROMISE_IN_EXCLUSIVE');
    });

    it('with an auto-jumping mock clock, an hour of sleeps takes no real time', async () => {
      const { sched, clock } = makeScheduler({ poller: 'epoll', mode: 'exclusive', mock: true });
      const c = sched.spawn(function* () {
        for (let i = 0; i < 60; i++) yield* sleep(60_000);
        return 'done';
      });
      const t0 = performance.now();
      sched.run();
      expect(performance.now() - t0).to.be.below(1000);
      expect(clock!.now()).to.equal(3_600_000);
      expect(await c.value()).to.equal('done');
    });
  });

  describe('integrated and thread modes', () => {
    it('Node timers, promises and I/O keep running beside a busy coroutine', async () => {
      const { sched } = makeScheduler({ slice: 5 });
      let nodeTimerFiredAt = -1;
      let steps = 0;
      const busy = sched.spawn(function* () {
        const end = performance.now() + 150;
        while (performance.now() < end) {
          steps++;
          yield* sleep(0);
        }
        return steps;
      });
      setTimeout(() => {
        nodeTimerFiredAt = steps;
      }, 20);
      const total = await busy.value();
      expect(nodeTimerFiredAt).to.be.greaterThan(0);
      expect(nodeTimerFiredAt).to.be.lessThan(total);
    });

    it('timers wake coroutines on the real clock, many deadlines with one armed timer', async () => {
      const { sched } = makeScheduler();
      const order: number[] = [];
      const delays = [40, 5, 25, 15, 35, 10, 30, 20];
      const t0 = performance.now();
      const cs = delays.map((ms) =>
        sched.spawn(function* () {
          yield* sleep(ms);
          order.push(ms);
          expect(performance.now() - t0).to.be.at.least(ms - 1);
        }),
      );
      await Promise.all(cs.map((c) => c.value()));
      expect(order).to.deep.equal([...delays].sort((a, b) => a - b));
    });

    it('stale timer entries below a live one are compacted away', async () => {
      const { sched } = makeScheduler();
      // A live timer on top keeps the stale entries from being dropped from the top of the heap.
      const keeper = sched.spawn(function* () {
        return yield* receive(60_000, 'keeper alarm');
      });
      const N = 5000;
      const cs = Array.from({ length: N }, () =>
        sched.spawn(function* () {
          return yield* receive(1e7, 'alarm');
        }),
      );
      while (sched.statistics().ready > 0) await delay(1);
      expect(sched.statistics().timers).to.equal(N + 1);
      for (const c of cs) c.send('msg');
      expect(await Promise.all(cs.map((c) => c.value()))).to.satisfy((v: unknown[]) => v.every((m) => m === 'msg'));
      // (They may be compacted already, if waking them took a whole slice: rounds fire timers.)
      await runCoro(sched, function* () {
        yield* sleep(1); // a firing timer lets the heap compact
      });
      expect(sched.statistics()).to.include({ timers: 1, staleTimers: 0 });
      keeper.send('done');
      expect(await keeper.value()).to.equal('done');
    });

    it('statistics() counts coroutines and steps', async () => {
      const { sched } = makeScheduler();
      const c = sched.spawn(function* () {
        yield* suspend();
      });
      expect(sched.statistics()).to.include({ alive: 1, aliveNonDaemon: 1, ready: 1 });
      await delay(1);
      expect(sched.statistics()).to.include({ ready: 0 });
      c.resume();
      await c.value();
      expect(sched.statistics().alive).to.equal(0);
      expect(sched.statistics().steps).to.equal(2);
    });
  });

  describe('fd readiness (waitReadable / waitWritable)', () => {
    for (const [backend, mode] of [
      ['epoll', 'integrated'],
      ['poll', 'thread'],
      ['select', 'exclusive'],
    ] as const) {
      it(`wakes a reader when a pipe becomes readable (${backend} ${mode})`, async () => {
        const { sched } = makeScheduler({ poller: backend, mode });
        const [r, w] = pipePair();
        const reader = sched.spawn(function* () {
          const bits = yield* waitReadable(r, 5000);
          return [bits & EV.READ, drain(r)];
        });
        sched.spawn(function* () {
          yield* sleep(10);
          const bits = yield* waitWritable(w, 1000);
          expect(bits & EV.WRITE).to.equal(EV.WRITE);
          writeByte(w);
          writeByte(w);
        });
        if (mode === 'exclusive') sched.run();
        expect(await reader.value()).to.deep.equal([EV.READ, 2]);
        expect(sched.statistics().fdWaits).to.equal(0);
      });
    }

    it('a writer waits while a pipe is full and wakes when it is drained', async () => {
      const { sched } = makeScheduler({ poller: 'epoll' });
      const [r, w] = pipePair();
      fill(w);
      const writer = sched.spawn(function* () {
        yield* waitWritable(w, 5000);
        return 'writable';
      });
      await delay(20);
      expect(writer.isAlive).to.equal(true);
      drain(r);
      expect(await writer.value()).to.equal('writable');
    });

    it('times out with TimeoutError and forgets the fd', async () => {
      const { sched } = makeScheduler({ poller: 'epoll' });
      const [r] = pipePair();
      const v = await runCoro(sched, function* () {
        try {
          yield* waitReadable(r, 20);
        } catch (e) {
          return e instanceof TimeoutError;
        }
        return false;
      });
      expect(v).to.equal(true);
      expect(sched.statistics().fdWaits).to.equal(0);
    });

    it('terminate while waiting forgets the fd; a second reader on one fd is a CoroStateError', async () => {
      const { sched } = makeScheduler({ poller: 'epoll' });
      const [r] = pipePair();
      const first = sched.spawn(function* () {
        yield* waitReadable(r);
      });
      const second = sched.spawn(function* () {
        try {
          yield* waitReadable(r);
        } catch (e) {
          return (e as CoroStateError).code;
        }
        return 'no';
      });
      expect(await second.value()).to.equal('ERR_FD_BUSY');
      expect(sched.statistics().fdWaits).to.equal(1);
      first.terminate();
      await first.value().catch(() => undefined);
      expect(sched.statistics().fdWaits).to.equal(0);
    });

    it('rejects a bad fd or timeout', () => {
      expect(() => waitReadable(-1)).to.throw(RangeError);
      expect(() => waitWritable(1.5)).to.throw(RangeError);
      expect(() => waitReadable(0, -3)).to.throw(RangeError);
    });
  });

  describe('keeping the process alive', () => {
    const child = fileURLToPath(new URL('../fixtures/keepalive.ts', import.meta.url));
    function runChild(scenario: string): { ms: number; out: string } {
      const t0 = performance.now();
      const r = spawnSync(process.execPath, ['--import', 'tsx', child, scenario], { encoding: 'utf8', timeout: 20_000 });
      return { ms: performance.now() - t0, out: (r.stdout + r.stderr).trim() };
    }

    it('a non-daemon sleeper keeps the process alive; daemons do not', function () {
      this.timeout(30_000);
      const alive = runChild('non-daemon');
      const woke = /woke after (\d+) ms/.exec(alive.out);
      expect(woke, alive.out).to.not.equal(null);
      expect(Number(woke![1])).to.be.at.least(299);
      const daemon = runChild('daemon');
      expect(daemon.out).to.equal('exiting');
      expect(daemon.ms).to.be.below(alive.ms + 200);
    });
  });
});
