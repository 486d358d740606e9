import { expect } from 'chai';
import { self, sleep, type Coro } from '../../lib/core/coro.js';
import { CoroExit } from '../../lib/core/errors.js';
import { receive } from '../../lib/msg/mailbox.js';
import { MonitorStatus } from '../../lib/supervise/monitor.js';
import { RestartIntensityError, Supervisor, type ChildSpec, type SupervisorOptions } from '../../lib/supervise/supervisor.js';
import { closeSchedulers, makeScheduler, runCoro, type TestScheduler } from '../helpers/coro.js';

/** A child that logs its starts and stops, and crashes or exits on request. */
function* child(name: string, log: string[]): Generator<unknown, string, unknown> {
  log.push(`start ${name}`);
  try {
    for (;;) {
      const m = yield* receive<string>();
      if (m === 'crash') throw new Error(`${name} crashed`);
      if (m === 'exit') return name;
    }
  } catch (e) {
    if (e instanceof CoroExit) log.push(`stop ${name}`);
    throw e;
  }
}

const specs = (log: string[], ...names: string[]): ChildSpec[] => names.map((id) => ({ id, fn: child, args: [id, log] }));

describe('supervise/supervisor', () => {
  let t: TestScheduler;
  beforeEach(() => {
    t = makeScheduler({ mock: true });
  });
  afterEach(() => closeSchedulers());

  /** Runs `body` beside a supervisor started with `options` (in a coroutine, so it runs on t.sched). */
  function withSupervisor<R>(options: SupervisorOptions, body: (sup: Supervisor) => Generator<unknown, R, unknown>): Promise<R> {
    return runCoro(t.sched, function* () {
      const sup = new Supervisor(options);
      yield* sleep(1);
      try {
        return yield* body(sup);
      } finally {
        yield* sup.stop();
      }
    });
  }

  it('starts children in order and stops them in reverse order', async () => {
    const log: string[] = [];
    await withSupervisor({ children: specs(log, 'a', 'b', 'c') }, function* (sup) {
      expect(sup.children().map((k) => [k.id, k.alive])).to.deep.equal([
        ['a', true],
        ['b', true],
        ['c', true],
      ]);
      expect(Supervisor.of(sup.coro)).to.equal(sup);
      expect(sup.coro.name).to.equal('supervisor');
    });
    expect(log).to.deep.equal(['start a', 'start b', 'start c', 'stop c', 'stop b', 'stop a']);
  });

  it('one_for_one restarts only the failed child, in place', async () => {
    const log: string[] = [];
    const exits: string[] = [];
    await withSupervisor(
      { children: specs(log, 'a', 'b', 'c'), onChildExit: (id, st) => exits.push(`${id} ${st.kind}`) },
      function* (sup) {
        const b = sup.child('b')!;
        b.send('crash');
        yield* sleep(1);
        expect(sup.child('b')).to.equal(b);
        expect(b.isAlive).to.equal(true);
        expect(sup.children().map((k) => k.restarts)).to.deep.equal([0, 1, 0]);
        log.push('--');
      },
    );
    expect(exits).to.deep.equal(['b error']);
    expect(log).to.deep.equal(['start a', 'start b', 'start c', 'start b', '--', 'stop c', 'stop b', 'stop a']);
  });

  it('one_for_all stops the others in reverse order, then starts all again in order', async () => {
    const log: string[] = [];
    await withSupervisor({ strategy: 'one_for_all', children: specs(log, 'a', 'b', 'c') }, function* (sup) {
      log.length = 0;
      const coros = sup.children().map((k) => k.coro);
      sup.child('b')!.send('crash');
      yield* sleep(1);
      expect(sup.children().map((k) => k.coro)).to.deep.equal(coros);
      expect(sup.statistics()).to.deep.include({ children: 3, alive: 3, restarts: 3 });
      log.push('--');
    });
    expect(log).to.deep.equal(['stop c', 'stop a', 'start a', 'start b', 'start c', '--', 'stop c', 'stop b', 'stop a']);
  });

  it('rest_for_one restarts the failed child and the ones started after it', async () => {
    const log: string[] = [];
    await withSupervisor({ strategy: 'rest_for_one', children: specs(log, 'a', 'b', 'c', 'd') }, function* (sup) {
      log.length = 0;
      sup.child('b')!.send('crash');
      yield* sleep(1);
      log.push('--');
    });
    expect(log).to.deep.equal(['stop d', 'stop c', 'start b', 'start c', 'start d', '--', 'stop d', 'stop c', 'stop b', 'stop a']);
  });

  it('restart policies: permanent always, transient after an error only, temporary never', async () => {
    const log: string[] = [];
    const children: ChildSpec[] = [
      { id: 'perm', fn: child, args: ['perm', log], restart: 'permanent' },
      { id: 'trans', fn: child, args: ['trans', log], restart: 'transient' },
      { id: 'temp', fn: child, args: ['temp', log], restart: 'temporary' },
      { id: 'trans2', fn: child, args: ['trans2', log], restart: 'transient' },
    ];
    await withSupervisor({ children, intensity: 10 }, function* (sup) {
      log.length = 0;
      const temp = sup.child('temp')!;
      sup.child('perm')!.send('exit');
      sup.child('trans')!.send('exit');
      sup.child('trans2')!.send('crash');
      temp.send('crash');
      yield* sleep(1);
      expect(sup.children().map((k) => k.id)).to.deep.equal(['perm', 'trans2']);
      expect(temp.isAlive).to.equal(false);
      yield* sleep(0); // the supervisor's turn ended: the removed children are released
      expect(() => temp.restart()).to.throw('released');
    });
    expect(log.slice(0, 2).sort()).to.deep.equal(['start perm', 'start trans2']);
  });

  it('too many restarts within the period: the children are stopped and the supervisor fails to its monitor', async () => {
    const log: string[] = [];
    const v = await runCoro(t.sched, function* () {
      const sup = new Supervisor({ intensity: 2, period: 1000, children: specs(log, 'a', 'b') });
      yield* self().monitor(sup.coro);
      yield* sleep(1);
      const a = sup.child('a')!;
      for (let i = 0; i < 3; i++) {
        a.send('crash');
        yield* sleep(100);
      }
      return yield* receive<MonitorStatus>();
    });
    expect(v.kind).to.equal('error');
    expect(v.error).to.be.instanceOf(RestartIntensityError);
    expect(((v.error as Error).cause as Error).message).to.equal('a crashed');
    expect(log).to.deep.equal(['start a', 'start b', 'start a', 'start a', 'stop b']);
    expect(t.errors).to.deep.equal([]);
  });

  it('a supervisor that gave up can be restarted in place by its own monitor, even one added after it started', async () => {
    const log: string[] = [];
    await runCoro(t.sched, function* () {
      const sup = new Supervisor({ intensity: 0, children: specs(log, 'a') });
      yield* sleep(1);
      yield* self().monitor(sup.coro);
      sup.child('a')!.send('crash');
      const st = yield* receive<MonitorStatus>();
      expect(st.error).to.be.instanceOf(RestartIntensityError);
      expect(st.coro).to.equal(sup.coro);
      sup.coro.restart();
      yield* sleep(1);
      expect(Supervisor.of(sup.coro)).to.equal(sup);
      expect(sup.child('a')!.isAlive).to.equal(true);
      yield* sup.stop();
    });
    expect(log).to.deep.equal(['start a', 'start a', 'stop a']);
  });

  it('restarts spread over more than the period are within the intensity', async () => {
    const log: string[] = [];
    await withSupervisor({ intensity: 2, period: 1000, children: specs(log, 'a') }, function* (sup) {
      for (let i = 0; i < 6; i++) {
        sup.child('a')!.send('crash');
        yield* sleep(600);
      }
      expect(sup.coro.isAlive).to.equal(true);
      expect(sup.statistics().restarts).to.equal(6);
    });
  });

  it('backoff: the delay before a restart grows with the restarts within the period', async () => {
    const starts: number[] = [];
    const clock = t.clock!;
    function* flaky(): Generator<unknown, void, unknown> {
      starts.push(clock.now());
      yield* sleep(1);
      throw new Error('flaky');
    }
    await withSupervisor(
      { intensity: 10, period: 10_000, backoff: { initial: 10, factor: 2, max: 50 }, children: [{ id: 'f', fn: flaky }] },
      function* () {
        yield* sleep(200);
      },
    );
    const gaps = starts.slice(1).map((s, i) => s - starts[i]! - 1);
    expect(gaps.slice(0, 5)).to.deep.equal([10, 20, 40, 50, 50]);
  });

  it('supervisors nest: an inner supervisor that gives up is restarted by the outer one', async () => {
    const log: string[] = [];
    const inner = Supervisor.spec('inner', { intensity: 1, period: 1000, children: specs(log, 'x', 'y') });
    await withSupervisor({ intensity: 3, children: [...specs(log, 'top'), inner] }, function* (sup) {
      const innerCoro = sup.child('inner')!;
      const first = Supervisor.of(innerCoro)!;
      const x = first.child('x')!;
      x.send('crash');
      yield* sleep(1);
      x.send('crash'); // the second restart within the period: the inner supervisor gives up
      yield* sleep(1);
      const second = Supervisor.of(innerCoro)!;
      expect(second).to.not.equal(first);
      expect(sup.child('inner')).to.equal(innerCoro);
      expect(innerCoro.isAlive).to.equal(true);
      expect(second.children().map((k) => k.alive)).to.deep.equal([true, true]);
      expect(sup.children().find((k) => k.id === 'inner')!.restarts).to.equal(1);
      log.push('--');
    });
    expect(log).to.deep.equal([
      'start top',
      'start x',
      'start y',
      'start x',
      'stop y',
      'start x',
      'start y',
      '--',
      'stop y',
      'stop x',
      'stop top',
    ]);
  });

  it('a child that does not end within its shutdown time is terminated again and not waited for', async () => {
    const log: string[] = [];
    function* stubborn(): Generator<unknown, void, unknown> {
      for (let i = 0; ; i++) {
        try {
          yield* sleep(60_000);
        } catch (e) {
          log.push(`exit ${i}`);
          if (i > 0) throw e;
        }
      }
    }
    const clock = t.clock!;
    let stoppedAt = 0;
    await runCoro(t.sched, function* () {
      const sup = new Supervisor({ children: [{ id: 's', fn: stubborn, shutdown: 300 }] });
      yield* sleep(1);
      const t0 = clock.now();
      yield* sup.stop();
      stoppedAt = clock.now() - t0;
    });
    expect(log).to.deep.equal(['exit 0', 'exit 1']);
    expect(stoppedAt).to.equal(300);
  });

  it('rejects bad options', () => {
    expect(() => new Supervisor({} as never)).to.throw(TypeError);
    expect(() => new Supervisor({ children: [{ id: 'a', fn: 5 as never }] })).to.throw(TypeError);
    expect(() => new Supervisor({ children: [{ id: 'a', fn: child }, { id: 'a', fn: child }] })).to.throw(TypeError, 'unique');
    expect(() => new Supervisor({ children: [], strategy: 'all' as never })).to.throw(TypeError);
    expect(() => new Supervisor({ children: [], intensity: -1 })).to.throw(RangeError);
  });

  it('children run on the supervisor\'s scheduler and end with it', async () => {
    const v = await runCoro(t.sched, function* () {
      const sup = new Supervisor({ children: [{ id: 'w', fn: child, args: ['w', []] }] });
      yield* sleep(1);
      const w: Coro = sup.child('w')!;
      const same = w.scheduler === self().scheduler;
      yield* sup.stop();
      return { same, alive: w.isAlive, supAlive: sup.coro.isAlive };
    });
    expect(v).to.deep.equal({ same: true, alive: false, supAlive: false });
  });
});
