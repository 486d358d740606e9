import { expect } from 'chai';
import { MockClock, realClock } from '../../lib/core/clock.js';
import { sleep } from '../../lib/core/coro.js';
import { closeSchedulers, makeScheduler } from '../helpers/coro.js';

describe('core/clock', () => {
  afterEach(() => closeSchedulers());

  it('the real clock is monotonic', () => {
    const a = realClock.now();
    const b = realClock.now();
    expect(b).to.be.at.least(a);
  });

  it('a mock clock moves only when advanced, firing timers that became due', async () => {
    const { sched, clock } = makeScheduler({ mock: true, autoJump: false });
    const log: string[] = [];
    for (const ms of [300, 100, 200]) {
      sched.spawn(function* () {
        yield* sleep(ms);
        log.push(`${ms}@${clock!.now()}`);
      });
    }
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setTimeout(r, 20));
    expect(log).to.deep.equal([]); // no real time makes them fire
    clock!.advance(150);
    await new Promise((r) => setImmediate(r));
    expect(log).to.deep.equal(['100@150']);
    clock!.advance(1000);
    await new Promise((r) => setImmediate(r));
    expect(log).to.deep.equal(['100@150', '200@1150', '300@1150']);
  });

  it('jumpTo never goes backwards; advance rejects negative durations', () => {
    const c = new MockClock({ start: 50 });
    c.jumpTo(10);
    expect(c.now()).to.equal(50);
    c.jumpTo(70);
    expect(c.now()).to.equal(70);
    expect(() => c.advance(-1)).to.throw(RangeError);
  });
});
