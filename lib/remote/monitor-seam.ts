/**
 * The seam between the peers layer and the monitors layer (lib/supervise/monitor.ts).
 *
 * The peers layer carries monitoring across the network:
 * - `yield* self().monitor(remoteCoro)` calls `remoteCoro.notify(self())`, which records the
 *   monitor on this side (for peer loss) and sends `[MONITOR, req, id, monitorRef]` to the peer;
 * - there the network calls {@link RemoteMonitorHooks.notify} to add a relay as a monitor of the
 *   local coroutine; when the coroutine ends, the monitors layer sends its `MonitorStatus` to the
 *   relay, which takes it apart with {@link RemoteMonitorHooks.unpack} and sends
 *   `[STATUS, id, kind, valueOrError, monitorRef]` back;
 * - this side makes the `MonitorStatus` again with {@link RemoteMonitorHooks.status} (its `coro`
 *   is the proxy), marks the proxy ended, and sends the status to the monitor;
 * - if a monitor on the coroutine's node restarts it in place, the relay (still a monitor) sends
 *   `[RESTARTED, id, monitorRef]`: the proxy is alive again and the monitor keeps watching, as
 *   local monitors stay across restarts;
 * - when a peer is lost (its connection fails and does not come back, it is killed, it shuts
 *   down), every monitor of a coroutine there receives `status(proxy, 'error', PeerLostError)`.
 *
 * The monitors layer installs the hooks with {@link setRemoteMonitorHooks} when it loads, and
 * lib/core/coro.ts imports it, so they are in place before any network exists. This module
 * imports no value of lib/core/coro.ts or lib/supervise, so it can load in any order between them.
 *
 * @module
 * @internal
 */
import { AsyncoroError } from '../core/errors.js';
import type { Coro } from '../core/coro.js';
import type { Op } from '../core/op.js';
import type { ExitKind, MonitorTarget } from '../supervise/monitor.js';
import { PeerLostError } from './errors.js';
import type { RemoteCoro } from './refs.js';
import { F } from './wire.js';

export type { MonitorTarget };

/** What the monitors layer provides to the peers layer. */
export interface RemoteMonitorHooks {
  /** Adds `target` as a monitor of the local coroutine `c` (`c.notify(target)`). */
  notify(c: Coro, target: MonitorTarget): boolean;
  /** The message a monitor of the remote coroutine `coro` receives when it ends (or its peer is lost). */
  status(coro: RemoteCoro, kind: ExitKind, valueOrError: unknown): unknown;
  /** Takes apart a status message sent to a relay: its kind and its value or error. */
  unpack(status: unknown): [ExitKind, unknown];
}

let hooks: RemoteMonitorHooks | undefined;

/** Installs the monitors layer's hooks (called once, by lib/supervise/monitor.ts when it loads). */
export function setRemoteMonitorHooks(h: RemoteMonitorHooks): void {
  hooks = h;
}

/** The hooks. */
export function remoteMonitorHooks(): RemoteMonitorHooks {
  // Not reachable through the public API: every path to a network loads lib/core/coro.ts, which
  // loads the monitors layer. Said plainly in case a future import order breaks that.
  if (hooks === undefined) throw new AsyncoroError('the monitors layer (lib/supervise/monitor.ts) has not loaded', 'ERR_MONITOR_UNAVAILABLE');
  return hooks;
}

/** `remote.notify(monitor)`: see the module description. */
export function* monitorRemote(remote: RemoteCoro, monitor: MonitorTarget): Generator<unknown, boolean, unknown> {
  if (monitor === null || typeof monitor !== 'object' || typeof monitor.send !== 'function') {
    throw new TypeError('a monitor is a Coro, a Channel, or has send(msg) and isAlive');
  }
  const h = remoteMonitorHooks();
  if (!monitor.isAlive) return false;
  if (!remote._peer.reachable) {
    // Its peer is offline: the monitor hears of it at once, as of a local coroutine that ended.
    // (One known to have ended is asked about all the same: its peer still knows how it ended
    // for a while, or that it may be restarted, and answers with that.)
    monitor.send(h.status(remote, 'error', new PeerLostError(String(remote), remote.location)));
    return true;
  }
  if (!remote._peer.watch(remote.id, monitor)) return false;
  try {
    return (yield* remote._peer.request([F.MONITOR, 0, remote.id, monitor], undefined, `monitor ${String(remote)}`) as Op<boolean>) === true;
  } catch (e) {
    remote._peer.unwatch(remote.id, monitor);
    throw e;
  }
}
