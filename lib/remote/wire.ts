/**
 * The frame types of the peer protocol (docs/peers.md describes the wire format): the first
 * element of every frame's array.
 *
 * @module
 * @internal
 */
/** Frame types: the first element of every frame's array. */
export const F = {
  /** Heartbeat, also the answer to one: [PING]. */
  PING: 0,
  /** Answer to a request: [REPLY, req, value]. */
  REPLY: 1,
  /** Failure of a request: [FAIL, req, [name, message, stack, code]]. */
  FAIL: 2,
  /** To a coroutine: [SEND, id, msg]. */
  SEND: 3,
  /** To a coroutine, acknowledged: [DELIVER, req, id, msg] → 1 or 0. */
  DELIVER: 4,
  /** Broadcast on a channel: [CSEND, name, msg]. */
  CSEND: 5,
  /** Channel deliver: [CDELIVER, req, name, msg, n, timeout] → count. */
  CDELIVER: 6,
  /** [CSUB, req, name, ref] → bool; [CUNSUB, req, name, ref] → bool. */
  CSUB: 7,
  CUNSUB: 8,
  /** Terminate a coroutine: [TERM, id]. */
  TERM: 9,
  /** [LOCATE, req, kind (0 coro, 1 channel, 2 rci), name] → ref, true or null. */
  LOCATE: 10,
  /** [CALL, req, name, args] → a coroutine ref. */
  CALL: 11,
  /** [FINISH, req, id, timeout] → the coroutine's result (or FAIL with its error). */
  FINISH: 12,
  /** [MONITOR, req, id, monitorRef] → bool. */
  MONITOR: 13,
  /** [STATUS, id, kind, valueOrError, monitorRef]: a monitored coroutine ended. */
  STATUS: 14,
  /** [DEAD, id]: a coroutine a proxy names has ended (or never lived here). */
  DEAD: 15,
  /** Files: [FBEGIN, req, name, dir, size, overwrite] → true; [FDATA, req, chunk]; [FEND, req] → size. */
  FBEGIN: 16,
  FDATA: 17,
  FEND: 18,
  /** [FDEL, req, name, dir] → bool. */
  FDEL: 19,
  /** Relaying: [PEERS, [[name, host, port, incarnation], ...]]. */
  PEERS: 20,
  /** The peer shuts down: [BYE]. */
  BYE: 21,
  /** [RESTARTED, id, monitorRef]: a monitored coroutine that ended was restarted in place. */
  RESTARTED: 22,
} as const;
