/**
 * joinNetwork in one process: options checked at the call (tls among them), one network per
 * scheduler, a discovery that cannot start, the multicast group joined and left, operations
 * without a network, and the frame decoder against random bytes.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { Coro, self } from '../../lib/core/coro.js';
import { CoroStateError, SystemError } from '../../lib/core/errors.js';
import { Channel } from '../../lib/msg/channel.js';
import { joinNetwork, networkOf, peerStatus, type NetworkOptions } from '../../lib/remote/network.js';
import { decodeFrame, isBadFrame } from '../../lib/remote/codec.js';
import { NoNetworkError, TlsUnavailableError } from '../../lib/remote/errors.js';
import { sendFile } from '../../lib/remote/files.js';
import { AsyncSocket } from '../../lib/io/socket.js';
import { closeSchedulers, makeScheduler, runCoro } from '../helpers/coro.js';
import { group4, loopback } from '../helpers/multicast.js';
import { freeUdpPort } from '../helpers/peers.js';
import { certs } from '../helpers/tls.js';
import { createSecureContext, type SecureContext } from '../../lib/io/tls.js';
import { TlsError } from '../../lib/io/errors.js';

function joinError(options: NetworkOptions): Promise<unknown> {
  const { sched } = makeScheduler();
  return runCoro(sched, function* () {
    try {
      const net = yield* joinNetwork(options);
      net.closeNow();
      return null;
    } catch (e) {
      return e;
    }
  });
}

describe('remote/network', () => {
  afterEach(() => closeSchedulers());

  it('checks its options at the call', async () => {
    expect(await joinError({ discover: false })).to.be.instanceOf(TypeError);
    expect(await joinError({ secret: '', discover: false })).to.be.instanceOf(TypeError);
    expect(await joinError({ secret: 's', tcpPort: 70000, discover: false })).to.be.instanceOf(RangeError);
    expect(await joinError({ secret: 's', heartbeat: -1, discover: false })).to.be.instanceOf(RangeError);
    expect(await joinError({ secret: 's', peers: ['no-port'], discover: false })).to.be.instanceOf(TypeError);
    expect(await joinError({ secret: 's', discover: { broadcast: 'x' } })).to.be.instanceOf(TypeError);
    expect(await joinError({ secret: 's', maxFrameSize: 10, discover: false })).to.be.instanceOf(RangeError);
  });

  it('checks the multicast discovery options at the call', async () => {
    const bad: [NetworkOptions['discover'], new (...a: never[]) => Error][] = [
      [{ multicast: 'not-a-group' }, TypeError],
      [{ multicast: 239 as never }, TypeError],
      [{ multicast: 'example.com' }, TypeError],
      [{ multicast: '10.1.2.3' }, RangeError],
      [{ multicast: 'fd00::1' }, RangeError],
      [{ multicast: '239.1.2.3', broadcast: '127.255.255.255' }, TypeError],
      [{ multicast: '239.1.2.3', ttl: 256 }, RangeError],
      [{ multicast: '239.1.2.3', ttl: -1 }, RangeError],
      [{ multicast: '239.1.2.3', ttl: 1.5 }, RangeError],
      [{ multicast: '239.1.2.3', ttl: '2' as never }, RangeError],
      [{ ttl: 2 }, TypeError],
      [{ multicast: '239.1.2.3', interval: 0 }, RangeError],
    ];
    for (const [discover, type] of bad) expect(await joinError({ secret: 's', discover }), JSON.stringify(discover)).to.be.instanceOf(type);
  });

  it('a discovery that cannot start fails joinNetwork with the system error and leaves nothing joined', async () => {
    const { sched } = makeScheduler();
    const r = await runCoro(sched, function* () {
      // The discovery port, taken by a socket that does not share it.
      const holder = AsyncSocket.udp({ family: 4 });
      yield* holder.bind({ host: '0.0.0.0', port: 0 });
      const udpPort = (holder.localAddress as { port: number }).port;
      let err: unknown;
      try {
        yield* joinNetwork({ secret: 's', udpPort, discover: { multicast: group4() }, log: () => {} });
      } catch (e) {
        err = e;
      }
      const left = networkOf();
      holder.close();
      const net = yield* joinNetwork({ secret: 's', udpPort, discover: { multicast: group4() }, log: () => {} });
      net.closeNow();
      return { err, left };
    });
    expect(r.err).to.be.instanceOf(SystemError);
    expect((r.err as SystemError).code).to.equal('EADDRINUSE');
    expect(r.left).to.equal(undefined);
  });

  // /proc/net/igmp lists each interface's IPv4 groups (Linux).
  (existsSync('/proc/net/igmp') ? it : it.skip)('multicast discovery joins its group on the interface of host; leaving the network leaves the group', async () => {
    /** The groups joined on each interface, as dotted quads. */
    const joined = (): Map<string, string[]> => {
      const out = new Map<string, string[]>();
      let dev = '';
      for (const line of readFileSync('/proc/net/igmp', 'utf8').split('\n').slice(1)) {
        const head = /^\d+\s+(\S+)\s*:/.exec(line);
        if (head !== null) {
          dev = head[1]!;
          out.set(dev, []);
        } else if (/^\s+[0-9A-F]{8}\s/.test(line)) {
          // The group's bytes in memory order, printed as a little-endian number.
          const hex = line.trim().slice(0, 8);
          const bytes = [6, 4, 2, 0].map((i) => parseInt(hex.slice(i, i + 2), 16));
          out.get(dev)!.push(os.endianness() === 'LE' ? bytes.join('.') : bytes.reverse().join('.'));
        }
      }
      return out;
    };
    const group = group4();
    const { sched } = makeScheduler();
    const r = await runCoro(sched, function* () {
      const net = yield* joinNetwork({ secret: 's', udpPort: freeUdpPort(), discover: { multicast: group, interval: 100 }, log: () => {} });
      const during = joined().get(loopback.name) ?? [];
      yield* net.close();
      return { during, after: joined().get(loopback.name) ?? [] };
    });
    expect(r.during).to.include(group);
    expect(r.after).to.not.include(group);
  });

  it('checks tls at the call: a context that cannot serve, bad PEM, and options peers cannot change', async () => {
    const c = certs();
    const good = { key: c.peerKey, cert: c.peer, ca: c.ca };
    // Nothing to present: every peer both dials and accepts.
    expect(await joinError({ tls: { ca: c.ca }, discover: false })).to.be.instanceOf(TypeError);
    expect(await joinError({ tls: { cert: c.peer }, discover: false })).to.be.instanceOf(TypeError);
    const bad = await joinError({ tls: { key: c.peerKey, cert: 'not a certificate' }, discover: false });
    expect(bad).to.be.instanceOf(TlsError);
    expect((bad as TlsError).code).to.equal('ERR_TLS_CONTEXT');
    const mismatch = await joinError({ tls: { key: c.clientKey, cert: c.peer }, discover: false });
    expect(mismatch).to.be.instanceOf(TlsError);
    for (const extra of [{ rejectUnauthorized: false }, { requestCert: false }, { isServer: true }]) {
      expect(await joinError({ tls: { ...good, ...extra } as NetworkOptions['tls'], discover: false })).to.be.instanceOf(TypeError);
    }
    expect(await joinError({ tls: { ...good, handshakeTimeout: 0 }, discover: false })).to.be.instanceOf(RangeError);
    expect(await joinError({ tls: { ...good, servername: '' }, discover: false })).to.be.instanceOf(TypeError);
    expect(await joinError({ tls: { ...good, secureContext: {} as SecureContext }, discover: false })).to.be.instanceOf(TypeError);
    // A context made once is taken as it is.
    expect(await joinError({ tls: { secureContext: createSecureContext(good) }, discover: false, log: () => {} })).to.equal(null);
    expect(await joinError({ tls: good, discover: false, log: () => {} })).to.equal(null);
  });

  it("Node's tls engine is refused under an exclusive scheduler, where Node's loop does not run", async () => {
    const c = certs();
    const { sched } = makeScheduler({ mode: 'exclusive' });
    const e = await runCoro(sched, function* () {
      try {
        (yield* joinNetwork({ tls: { key: c.peerKey, cert: c.peer, ca: c.ca, engine: 'node' }, discover: false })).closeNow();
        return null;
      } catch (err) {
        return err;
      }
    });
    expect(e).to.be.instanceOf(TlsUnavailableError);
    expect((e as TlsUnavailableError).code).to.equal('ERR_TLS_UNAVAILABLE');
  });

  it('one network per scheduler; networkOf finds it; close lets the scheduler join again', async () => {
    const { sched } = makeScheduler();
    const r = await runCoro(sched, function* () {
      const net = yield* joinNetwork({ secret: 's', discover: false, log: () => {} });
      let again: unknown;
      try {
        yield* joinNetwork({ secret: 's', discover: false });
      } catch (e) {
        again = e;
      }
      const found = networkOf() === net;
      yield* net.close();
      const gone = networkOf() === undefined;
      const second = yield* joinNetwork({ secret: 's', discover: false, log: () => {} });
      second.closeNow();
      return { again, found, gone, port: net.port, incarnations: [net.incarnation, second.incarnation] };
    });
    expect(r.again).to.be.instanceOf(CoroStateError);
    expect((r.again as CoroStateError).code).to.equal('ERR_JOINED');
    expect(r.found).to.equal(true);
    expect(r.gone).to.equal(true);
    expect(r.port).to.be.greaterThan(0);
    expect(r.incarnations[0]).to.match(/^[0-9a-f]{16}$/);
    expect(r.incarnations[0]).to.not.equal(r.incarnations[1]);
  });

  it('without a network: peerStatus and sendFile throw NoNetworkError; locate finds local things only', async () => {
    const { sched } = makeScheduler();
    const r = await runCoro(sched, function* () {
      const errs: unknown[] = [];
      try {
        peerStatus(self());
      } catch (e) {
        errs.push(e);
      }
      try {
        yield* sendFile('127.0.0.1:1', '/etc/hostname');
      } catch (e) {
        errs.push(e);
      }
      self().register('here');
      const ch = new Channel('here-too').register();
      const local = yield* Coro.locate('here', { timeout: 10 });
      const localCh = yield* Channel.locate('here-too', {});
      const none = yield* Coro.locate('nowhere', {});
      try {
        yield* Coro.locate('x', { location: '127.0.0.1:1' });
      } catch (e) {
        errs.push(e);
      }
      ch.close();
      return { errs, local: local === self(), localCh: localCh === ch, none };
    });
    expect(r.errs.map((e) => (e as NoNetworkError).code)).to.deep.equal(['ERR_NO_NETWORK', 'ERR_NO_NETWORK', 'ERR_NO_NETWORK']);
    expect(r.local).to.equal(true);
    expect(r.localCh).to.equal(true);
    expect(r.none).to.equal(undefined);
  });

  it('the frame decoder turns any bytes into a frame array or a refusal, never anything else', async () => {
    const { sched } = makeScheduler();
    await runCoro(sched, function* () {
      const net = yield* joinNetwork({ secret: 's', discover: false, log: () => {} });
      try {
        fc.assert(
          fc.property(fc.uint8Array({ maxLength: 200 }), (u) => {
            const b = Buffer.from(u);
            try {
              const v = decodeFrame(net, b, 0, b.length);
              return Array.isArray(v) && typeof v[0] === 'number';
            } catch (e) {
              return e instanceof Error || isBadFrame(e);
            }
          }),
          { numRuns: 5000 },
        );
      } finally {
        net.closeNow();
      }
    });
  });
});
