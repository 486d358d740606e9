// Drives every path of native/tls.cc many times with the raw binding, for scripts/memcheck.sh
// (valgrind) and scripts/asan-test.sh: contexts (certificates, keys, CAs, a shared store, bad
// PEM, a wrong key, protocols, ciphers), connections that handshake through their memory
// buffers (ALPN, SNI with a paused ClientHello, client certificates, resumed sessions, peer
// certificates, close_notify), and failures (unknown CA, expired, host mismatch, garbage input,
// the transport ending), each object freed explicitly or left to the garbage collector.
// Needs the openssl command to make certificates. Usage: node --expose-gc scripts/tls-stress.cjs [rounds]
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const native = require('node-gyp-build')(path.join(__dirname, '..'));
const t = native.tls;

const rounds = Number(process.argv[2] ?? process.env.TLS_STRESS_ROUNDS ?? 20);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'asyncoro-tls-stress-'));
process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
execFileSync('bash', [path.join(__dirname, 'test-certs.sh'), dir], { stdio: ['ignore', 'ignore', 'inherit'] });
const pem = (name) => fs.readFileSync(path.join(dir, name));

function check(cond, what) {
  if (!cond) {
    console.error(`tls-stress: FAILED: ${what}`);
    process.exit(1);
  }
}

function context(cert, key, ca) {
  const c = new t.Context();
  if (cert) check(c.setCert(pem(cert)) === 0 && c.setKey(pem(key)) === 0, `context ${cert}`);
  if (ca) check(c.addCA(pem(ca)) >= 1, `ca ${ca}`);
  return c;
}

function end(ctx, server) {
  const e = { in: Buffer.alloc(20000), out: Buffer.alloc(20000), st: new Int32Array(t.STATE_LENGTH) };
  e.conn = new t.Conn(ctx, server, e.in, e.out, e.st);
  return e;
}

// Copies what `from` wrote into `to`'s input, as much as fits (small buffers: records split).
function move(from, to) {
  const room = to.in.length - to.st[t.IN_END];
  const n = Math.min(room, from.st[t.OUT_END] - from.st[t.OUT_START]);
  from.out.copy(to.in, to.st[t.IN_END], from.st[t.OUT_START], from.st[t.OUT_START] + n);
  to.st[t.IN_END] += n;
  from.st[t.OUT_START] += n;
}

// Runs both handshakes to the end (or a failure): [client result, server result].
function handshake(c, s, serverCtxForHello) {
  let rc = 0;
  let rs = 0;
  for (let i = 0; i < 50 && !(rc === 1 && rs === 1); i++) {
    if (rc !== 1 && rc !== t.ERROR) rc = c.conn.handshake();
    move(c, s);
    if (rs !== 1 && rs !== t.ERROR) rs = s.conn.handshake();
    if (rs === t.HELLO) {
      check(s.conn.helloName() === 'alt.test' || s.conn.helloName() === 'localhost', 'hello name');
      s.conn.setContext(s.conn.helloName() === 'alt.test' ? serverCtxForHello : undefined);
      rs = 0;
    }
    move(s, c);
    if (rc === t.ERROR && rs === t.ERROR) break;
    if ((rc === t.ERROR || rs === t.ERROR) && i > 5) break;
  }
  return [rc, rs];
}

function exchange(c, s, bytes) {
  const data = Buffer.alloc(bytes, 7);
  let off = 0;
  const got = Buffer.alloc(bytes);
  let have = 0;
  for (let i = 0; i < 10000 && have < bytes; i++) {
    if (off < bytes) {
      const n = c.conn.write(data, off, bytes - off);
      if (n > 0) off += n;
    }
    move(c, s);
    for (;;) {
      const r = s.conn.read(got, have, bytes - have);
      if (r <= 0) break;
      have += r;
    }
    move(s, c);
    const drain = Buffer.alloc(64);
    while (c.conn.read(drain, 0, 64) > 0);
  }
  check(have === bytes && got.equals(data), `exchange of ${bytes} bytes`);
}

const ca = context(null, null, 'ca.pem');
const server = context('server.pem', 'server.key', 'ca.pem');
const alt = context('alt.pem', 'alt.key', 'ca.pem');
const expired = context('expired.pem', 'expired.key');
const withClient = context('client.pem', 'client.key', 'ca.pem');
const shared = new t.Context();
check(shared.shareStore(ca) === 0, 'shareStore');
const empty = new t.Context();

