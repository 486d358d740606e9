// Exercises every io_uring Ring path in one process, for memcheck (scripts/memcheck.sh
// scripts/ring-stress.cjs): both modes, recv/send/cancel churned over many socket pairs, buffer
// slots registered and freed, wake-ups, close() with operations in flight and from inside the
// handler, rings dropped without close() and collected, and rings left open in workers that end.
// Plain JavaScript so valgrind runs it without a TypeScript loader.
'use strict';
const path = require('node:path');
const { Worker } = require('node:worker_threads');
const root = path.join(__dirname, '..');
const native = require('node-gyp-build')(root);

if (native.ringProbe() !== 0) {
  console.log(`ring-stress: no io_uring here (${native.errnoName(native.ringProbe())})`);
  process.exit(0);
}

function pairs(n) {
  const out = [];
  const fds = new Int32Array(2);
  for (let i = 0; i < n; i++) {
    if (native.socketpair(fds) !== 0) throw new Error('socketpair');
    out.push([fds[0], fds[1]]);
  }
  return out;
}
function closePairs(list) {
  for (const [a, b] of list) {
    native.close(a);
    native.close(b);
  }
}

async function churn(mode) {
  let got = 0;
  let wake;
  const ev = new Int32Array(3 * 32);
  const ring = new native.Ring(mode, ev, (n) => {
    got += n;
    if (wake) wake();
  }, { entries: 8, maxOps: 512, slots: 4 });
  const next = () =>
    mode === 'exclusive'
      ? Promise.resolve((got += Math.max(0, ring.wait(50))))
      : new Promise((r) => {
          wake = r;
          setTimeout(r, 50);
        });
  const inBuf = Buffer.alloc(200 * 16);
  const outBuf = Buffer.alloc(200 * 16, 7);
  for (let round = 0; round < 4; round++) {
    if (ring.register(0, inBuf) !== 0 || ring.register(1, outBuf) !== 0) throw new Error('register');
    const list = pairs(200);
    list.forEach(([a, b], i) => {
      ring.recv(i, a, 0, i * 16, 16);
      ring.send(1000 + i, b, 1, i * 16, 16);
    });
    for (let i = 0; i < 20; i++) await next();
    // Recvs left pending, then cancelled.
    list.forEach(([a], i) => ring.recv(2000 + i, a, 0, i * 16, 16));
    list.forEach((_, i) => ring.cancel(2000 + i));
    ring.wakeup();
    while (ring.inFlight > 0) await next();
    if (ring.unregister(0) !== 0 || ring.unregister(1) !== 0) throw new Error('unregister');
    closePairs(list);
  }
  // Closed with operations in flight.
  const list = pairs(50);
  ring.register(2, inBuf);
  list.forEach(([a], i) => ring.recv(i, a, 2, i, 1));
  ring.close();
  closePairs(list);
  return got;
}

function closeFromHandler() {
  return new Promise((resolve) => {
    const [[a, b]] = pairs(1);
    const ring = new native.Ring('integrated', new Int32Array(12), () => {
      ring.close();
      closePairs([[a, b]]);
      resolve();
    });
    ring.register(0, Buffer.alloc(4));
    ring.recv(1, a, 0, 0, 4);
    ring.recv(2, b, 0, 0, 4);
    native.write(b, Buffer.from('x'), 0, 1);
  });
}

function dropped() {
  // Rings dropped without close(), one with a recv in flight: the destructor must cancel it and
  // free everything when they are collected.
  const list = pairs(1);
  for (let i = 0; i < 20; i++) {
    const r = new native.Ring(i % 2 ? 'integrated' : 'exclusive', new Int32Array(30), () => {});
    r.register(0, Buffer.alloc(64));
    r.recv(1, list[0][0], 0, 0, 64);
    r.submit();
  }
  return list;
}

function workers() {
  const src = `
    const { parentPort, workerData } = require('node:worker_threads');
    const native = require(workerData.root + '/node_modules/node-gyp-build')(workerData.root);
    const fds = new Int32Array(2);
    native.socketpair(fds);
    for (const m of ['integrated', 'exclusive']) {
      const r = new native.Ring(m, new Int32Array(30), () => {});
      r.register(0, Buffer.alloc(8));
      r.recv(1, fds[0], 0, 0, 8);
      r.submit();
      r.unref();
    }
    native.close(fds[0]); native.close(fds[1]);
    parentPort.postMessage('ok');
  `;
  const runs = [];
  for (let i = 0; i < 3; i++) {
    runs.push(new Promise((resolve, reject) => {
      const w = new Worker(src, { eval: true, workerData: { root } });
      w.once('error', reject);
      w.once('exit', resolve);
    }));
  }
  return Promise.all(runs);
}

(async () => {
  for (const mode of native.Ring.modes) console.log(`${mode}: ${await churn(mode)} completions`);
  await closeFromHandler();
  // Leave the handler's callback first: a GC started inside it scans the addon's frames below
  // MakeCallback conservatively, and valgrind reports the padding words it reads there.
  await new Promise((r) => setTimeout(r, 10));
  const list = dropped();
  if (global.gc) {
    for (let i = 0; i < 5; i++) {
      global.gc();
      await new Promise((r) => setImmediate(r));
    }
  }
  closePairs(list);
  await workers();
  console.log('ring-stress: done');
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
