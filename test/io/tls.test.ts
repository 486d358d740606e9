/**
 * TLS sockets between our own client and server, and against Node's `tls` in both directions,
 * on both engines (native OpenSSL, Node's tls) and on epoll and io_uring: handshakes, data,
 * verification failures, mutual TLS, ALPN, SNI, resumption, timeouts, close, 100 MB with a
 * checksum. The openssl command-line peers are in tls-peers.test.ts.
 */
import { expect } from 'chai';
import { createHash, randomBytes } from 'node:crypto';
import { connect as netConnect } from 'node:net';
import * as nodeTls from 'node:tls';
import { spawn, sleep } from '../../lib/core/coro.js';
import { SystemError, TimeoutError } from '../../lib/core/errors.js';
import { AsyncSocket, SendTimeoutError } from '../../lib/io/socket.js';
import {
  CertificateError,
  EOFError,
  HostnameMismatchError,
  SocketClosedError,
  TlsError,
  TlsHandshakeTimeoutError,
  TlsProtocolError,
} from '../../lib/io/errors.js';
import { createSecureContext, type SecureContext, type TlsOptions, type TlsSocket } from '../../lib/io/tls.js';
import { closeSchedulers, makeScheduler, runCoro, type TestScheduler } from '../helpers/coro.js';
import { certs, tlsConnect, tlsListener, tlsMatrix } from '../helpers/tls.js';
import { engineBuffers } from '../../lib/io/tls-native.js';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** Resolves with what `fn` threw inside a coroutine (fails if it did not throw). */
function* thrown(fn: () => Generator<unknown, unknown, unknown>): Generator<unknown, unknown, unknown> {
  try {
    yield* fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected an error');
}

for (const cell of tlsMatrix()) {
  const engine = cell.engine;
  describe(`io/tls: ${cell.label}`, function () {
    this.timeout(60000);
    let t: TestScheduler;
    const c = certs();
    const server: TlsOptions = { engine, key: c.serverKey, cert: c.server };
    const client: TlsOptions = { engine, ca: c.ca, servername: 'localhost' };
    beforeEach(() => {
      t = makeScheduler({ poller: cell.poller, mode: cell.mode });
    });
    afterEach(() => {
      closeSchedulers();
      expect(t.errors.map((e) => String(e.err))).to.deep.equal([]);
    });

    /** Serves one connection with `body`, returning what the body returned (or threw). */
    function* serveOne<R>(options: TlsOptions, body: (conn: TlsSocket) => Generator<unknown, R, unknown>) {
      const [l, port] = yield* tlsListener(options);
      const done = spawn(function* () {
        const conn = yield* l.accept({ timeout: 10000 });
        try {
          return yield* body(conn);
        } finally {
          conn.close();
          l.close();
        }
      });
      return { port, done, listener: l };
    }

    it('handshakes, verifies the server by name, echoes with recv/recvall/sendall/recvMsg, reports the session', async () => {
      await runCoro(t.sched, function* () {
        const { port, done } = yield* serveOne(server, function* (conn) {
          expect(conn.engine).to.equal(engine);
          expect(conn.servername).to.equal('localhost');
          for (;;) {
            const m = yield* conn.recvMsg();
            if (m.length === 0) break;
            yield* conn.sendMsg(m);
          }
          const tail = yield* conn.recv(100);
          yield* conn.sendall(tail);
          return 'served';
        });
        const s = yield* tlsConnect(port, client);
        expect(s.engine).to.equal(engine);
        expect(s.protocol).to.equal('TLSv1.3');
        expect(s.cipher).to.match(/^TLS_/);
        expect(s.authorized).to.equal(true);
        expect(s.authorizationError).to.equal(null);
        expect(s.servername).to.equal('localhost');
        expect(s.isSessionReused()).to.equal(false);
        expect(s.getPeerX509Certificate()!.subject).to.equal('CN=localhost');
        for (const size of [1, 100, 16383, 16384, 16385, 200000]) {
          const msg = randomBytes(size);
          yield* s.sendMsg(msg);
          expect(sha(yield* s.recvMsg())).to.equal(sha(msg));
        }
        yield* s.sendMsg('');
        yield* s.sendall('tail!');
        expect((yield* s.recvall(5)).toString()).to.equal('tail!');
        const buf = Buffer.alloc(10);
        // The server closes after the tail: close_notify is the end of the stream.
        expect(yield* s.recvInto(buf)).to.equal(0);
        expect((yield* s.recv(10)).length).to.equal(0);
        expect(yield* done.finish(10000)).to.equal('served');
        expect(s.statistics().bytesReceived).to.equal(200000 + 16385 + 16384 + 16383 + 100 + 1 + 6 * 4 + 5);
        s.close();
        expect(s.isClosed).to.equal(true);
      });
    });

    it('verifies against the IP address connected to when no servername is given', async () => {
      await runCoro(t.sched, function* () {
        const { port, done } = yield* serveOne(server, function* (conn) {
          expect(conn.servername).to.equal(null);
          yield* conn.sendall('ip ok');
        });
        const s = yield* tlsConnect(port, { engine, ca: c.ca });
        expect(s.authorized).to.equal(true);
        expect(s.servername).to.equal(null);
        expect((yield* s.recvall(5)).toString()).to.equal('ip ok');
        yield* done.finish(5000);
        s.close();
      });
    });

    it('speaks TLS 1.2 when the server allows no more, and refuses a version it does not speak', async () => {
      await runCoro(t.sched, function* () {
        const { port, done } = yield* serveOne({ ...server, maxVersion: 'TLSv1.2' }, function* (conn) {
          expect(conn.protocol).to.equal('TLSv1.2');
          yield* conn.sendall(yield* conn.recvall(3));
        });
        const s = yield* tlsConnect(port, client);
        expect(s.protocol).to.equal('TLSv1.2');
        yield* s.sendall('1.2');
        expect((yield* s.recvall(3)).toString()).to.equal('1.2');
        yield* done.finish(5000);
        s.close();

        const [l, port2] = yield* tlsListener({ ...server, maxVersion: 'TLSv1.2' });
        const refused = spawn(function* () {
          return yield* thrown(() => l.accept({ timeout: 5000 }));
        });
        const err = yield* thrown(() => tlsConnect(port2, { ...client, minVersion: 'TLSv1.3' }));
        expect(err).to.be.instanceOf(TlsProtocolError);
        expect((err as TlsProtocolError).code).to.match(/^ERR_SSL_/);
        expect(yield* refused.finish(5000)).to.be.instanceOf(TlsProtocolError);
        l.close();
      });
    });

    it('refuses an expired, a wrong-host, a self-signed and an unknown-CA certificate with typed errors, leaving no socket open', async () => {
      await runCoro(t.sched, function* () {
        const cases: [TlsOptions, TlsOptions, (e: unknown) => void][] = [
          [{ engine, key: c.expiredKey, cert: c.expired }, client, (e) => {
            expect(e).to.be.instanceOf(CertificateError);
            expect((e as CertificateError).code).to.equal('CERT_HAS_EXPIRED');
          }],
          [{ engine, key: c.wronghostKey, cert: c.wronghost }, client, (e) => {
            expect(e).to.be.instanceOf(HostnameMismatchError);
            expect((e as HostnameMismatchError).code).to.equal('ERR_TLS_CERT_ALTNAME_INVALID');
            expect((e as HostnameMismatchError).host).to.equal('localhost');
          }],
          [{ engine, key: c.selfKey, cert: c.self }, client, (e) => {
            expect(e).to.be.instanceOf(CertificateError);
            expect((e as CertificateError).code).to.equal('DEPTH_ZERO_SELF_SIGNED_CERT');
          }],
          // Node's root CAs by default: our test CA is not one of them.
          [server, { engine, servername: 'localhost' }, (e) => {
            expect(e).to.be.instanceOf(CertificateError);
            // OpenSSL stops at the first problem; Node's tls lets it go on and reports the last.
            expect((e as CertificateError).code).to.be.oneOf(['UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE']);
          }],
        ];
        for (const [srv, cli, check] of cases) {
          const [l, port] = yield* tlsListener(srv);
          const serverSide = spawn(function* () {
            return yield* thrown(() => l.accept({ timeout: 5000 }));
          });
          const sock = AsyncSocket.tcp();
          yield* sock.connect({ host: '127.0.0.1', port });
          const err = yield* thrown(() => sock.startTls(cli));
          check(err);
          expect((err as TlsError).reason).to.be.a('string').and.not.equal('');
          // The failed socket is closed and gone from the poller.
          expect(sock.isClosed).to.equal(true);
          // The server learns that the client refused it: from its alert (OpenSSL sends one; Node's
          // tls checks after the handshake and just closes).
          const srvErr = yield* serverSide.finish(5000);
          expect(srvErr).to.be.instanceOf(TlsProtocolError);
          if (engine === 'native') expect((srvErr as TlsProtocolError).alert).to.be.a('string');
          l.close();
        }
        // Nothing is left waiting (on io_uring, once the kernel has confirmed the cancellations).
        yield* sleep(50);
        expect(t.sched.statistics().fdWaits).to.equal(0);
      });
    });

    it('goes on with rejectUnauthorized: false, telling why the certificate did not verify', async () => {
      await runCoro(t.sched, function* () {
        const { port, done } = yield* serveOne({ engine, key: c.wronghostKey, cert: c.wronghost }, function* (conn) {
          yield* conn.sendall('unverified');
        });
        const s = yield* tlsConnect(port, { ...client, rejectUnauthorized: false });
        expect(s.authorized).to.equal(false);
        expect(s.authorizationError).to.equal('ERR_TLS_CERT_ALTNAME_INVALID');
        expect((yield* s.recvall(10)).toString()).to.equal('unverified');
        yield* done.finish(5000);
        s.close();
      });
    });

    it('mutual TLS: accepts a client certificate from the CA and shows it to the server', async () => {
      await runCoro(t.sched, function* () {
        const { port, done } = yield* serveOne({ ...server, ca: c.ca, requestCert: true }, function* (conn) {
          expect(conn.authorized).to.equal(true);
          const peer = conn.getPeerX509Certificate()!;
          yield* conn.sendall(peer.subject);
        });
        const s = yield* tlsConnect(port, { ...client, key: c.clientKey, cert: c.client });
        expect((yield* s.recv(100)).toString()).to.equal('CN=asyncoro test client');
        yield* done.finish(5000);
        s.close();
      });
    });

    it('mutual TLS: refuses a client without a certificate or with one from another CA', async () => {
      await runCoro(t.sched, function* () {
        const [l, port] = yield* tlsListener({ ...server, ca: c.ca, requestCert: true });
        for (const cli of [client, { ...client, key: c.strangerKey, cert: c.stranger }]) {
          const serverSide = spawn(function* () {
            return yield* thrown(() => l.accept({ timeout: 5000 }));
          });
          // TLS 1.3: the client's handshake ends before the server has checked its certificate,
          // so the client learns of the refusal at its next read.
          const outcome = yield* thrown(function* () {
            const s = yield* tlsConnect(port, cli);
            try {
              const got = yield* s.recv(10, { timeout: 5000 });
              if (got.length === 0) throw new EOFError('recv', got, 1);
            } finally {
              s.close();
            }
          });
          expect(outcome).to.satisfy((e: unknown) => e instanceof TlsError || e instanceof EOFError);
          const err = yield* serverSide.finish(5000);
          expect(err).to.be.instanceOf(CertificateError);
          expect((err as CertificateError).code).to.be.oneOf(['ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE']);
        }
        // The listener goes on: a good client is served next.
        const ok = spawn(function* () {
          const conn = yield* l.accept({ timeout: 5000 });
          yield* conn.sendall('welcome');
          conn.close();
        });
        const s = yield* tlsConnect(port, { ...client, key: c.clientKey, cert: c.client });
        expect((yield* s.recvall(7)).toString()).to.equal('welcome');
        yield* ok.finish(5000);
        s.close();
        l.close();
      });
    });

    it('negotiates ALPN in the server\'s order, and refuses a client with no protocol in common', async () => {
      await runCoro(t.sched, function* () {
        const { port, done } = yield* serveOne({ ...server, ALPNProtocols: ['h2', 'http/1.1'] }, function* (conn) {
          yield* conn.sendall(conn.alpnProtocol ?? 'none');
        });
        const s = yield* tlsConnect(port, { ...client, ALPNProtocols: ['http/1.1', 'h2'] });
        expect(s.alpnProtocol).to.equal('h2');
        expect((yield* s.recvall(2)).toString()).to.equal('h2');
        yield* done.finish(5000);
        s.close();

        const [l, port2] = yield* tlsListener({ ...server, ALPNProtocols: ['h2'] });
        const refused = spawn(function* () {
          return yield* thrown(() => l.accept({ timeout: 5000 }));
        });
        const err = yield* thrown(() => tlsConnect(port2, { ...client, ALPNProtocols: ['smtp'] }));
        expect(err).to.be.instanceOf(TlsProtocolError);
        expect((err as TlsProtocolError).alert).to.equal('no_application_protocol');
        yield* refused.finish(5000);
        l.close();
      });
    });

    it('SNI: the server chooses its certificate by the name the client asks for', async () => {
      await runCoro(t.sched, function* () {
        const alt: SecureContext = createSecureContext({ engine, key: c.altKey, cert: c.alt });
        const asked: string[] = [];
        const opts: TlsOptions = {
          ...server,
          SNICallback: (name, cb) => {
            asked.push(name);
            // Once at once, once later: both ways of calling back work.
            if (name === 'alt.test') setTimeout(() => cb(null, alt), 5);
            else cb(null);
          },
        };
        const [l, port] = yield* tlsListener(opts);
        const serve = spawn(function* () {
          for (let i = 0; i < 2; i++) {
            const conn = yield* l.accept({ timeout: 5000 });
            yield* conn.sendall(`${conn.servername}`);
            conn.close();
          }
        });
        const a = yield* tlsConnect(port, { ...client, servername: 'alt.test' });
        expect(a.getPeerX509Certificate()!.subject).to.equal('CN=alt.test');
        expect((yield* a.recvall(8)).toString()).to.equal('alt.test');
        const b = yield* tlsConnect(port, client);
        expect(b.getPeerX509Certificate()!.subject).to.equal('CN=localhost');
        expect((yield* b.recvall(9)).toString()).to.equal('localhost');
        yield* serve.finish(5000);
        expect(asked).to.deep.equal(['alt.test', 'localhost']);
        a.close();
        b.close();
        l.close();
      });
    });

    it('resumes a session saved from an earlier connection', async () => {
      await runCoro(t.sched, function* () {
        const [l, port] = yield* tlsListener(server);
        const reused: boolean[] = [];
        const serve = spawn(function* () {
          for (let i = 0; i < 2; i++) {
            const conn = yield* l.accept({ timeout: 5000 });
            reused.push(conn.isSessionReused());
            yield* conn.sendall(yield* conn.recvall(4));
            conn.close();
          }
        });
        const a = yield* tlsConnect(port, client);
        yield* a.sendall('ping');
        yield* a.recvall(4);
        // With TLS 1.3 the ticket arrives after the handshake, with the data.
        const session = a.getSession();
        expect(session).to.be.instanceOf(Buffer);
        a.close();
        const b = yield* tlsConnect(port, { ...client, session });
        expect(b.isSessionReused()).to.equal(true);
        yield* b.sendall('pong');
        expect((yield* b.recvall(4)).toString()).to.equal('pong');
        b.close();
        yield* serve.finish(5000);
        expect(reused).to.deep.equal([false, true]);
        l.close();
      });
    });

    it('ends a handshake that does not finish in time with TlsHandshakeTimeoutError, on both sides', async () => {
      await runCoro(t.sched, function* () {
        // A server that accepts and says nothing.
        const mute = AsyncSocket.tcp();
        yield* mute.bind({ host: '127.0.0.1', port: 0 });
        mute.listen();
        const mutePort = (mute.localAddress as { port: number }).port;
        const sock = AsyncSocket.tcp();
        yield* sock.connect({ host: '127.0.0.1', port: mutePort });
        const t0 = Date.now();
        const err = yield* thrown(() => sock.startTls({ ...client, handshakeTimeout: 200 }));
        expect(err).to.be.instanceOf(TlsHandshakeTimeoutError);
        expect(err).to.be.instanceOf(TimeoutError);
        expect(Date.now() - t0).to.be.within(150, 3000);
        expect(sock.isClosed).to.equal(true);
        mute.close();

        // A client that connects and says nothing: accept() reports the timeout, the client sees EOF.
        const [l, port] = yield* tlsListener({ ...server, handshakeTimeout: 200 });
        const serverSide = spawn(function* () {
          return yield* thrown(() => l.accept({ timeout: 5000 }));
        });
        const quiet = AsyncSocket.tcp();
        yield* quiet.connect({ host: '127.0.0.1', port });
        expect(yield* serverSide.finish(5000)).to.be.instanceOf(TlsHandshakeTimeoutError);
        expect((yield* quiet.recv(10, { timeout: 5000 })).length).to.equal(0);
        quiet.close();
        l.close();
      });
    });

    it('reports a peer that does not speak TLS as a protocol error', async () => {
      await runCoro(t.sched, function* () {
        const plain = AsyncSocket.tcp();
        yield* plain.bind({ host: '127.0.0.1', port: 0 });
        plain.listen();
        const port = (plain.localAddress as { port: number }).port;
        const srv = spawn(function* () {
          const conn = yield* plain.accept();
          yield* conn.recv(1000);
          yield* conn.sendall('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n');
          try {
            yield* conn.recv(1000, { timeout: 2000 });
          } catch {
            // The client hangs up first.
          }
          conn.close();
        });
        const err = yield* thrown(() => tlsConnect(port, client));
        expect(err).to.be.instanceOf(TlsProtocolError);
        expect((err as TlsProtocolError).code).to.match(/^ERR_SSL_[A-Z_]+$/);
        yield* srv.finish(5000);
        plain.close();
      });
    });

    it('times out a recv, keeping what recvall had read; close wakes a waiting reader with SocketClosedError', async () => {
      await runCoro(t.sched, function* () {
        const { port, done } = yield* serveOne(server, function* (conn) {
          yield* conn.sendall('12345');
          yield* sleep(300);
          yield* conn.sendall('67890');
          yield* conn.recv(1);
        });
        const s = yield* tlsConnect(port, client);
        const e = yield* thrown(() => s.recvall(10, { timeout: 100 }));
        expect(e).to.be.instanceOf(TimeoutError);
        expect((e as TimeoutError).message).to.contain('recvall');
        expect((yield* s.recvall(10, { timeout: 5000 })).toString()).to.equal('1234567890');
        const reader = spawn(function* () {
          return yield* thrown(() => s.recv(10));
        });
        yield* sleep(20);
        s.close();
        expect(yield* reader.finish(5000)).to.be.instanceOf(SocketClosedError);
        expect(s.fd).to.equal(-1);
        yield* done.finish(5000);
      });
    });

    it('one coroutine reads while another writes 4 MB each way (full duplex)', async () => {
      await runCoro(t.sched, function* () {
        const size = 4 * 1024 * 1024;
        const { port, done } = yield* serveOne(server, function* (conn) {
          const buf = Buffer.allocUnsafe(65536);
          let n = 0;
          while (n < size) {
            const got = yield* conn.recvInto(buf);
            if (got === 0) break;
            yield* conn.sendall(buf.subarray(0, got));
            n += got;
          }
          return n;
        });
        const s = yield* tlsConnect(port, client);
        const data = randomBytes(size);
        const writer = spawn(function* () {
          for (let off = 0; off < size; off += 1 << 20) yield* s.sendall(data.subarray(off, off + (1 << 20)));
        });
        const back = yield* s.recvall(size, { timeout: 30000 });
        yield* writer.finish(30000);
        expect(sha(back)).to.equal(sha(data));
        expect(yield* done.finish(5000)).to.equal(size);
        s.close();
      });
    });

    it('moves 100 MB with a matching checksum', async () => {
      await runCoro(t.sched, function* () {
        const total = 100 * 1024 * 1024;
        const block = randomBytes(1 << 20);
        const { port, done } = yield* serveOne(server, function* (conn) {
          const h = createHash('sha256');
          const buf = Buffer.allocUnsafe(65536);
          let n = 0;
          for (;;) {
            const got = yield* conn.recvInto(buf);
            if (got === 0) break;
            h.update(buf.subarray(0, got));
            n += got;
          }
          yield* conn.sendall(`${n} ${h.digest('hex')}`);
        });
        const s = yield* tlsConnect(port, client);
        const h = createHash('sha256');
        for (let i = 0; i < total / block.length; i++) {
          // Each megabyte differs from the last, so a lost or repeated block changes the sum.
          block.writeUInt32BE(i, 0);
          h.update(block);
          yield* s.sendall(block);
        }
        s.shutdown('write');
        const reply = (yield* s.recvall(64 + 1 + String(total).length, { timeout: 60000 })).toString();
        expect(reply).to.equal(`${total} ${h.digest('hex')}`);
        yield* done.finish(5000);
        s.close();
      });
    });

    it('bad input is a typed error at the call', async () => {
      await runCoro(t.sched, function* () {
        expect(() => createSecureContext({ engine, key: 'not a key', cert: c.server })).to.throw(TlsError);
        expect(() => createSecureContext({ engine, key: c.clientKey, cert: c.server })).to.throw(TlsError);
        expect(() => createSecureContext({ engine, key: c.serverKey })).to.throw(TypeError);
        expect(() => createSecureContext({ engine, minVersion: 'TLSv1.0' as 'TLSv1.2' })).to.throw(RangeError);
        const udp = AsyncSocket.udp({ family: 4 });
        expect(yield* thrown(() => udp.startTls(client))).to.be.instanceOf(TypeError);
        udp.close();
        const [l, port] = yield* tlsListener(server);
        const accepted = spawn(function* () {
          return yield* thrown(() => l.accept({ timeout: 2000 }));
        });
        const s = AsyncSocket.tcp();
        yield* s.connect({ host: '127.0.0.1', port });
        expect(yield* thrown(() => s.startTls({ ...client, ALPNProtocols: [''] }))).to.be.instanceOf(RangeError);
        expect(s.isClosed).to.equal(true);
        const l2 = AsyncSocket.tcp();
        yield* l2.bind({ host: '127.0.0.1', port: 0 });
        l2.listen();
        expect(yield* thrown(() => l2.startTls({ engine }))).to.be.instanceOf(TypeError);
        l2.close();
        expect(yield* thrown(() => l.recv(1))).to.have.property('code', 'ENOTCONN');
        yield* accepted.finish(5000);
        l.close();
        expect(yield* thrown(() => l.accept())).to.be.instanceOf(SocketClosedError);
      });
    });

    it('a sendall that cannot finish in time says how much TLS took', async () => {
      await runCoro(t.sched, function* () {
        const { port, done } = yield* serveOne(server, function* (conn) {
          // Reads nothing until the client has given up.
          yield* sleep(250);
          return conn.protocol;
        });
        const s = yield* tlsConnect(port, client);
        const e = yield* thrown(() => s.sendall(Buffer.alloc(64 * 1024 * 1024), { timeout: 100 }));
        expect(e).to.be.instanceOf(SendTimeoutError);
        expect((e as SendTimeoutError).bytesSent).to.be.above(0).and.below(64 * 1024 * 1024);
        s.close();
        yield* done.finish(5000);
      });
    });

    if (cell.mode !== 'exclusive') {
      it("interoperates with Node's tls: our client to a Node server", async () => {
        const srv = nodeTls.createServer({ key: c.serverKey, cert: c.server, ca: c.ca, requestCert: true, ALPNProtocols: ['x', 'y'] }, (sock) => {
          sock.on('data', (d) => sock.write(Buffer.concat([Buffer.from(`${sock.getPeerX509Certificate()?.subject}|${sock.alpnProtocol}|`), d])));
          sock.on('end', () => sock.end());
        });
        await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
        const port = (srv.address() as { port: number }).port;
        try {
          await runCoro(t.sched, function* () {
            const s = yield* tlsConnect(port, { ...client, key: c.clientKey, cert: c.client, ALPNProtocols: ['y'] });
            yield* s.sendall('hi');
            const want = 'CN=asyncoro test client|y|hi';
            expect((yield* s.recvall(want.length)).toString()).to.equal(want);
            s.shutdown('write');
            expect((yield* s.recv(10, { timeout: 5000 })).length).to.equal(0);
            s.close();
          });
        } finally {
          srv.close();
        }
      });

      it('a client that resets right after its handshake: accept() says so, or hands over a socket whose next read does', async () => {
        await runCoro(t.sched, function* () {
          const [l, port] = yield* tlsListener(server);
          // The first accept() starts the listener's handshakes; nobody has connected yet.
          expect(yield* thrown(() => l.accept({ timeout: 1 }))).to.be.instanceOf(TimeoutError);
          let handed = 0;
          for (let i = 0; i < 4; i++) {
            const raw = netConnect({ host: '127.0.0.1', port });
            // Half of them reset at once, half once the server is done with its handshake too.
            const sock = nodeTls.connect({ socket: raw, servername: 'localhost', ca: c.ca }, () => {
              if (i % 2 === 0) raw.resetAndDestroy();
              else setTimeout(() => raw.resetAndDestroy(), 30);
            });
            sock.on('error', () => {});
            raw.on('error', () => {});
            // accept() comes after the reset: the listener's handshakes ran meanwhile.
            yield* sleep(100);
            let conn: TlsSocket;
            try {
              conn = yield* l.accept({ timeout: 5000 });
            } catch (e) {
              // The server's last flight met the reset.
              expect(e).to.satisfy((x: unknown) => x instanceof SystemError || x instanceof TlsError);
              continue;
            }
            // Options on a connection that already failed do nothing, as on Node's sockets.
            conn.setNoDelay();
            const outcome = yield* thrown(function* () {
              const got = yield* conn.recv(10, { timeout: 5000 });
              if (got.length === 0) throw new EOFError('recv', got, 1);
            });
            expect(outcome).to.satisfy((x: unknown) => x instanceof SystemError || x instanceof EOFError || x instanceof TlsError);
            conn.close();
            handed++;
          }
          expect(handed).to.be.above(0);
          l.close();
        });
      });

      it("interoperates with Node's tls: a Node client to our server, close_notify included", async () => {
        await runCoro(t.sched, function* () {
          const [l, port] = yield* tlsListener({ ...server, ALPNProtocols: ['b', 'a'] });
          const serve = spawn(function* () {
            const conn = yield* l.accept({ timeout: 5000 });
            const got = yield* conn.recvall(5);
            yield* conn.sendall(`${conn.alpnProtocol}:${got.toString().toUpperCase()}`);
            // The client ends with close_notify: the end of the stream.
            const rest = yield* conn.recv(10, { timeout: 5000 });
            conn.close();
            return rest.length;
          });
          const reply = yield new Promise<string>((resolve, reject) => {
            const sock = nodeTls.connect({ host: '127.0.0.1', port, servername: 'localhost', ca: c.ca, ALPNProtocols: ['a'] }, () => {
              sock.write('hello');
            });
            let got = '';
            sock.on('data', (d) => {
              got += d;
              if (got.length === 'a:HELLO'.length) sock.end();
            });
            sock.on('end', () => resolve(got));
            sock.on('error', reject);
          });
          expect(reply).to.equal('a:HELLO');
          expect(yield* serve.finish(5000)).to.equal(0);
          l.close();
        });
      });
    }
  });
}

describe('io/tls: a scheduler in thread mode', function () {
  this.timeout(30000);
  afterEach(() => closeSchedulers());
  const c = certs();
  for (const engine of tlsMatrix().map((cell) => cell.engine).filter((e, i, all) => all.indexOf(e) === i)) {
    it(`${engine} engine: handshake and echo while the poller waits in its own thread`, async () => {
      const { sched, errors } = makeScheduler({ poller: 'epoll', mode: 'thread' });
      await runCoro(sched, function* () {
        const [l, port] = yield* tlsListener({ engine, key: c.serverKey, cert: c.server });
        const serve = spawn(function* () {
          const conn = yield* l.accept({ timeout: 5000 });
          yield* conn.sendMsg(yield* conn.recvMsg());
          conn.close();
        });
        const s = yield* tlsConnect(port, { engine, ca: c.ca, servername: 'localhost' });
        yield* s.sendMsg('threaded');
        expect((yield* s.recvMsg()).toString()).to.equal('threaded');
        yield* serve.finish(5000);
        s.close();
        l.close();
      });
      expect(errors).to.deep.equal([]);
    });
  }
});

describe('io/tls: the engines talk to each other', function () {
  this.timeout(30000);
  afterEach(() => closeSchedulers());
  const c = certs();
  for (const [srvEngine, cliEngine] of [['native', 'node'], ['node', 'native']] as const) {
    it(`${cliEngine} client to ${srvEngine} server`, async () => {
      const { sched, errors } = makeScheduler({ poller: 'epoll' });
      await runCoro(sched, function* () {
        const [l, port] = yield* tlsListener({ engine: srvEngine, key: c.serverKey, cert: c.server, ca: c.ca, requestCert: true });
        const serve = spawn(function* () {
          const conn = yield* l.accept({ timeout: 5000 });
          yield* conn.sendMsg(`${conn.engine} sees ${conn.getPeerX509Certificate()!.subject}`);
          conn.close();
        });
        const s = yield* tlsConnect(port, { engine: cliEngine, ca: c.ca, servername: 'localhost', key: c.clientKey, cert: c.client });
        expect((yield* s.recvMsg()).toString()).to.equal(`${srvEngine} sees CN=asyncoro test client`);
        yield* serve.finish(5000);
        s.close();
        l.close();
      });
      expect(errors).to.deep.equal([]);
    });
  }
});

describe('io/tls: the native engine reuses the buffers of closed connections', function () {
  this.timeout(60000);
  afterEach(() => closeSchedulers());
  const c = certs();
  for (const cell of tlsMatrix().filter((x) => x.engine === 'native')) {
    it(`${cell.poller} (${cell.mode}): 40 clients that reset after their echo allocate no new buffers after the first`, async () => {
      const { sched, errors } = makeScheduler({ poller: cell.poller, mode: cell.mode });
      const r = await runCoro(sched, function* () {
        const [l, port] = yield* tlsListener({ engine: 'native', key: c.serverKey, cert: c.server });
        const ends: string[] = [];
        const serve = spawn(function* () {
          const buf = Buffer.alloc(100);
          for (let i = 0; i < 40; i++) {
            const conn = yield* l.accept({ timeout: 10000 });
            try {
              for (;;) {
                const n = yield* conn.recvInto(buf, 0, buf.length, { timeout: 5000 });
                if (n === 0) break;
                yield* conn.sendall(buf.subarray(0, n));
              }
              ends.push('eof');
            } catch (e) {
              ends.push(e instanceof SystemError ? e.code : String(e));
            }
            conn.close();
          }
        });
        let before = 0;
        for (let i = 0; i < 40; i++) {
          if (i === 1) before = engineBuffers().made;
          // A client that resets the connection once it has its echo: the server's next read
          // fails with ECONNRESET (a SystemError), after which the kernel holds nothing of ours.
          yield new Promise<void>((resolve, reject) => {
            const raw = netConnect({ host: '127.0.0.1', port });
            const sock = nodeTls.connect({ socket: raw, servername: 'localhost', ca: c.ca }, () => sock.write('x'));
            sock.on('data', () => {
              raw.resetAndDestroy();
              resolve();
            });
            sock.on('error', reject);
          });
        }
        yield* serve.finish(10000);
        l.close();
        return { ends, made: engineBuffers().made - before };
      });
      expect(errors).to.deep.equal([]);
      // Most ends are resets (a reset can also reach the server as the end of the stream).
      expect(r.ends.filter((e) => e === 'ECONNRESET').length, r.ends.join(' ')).to.be.greaterThan(20);
      expect(r.ends.every((e) => e === 'ECONNRESET' || e === 'eof'), r.ends.join(' ')).to.equal(true);
      expect(r.made).to.equal(0);
    });
  }
});
