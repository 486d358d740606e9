import { expect } from 'chai';
import { self, sleep, spawn } from '../../lib/core/coro.js';
import { HotSwap, NotInCoroError } from '../../lib/core/errors.js';
import { receive } from '../../lib/msg/mailbox.js';
import { hotSwappable } from '../../lib/supervise/hotswap.js';
import { MonitorStatus } from '../../lib/supervise/monitor.js';
import { closeSchedulers, makeScheduler, runCoro, type TestScheduler } from '../helpers/coro.js';

type Entry = [string, number];

/** Version 1: logs what it receives; hands over how many it saw when swapped. */
function* v1(log: Entry[]): Generator<unknown, void, unknown> {
  hotSwappable(true);
  let seen = 0;
  try {
    for (;;) {
      const m = yield* receive<number>();
      log.push(['v1', m]);
      seen++;
    }
  } catch (e) {
    if (e instanceof HotSwap) throw e.handOver(seen);
    throw e;
  }
}

/** Version 2: the same, tagged v2, starting from the count v1 handed over. */
function* v2(log: Entry[], tag: string, handed?: number): Generator<unknown, void, unknown> {
  hotSwappable(true);
  log.push([`${tag} took over after`, handed ?? -1]);
  for (;;) log.push([tag, yield* receive<number>()]);
}

describe('supervise/hotswap', () => {
  let t: TestScheduler;
  beforeEach(() => {
    t = makeScheduler({ mock: true });
  });
  afterEach(() => closeSchedulers());

  it('swaps while messages keep arriving: none lost, none duplicated, state handed over', async () => {
    const log: Entry[] = [];
    const c = t.sched.spawn(v1, log);
    c.name = 'server';
    const id = c.id;
    const mon = t.sched.spawn(function* () {
      return yield* receive(100_000, 'nothing');
    });
    c.notify(mon);
    await runCoro(t.sched, function* () {
      for (let i = 1; i <= 1000; i++) {
        c.send(i);
        // Both ways of being offered: woken with a message and not run yet (i = 300), and
        // waiting in receive with an empty mailbox (i = 700, after sleep(0) let it drain).
        if (i === 300) c.hotSwap(v2, log, 'v2');
        if (i === 700) {
          yield* sleep(0);
          c.hotSwap(v2, log, 'v3');
        }
        if (i % 7 === 0) yield* sleep(0);
      }
      yield* sleep(10);
    });
    const got = log.filter(([tag]) => !tag.includes('took over')).map(([, m]) => m);
    expect(got).to.deep.equal(Array.from({ length: 1000 }, (_, i) => i + 1));
    const v1Count = log.filter(([tag]) => tag === 'v1').length;
    expect(log).to.deep.include(['v2 took over after', v1Count]);
    // v2 does not hand over: v3 starts from nothing.
    expect(log).to.deep.include(['v3 took over after', -1]);
    expect(log.findIndex(([tag]) => tag === 'v3')).to.be.greaterThan(log.findIndex(([tag]) => tag === 'v2'));
    // Same coroutine, name kept, alive; its monitor heard nothing.
    expect(c.id).to.equal(id);
    expect(c.name).to.equal('server');
    expect(c.isAlive).to.equal(true);
    expect(mon.isAlive).to.equal(true);
    c.terminate();
    expect(await mon.value()).to.be.instanceOf(MonitorStatus);
  });

  it('a coroutine that catches the HotSwap refuses it, keeps running, and is not asked again until a new request', async () => {
    const log: string[] = [];
    const c = t.sched.spawn(function* () {
      hotSwappable(true);
      for (;;) {
        try {
          log.push(`old ${yield* receive<number>()}`);
        } catch (e) {
          if (!(e instanceof HotSwap)) throw e;
          log.push('refused');
        }
      }
    });
    await runCoro(t.sched, function* () {
      c.send(1);
      yield* sleep(1);
      c.hotSwap(function* () {
        log.push('new');
      });
      yield* sleep(1);
      c.send(2);
      yield* sleep(1);
      c.hotSwap(function* () {
        log.push('newer');
      });
      yield* sleep(1);
    });
    expect(log).to.deep.equal(['old 1', 'refused', 'old 2', 'refused']);
    expect(c.isAlive).to.equal(true);
    c.terminate();
  });

  it('a swap asked for while the coroutine is not swappable waits for hotSwappable(true)', async () => {
    const log: string[] = [];
    const clock = t.clock!;
    const c = t.sched.spawn(function* () {
      hotSwappable(false);
      log.push('critical start');
      yield* sleep(100); // a suspension, but not a swappable one
      log.push(`critical end ${clock.now()}`);
      hotSwappable(true);
      log.push('swappable');
      yield* sleep(1000);
      log.push('not reached');
    });
    await runCoro(t.sched, function* () {
      yield* sleep(10);
      c.hotSwap(function* (when: number) {
        log.push(`swapped at ${clock.now() - when}`);
      }, clock.now());
      yield* c.finish();
    });
    expect(log).to.deep.equal(['critical start', 'critical end 100', 'swappable', 'swapped at 90']);
  });

  it('a coroutine may swap itself: the swap happens at its next suspension', async () => {
    const v = await runCoro(t.sched, function* () {
      const me = self();
      hotSwappable(true);
      me.hotSwap(function* () {
        return 'new';
      });
      const before = 'still old';
      yield* sleep(1);
      return before;
    });
    expect(v).to.equal('new');
  });

  it('a new function that is not a generator fails the new run; its monitor hears of it', async () => {
    const c = t.sched.spawn(function* () {
      hotSwappable(true);
      yield* receive();
    });
    const st = await runCoro(t.sched, function* () {
      yield* self().monitor(c);
      yield* sleep(1);
      c.hotSwap((() => 5) as never);
      return yield* receive<MonitorStatus>();
    });
    expect(st.kind).to.equal('error');
    expect(st.error).to.be.instanceOf(TypeError);
  });

  it('hotSwap restarts an ended coroutine that is still restartable; misuse throws', async () => {
    const v = await runCoro(t.sched, function* () {
      const c = spawn(function* () {
        throw new Error('first');
      });
      yield* self().monitor(c);
      const st = yield* receive<MonitorStatus>();
      expect(st.coro).to.equal(c);
      c.hotSwap(function* (x: number) {
        return x + 1;
      }, 41);
      expect(() => c.hotSwap(5 as never)).to.throw(TypeError);
      return yield* c.finish();
    });
    expect(v).to.equal(42);
    expect(() => hotSwappable(true)).to.throw(NotInCoroError);
  });
});
