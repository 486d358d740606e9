/**
 * TLS against the real OpenSSL command line: our client to `openssl s_server`, `openssl
 * s_client` to our server, on both engines and on epoll and io_uring (and the native engine
 * under a scheduler in exclusive mode, where Node's loop does not run).
 */
import { expect } from 'chai';
import { spawn, sleep } from '../../lib/core/coro.js';
import { backends } from '../../lib/core/poller.js';
import { AsyncSocket } from '../../lib/io/socket.js';
import { TlsError, TlsProtocolError, TlsUnavailableError } from '../../lib/io/errors.js';
import type { TlsOptions } from '../../lib/io/tls.js';
import { native } from '../../lib/native/binding.js';
import { closeSchedulers, makeScheduler, runCoro, type TestScheduler } from '../helpers/coro.js';
import { certs, opensslClient, opensslServer, tlsConnect, tlsListener, tlsMatrix, type TlsCell, type OpensslServer } from '../helpers/tls.js';

function* thrown(fn: () => Generator<unknown, unknown, unknown>): Generator<unknown, unknown, unknown> {
  try {
    yield* fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected an error');
}

// Plus the native engine under exclusive schedulers, where only our own poller runs.
const cells: TlsCell[] = [...tlsMatrix()];
if (native.tls.openssl.available) {
  for (const b of backends()) {
    if ((b.name === 'epoll' || b.name === 'io_uring') && b.modes.includes('exclusive')) {
      cells.push({ engine: 'native', poller: b.name, mode: 'exclusive', label: `native engine on ${b.name} (exclusive)` });
    }
  }
}

for (const cell of cells) {
  const engine = cell.engine;
  describe(`io/tls with openssl peers: ${cell.label}`, function () {
    this.timeout(30000);
    let t: TestScheduler;
    let peer: OpensslServer | undefined;
    const c = certs();
    const client: TlsOptions = { engine, ca: c.ca, servername: 'localhost' };
    const server: TlsOptions = { engine, key: c.serverKey, cert: c.server };
    beforeEach(() => {
      t = makeScheduler({ poller: cell.poller, mode: cell.mode });
    });
    afterEach(() => {
      peer?.stop();
      peer = undefined;
      closeSchedulers();
      expect(t.errors.map((e) => String(e.err))).to.deep.equal([]);
    });

    for (const version of ['-tls1_3', '-tls1_2']) {
      it(`our client to openssl s_server ${version}: verifies it, ALPN, data both ways, close_notify`, async () => {
        peer = await opensslServer(['-cert', 'server.pem', '-key', 'server.key', version, '-rev', '-alpn', 'h2,http/1.1', '-msg']);
        const port = peer.port;
        const info = await runCoro(t.sched, function* () {
          const s = yield* tlsConnect(port, { ...client, ALPNProtocols: ['http/1.1'] });
          yield* s.sendall('hello world\n');
          const back = (yield* s.recvall(12, { timeout: 5000 })).toString();
          const got = { back, protocol: s.protocol, alpn: s.alpnProtocol, authorized: s.authorized };
          s.close();
          return got;
        });
        expect(info).to.deep.equal({ back: 'dlrow olleh\n', protocol: version === '-tls1_3' ? 'TLSv1.3' : 'TLSv1.2', alpn: 'http/1.1', authorized: true });
        // s_server traces every record: our close sent close_notify.
        await peer.waitFor(/<<< TLS 1\.[23], Alert \[length 0002\], warning close_notify/);
      });
    }

    it('our client to openssl s_server that requires a client certificate: with one, and refused without', async () => {
      peer = await opensslServer(['-cert', 'server.pem', '-key', 'server.key', '-rev', '-Verify', '1', '-CAfile', 'ca.pem', '-verify_return_error']);
      const port = peer.port;
      const [ok, refused] = await runCoro(t.sched, function* () {
        const s = yield* tlsConnect(port, { ...client, key: c.clientKey, cert: c.client });
        yield* s.sendall('mutual\n');
        const ok = (yield* s.recvall(7, { timeout: 5000 })).toString();
        s.close();
        // TLS 1.3: refused after our side of the handshake, so the alert comes with the next read.
        const refused = yield* thrown(function* () {
          const s2 = yield* tlsConnect(port, client);
          try {
            yield* s2.sendall('nobody\n');
            yield* s2.recv(10, { timeout: 5000 });
          } finally {
            s2.close();
          }
        });
        return [ok, refused] as const;
      });
      expect(ok).to.equal('lautum\n');
      expect(refused).to.be.instanceOf(TlsProtocolError);
      expect((refused as TlsProtocolError).alert).to.equal('certificate_required');
      await peer.waitFor(/Peer certificate: CN = asyncoro test client/);
    });

    it('our client refuses openssl s_server with an expired certificate', async () => {
      peer = await opensslServer(['-cert', 'expired.pem', '-key', 'expired.key', '-rev']);
      const port = peer.port;
      const err = await runCoro(t.sched, function* () {
        return yield* thrown(() => tlsConnect(port, client));
      });
      expect(err).to.be.instanceOf(TlsError).and.have.property('code', 'CERT_HAS_EXPIRED');
      // OpenSSL tells the server why (an alert); Node's tls checks after the handshake and just
      // closes, which the server sees as an unexpected end.
      await peer.waitFor(engine === 'native' ? /alert certificate expired/ : /alert certificate expired|unexpected eof/);
    });

    if (cell.mode !== 'exclusive') {
      it('openssl s_client to our server: SNI, ALPN, a client certificate, data, close_notify', async () => {
        await runCoro(t.sched, function* () {
          const [l, port] = yield* tlsListener({ ...server, ca: c.ca, requestCert: true, ALPNProtocols: ['h2', 'http/1.1'] });
          const serve = spawn(function* () {
            const conn = yield* l.accept({ timeout: 10000 });
            const line = (yield* conn.recvall(6, { timeout: 5000 })).toString();
            yield* conn.sendall(`${line.trim()}|${conn.servername}|${conn.alpnProtocol}|${conn.getPeerX509Certificate()!.subject}\n`);
            yield* sleep(50);
            conn.close();
          });
          const r = (yield opensslClient(port, ['-CAfile', 'ca.pem', '-servername', 'localhost', '-verify_return_error', '-alpn', 'http/1.1', '-cert', 'client.pem', '-key', 'client.key', '-msg'], 'query\n')) as {
            code: number;
            out: string;
            err: string;
          };
          yield* serve.finish(5000);
          l.close();
          expect(r.out).to.contain('query|localhost|http/1.1|CN=asyncoro test client\n');
          expect(r.out).to.contain('Verify return code: 0 (ok)');
          expect(r.out).to.match(/<<< TLS 1\.3, Alert \[length 0002\], warning close_notify/);
        });
      });

      it('openssl s_client refuses our server with a wrong-host certificate, and our accept() says why', async () => {
        await runCoro(t.sched, function* () {
          const [l, port] = yield* tlsListener({ engine, key: c.wronghostKey, cert: c.wronghost });
          const serve = spawn(function* () {
            return yield* thrown(() => l.accept({ timeout: 10000 }));
          });
          const r = (yield opensslClient(port, ['-CAfile', 'ca.pem', '-servername', 'localhost', '-verify_hostname', 'localhost', '-verify_return_error'], 'x\n')) as {
            code: number;
            err: string;
            out: string;
          };
          expect(r.code).to.not.equal(0);
          expect(r.err + r.out).to.contain('hostname mismatch');
          const err = yield* serve.finish(5000);
          expect(err).to.be.instanceOf(TlsProtocolError);
          l.close();
        });
      });

      it('openssl s_client resumes a session with our server', async () => {
        await runCoro(t.sched, function* () {
          const [l, port] = yield* tlsListener(server);
          const reused: boolean[] = [];
          const serve = spawn(function* () {
            for (let i = 0; i < 2; i++) {
              const conn = yield* l.accept({ timeout: 10000 });
              reused.push(conn.isSessionReused());
              yield* conn.sendall(yield* conn.recvall(3, { timeout: 5000 }));
              yield* sleep(50);
              conn.close();
            }
          });
          const sess = `${c.dir}/sess-${engine}-${cell.poller}.pem`;
          const base = ['-CAfile', 'ca.pem', '-servername', 'localhost'];
          const first = (yield opensslClient(port, [...base, '-sess_out', sess], 'one')) as { out: string };
          const second = (yield opensslClient(port, [...base, '-sess_in', sess], 'two')) as { out: string };
          yield* serve.finish(5000);
          l.close();
          expect(first.out).to.contain('one');
          expect(second.out).to.contain('two');
          expect(second.out).to.match(/^Reused, TLSv1\.3/m);
          expect(reused).to.deep.equal([false, true]);
        });
      });
    } else {
      it("Node's tls fallback is refused under an exclusive scheduler, with a typed error", async () => {
        const err = await runCoro(t.sched, function* () {
          const s = AsyncSocket.tcp({ family: 4 });
          const e = yield* thrown(() => s.startTls({ engine: 'node' }));
          s.close();
          return e;
        });
        expect(err).to.be.instanceOf(TlsUnavailableError);
      });
    }
  });
}
