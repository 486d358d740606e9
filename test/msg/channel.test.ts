import { expect } from 'chai';
import { sleep, spawn } from '../../lib/core/coro.js';
import { AsyncoroError, TimeoutError } from '../../lib/core/errors.js';
import { receive } from '../../lib/msg/mailbox.js';
import { Channel, ChannelClosedError } from '../../lib/msg/channel.js';
import { closeSchedulers, makeScheduler, runCoro, type TestScheduler } from '../helpers/coro.js';

describe('msg/channel', () => {
  let t: TestScheduler;
  beforeEach(() => {
    t = makeScheduler({ mock: true });
  });
  afterEach(() => closeSchedulers());

  /** A coroutine that collects `count` messages and returns them. */
  const collector = (count: number) =>
    t.sched.spawn(function* () {
      const got: unknown[] = [];
      while (got.length < count) got.push(yield* receive());
      return got;
    });

  it('broadcasts to every subscribing coroutine, in order, and counts the recipients', async () => {
    const ch = new Channel('news');
    const a = collector(3);
    const b = collector(3);
    expect(ch.subscribe(a)).to.equal(true);
    expect(ch.subscribe(b)).to.equal(true);
    expect(ch.subscribe(a)).to.equal(false);
    expect(ch.send(1)).to.equal(2);
    expect(ch.send(2)).to.equal(2);
    expect(ch.send(3)).to.equal(2);
    expect(await a.value()).to.deep.equal([1, 2, 3]);
    expect(await b.value()).to.deep.equal([1, 2, 3]);
    // Both have ended: they are dropped, not counted.
    expect(ch.send(4)).to.equal(0);
    expect(ch.subscriberCount).to.equal(0);
  });

  it('unsubscribe stops delivery', async () => {
    const ch = new Channel('c');
    const a = collector(1);
    const b = collector(2);
    ch.subscribe(a);
    ch.subscribe(b);
    expect(ch.unsubscribe(a)).to.equal(true);
    expect(ch.unsubscribe(a)).to.equal(false);
    ch.send('x');
    ch.send('y');
    expect(await b.value()).to.deep.equal(['x', 'y']);
    expect(a.isAlive).to.equal(true);
    a.terminate();
  });

  it('a transform rewrites or drops messages, and its error reaches the sender', async () => {
    const ch = new Channel('upper', {
      transform: (m) => {
        if (m === 'boom') throw new Error('bad message');
        return typeof m === 'string' ? m.toUpperCase() : Channel.DROP;
      },
    });
    const a = collector(2);
    ch.subscribe(a);
    expect(ch.send('hi')).to.equal(1);
    expect(ch.send(42)).to.equal(0);
    expect(() => ch.send('boom')).to.throw('bad message');
    ch.send('there');
    expect(await a.value()).to.deep.equal(['HI', 'THERE']);
    expect(ch.statistics()).to.include({ sent: 2, dropped: 1 });
  });

  it('channels subscribe to channels: a hierarchy, each level with its own transform; cycles are refused', async () => {
    const top = new Channel('top');
    const evens = new Channel('evens', { transform: (m) => ((m as number) % 2 === 0 ? m : Channel.DROP) });
    const tens = new Channel('tens', { transform: (m) => (m as number) * 10 });
    top.subscribe(evens);
    evens.subscribe(tens);
    const all = collector(4);
    const even = collector(2);
    const tenfold = collector(2);
    top.subscribe(all);
    evens.subscribe(even);
    tens.subscribe(tenfold);
    for (const n of [1, 2, 3, 4]) top.send(n);
    expect(await all.value()).to.deep.equal([1, 2, 3, 4]);
    expect(await even.value()).to.deep.equal([2, 4]);
    expect(await tenfold.value()).to.deep.equal([20, 40]);
    expect(() => tens.subscribe(top)).to.throw(AsyncoroError, 'cycle');
    expect(() => top.subscribe(top)).to.throw(AsyncoroError, 'cycle');
  });

  it('deliver waits for n subscribers, then sends and returns how many got it', async () => {
    const ch = new Channel('start');
    const v = await runCoro(t.sched, function* () {
      const late = spawn(function* () {
        yield* sleep(50);
        ch.subscribe(collector(1));
        yield* sleep(50);
        ch.subscribe(collector(1));
      });
      const t0 = t.clock!.now();
      const n = yield* ch.deliver('go', { n: 2, timeout: 1000 });
      const waited = t.clock!.now() - t0;
      yield* late.finish();
      return { n, waited };
    });
    expect(v.n).to.equal(2);
    expect(v.waited).to.be.within(100, 101);
  });

  it('deliver times out when too few subscribers come, sending nothing', async () => {
    const ch = new Channel('quiet');
    const one = collector(1);
    ch.subscribe(one);
    const v = await runCoro(t.sched, function* () {
      try {
        yield* ch.deliver('x', { n: 2, timeout: 30 });
        return 'delivered';
      } catch (e) {
        return e instanceof TimeoutError ? `timeout ${e.timeout}` : String(e);
      }
    });
    expect(v).to.equal('timeout 30');
    expect(ch.statistics().sent).to.equal(0);
    one.terminate();
  });

  it('register/locate by name; close ends waiting delivers and later calls', async () => {
    const ch = new Channel('registered').register();
    expect(Channel.locate('registered')).to.equal(ch);
    expect(() => new Channel('registered').register()).to.throw(AsyncoroError, 'already registered');
    const v = await runCoro(t.sched, function* () {
      const waiter = spawn(function* () {
        try {
          yield* ch.deliver('x', { n: 5 });
          return 'delivered';
        } catch (e) {
          return e;
        }
      });
      yield* sleep(10);
      ch.close();
      ch.close();
      return yield* waiter.finish();
    });
    expect(v).to.be.instanceOf(ChannelClosedError);
    expect(Channel.locate('registered')).to.equal(undefined);
    expect(() => ch.send(1)).to.throw(ChannelClosedError);
    expect(() => ch.subscribe(collector(1))).to.throw(ChannelClosedError);
  });

  it('rejects bad arguments at the call', async () => {
    expect(() => new Channel('')).to.throw(TypeError);
    expect(() => new Channel('x', { transform: 5 as never })).to.throw(TypeError);
    const ch = new Channel('args');
    expect(() => ch.subscribe({} as never)).to.throw(TypeError);
    const v = await runCoro(t.sched, function* () {
      try {
        yield* ch.deliver(1, { n: -1 });
      } catch (e) {
        return e instanceof RangeError;
      }
      return false;
    });
    expect(v).to.equal(true);
  });

  it('a subscriber that (un)subscribes during a broadcast changes the next broadcast, not this one', () => {
    const ch = new Channel('changing');
    const got: string[] = [];
    const late = { isAlive: true, send: (m: unknown) => got.push(`late ${String(m)}`) };
    const fickle = {
      isAlive: true,
      send(m: unknown) {
        got.push(`fickle ${String(m)}`);
        ch.unsubscribe(fickle);
        ch.subscribe(late);
      },
    };
    const steady = { isAlive: true, send: (m: unknown) => got.push(`steady ${String(m)}`) };
    ch.subscribe(fickle);
    ch.subscribe(steady);
    expect(ch.send(1)).to.equal(2);
    expect(ch.send(2)).to.equal(2);
    expect(got).to.deep.equal(['fickle 1', 'steady 1', 'steady 2', 'late 2']);
  });

  it('broadcasts to 1,000 subscribers without losing a message', async () => {
    const ch = new Channel('wide');
    const subs = Array.from({ length: 1000 }, () => collector(10));
    for (const s of subs) ch.subscribe(s);
    for (let i = 0; i < 10; i++) expect(ch.send(i)).to.equal(1000);
    const results = await Promise.all(subs.map((s) => s.value()));
    for (const r of results) expect(r).to.deep.equal([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });
});
