// Exercises every native poller path in one process, for memcheck (scripts/memcheck.sh): every
// backend and mode, registrations churned over many fds, wake-ups, closing from inside the batch
// handler, pollers dropped without close() and collected, and pollers left open in workers that
// end. Plain JavaScript so valgrind runs it without a TypeScript loader.
'use strict';
const path = require('node:path');
const { Worker } = require('node:worker_threads');
const root = path.join(__dirname, '..');
const native = require('node-gyp-build')(root);
const { READ, WRITE, ONESHOT, FEAT_POLLABLE_FD } = native.events;

const one = Buffer.from('x');
const sink = Buffer.alloc(4096);
function pipes(n) {
  const out = [];
  const fds = new Int32Array(2);
  for (let i = 0; i < n; i++) {
    if (native.pipe(fds) !== 0) throw new Error('pipe');
    out.push([fds[0], fds[1]]);
  }
  return out;
}
function closePipes(list) {
  for (const [r, w] of list) {
    native.close(r);
    native.close(w);
  }
}
const modesOf = (b) => (b.features & FEAT_POLLABLE_FD ? ['integrated', 'thread', 'exclusive'] : ['thread', 'exclusive']);

async function churn(backend, mode) {
  let delivered = 0;
  let resolveBatch;
  const ev = new Int32Array(3 * 64);
  const p = new native.Poller(backend, mode, ev, mode === 'exclusive' ? undefined : (n) => {
    delivered += n;
    if (resolveBatch) resolveBatch();
  });
  const next = () =>
    mode === 'exclusive'
      ? Promise.resolve((delivered += Math.max(0, p.wait(50))))
      : new Promise((r) => {
          resolveBatch = r;
          setTimeout(r, 50);
        });
  for (let round = 0; round < 5; round++) {
    const list = pipes(200);
    list.forEach(([r, w], i) => {
      p.add(r, READ, i);
      p.add(w, WRITE | ONESHOT, 1000 + i);
    });
    for (const [, w] of list) native.write(w, one, 0, 1);
    await next();
    list.forEach(([r, w], i) => {
      p.modify(r, READ | ONESHOT, 2000 + i);
      p.modify(w, WRITE, 3000 + i);
    });
    await next();
    p.wakeup();
    await next();
    for (const [r, w] of list) {
      native.read(r, sink, 0, sink.length);
      p.remove(r);
      p.remove(w);
    }
    closePipes(list);
  }
  p.close();
  return delivered;
}

function closeInHandler(backend, mode) {
  return new Promise((resolve) => {
    const [[r, w]] = pipes(1);
    const ev = new Int32Array(30);
    const p = new native.Poller(backend, mode, ev, () => {
      p.close();
      closePipes([[r, w]]);
      resolve();
    });
    p.add(r, READ, 1);
    native.write(w, one, 0, 1);
  });
}

function dropUnclosed(backend, mode) {
  // Not closed and unreferenced: the garbage collector's finalizer must release everything.
  const p = new native.Poller(backend, mode, new Int32Array(30), mode === 'exclusive' ? undefined : () => {});
  p.unref();
}

async function workers() {
  const src = `
    const { parentPort, workerData } = require('node:worker_threads');
    const native = require(workerData.root + '/node_modules/node-gyp-build')(workerData.root);
    const keep = [];
    for (const b of native.backends()) {
      const modes = b.features & native.events.FEAT_POLLABLE_FD ? ['integrated', 'thread'] : ['thread'];
      for (const m of modes) keep.push(new native.Poller(b.name, m, new Int32Array(30), () => {}));
    }
    parentPort.postMessage('open');`;
  for (let i = 0; i < 3; i++) {
    const w = new Worker(src, { eval: true, workerData: { root } });
    await new Promise((r) => w.once('message', r));
    await w.terminate();
  }
}

(async () => {
  let total = 0;
  for (const b of native.backends()) {
    for (const mode of modesOf(b)) {
      total += await churn(b.name, mode);
      if (mode !== 'exclusive') await closeInHandler(b.name, mode);
      dropUnclosed(b.name, mode);
    }
  }
  await workers();
  for (let i = 0; i < 3; i++) {
    global.gc();
    await new Promise((r) => setTimeout(r, 50));
  }
  console.log(`native-stress: ok, ${total} events`);
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
