/**
 * AsyncThreadPool on real worker threads: results and errors round-trip, many tasks from many
 * coroutines, timeouts, cancellation, threads that die, closing, transfers, and every scheduler
 * mode (exclusive mode has no Node event loop running, and the pool must not need one).
 */
import { expect } from 'chai';
import { fileURLToPath } from 'node:url';
import { spawn, sleep, type Coro } from '../../lib/core/coro.js';
import { TimeoutError } from '../../lib/core/errors.js';
import { AsyncThreadPool, move, type ModuleTask } from '../../lib/pool/thread-pool.js';
import { PoolClosedError, WorkerExitError } from '../../lib/pool/errors.js';
import { backends, type BackendName, type PollerMode } from '../../lib/core/poller.js';
import { closeSchedulers, makeScheduler, runCoro, type TestScheduler } from '../helpers/coro.js';

const TASKS = new URL('../fixtures/pool-tasks.mjs', import.meta.url);
const TS_TASKS = new URL('../fixtures/pool-tasks-ts.ts', import.meta.url);
const task = (name: string): ModuleTask => ({ module: TASKS, name });

describe('pool/AsyncThreadPool', function () {
  this.timeout(60000);
  let t: TestScheduler;
  const pools: AsyncThreadPool[] = [];
  const pool = (opts: ConstructorParameters<typeof AsyncThreadPool>[0] = {}) => {
    const p = new AsyncThreadPool(opts);
    pools.push(p);
    return p;
  };
  beforeEach(() => {
    t = makeScheduler();
  });
  afterEach(async () => {
    for (const p of pools.splice(0)) {
      if (!p.isClosed) await runCoro(t.sched, function* () { yield* p.close({ terminate: true }); });
    }
    closeSchedulers();
  });

  it('runs functions and module exports (a .ts module too) and returns their results', async () => {
    const p = pool({ size: 2 });
    const out = await runCoro(t.sched, function* () {
      const a: number = yield* p.run((x: number, y: number) => x * y, 6, 7);
      const b: number = yield* p.run(task('add'), 2, 3);
      const c: number = yield* p.run({ module: fileURLToPath(TASKS) }, 21);
      const d: string = yield* p.run(task('later'), 'async', 5);
      const e: Map<string, Date> = yield* p.run(() => new Map([['at', new Date(0)]]));
      const f: number = yield* p.run({ module: TS_TASKS.href, name: 'addPair' }, { a: 1, b: 2 });
      let g: unknown;
      try {
        yield* p.run({ module: TS_TASKS }, 'x');
      } catch (err) {
        g = err;
      }
      return [a, b, c, d, e.get('at')!.getTime(), f, (g as Error).message, (g as Error).stack?.includes('pool-tasks-ts.ts')];
    });
    expect(out).to.deep.equal([42, 5, 42, 'async', 0, 3, 'ts: x', true]);
    expect(t.errors).to.deep.equal([]);
  });

  it("throws the task's error with its class, message, stack and properties", async () => {
    const p = pool({ size: 1 });
    const errs = await runCoro(t.sched, function* () {
      const out: unknown[] = [];
      for (const tk of [task('fail'), (m: string) => { throw new TypeError(m); }]) {
        try {
          yield* p.run(tk, 'boom');
        } catch (e) {
          out.push(e);
        }
      }
      try {
        yield* p.run(() => { throw 'a plain string'; });
      } catch (e) {
        out.push(e);
      }
      return out;
    });
    const [a, b, c] = errs as [RangeError & { code: string; detail: { n: number } }, TypeError, string];
    expect(a).to.be.instanceOf(RangeError);
    expect(a.message).to.equal('boom');
    expect(a.code).to.equal('E_TASK');
    expect(a.detail).to.deep.equal({ n: 7 });
    expect(a.stack).to.contain('pool-tasks.mjs');
    expect(b).to.be.instanceOf(TypeError);
    expect(b.message).to.equal('boom');
    expect(c).to.equal('a plain string');
    // The pool goes on after errors.
    expect(await runCoro(t.sched, function* () { return yield* p.run(task('add'), 1, 1); })).to.equal(2);
  });

  it('rejects bad input at the call with typed errors', async () => {
    expect(() => new AsyncThreadPool({ size: 0 })).to.throw(RangeError);
    expect(() => new AsyncThreadPool({ timeout: -1 })).to.throw(RangeError);
    const p = pool({ size: 1 });
    const errs = await runCoro(t.sched, function* () {
      const out: unknown[] = [];
      const calls: (() => unknown)[] = [
        () => p.run(42 as never),
        () => p.run({ module: 'relative/path.js' }),
        () => p.run({ module: '/no/such/module.js' }),
        () => p.run(Math.max),
        () => p.run({ m(x: number) { return x; } }.m),
        () => p.runWith({ timeout: -5 }, task('add'), 1, 2),
        () => move(42),
      ];
      for (const call of calls) {
        try {
          call();
          out.push('no error');
        } catch (e) {
          out.push((e as Error).constructor.name);
        }
      }
      // Not-cloneable arguments and results fail the call that has them, not the batch.
      const results = yield* (function* () {
        const ok = spawn(function* () { return yield* p.run(task('add'), 1, 2); });
        let argErr: unknown;
        try {
          yield* p.run(task('add'), () => 1, 2);
        } catch (e) {
          argErr = e;
        }
        let resErr: unknown;
        try {
          yield* p.run(task('returnsFunction'));
        } catch (e) {
          resErr = e;
        }
        let exportErr: unknown;
        try {
          yield* p.run(task('notAFunction'));
        } catch (e) {
          exportErr = e;
        }
        return [yield* ok.finish(), argErr, resErr, exportErr] as const;
      })();
      return [out, results] as const;
    });
    expect(errs[0]).to.deep.equal(['TypeError', 'TypeError', 'TypeError', 'TypeError', 'TypeError', 'RangeError', 'TypeError']);
    const [okValue, argErr, resErr, exportErr] = errs[1];
    expect(okValue).to.equal(3);
    expect(argErr).to.be.instanceOf(TypeError);
    expect((argErr as Error).message).to.match(/cannot be sent to a worker/);
    expect((resErr as Error).message).to.match(/result cannot be sent/);
    expect((exportErr as Error).message).to.match(/no function export 'notAFunction'/);
  });

  it('runs 10,000 tasks from 1,000 coroutines and loses none', async () => {
    const p = pool({ size: 2 });
    const sum = await runCoro(t.sched, function* () {
      const add = (a: number, b: number) => a + b;
      const cs: Coro<number>[] = [];
      for (let i = 0; i < 1000; i++) {
        cs.push(
          spawn(function* () {
            let s = 0;
            for (let j = 0; j < 10; j++) s += yield* p.run<number>(add, i, j);
            return s;
          }),
        );
      }
      let total = 0;
      for (const c of cs) total += yield* c.finish();
      return total;
    });
    // sum over i, j of (i + j) = 10 * sum(i) + 1000 * sum(j)
    expect(sum).to.equal(10 * ((999 * 1000) / 2) + 1000 * 45);
    const st = p.statistics();
    expect(st.completed).to.equal(10000);
    expect(st.active).to.equal(0);
    expect(st.threads).to.be.at.most(2);
  });

  it('times out a hung task, terminating only its thread: the tasks queued behind it still run', async () => {
    const p = pool({ size: 1 });
    const counter = new Int32Array(new SharedArrayBuffer(4 * 8));
    const out = await runCoro(t.sched, function* () {
      yield* p.run(task('add'), 0, 0); // the thread is up and the module loaded
      const hung = spawn(function* () {
        try {
          yield* p.runWith({ timeout: 300 }, task('hang'));
          return 'no timeout';
        } catch (e) {
          return e;
        }
      });
      yield* sleep(20);
      const queued = [1, 2, 3, 4].map((i) => spawn(function* () { return yield* p.run<number>(task('count'), counter, i); }));
      const err = yield* hung.finish();
      const results: number[] = [];
      for (const q of queued) results.push(yield* q.finish());
      return { err, results };
    });
    expect(out.err).to.be.instanceOf(TimeoutError);
    expect((out.err as TimeoutError).timeout).to.equal(300);
    expect(out.results).to.deep.equal([1, 1, 1, 1]);
    expect([...counter.subarray(1, 5)]).to.deep.equal([1, 1, 1, 1]);
    const st = p.statistics();
    expect(st.timedOut).to.equal(1);
    expect(st.replaced).to.equal(1);
    expect(st.completed).to.equal(5);
  });

  it('cancels tasks: a queued one never runs, a running one ends with its thread, others are untouched', async () => {
    const p = pool({ size: 2 });
    const counter = new Int32Array(new SharedArrayBuffer(4 * 8));
    const out = await runCoro(t.sched, function* () {
      // Start both threads (each takes the idle one first).
      const warm = [0, 1].map(() => spawn(function* () { return yield* p.run(task('block'), 50); }));
      for (const w of warm) yield* w.finish();
      // Two slow tasks occupy both threads; a third is queued behind one of them and cancelled.
      const slow = [0, 1].map((i) => spawn(function* () { return yield* p.run<number>(task('count'), counter, i, 300); }));
      yield* sleep(20);
      const queued = spawn(function* () { return yield* p.run(task('count'), counter, 2); });
      yield* sleep(20);
      queued.terminate();
      const slowResults = [yield* slow[0]!.finish(), yield* slow[1]!.finish()];
      // A hung task on one thread, a slow one on the other; the hung one is cancelled as it runs.
      const hung = spawn(function* () { return yield* p.run(task('hang')); });
      const beside = spawn(function* () { return yield* p.run<number>(task('count'), counter, 3, 300); });
      yield* sleep(100);
      hung.throw(new Error('stop it'));
      let hungErr: unknown;
      try {
        yield* hung.finish();
      } catch (e) {
        hungErr = e;
      }
      const besideResult = yield* beside.finish();
      let queuedErr: unknown;
      try {
        yield* queued.finish();
      } catch (e) {
        queuedErr = e;
      }
      const after: number = yield* p.run(task('add'), 40, 2);
      return { slowResults, hungErr, queuedErr, besideResult, after };
    });
    expect(out.slowResults).to.deep.equal([1, 1]);
    expect((out.hungErr as Error).message).to.equal('stop it');
    expect((out.queuedErr as Error).name).to.equal('TerminatedError');
    expect(counter[2], 'the cancelled queued task ran').to.equal(0);
    expect(out.besideResult).to.equal(1);
    expect(out.after).to.equal(42);
    const st = p.statistics();
    expect(st.cancelled).to.equal(2);
    expect(st.replaced).to.equal(1);
  });

  it('a thread that exits under a task fails that task only', async () => {
    const p = pool({ size: 1 });
    const counter = new Int32Array(new SharedArrayBuffer(4 * 4));
    const out = await runCoro(t.sched, function* () {
      const dying = spawn(function* () {
        try {
          yield* p.run(task('exitThread'), 3);
          return null;
        } catch (e) {
          return e;
        }
      });
      const behind = [0, 1, 2].map((i) => spawn(function* () { return yield* p.run<number>(task('count'), counter, i); }));
      const err = yield* dying.finish();
      const rest: number[] = [];
      for (const b of behind) rest.push(yield* b.finish());
      return { err, rest };
    });
    expect(out.err).to.be.instanceOf(WorkerExitError);
    expect((out.err as WorkerExitError).exitCode).to.equal(3);
    expect(out.rest).to.deep.equal([1, 1, 1]);
  });

  it('close() waits for the tasks in flight; terminate ends them with PoolClosedError', async () => {
    const p1 = pool({ size: 2 });
    const waited = await runCoro(t.sched, function* () {
      const cs = [50, 80, 120].map((ms) => spawn(function* () { return yield* p1.run<number>(task('block'), ms); }));
      yield* sleep(10);
      yield* p1.close();
      const r: number[] = [];
      for (const c of cs) r.push(yield* c.finish());
      let after: unknown;
      try {
        p1.run(task('add'), 1, 2);
      } catch (e) {
        after = e;
      }
      return { r, after };
    });
    expect(waited.r).to.deep.equal([50, 80, 120]);
    expect(waited.after).to.be.instanceOf(PoolClosedError);

    const p2 = pool({ size: 1 });
    const ended = await runCoro(t.sched, function* () {
      const cs = [0, 1, 2].map(() =>
        spawn(function* () {
          try {
            return yield* p2.run(task('hang'));
          } catch (e) {
            return e;
          }
        }),
      );
      yield* sleep(50);
      const t0 = Date.now();
      yield* p2.close({ terminate: true });
      const errs: unknown[] = [];
      for (const c of cs) errs.push(yield* c.finish());
      return { errs, ms: Date.now() - t0 };
    });
    for (const e of ended.errs) expect(e).to.be.instanceOf(PoolClosedError);
    expect(ended.ms).to.be.below(1000);

    const p3 = pool({ size: 1 });
    const timedClose = await runCoro(t.sched, function* () {
      const c = spawn(function* () {
        try {
          return yield* p3.run(task('hang'));
        } catch (e) {
          return e;
        }
      });
      yield* sleep(20);
      yield* p3.close({ timeout: 100 });
      return yield* c.finish();
    });
    expect(timedClose).to.be.instanceOf(PoolClosedError);
  });

  it('transfers buffers marked with move() both ways without copying', async () => {
    const p = pool({ size: 1 });
    const out = await runCoro(t.sched, function* () {
      const buf = new ArrayBuffer(1 << 20);
      new Uint8Array(buf).fill(1);
      const r: { sum: number; buf: ArrayBuffer } = yield* p.run(task('sumAndBump'), move(buf));
      const viaOption: number = yield* p.runWith({ transfer: [r.buf] }, (b: ArrayBuffer) => new Uint8Array(b)[0]!, r.buf);
      return { detached: buf.byteLength, sum: r.sum, back: r.buf.byteLength, first: viaOption, detachedAgain: r.buf.byteLength };
    });
    expect(out).to.deep.equal({ detached: 0, sum: 1 << 20, back: 0, first: 2, detachedAgain: 0 });
  });

  it('loads a .ts task module in threads started without a TypeScript loader', async () => {
    const p = pool({ size: 1, execArgv: [] });
    expect(await runCoro(t.sched, function* () { return yield* p.run({ module: TS_TASKS, name: 'addPair' }, { a: 20, b: 22 }); })).to.equal(42);
  });

  const modes: [BackendName, PollerMode][] = [['poll', 'exclusive'], ['epoll', 'exclusive'], ['select', 'thread']];
  // The completion backend too, where this host has it.
  if (backends().some((b) => b.name === 'io_uring')) modes.push(['io_uring', 'integrated'], ['io_uring', 'exclusive']);
  for (const [poller, mode] of modes) {
    it(`works in ${mode} mode on ${poller}`, async () => {
      const s = makeScheduler({ poller, mode });
      const p = pool({ size: 2 });
      const out = await runCoro(s.sched, function* () {
        const cs = Array.from({ length: 50 }, (_, i) => spawn(function* () {
          let acc = 0;
          for (let j = 0; j < 20; j++) acc += yield* p.run<number>(task('add'), i, j);
          return acc;
        }));
        let total = 0;
        for (const c of cs) total += yield* c.finish();
        let timedOut = false;
        try {
          yield* p.runWith({ timeout: 50 }, task('block'), 1000);
        } catch (e) {
          timedOut = e instanceof TimeoutError;
        }
        yield* p.close();
        return { total, timedOut };
      });
      expect(out.total).to.equal(20 * ((49 * 50) / 2) + 50 * 190);
      expect(out.timedOut).to.equal(true);
    });
  }
});
