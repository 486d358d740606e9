/**
 * The seam between the peers layer and the monitors layer (lib/supervise, issue 6).
 *
 * The peers layer carries monitoring across the network:
 * - `yield* self().monitor(remoteCoro)` calls `remoteCoro.notify(self())`, which records the
 *   monitor on this side (for peer loss) and sends `[MONITOR, req, id, monitorRef]` to the peer;
 * - there the network calls {@link RemoteMonitorHooks.notify} to add a relay as a monitor of the
 *   local coroutine; when the coroutine ends, the monitors layer sends its status to the relay,
 *   which takes it apart with {@link RemoteMonitorHooks.unpack} and sends
 *   `[STATUS, id, kind, valueOrError, monitorRef]` back;
 * - this side makes the status message again with {@link RemoteMonitorHooks.status} and sends it
 *   to the monitor;
 * - when a peer is lost (its connection fails and does not come back, it is killed, it shuts
 *   down), every monitor of a coroutine there receives `status(proxy, 'error', PeerLostError)`.
 *
 * The monitors layer installs the hooks with {@link setRemoteMonitorHooks} when it loads. Until
 * then, monitoring a remote coroutine throws `ERR_MONITOR_UNAVAILABLE`; the peer-loss detection
 * and the bookkeeping of who monitors what run regardless.
 *
 * @module
 * @internal
 */
import { AsyncoroError } from '../core/errors.js';
import type { Coro } from '../core/coro.js';
import type { Op } from '../core/op.js';
import type { RemoteCoro } from './refs.js';
import { F } from './wire.js';

/** How a coroutine ended, as the monitors layer says it. */
export type RemoteExitKind = 'normal' | 'error' | 'terminated';

/** A monitor: anything with `send` and `isAlive` (a coroutine, a channel, a proxy). */
export interface MonitorTarget {
  send(msg: unknown): void;
  readonly isAlive: boolean;
}

/** What the monitors layer provides to the peers layer. */
export interface RemoteMonitorHooks {
  /** Adds `target` as a monitor of the local coroutine `c` (`c.notify(target)`). */
  notify(c: Coro, target: MonitorTarget): boolean;
  /** The message a monitor of the remote coroutine `coro` receives when it ends (or its peer is lost). */
  status(coro: RemoteCoro, kind: RemoteExitKind, valueOrError: unknown): unknown;
  /** Takes apart a status message sent to a relay: its kind and its value or error. */
  unpack(status: unknown): [RemoteExitKind, unknown];
}

let hooks: RemoteMonitorHooks | undefined;

/** Installs the monitors layer's hooks (called once, by lib/supervise when it loads); undefined removes them. */
export function setRemoteMonitorHooks(h: RemoteMonitorHooks | undefined): void {
  hooks = h;
}

/** The hooks, or undefined before the monitors layer has loaded. */
export function remoteMonitorHooks(): RemoteMonitorHooks | undefined {
  return hooks;
}

function unavailable(): AsyncoroError {
  return new AsyncoroError('monitoring a remote coroutine needs the monitors layer (lib/supervise), which is not loaded', 'ERR_MONITOR_UNAVAILABLE');
}

/** `remote.notify(monitor)`: see the module description. */
export function* monitorRemote(remote: RemoteCoro, monitor: MonitorTarget): Generator<unknown, boolean, unknown> {
  if (monitor === null || typeof monitor !== 'object' || typeof monitor.send !== 'function') {
    throw new TypeError('a monitor is a Coro, a Channel, or has send(msg) and isAlive');
  }
  if (hooks === undefined) throw unavailable();
  if (!remote.isAlive) {
    monitor.send(hooks.status(remote, 'error', new AsyncoroError(`${String(remote)} is not alive`, 'ERR_NOT_ALIVE')));
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
