// Loads the addon with whatever Node runs this file and exercises it: every backend in every
// mode with a real pipe event, the addon in a worker_threads Worker, and a TLS handshake between
// two native connections on that Node's own OpenSSL (when the openssl command is there to make a
// certificate). Plain CommonJS and the
// raw binding, so it runs on Node versions older than the TypeScript library targets; with
// PREBUILDS_ONLY=1 it proves that the one N-API prebuild serves that Node.
'use strict';
const path = require('node:path');
const fs = require('node:fs');
const os = require('node:os');
const { execFileSync, spawnSync } = require('node:child_process');
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

// A client and a server connection of native/tls.cc handshake and exchange a message through
// their memory buffers alone (one's output copied into the other's input).
function tlsSmoke() {
  const t = native.tls;
  check(t.openssl.available, `the addon can use this Node's OpenSSL (${process.versions.openssl})`);
  check(t.openssl.version.includes(process.versions.openssl.replace(/\+.*$/, '')), `OpenSSL ${t.openssl.version} is Node's own`);
  if (spawnSync('openssl', ['version']).status !== 0) return `OpenSSL ${process.versions.openssl} found`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'asyncoro-smoke-'));
  try {
    const key = path.join(dir, 'key.pem');
    const cert = path.join(dir, 'cert.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key,
      '-out', cert, '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost'], { stdio: 'ignore' });
    const server = new t.Context();
    check(server.setCert(fs.readFileSync(cert)) === 0 && server.setKey(fs.readFileSync(key)) === 0, 'TLS server context');
    const client = new t.Context();
    check(client.addCA(fs.readFileSync(cert)) === 1, 'TLS client context');
    const end = (ctx, isServer) => {
      const e = { in: Buffer.alloc(32768), out: Buffer.alloc(32768), st: new Int32Array(t.STATE_LENGTH) };
      e.conn = new t.Conn(ctx, isServer, e.in, e.out, e.st);
      return e;
    };
    const move = (from, to) => {
      const n = from.st[t.OUT_END] - from.st[t.OUT_START];
      from.out.copy(to.in, to.st[t.IN_END], from.st[t.OUT_START], from.st[t.OUT_END]);
      to.st[t.IN_END] += n;
      from.st[t.OUT_START] = from.st[t.OUT_END] = 0;
    };
    const s = end(server, true);
    const c = end(client, false);
    check(c.conn.setHost('localhost', false, true) === 0, 'TLS setHost');
    let done = 0;
    for (let i = 0; i < 10 && done !== 2; i++) {
      done = (c.conn.handshake() === 1) + 0;
      move(c, s);
      done += (s.conn.handshake() === 1) + 0;
      move(s, c);
    }
    check(done === 2, `TLS handshake in memory (${c.conn.error().reason} / ${s.conn.error().reason})`);
    check(c.conn.write(Buffer.from('hello'), 0, 5) === 5, 'TLS write');
    move(c, s);
    const got = Buffer.alloc(16);
    check(s.conn.read(got, 0, 16) === 5 && got.toString('utf8', 0, 5) === 'hello', 'TLS read');
    const info = c.conn.info();
    c.conn.free();
    s.conn.free();
    return `TLS ${info.protocol} on OpenSSL ${process.versions.openssl}`;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

(async () => {
  const tls = tlsSmoke();
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
  console.log(`node ${process.version} (N-API ${process.versions.napi}): ${path.relative(root, file)} loaded; ${combos.join(', ')}; worker wake-up ok; ${tls}`);
})();
