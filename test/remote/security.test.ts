/**
 * What a hostile or mistaken client meets: a wrong secret, a replayed handshake, bytes that are
 * not the protocol, fuzzed and oversized frames after a genuine handshake, forged discovery
 * datagrams. Each closes its own connection only, is counted, and the peer keeps serving.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { createHmac, randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { connect, type Socket } from 'node:net';
import { Packr } from 'msgpackr';
import { Coro, self } from '../../lib/core/coro.js';
import { receive } from '../../lib/msg/mailbox.js';
import { joinNetwork, PeerStatus, peerStatus, type Network, type NetworkOptions, type NetworkStatistics } from '../../lib/remote/network.js';
import type { RemoteCoro } from '../../lib/remote/refs.js';
import { closeSchedulers, makeScheduler, runCoro } from '../helpers/coro.js';
import { freeUdpPort, startPeer, stopPeers, type PeerProcess } from '../helpers/peers.js';

const SECRET = 'security-test-secret';
const packr = new Packr({ useRecords: true, moreTypes: true });

/** A client speaking the wire protocol by hand, with Node's own sockets. */
class RawClient {
  private buf = Buffer.alloc(0);
  private wake: (() => void) | undefined;
  ended = false;
  readonly sent: Buffer[] = [];
  private constructor(readonly sock: Socket) {
    sock.on('data', (d) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.wake?.();
    });
    const end = (): void => {
      this.ended = true;
      this.wake?.();
    };
    sock.on('end', end);
    sock.on('close', end);
    sock.on('error', end);
  }
  static open(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = connect(port, '127.0.0.1', () => resolve(new RawClient(s)));
      s.once('error', reject);
    });
  }
  write(b: Buffer): void {
    this.sent.push(b);
    this.sock.write(b);
  }
  /** `n` bytes, or null if the connection ended first (or nothing came within `ms`). */
  async read(n: number, ms = 5000): Promise<Buffer | null> {
    const end = Date.now() + ms;
    while (this.buf.length < n) {
      if (this.ended || Date.now() > end) return null;
      await new Promise<void>((r) => {
        this.wake = r;
        setTimeout(r, 50);
      });
    }
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }
  /** Resolves true when the peer closes the connection within `ms`. */
  async closedWithin(ms: number): Promise<boolean> {
    const end = Date.now() + ms;
    while (!this.ended && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    return this.ended;
  }
  close(): void {
    this.sock.destroy();
  }
}

function frame(body: Buffer): Buffer {
  const h = Buffer.alloc(4);
  h.writeUInt32BE(body.length);
  return Buffer.concat([h, body]);
}

/** The client half of the handshake done by hand; returns the decoded answer, or null if refused. */
async function handshake(c: RawClient, secret: string): Promise<unknown[] | null> {
  const nc = randomBytes(32);
  c.write(Buffer.concat([Buffer.from('ACRO'), Buffer.of(1), nc]));
  const b = await c.read(69);
  if (b === null) return null;
  const ns = b.subarray(5, 37);
  const proof = createHmac('sha256', secret).update('C').update(nc).update(ns).digest();
  c.write(Buffer.concat([proof, frame(packr.pack([1, 'mallory', '127.0.0.1', 1, randomBytes(8).toString('hex')]))]));
  const h = await c.read(4);
  if (h === null) return null;
  const a = await c.read(h.readUInt32BE(0));
  return a === null ? null : (packr.unpack(a) as unknown[]);
}

function withNetwork<R>(options: NetworkOptions, body: (net: Network) => Generator<unknown, R, unknown>): Promise<R> {
  const { sched } = makeScheduler();
  return runCoro(sched, function* () {
    const net = yield* joinNetwork({ secret: SECRET, log: () => {}, ...options });
    try {
      return yield* body(net);
    } finally {
      net.closeNow();
    }
  });
}

