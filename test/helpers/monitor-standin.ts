/**
 * A stand-in for the monitors layer (issue 6) behind lib/remote/monitor-seam.ts, so the peers
 * layer's half of remote monitoring (the MONITOR request, the STATUS frame, peer loss) is tested
 * before that layer is merged. It watches a local coroutine with `finish()` and reports with a
 * plain status object; the monitors layer installs the real hooks (MonitorStatus) instead.
 */
import { spawn, type Coro } from '../../lib/core/coro.js';
import { setRemoteMonitorHooks, type MonitorTarget, type RemoteExitKind } from '../../lib/remote/monitor-seam.js';
import { TerminatedError } from '../../lib/core/errors.js';

export class StandInStatus {
  constructor(
    readonly coro: unknown,
    readonly kind: RemoteExitKind,
    readonly valueOrError: unknown,
  ) {}
}

export function installStandInMonitors(): void {
  setRemoteMonitorHooks({
    notify(c: Coro, target: MonitorTarget): boolean {
      spawn(function* () {
        let st: StandInStatus;
        try {
          st = new StandInStatus(c, 'normal', yield* c.finish());
        } catch (e) {
          st = new StandInStatus(c, e instanceof TerminatedError ? 'terminated' : 'error', e);
        }
        if (target.isAlive) target.send(st);
      }).daemon = true;
      return true;
    },
    status: (coro, kind, v) => new StandInStatus(coro, kind, v),
    unpack: (st) => [(st as StandInStatus).kind, (st as StandInStatus).valueOrError],
  });
}
