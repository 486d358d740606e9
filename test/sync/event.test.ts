import { expect } from 'chai';
import { sleep } from '../../lib/core/coro.js';
import { Event } from '../../lib/sync/event.js';
import { closeSchedulers, makeScheduler, runCoro, type TestScheduler } from '../helpers/coro.js';

describe('sync/event', () => {
  let t: TestScheduler;
  beforeEach(() => {
    t = makeScheduler({ mock: true });
  });
  afterEach(() => closeSchedulers());

  it('set() wakes every waiter in order; wait() returns true at once while set', async () => {
    const ev = new Event();
    const log: number[] = [];
    const cs = [0, 1, 2].map((i) =>
      t.sched.spawn(function* () {
        yield* sleep(i);
        const ok = yield* ev.wait();
        log.push(i);
        return ok;
      }),
    );
    const n = await runCoro(t.sched, function* () {
      yield* sleep(10);
      expect(ev.statistics().waiting).to.equal(3);
      return ev.set();
    });
    expect(await Promise.all(cs.map((c) => c.value()))).to.deep.equal([true, true, true]);
    expect(log).to.deep.equal([0, 1, 2]);
    expect(n).to.equal(3);
    expect(ev.isSet).to.equal(true);
    const again = await runCoro(t.sched, function* () {
      return yield* ev.wait(5);
    });
    expect(again).to.equal(true);
  });

  it('wait(timeout) returns false when not set in time; clear() resets', async () => {
    const ev = new Event();
    ev.set();
    ev.clear();
    expect(ev.isSet).to.equal(false);
    const v = await runCoro(t.sched, function* () {
      return yield* ev.wait(25);
    });
    expect(v).to.equal(false);
    expect(ev.statistics()).to.deep.equal({ set: false, waiting: 0 });
    expect(() => ev.wait(-1)).to.throw(RangeError);
  });
});