/** The peer's counters, asked over a genuine connection (which also shows it still serves). */
function* statsOf(b: PeerProcess): Generator<unknown, NetworkStatistics, unknown> {
  const stats = (yield* Coro.locate('stats', { location: `127.0.0.1:${b.port}`, timeout: 5000 })) as RemoteCoro;
  stats.send([self()]);
  const m = (yield* receive((x): x is ['stats', NetworkStatistics] => Array.isArray(x) && x[0] === 'stats', 5000, null)) as ['stats', NetworkStatistics] | null;
  if (m === null) throw new Error('no statistics from the peer');
  return m[1];
}

describe('remote/security', function () {
  this.timeout(90000);
  afterEach(async () => {
    closeSchedulers();
    await stopPeers();
  });

  it('a node with the wrong secret is refused and logged on both sides, and never comes online', async () => {
    const b = await startPeer({ name: 'b', secret: SECRET, discover: false });
    const logs: string[] = [];
    const online = await withNetwork({ name: 'a', secret: 'not-the-secret', discover: false, peers: [`127.0.0.1:${b.port}`], log: (l) => logs.push(l) }, function* () {
      peerStatus(self());
      return yield* receive((m): m is PeerStatus => m instanceof PeerStatus, 1500, null);
    });
    expect(online).to.equal(null);
    await b.waitFor(/refused connection from 127\.0\.0\.1:\d+: .*wrong secret/, 5000, 'err');
    expect(logs.some((l) => /refused peer 127\.0\.0\.1:\d+: the peer does not know the secret/.test(l))).to.equal(true, logs.join('\n'));
  });

  it('a recorded handshake replayed on a new connection is refused (fresh nonces)', async () => {
    const b = await startPeer({ name: 'b', secret: SECRET, discover: false });
    const first = await RawClient.open(b.port);
    const answer = await handshake(first, SECRET);
    expect(answer?.[0]).to.equal(1);
    expect(answer?.[1]).to.equal('b');
    const replay = await RawClient.open(b.port);
    replay.write(first.sent[0]!);
    const challenge = await replay.read(69);
    expect(challenge).to.not.equal(null);
    replay.write(first.sent[1]!);
    expect(await replay.read(4, 2000)).to.equal(null);
    expect(await replay.closedWithin(2000)).to.equal(true);
    await b.waitFor(/refused connection from .*: wrong secret/, 5000, 'err');
    first.close();
    replay.close();
  });

  it('bytes that are not the protocol are refused before anything is decoded', async () => {
    const b = await startPeer({ name: 'b', secret: SECRET, discover: false });
    const c = await RawClient.open(b.port);
    // A MessagePack value where the handshake should be: never decoded.
    c.write(packr.pack({ evil: 'x'.repeat(100) }));
    expect(await c.closedWithin(5000)).to.equal(true);
    await b.waitFor(/refused connection from .*: not an asyncoro peer/, 5000, 'err');
    const stats = await withNetwork({ name: 'a', discover: false, peers: [`127.0.0.1:${b.port}`] }, function* () {
      return yield* statsOf(b);
    });
    expect(stats.authFailures).to.equal(1);
  });

  it('fuzzed frames after a genuine handshake close that connection only; the peer keeps serving others', async () => {
    const b = await startPeer({ name: 'b', secret: SECRET, discover: false });
    let closed = 0;
    let runs = 0;
    const frames = fc.oneof(
      // Random bytes: a header that is usually too large, or garbage MessagePack.
      fc.uint8Array({ minLength: 1, maxLength: 64 }).map((u) => Buffer.from(u)),
      // A well-framed body of random bytes.
      fc.uint8Array({ minLength: 1, maxLength: 256 }).map((u) => frame(Buffer.from(u))),
      // Well-formed MessagePack of any shape, as a frame: decodes, but is rarely a valid frame.
      fc
        .anything({ withMap: true, withSet: true, withDate: true, withBigInt: true, withTypedArray: true })
        // [21] is a genuine goodbye (and [0] a ping): a close that is not a refusal.
        .filter((v) => !(Array.isArray(v) && v.length === 1 && (v[0] === 21 || v[0] === 0)))
        .map((v) => frame(packr.pack(v))),
      // Frame types with fields of the wrong kind.
      fc.tuple(fc.integer({ min: 0, max: 30 }), fc.anything()).map(([t, v]) => frame(packr.pack([t, v, v, v]))),
    );
    await fc.assert(
      fc.asyncProperty(frames, async (bytes) => {
        runs++;
        const c = await RawClient.open(b.port);
        try {
          const a = await handshake(c, SECRET);
          if (a === null) return false;
          c.write(bytes);
          if (await c.closedWithin(300)) closed++;
          return true;
        } finally {
          c.close();
        }
      }),
      { numRuns: 60 },
    );
    // Still serving, and every connection it closed is counted.
    const stats = await withNetwork({ name: 'a', discover: false, peers: [`127.0.0.1:${b.port}`] }, function* () {
      const echo = (yield* Coro.locate('echo', { location: `127.0.0.1:${b.port}`, timeout: 5000 })) as RemoteCoro;
      expect(yield* echo.deliver([self(), 'still here'], 5000)).to.equal(1);
      expect(yield* receive(5000, null)).to.deep.equal(['echo', 'still here']);
      return yield* statsOf(b);
    });
    expect(runs).to.equal(60);
    expect(closed).to.be.greaterThan(30);
    // Every close the clients saw within their 300 ms window was a counted refusal (a refusal
    // slower than the window on a loaded machine is counted but not seen).
    expect(stats.malformedFrames + stats.oversizedFrames).to.be.within(closed, runs);
    expect(b.proc.exitCode).to.equal(null);
  });

  it('an oversized frame closes the connection at its header, without reading the body', async () => {
    const b = await startPeer({ name: 'b', secret: SECRET, discover: false, maxFrameSize: 65536 });
    const c = await RawClient.open(b.port);
    expect((await handshake(c, SECRET))?.[0]).to.equal(1);
    const h = Buffer.alloc(4);
    h.writeUInt32BE(65537);
    c.write(h);
    expect(await c.closedWithin(3000)).to.equal(true);
    c.close();
    await b.waitFor(/closed the connection to mallory .*: it sent a frame of 65537 bytes \(the limit is 65536\)/, 5000, 'err');
    const stats = await withNetwork({ name: 'a', discover: false, peers: [`127.0.0.1:${b.port}`] }, function* () {
      return yield* statsOf(b);
    });
    expect(stats.oversizedFrames).to.equal(1);
  });

  it('discovery datagrams not signed with the secret are dropped and counted; they make no peer dial', async () => {
    const udpPort = freeUdpPort();
    const b = await startPeer({ name: 'b', secret: SECRET, udpPort, discover: { interval: 60000 } });
    const s = createSocket('udp4');
    // A well-formed announcement of a listener here, signed with the wrong key.
    const body = Buffer.concat([Buffer.from('ACRP'), Buffer.of(1, 1, 0x30, 0x39), randomBytes(8), Buffer.of(1), Buffer.from('m'), Buffer.of(9), Buffer.from('127.0.0.1')]);
    const forged = Buffer.concat([body, createHmac('sha256', 'wrong').update('D').update(body).digest()]);
    await new Promise<void>((r) => s.send(forged, udpPort, '127.0.0.1', () => r()));
    await new Promise<void>((r) => s.send(Buffer.from('garbage'), udpPort, '127.0.0.1', () => r()));
    s.close();
    await new Promise((r) => setTimeout(r, 300));
    const stats = await withNetwork({ name: 'a', discover: false, peers: [`127.0.0.1:${b.port}`] }, function* () {
      return yield* statsOf(b);
    });
    expect(stats.badDatagrams).to.equal(2);
    expect(b.err).to.not.match(/127\.0\.0\.1:12345/);
  });
});
