/**
 * Monitoring across processes: `yield* self().monitor(remoteCoro)` gives the monitor a
 * MonitorStatus when the coroutine ends on its peer (its value, or its error as a RemoteError),
 * a coroutine on a peer can be the monitor of a local one (the status travels as a
 * MonitorStatus), and a peer killed with SIGKILL makes every monitor of a coroutine there
 * hear of it with a PeerLostError.
 */
import { expect } from 'chai';
import { Coro, self, sleep, spawn } from '../../lib/core/coro.js';
import { receive } from '../../lib/msg/mailbox.js';
import { Channel } from '../../lib/msg/channel.js';
import { joinNetwork } from '../../lib/remote/network.js';
import { RCI } from '../../lib/remote/rci.js';
import { RemoteCoro } from '../../lib/remote/refs.js';
import { PeerLostError, RemoteError } from '../../lib/remote/errors.js';
import { MonitorStatus } from '../../lib/supervise/monitor.js';
import { closeSchedulers, makeScheduler, runCoro } from '../helpers/coro.js';
import { startPeer, stopPeers } from '../helpers/peers.js';

const SECRET = 'monitor-test-secret';
const isStatus = (m: unknown): m is MonitorStatus => m instanceof MonitorStatus;

describe('remote/monitor', function () {
  this.timeout(60000);
  afterEach(async () => {
    closeSchedulers();
    await stopPeers();
  });

  it("a remote coroutine's normal end, error and termination reach its monitors as MonitorStatus messages", async () => {
    const b = await startPeer({ name: 'b', secret: SECRET, discover: false });
    const { sched } = makeScheduler();
    const r = await runCoro(sched, function* () {
      const net = yield* joinNetwork({ name: 'a', secret: SECRET, discover: false, log: () => {} });
      try {
        const loc = `127.0.0.1:${b.port}`;
        const job = yield* RCI.locate('job', { location: loc, timeout: 5000 });
        const forever = yield* RCI.locate('forever', { location: loc, timeout: 5000 });
        const ok = yield* job.call();
        const bad = yield* job.call();
        const long = yield* forever.call();
        for (const rc of [ok, bad, long]) expect(yield* self().monitor(rc)).to.equal(true);
        expect(yield* self().monitor(ok)).to.equal(false);
        // A channel can monitor a remote coroutine too: its subscribers get the status.
        const exits = new Channel('exits');
        const listener = spawn(function* () {
          exits.subscribe(self());
          return yield* receive(isStatus, 10000);
        });
        yield* sleep(1);
        expect(yield* ok.notify(exits)).to.equal(true);
        ok.send(['return', { answer: 42, at: new Date(0) }]);
        bad.send(['throw', 'watched failure']);
        long.terminate();
        const got = new Map<unknown, MonitorStatus>();
        for (let i = 0; i < 3; i++) {
          const st = (yield* receive(isStatus, 10000))!;
          got.set(st.coro, st);
        }
        return { ok, bad, long, got, viaChannel: (yield* listener.finish()) as MonitorStatus };
      } finally {
        net.closeNow();
      }
    });
    const ok = r.got.get(r.ok)!;
    const bad = r.got.get(r.bad)!;
    const long = r.got.get(r.long)!;
    // The status's coro is the very proxy the monitor holds, known to have ended.
    for (const [st, rc] of [[ok, r.ok], [bad, r.bad], [long, r.long]] as const) {
      expect(st.coro).to.equal(rc);
      expect(st.coro).to.be.instanceOf(RemoteCoro);
      expect(st.coro.isAlive).to.equal(false);
      expect(st.restartable).to.equal(false);
    }
    expect(ok.kind).to.equal('normal');
    expect(ok.value).to.deep.equal({ answer: 42, at: new Date(0) });
    expect(ok.error).to.equal(undefined);
    expect(bad.kind).to.equal('error');
    expect(bad.error).to.be.instanceOf(RemoteError);
    expect((bad.error as RemoteError).remoteName).to.equal('RangeError');
    expect((bad.error as RemoteError).message).to.equal('watched failure');
    expect((bad.error as RemoteError).location).to.equal(`127.0.0.1:${b.port}`);
    expect(long.kind).to.equal('terminated');
    expect((long.error as RemoteError).remoteName).to.equal('CoroExit');
    expect(r.viaChannel.coro).to.equal(r.ok);
    expect(r.viaChannel.kind).to.equal('normal');
  });

  it('a remote coroutine restarted in place on its peer stays monitored and takes messages again, as a local one would', async () => {
    const b = await startPeer({ name: 'b', secret: SECRET, discover: false });
    const { sched } = makeScheduler();
    const r = await runCoro(sched, function* () {
      const net = yield* joinNetwork({ name: 'a', secret: SECRET, discover: false, log: () => {} });
      try {
        const phoenix = yield* RCI.locate('phoenix', { location: `127.0.0.1:${b.port}`, timeout: 5000 });
        const rc = yield* phoenix.call();
        expect(yield* self().monitor(rc)).to.equal(true);
        const seen: { kind: string; error: unknown; value: unknown; sameProxy: boolean; aliveAfter: boolean }[] = [];
        for (const m of ['crash', 'crash', 'bye']) {
          rc.send(m);
          const st = (yield* receive(isStatus, 10000))!;
          // The peer restarts it in place after an error, and says so: the proxy lives again.
          if (st.kind === 'error') for (let i = 0; i < 200 && !rc.isAlive; i++) yield* sleep(5);
          seen.push({ kind: st.kind, error: st.error, value: st.value, sameProxy: st.coro === rc, aliveAfter: rc.isAlive });
        }
        // Ended normally, so not restarted: monitoring it again reports that end at once (its
        // peer still knows it for a few seconds).
        const again = (yield* self().monitor(rc), (yield* receive(isStatus, 5000))!);
        return { seen, again, rc };
      } finally {
        net.closeNow();
      }
    });
    expect(r.seen.map((s) => [s.kind, s.sameProxy, s.aliveAfter])).to.deep.equal([
      ['error', true, true],
      ['error', true, true],
      ['normal', true, false],
    ]);
    expect((r.seen[0]!.error as RemoteError).message).to.equal('crashed');
    expect(r.seen[2]!.value).to.equal('bye');
    expect(r.again.coro).to.equal(r.rc);
    expect(r.again.kind).to.equal('normal');
    expect(r.again.value).to.equal('bye');
  });

  it('a coroutine on a peer can monitor a local one: the status travels to it as a MonitorStatus', async () => {
    const b = await startPeer({ name: 'b', secret: SECRET, discover: false });
    const { sched } = makeScheduler();
    const r = await runCoro(sched, function* () {
      const net = yield* joinNetwork({ name: 'a', secret: SECRET, discover: false, log: () => {} });
      try {
        const listen = yield* RCI.locate('listen', { location: `127.0.0.1:${b.port}`, timeout: 5000 });
        const heard: unknown[] = [];
        const workers: Coro[] = [];
        for (const end of ['value', 'error'] as const) {
          const worker = spawn(function* () {
            const m = yield* receive();
            if (end === 'error') throw new TypeError(`bad ${String(m)}`);
            return new Map([['m', m]]);
          });
          workers.push(worker);
          const l = yield* listen.call(self());
          expect(worker.notify(l)).to.equal(true);
          worker.send(7);
          const [, what] = (yield* receive((m): m is ['heard', unknown] => Array.isArray(m) && m[0] === 'heard', 10000))!;
          heard.push(what);
        }
        return { heard, ids: workers.map((w) => w.id), location: net.location };
      } finally {
        net.closeNow();
      }
    });
    expect(r.heard).to.deep.equal([
      { kind: 'normal', value: new Map([['m', 7]]), error: null, remote: true, id: r.ids[0], location: r.location },
      { kind: 'error', value: undefined, error: ['TypeError', 'bad 7', r.location], remote: true, id: r.ids[1], location: r.location },
    ]);
  });

  it('a peer killed with SIGKILL is reported to every monitor of a coroutine there, and to a monitor added after', async () => {
    const b = await startPeer({ name: 'b', secret: SECRET, discover: false, killAfter: 1 });
    const { sched } = makeScheduler();
    const r = await runCoro(sched, function* () {
      const net = yield* joinNetwork({ name: 'a', secret: SECRET, discover: false, log: () => {} });
      try {
        const loc = `127.0.0.1:${b.port}`;
        const forever = yield* RCI.locate('forever', { location: loc, timeout: 5000 });
        const f1 = yield* forever.call();
        const f2 = yield* forever.call();
        expect(yield* self().monitor(f1)).to.equal(true);
        expect(yield* self().monitor(f2)).to.equal(true);
        // A second monitor of f1, in another coroutine.
        const other = spawn(function* () {
          yield* self().monitor(f1);
          return yield* receive(isStatus, 10000);
        });
        yield* sleep(50);
        // A message to 'sink' makes the peer kill itself.
        const sink = yield* Coro.locate('sink', { location: loc, timeout: 5000 });
        sink!.send('die');
        const lost = [(yield* receive(isStatus, 10000))!, (yield* receive(isStatus, 10000))!];
        const late = spawn(function* () {
          expect(yield* self().monitor(f2)).to.equal(true);
          return yield* receive(isStatus, 1000);
        });
        return { lost, other: (yield* other.finish()) as MonitorStatus, late: (yield* late.finish()) as MonitorStatus, f1, f2 };
      } finally {
        net.closeNow();
      }
    });
    expect(new Set(r.lost.map((s) => s.coro))).to.deep.equal(new Set([r.f1, r.f2]));
    for (const st of [...r.lost, r.other, r.late]) {
      expect(st.kind).to.equal('error');
      expect(st.error).to.be.instanceOf(PeerLostError);
      expect((st.error as PeerLostError).location).to.equal(`127.0.0.1:${b.port}`);
    }
    expect(r.other.coro).to.equal(r.f1);
    expect(r.late.coro).to.equal(r.f2);
  });
});