for (let round = 0; round < rounds; round++) {
  // Bad configuration: every failure path of the context calls.
  const bad = new t.Context();
  check(bad.setCert(Buffer.from('no pem here')) === t.ERROR && bad.error().reason !== '', 'bad cert');
  check(bad.setCert(pem('server.pem')) === 0 && bad.setKey(pem('client.key')) === t.ERROR, 'mismatched key');
  check(bad.setKey(Buffer.from('-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n')) === t.ERROR, 'bad key');
  check(bad.addCA(Buffer.from('nothing')) === t.ERROR, 'bad ca');
  check(bad.setCiphers('NO-SUCH-CIPHER', '') === t.ERROR, 'bad ciphers');
  check(bad.setProtocols(t.TLS1_3_VERSION, 0) === 0 && bad.setCiphers('', 'TLS_AES_128_GCM_SHA256') === 0, 'protocols, suites');

  // A full exchange: ALPN, SNI pause, client certificate, data in split records, close_notify.
  {
    const c = end(withClient, false);
    const s = end(server, true);
    check(c.conn.setHost('alt.test', false, true) === 0, 'setHost');
    check(c.conn.setAlpn(Buffer.from('\x02h2\x08http/1.1', 'latin1'), false) === 0, 'client alpn');
    check(s.conn.setAlpn(Buffer.from('\x08http/1.1', 'latin1'), true) === 0, 'server alpn');
    check(s.conn.setVerify(t.VERIFY_REQUIRE) === 0 && s.conn.setHelloPause() === 0, 'server verify, pause');
    const [rc, rs] = handshake(c, s, alt);
    check(rc === 1 && rs === 1, `handshake (${c.conn.error().reason} / ${s.conn.error().reason})`);
    check(c.conn.info().alpn === 'http/1.1' && s.conn.info().servername === 'alt.test', 'info');
    check(s.conn.peerCertificate().length > 100 && c.conn.peerCertificate().length > 100, 'peer certificates');
    exchange(c, s, 100000);
    const session = c.conn.session();
    check(session !== null, 'session');
    check(c.conn.shutdown() === 0, 'shutdown');
    move(c, s);
    check(s.conn.read(Buffer.alloc(10), 0, 10) === 0, 'close_notify is the end');
    c.conn.free();
    if (round % 2 === 0) s.conn.free(); // the other half is left to the garbage collector

    // Resumption with that session.
    const c2 = end(withClient, false);
    const s2 = end(server, true);
    check(c2.conn.setSession(session) === 1 && c2.conn.setSession(Buffer.from('junk')) === 0, 'setSession');
    s2.conn.setVerify(t.VERIFY_REQUEST);
    const [r2c, r2s] = handshake(c2, s2, alt);
    check(r2c === 1 && r2s === 1 && c2.conn.info().reused, 'resumed');
    c2.conn.free();
    s2.conn.free();
  }

  // Failures: unknown CA (default store shared, but our CA is not in it), expired, wrong host,
  // garbage from the peer, the transport ending in the middle.
  {
    // A client trusting through the shared store.
    const c = end(shared, false);
    const s = end(server, true);
    c.conn.setHost('127.0.0.1', true, false);
    const [rc, rs] = handshake(c, s, alt);
    check(rc === 1 && rs === 1 && c.conn.info().verify === t.X509_V_OK, 'shared store verifies');
    c.conn.free();
    s.conn.free();
  }
  for (const [srv, cli, host] of [[server, empty, 'localhost'], [expired, ca, 'localhost'], [server, ca, 'wrong.example']]) {
    const c = end(cli, false);
    const s = end(srv, true);
    c.conn.setHost(host, false, true);
    const [rc] = handshake(c, s, alt);
    check(rc === t.ERROR && c.conn.error().verify !== t.X509_V_OK && c.conn.error().verifyMessage !== '', `refused ${host}`);
    check(c.conn.read(Buffer.alloc(4), 0, 4) === t.ERROR, 'read after failure');
    if (round % 2 === 1) {
      c.conn.free();
      s.conn.free();
    }
  }
  {
    const s = end(server, true);
    const junk = Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    junk.copy(s.in, 0);
    s.st[t.IN_END] = junk.length;
    check(s.conn.handshake() === t.ERROR && s.conn.error().reason !== '', 'garbage refused');
    const c = end(ca, false);
    c.conn.setHost('127.0.0.1', true, false);
    check(c.conn.handshake() === t.WANT_READ, 'client waits');
    c.st[t.EOF] = 1;
    check(c.conn.handshake() === t.ERROR, 'transport ended during the handshake');
    s.conn.free();
    c.conn.free();
  }
  if (global.gc) global.gc();
}
console.log(`tls-stress: ${rounds} rounds ok`);
