// Loads the addon with whatever Node runs this file and exercises it: every backend in every
// mode with a real pipe event, and the addon in a worker_threads Worker. Plain CommonJS and the
// raw binding, so it runs on Node versions older than the TypeScript library targets; with
// PREBUILDS_ONLY=1 it proves that the one N-API prebuild serves that Node.
'use strict';
const path = require('node:path');
const { Worker } = require('node:worker_threads');
const root = path.join(__dirname, '..');
const load = require('node-gyp-build');
const file = load.resolve(root);
const native = load(root);
const { READ, FEAT_POLLABLE_FD, WAKEUP } = native.events;

function check(cond, what) {
  if (!cond) {
    console.error(`node ${process.version}: FAILED: ${what}`);
    process.exit(1);
  }
}

function once(backend, mode) {
  return new Promise((resolve) => {
    const fds = new Int32Array(2);
    check(native.pipe(fds) === 0, 'pipe');
    const ev = new Int32Array(30);
    const finish = (n) => {
      check(n === 1 && ev[0] === 7 && ev[2] === fds[0], `${backend}/${mode}: one READ event for token 7, got ${n}`);
      p.close();
      native.close(fds[0]);
      native.close(fds[1]);
      resolve();
    };
    const p = mode === 'exclusive' ? new native.Poller(backend, mode, ev) : new native.Poller(backend, mode, ev, finish);
    check(p.add(fds[0], READ, 7) === 0, `${backend}/${mode}: add`);
    check(native.write(fds[1], Buffer.from('x'), 0, 1) === 1, 'write');
    if (mode === 'exclusive') finish(p.wait(2000));
  });
}

(async () => {
  const combos = [];
  for (const b of native.backends()) {
    const modes = b.features & FEAT_POLLABLE_FD ? ['integrated', 'thread', 'exclusive'] : ['thread', 'exclusive'];
    for (const m of modes) {
      await once(b.name, m);
      combos.push(`${b.name}/${m}`);
    }
  }
  // A wake-up from another thread, through the addon loaded in a Worker.
  const ev = new Int32Array(30);
  const p = new native.Poller(native.backends()[0].name, 'exclusive', ev);
  const w = new Worker(
    `const { workerData } = require('node:worker_threads');
     const native = require(workerData.root + '/node_modules/node-gyp-build')(workerData.root);
     native.wakeup(workerData.fd);`,
    { eval: true, workerData: { root, fd: p.wakeupFd } },
  );
  await new Promise((r) => w.once('exit', r));
  check(p.wait(5000) === 1 && ev[1] === WAKEUP, 'wake-up from a Worker');
  p.close();
  console.log(`node ${process.version} (N-API ${process.versions.napi}): ${path.relative(root, file)} loaded; ${combos.join(', ')}; worker wake-up ok`);
})();
