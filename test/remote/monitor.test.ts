/**
 * The peers layer's half of monitoring across processes, through lib/remote/monitor-seam.ts with
 * a stand-in for the monitors layer (issue 6 installs the real one): a remote coroutine's end
 * reaches its monitor here, and a peer killed with SIGKILL makes every monitor of a coroutine
 * there hear of it.
 */
import { expect } from 'chai';
import { Coro, self } from '../../lib/core/coro.js';
import { receive } from '../../lib/msg/mailbox.js';
import { joinNetwork } from '../../lib/remote/network.js';
import { RCI } from '../../lib/remote/rci.js';
import { PeerLostError, RemoteError } from '../../lib/remote/errors.js';
import { setRemoteMonitorHooks } from '../../lib/remote/monitor-seam.js';
import { closeSchedulers, makeScheduler, runCoro } from '../helpers/coro.js';
import { startPeer, stopPeers } from '../helpers/peers.js';
import { installStandInMonitors, StandInStatus } from '../helpers/monitor-standin.js';

const SECRET = 'monitor-test-secret';

describe('remote/monitor seam', function () {
  this.timeout(60000);
  afterEach(async () => {
    closeSchedulers();
    await stopPeers();
  });

  it('without the monitors layer, monitoring a remote coroutine is a clear error', async () => {
    const b = await startPeer({ name: 'b', secret: SECRET, discover: false });
    const { sched } = makeScheduler();
    const err = await runCoro(sched, function* () {
      const net = yield* joinNetwork({ name: 'a', secret: SECRET, discover: false, log: () => {} });
      try {
        const square = yield* RCI.locate('square', { location: `127.0.0.1:${b.port}`, timeout: 5000 });
        const rc = yield* square.call(3);
        try {
          yield* rc.notify(self());
        } catch (e) {
          return e;
        }
        return null;
      } finally {
        net.closeNow();
      }
    });
    expect((err as { code?: string }).code).to.equal('ERR_MONITOR_UNAVAILABLE');
  });

  it('a remote end reaches the monitor; a peer killed with SIGKILL is reported to every monitor of a coroutine there', async () => {
    installStandInMonitors();
    try {
      const b = await startPeer({ name: 'b', secret: SECRET, discover: false, monitors: true, killAfter: 1 });
      const { sched } = makeScheduler();
      const r = await runCoro(sched, function* () {
        const net = yield* joinNetwork({ name: 'a', secret: SECRET, discover: false, log: () => {} });
        try {
          const loc = `127.0.0.1:${b.port}`;
          const fail = yield* RCI.locate('fail', { location: loc, timeout: 5000 });
          const fc = yield* fail.call('watched failure');
          expect(yield* fc.notify(self())).to.equal(true);
          const ended = (yield* receive((m): m is StandInStatus => m instanceof StandInStatus, 5000)) as StandInStatus;
          const forever = yield* RCI.locate('forever', { location: loc, timeout: 5000 });
          const f1 = yield* forever.call();
          const f2 = yield* forever.call();
          expect(yield* f1.notify(self())).to.equal(true);
          expect(yield* f2.notify(self())).to.equal(true);
          // A message to 'sink' makes the peer kill itself.
          const sink = yield* Coro.locate('sink', { location: loc, timeout: 5000 });
          sink!.send('die');
          const lost = [
            (yield* receive((m): m is StandInStatus => m instanceof StandInStatus, 10000)) as StandInStatus,
            (yield* receive((m): m is StandInStatus => m instanceof StandInStatus, 10000)) as StandInStatus,
          ];
          return { ended, lost, ids: [f1.id, f2.id] };
        } finally {
          net.closeNow();
        }
      });
      expect(r.ended.kind).to.equal('error');
      expect(r.ended.valueOrError).to.be.instanceOf(RemoteError);
      expect((r.ended.valueOrError as RemoteError).message).to.equal('watched failure');
      expect(r.lost.map((s) => s.kind)).to.deep.equal(['error', 'error']);
      expect(r.lost.every((s) => s.valueOrError instanceof PeerLostError)).to.equal(true);
      expect(r.lost.map((s) => (s.coro as { id: number }).id).sort()).to.deep.equal([...r.ids].sort());
    } finally {
      setRemoteMonitorHooks(undefined);
    }
  });
});
