/**
 * The readiness contract suite: one set of tests run against every backend this host has, in
 * every mode each backend supports.
 */
import { expect } from 'chai';
import { Worker } from 'node:worker_threads';
import { openSync, closeSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runChild, type ChildResult } from '../helpers/child.js';
import { native } from '../../lib/native/binding.js';
import { EV, openPoller } from '../../lib/core/poller.js';
import { onlyBackends, testedBackends } from '../helpers/backends.js';
import {
  Harness,
  closeAll,
  closeFd,
  drain,
  fill,
  pipePair,
  socketPair,
  writeByte,
  type Triple,
} from '../helpers/native.js';

const E = native.errno;
const here = fileURLToPath(new URL('.', import.meta.url));
const fixture = join(here, '..', 'fixtures', 'poller-child.ts');

/** The readiness backends (io_uring is a completion ring, tested in uring.test.ts). */
const pollers = () => testedBackends().filter((b) => b.kind === 'readiness');
const only = onlyBackends;
const tokens = (batch: Triple[]) => batch.map((t) => t.token);
const forToken = (batch: Triple[], token: number) => batch.filter((t) => t.token === token);

for (const backend of pollers()) {
  for (const mode of backend.modes) {
    describe(`poller contract: ${backend.name} / ${mode}`, function () {
      let h: Harness;
      beforeEach(() => {
        h = new Harness(backend.name, mode, 64);
      });
      afterEach(() => {
        h.close();
        closeAll();
      });

      it('reports nothing while nothing is ready, then read readiness with token and fd', async () => {
        const [r, w] = pipePair();
        expect(h.poller.add(r, EV.READ, 7)).to.equal(0);
        expect(await h.next(60)).to.deep.equal([]);
        expect(writeByte(w)).to.equal(1);
        const got = await h.until((all) => all.length > 0);
        expect(got).to.have.length(1);
        expect(got[0]).to.include({ token: 7, fd: r });
        expect(got[0]!.events & EV.READ).to.equal(EV.READ);
      });

      it('reports write readiness, none while the buffer is full, again once drained', async () => {
        const [a, b] = socketPair();
        expect(h.poller.add(a, EV.WRITE, 3)).to.equal(0);
        const first = await h.until((all) => all.length > 0);
        expect(forToken(first, 3)[0]!.events & EV.WRITE).to.equal(EV.WRITE);
        expect(fill(a)).to.be.greaterThan(0);
        h.flush();
        // Level-triggered events for the writable state may still be in flight; wait them out.
        await h.next(50);
        h.flush();
        expect(await h.next(100)).to.deep.equal([]);
        drain(b);
        const again = await h.until((all) => forToken(all, 3).length > 0);
        expect(forToken(again, 3)[0]!.events & EV.WRITE).to.equal(EV.WRITE);
      });

      it('reports read and write readiness of one fd together in one triple', async () => {
        const [a, b] = socketPair();
        expect(writeByte(b)).to.equal(1);
        expect(h.poller.add(a, EV.READ | EV.WRITE, 5)).to.equal(0);
        const got = await h.until((all) => all.length > 0);
        expect(got).to.have.length(1);
        expect(got[0]!.events & (EV.READ | EV.WRITE)).to.equal(EV.READ | EV.WRITE);
      });

      it('is level-triggered by default: an undrained fd is reported again', async () => {
        const [r, w] = pipePair();
        h.poller.add(r, EV.READ, 1);
        writeByte(w);
        expect(tokens(await h.until((all) => all.length > 0))).to.deep.equal([1]);
        expect(tokens(await h.until((all) => all.length > 0))).to.deep.equal([1]);
        drain(r);
      });

      if (backend.oneShot) {
        it('one-shot: one report, then silence until modify() re-arms', async () => {
          const [r, w] = pipePair();
          expect(h.poller.add(r, EV.READ | EV.ONESHOT, 9)).to.equal(0);
          writeByte(w);
          expect(tokens(await h.until((all) => all.length > 0))).to.deep.equal([9]);
          expect(await h.next(80)).to.deep.equal([]);
          expect(h.poller.modify(r, EV.READ | EV.ONESHOT, 10)).to.equal(0);
          expect(tokens(await h.until((all) => all.length > 0))).to.deep.equal([10]);
          expect(await h.next(80)).to.deep.equal([]);
        });
      }

      if (backend.edge) {
        it('edge-triggered: one report per change, not per wait', async () => {
          const [r, w] = pipePair();
          expect(h.poller.add(r, EV.READ | EV.EDGE, 4)).to.equal(0);
          writeByte(w);
          expect(tokens(await h.until((all) => all.length > 0))).to.deep.equal([4]);
          expect(await h.next(80)).to.deep.equal([]);
          writeByte(w);
          expect(tokens(await h.until((all) => all.length > 0))).to.deep.equal([4]);
        });
      } else {
        it('refuses edge-triggered registrations it cannot honour (-EOPNOTSUPP)', () => {
          const [r] = pipePair();
          expect(h.poller.add(r, EV.READ | EV.EDGE, 4)).to.equal(-E.EOPNOTSUPP!);
        });
      }

      it('modify() changes interest and token', async () => {
        const [a, b] = socketPair();
        writeByte(b);
        h.poller.add(a, EV.READ, 1);
        expect(tokens(await h.until((all) => all.length > 0))).to.deep.equal([1]);
        drain(a);
        expect(h.poller.modify(a, EV.WRITE, 2)).to.equal(0);
        await h.settle();
        const got = await h.until((all) => forToken(all, 2).length > 0);
        expect(forToken(got, 2)[0]!.events & EV.WRITE).to.equal(EV.WRITE);
        expect(forToken(got, 1)).to.deep.equal([]);
        writeByte(b);
        const later = await h.until((all) => all.length >= 3, 300);
        expect(forToken(later, 1)).to.deep.equal([]);
      });

      it('remove() stops reports; registration errors are -errno, never thrown', async () => {
        const [r, w] = pipePair();
        expect(h.poller.add(r, EV.READ, 1)).to.equal(0);
        expect(h.poller.add(r, EV.READ, 1)).to.equal(-E.EEXIST!);
        expect(h.poller.remove(r)).to.equal(0);
        expect(h.poller.remove(r)).to.equal(-E.ENOENT!);
        expect(h.poller.modify(r, EV.READ, 1)).to.equal(-E.ENOENT!);
        expect(h.poller.add(r, EV.READ, -5)).to.equal(-E.EINVAL!);
        expect(h.poller.add(r, 1 << 12, 1)).to.equal(-E.EINVAL!);
        expect(h.poller.add(-1, EV.READ, 1)).to.equal(-E.EBADF!);
        expect(h.poller.add(h.poller.wakeupFd, EV.READ, 1)).to.equal(-E.EEXIST!);
        writeByte(w);
        await h.settle();
        expect(await h.next(80)).to.deep.equal([]);
      });

      it('reports a hang-up when the other end goes away', async () => {
        const [r, w] = pipePair();
        h.poller.add(r, EV.READ, 6);
        closeFd(w);
        const got = await h.until((all) => all.length > 0);
        const ev = got[0]!.events;
        if (backend.name === 'select') {
          // select has no hang-up set: the fd reads as ready and read() returns 0 (EOF).
          expect(ev & EV.READ).to.equal(EV.READ);
        } else {
          expect(ev & EV.HANGUP).to.equal(EV.HANGUP);
        }
        expect(native.read(r, Buffer.alloc(1), 0, 1)).to.equal(0);
      });

      it('drops stale events: a closed fd whose number is reused under a new token', async () => {
        // The old pipe's read end is dup()ed so the open file outlives close(r1): epoll keeps the
        // kernel registration alive and reports it under the old data word, for an fd number that
        // now names the new pipe. Every backend must report only the new token.
        const [r1, w1] = pipePair();
        const keep = native.dup(r1);
        expect(keep).to.be.greaterThan(0);
        try {
          expect(h.poller.add(r1, EV.READ, 10)).to.equal(0);
          native.close(r1);
          const rc = h.poller.remove(r1);
          expect([0, -E.EBADF!]).to.include(rc);
          const [r2, w2] = pipePair();
          expect(h.poller.add(r2, EV.READ, 11)).to.equal(0);
          writeByte(w1);
          // In thread mode the poller's thread may look at r1 between close(r1) and remove(r1)
          // and report it closed (an ERROR under its old token, as the next test allows). What
          // must never come is the old pipe's data, under either token.
          const closedReport = (t: Triple) => t.token === 10 && t.events === EV.ERROR && mode === 'thread';
          expect((await h.next(80)).filter((t) => !closedReport(t))).to.deep.equal([]);
          writeByte(w2);
          const got = (await h.until((all) => all.some((t) => !closedReport(t)))).filter((t) => !closedReport(t));
          expect(tokens(got)).to.deep.equal([11]);
          expect(got[0]!.fd).to.equal(r2);
          expect(await h.until((all) => all.some((t) => t.token === 10 && !closedReport(t)), 150)).to.not.satisfy(
            (all: Triple[]) => all.some((t) => t.token === 10 && !closedReport(t)),
          );
        } finally {
          native.close(keep);
        }
      });

      it('reports an fd closed while registered as an error or not at all, never as another fd', async () => {
        const [r, w] = pipePair();
        h.poller.add(r, EV.READ, 12);
        closeFd(w);
        closeFd(r);
        const got = await h.until((all) => all.length > 0, 300);
        for (const t of got) {
          expect(t.token).to.equal(12);
          expect(t.events & (EV.ERROR | EV.HANGUP | EV.READ)).to.not.equal(0);
        }
        h.poller.remove(r);
        await h.settle();
        expect(await h.next(80)).to.deep.equal([]);
      });

      it('handles 10,000 registered fds across many batches', async function () {
        this.timeout(60000);
        const pairs: [number, number][] = [];
        for (let i = 0; i < 5000; i++) pairs.push(pipePair());
        for (let i = 0; i < pairs.length; i++) {
          expect(h.poller.add(pairs[i]![0], EV.READ, i)).to.equal(0);
          expect(h.poller.add(pairs[i]![1], EV.WRITE | EV.ONESHOT, 5000 + i)).to.equal(0);
        }
        // Every write end is writable at once: 5,000 one-shot reports over many 64-triple batches.
        const writable = new Set<number>();
        const end1 = Date.now() + 20000;
        while (writable.size < 5000 && Date.now() < end1) {
          for (const t of await h.next(500)) {
            expect(t.token).to.be.at.least(5000);
            expect(t.fd).to.equal(pairs[t.token - 5000]![1]);
            writable.add(t.token);
          }
        }
        expect(writable.size).to.equal(5000);
        for (const [, w] of pairs) writeByte(w);
        const readable = new Set<number>();
        const end2 = Date.now() + 20000;
        while (readable.size < 5000 && Date.now() < end2) {
          for (const t of await h.next(500)) {
            expect(t.token).to.be.below(5000);
            expect(t.fd).to.equal(pairs[t.token]![0]);
            readable.add(t.token);
            drain(t.fd);
          }
        }
        expect(readable.size).to.equal(5000);
        for (const [r, w] of pairs) {
          expect(h.poller.remove(r)).to.equal(0);
          expect(h.poller.remove(w)).to.equal(0);
        }
      });

      it('wakeup() is reported as one WAKEUP triple, coalescing repeated calls', async () => {
        expect(h.poller.wakeup()).to.equal(0);
        expect(h.poller.wakeup()).to.equal(0);
        const wake = { token: EV.TOKEN_WAKEUP, events: EV.WAKEUP, fd: h.poller.wakeupFd };
        const got = await h.until((all) => all.length > 0);
        expect(got).to.deep.equal([wake]);
        // In thread mode the waiting thread runs beside this one and may drain the first wake-up
        // before the second is written: then there are two reports, never more.
        const more = await h.next(80);
        if (mode === 'thread') expect(more).to.satisfy(
          (m: Triple[]) => m.length === 0 || (m.length === 1 && m[0]!.token === EV.TOKEN_WAKEUP));
        else expect(more).to.deep.equal([]);
        expect(await h.next(80)).to.deep.equal([]);
      });

      it('is woken from another thread through wakeupFd', async () => {
        const worker = new Worker(
          `const { parentPort, workerData } = require('node:worker_threads');
           const native = require(workerData.root + 'node_modules/node-gyp-build')(workerData.root);
           setTimeout(() => parentPort.postMessage(native.wakeup(workerData.fd)), 50);`,
          { eval: true, workerData: { fd: h.poller.wakeupFd, root: join(here, '..', '..') + '/' } },
        );
        const rc = new Promise<number>((resolve) => worker.once('message', resolve));
        const started = Date.now();
        // Exclusive mode blocks this thread in wait(); the worker's write is what ends it.
        const got = await h.until((all) => all.length > 0, 5000);
        expect(await rc).to.equal(0);
        expect(Date.now() - started).to.be.below(4000);
        expect(tokens(got)).to.deep.equal([EV.TOKEN_WAKEUP]);
        await worker.terminate();
      });

      if (mode === 'exclusive') {
        it('wait() honours its timeout and returns at once with 0', () => {
          const t0 = process.hrtime.bigint();
          expect(h.poller.wait(0)).to.equal(0);
          const t1 = process.hrtime.bigint();
          expect(h.poller.wait(60)).to.equal(0);
          const t2 = process.hrtime.bigint();
          expect(Number(t1 - t0) / 1e6).to.be.below(20);
          expect(Number(t2 - t1) / 1e6).to.be.within(50, 1000);
        });
      } else {
        it('wait() is refused outside exclusive mode (-EPERM)', () => {
          expect(h.poller.wait(0)).to.equal(-E.EPERM!);
        });

        it('runs promise jobs and nextTicks queued by a batch handler before the loop moves on', async () => {
          // Node runs the microtask queue after each of its own I/O callbacks; a batch handler
          // must get the same, or promise-based code waiting on a batch would stall a turn.
          const order: string[] = [];
          const [r, w] = pipePair();
          const done = new Promise<void>((resolve) => {
            const { poller } = openPoller({
              poller: backend.name,
              mode,
              capacity: 4,
              onEvents() {
                poller.close();
                setImmediate(() => {
                  order.push('immediate');
                  resolve();
                });
                Promise.resolve().then(() => order.push('promise'));
                process.nextTick(() => order.push('tick'));
              },
            });
            poller.add(r, EV.READ, 1);
          });
          writeByte(w);
          await done;
          expect(order).to.deep.equal(['tick', 'promise', 'immediate']);
        });
      }

      it('close() is idempotent and later calls return -EBADF', () => {
        const [r] = pipePair();
        h.poller.close();
        h.poller.close();
        expect(h.poller.closed).to.equal(true);
        expect(h.poller.add(r, EV.READ, 1)).to.equal(-E.EBADF!);
        expect(h.poller.wakeup()).to.equal(-E.EBADF!);
      });
    });
  }
}

describe('poller: process lifetime, workers, handler errors', function () {
  this.timeout(30000);

  const child = (args: string[], killAfterMs = 0): Promise<ChildResult> => runChild(fixture, args, killAfterMs);

  for (const backend of pollers()) {
    for (const mode of backend.modes.filter((m) => m !== 'exclusive')) {
      it(`${backend.name} / ${mode}: an unref()ed poller lets the process exit`, async () => {
        const r = await child([backend.name, mode, 'unref'], 15000);
        expect(r.err).to.equal('');
        expect(r.code, r.err).to.equal(0);
        expect(r.out).to.contain('ready');
      });

      it(`${backend.name} / ${mode}: a ref()ed poller keeps it alive until closed`, async () => {
        const r = await child([backend.name, mode, 'ref'], 2500);
        expect(r.signal, `exited by itself: ${r.out} ${r.err}`).to.equal('SIGTERM');
        const r2 = await child([backend.name, mode, 'ref-until-event'], 15000);
        expect(r2.code, r2.err).to.equal(0);
        expect(r2.out).to.contain('event 1');
        expect(r2.ms).to.be.at.least(250);
      });

      it(`${backend.name} / ${mode}: an exception in the batch handler is uncaught, not lost`, async () => {
        const r = await child([backend.name, mode, 'throw'], 15000);
        expect(r.code).to.equal(7);
        expect(r.out).to.contain('uncaught: handler failed');
      });
    }
  }

  it('loads in worker_threads, polls there, and cleans up pollers a worker leaves open', async () => {
    const root = join(here, '..', '..') + '/';
    const src = `
      const { parentPort, workerData } = require('node:worker_threads');
      const native = require(workerData.root + 'node_modules/node-gyp-build')(workerData.root);
      const out = new Int32Array(2);
      const seen = [];
      const only = workerData.only;
      const backends = native.backends().filter((b) => !only || only.includes(b.name));
      for (const b of backends) {
        const ev = new Int32Array(30);
        const p = new native.Poller(b.name, 'exclusive', ev);
        native.pipe(out);
        p.add(out[0], native.events.READ, 42);
        native.write(out[1], Buffer.from('x'), 0, 1);
        const n = p.wait(1000);
        seen.push(b.name + ':' + n + ':' + ev[0]);
        p.close();
        native.close(out[0]); native.close(out[1]);
      }
      // Left open on purpose: the environment's cleanup must close them when the worker ends.
      const keep = [];
      for (const b of backends) {
        const modes = b.features & native.events.FEAT_POLLABLE_FD ? ['integrated', 'thread'] : ['thread'];
        for (const m of modes) keep.push(new native.Poller(b.name, m, new Int32Array(30), () => {}));
      }
      // unref()ed pollers let the worker end by itself; ref()ed ones keep it alive until
      // terminate(). Either way the environment's cleanup closes them.
      if (workerData.unref) for (const p of keep) p.unref();
      parentPort.postMessage(seen);
    `;
    for (let round = 0; round < 4; round++) {
      const unref = round % 2 === 0;
      const w = new Worker(src, { eval: true, workerData: { root, unref, only } });
      const seen = await new Promise<string[]>((resolve, reject) => {
        w.once('message', resolve);
        w.once('error', reject);
      });
      expect(seen).to.deep.equal(pollers().map((b) => `${b.name}:1:42`));
      const exited = new Promise<number>((resolve) => w.once('exit', resolve));
      if (unref) {
        expect(await exited).to.equal(0);
      } else {
        const early = await Promise.race([exited, new Promise((r) => setTimeout(() => r('alive'), 300))]);
        expect(early).to.equal('alive');
        await w.terminate();
        expect(await exited).to.equal(1);
      }
    }
  });

  it('drops events for an unref()ed poller whose object was collected, even inside a Worker', async () => {
    // The object can be garbage while its destructor has not run yet; an event arriving then
    // must not be delivered to the empty handle (that threw 'Invalid argument' into the worker).
    const root = join(here, '..', '..') + '/';
    const src = `
      const { parentPort, workerData } = require('node:worker_threads');
      const native = require(workerData.root + 'node_modules/node-gyp-build')(workerData.root);
      require('node:v8').setFlagsFromString('--expose-gc');
      const gc = require('node:vm').runInNewContext('gc');
      const fds = new Int32Array(2);
      for (let i = 0; i < 20; i++) {
        for (const b of native.backends()) {
          const modes = b.features & native.events.FEAT_POLLABLE_FD ? ['integrated', 'thread'] : ['thread'];
          for (const m of modes) {
            const p = new native.Poller(b.name, m, new Int32Array(30), () => {});
            native.pipe(fds);
            p.add(fds[0], native.events.READ, 1);
            native.write(fds[1], Buffer.from('x'), 0, 1);
            p.unref();
          }
        }
        gc();
        await new Promise((r) => setTimeout(r, 5));
      }
      parentPort.postMessage('done');
    `;
    const w = new Worker(`(async () => { ${src} })()`, { eval: true, workerData: { root } });
    const errors: unknown[] = [];
    w.on('error', (e) => errors.push(e));
    const msg = await new Promise((resolve) => {
      w.once('message', resolve);
      w.once('exit', () => resolve('exited'));
    });
    await new Promise((r) => setTimeout(r, 100));
    await w.terminate();
    expect(errors.map(String)).to.deep.equal([]);
    expect(msg).to.equal('done');
  });

  // epoll refuses regular files; the other backends have nothing to say about them.
  (testedBackends().some((b) => b.name === 'epoll') ? it : it.skip)('reports registration of a regular file as the kernel error, not an exception', () => {
    const dir = mkdtempSync(join(tmpdir(), 'asyncoro-'));
    const fd = openSync(join(dir, 'f'), 'w');
    try {
      const h = new Harness('epoll', 'exclusive');
      expect(h.poller.add(fd, EV.READ, 1)).to.equal(-E.EPERM!);
      h.close();
    } finally {
      closeSync(fd);
      rmSync(dir, { recursive: true });
    }
  });
});
