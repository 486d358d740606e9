/**
 * `Notice`: a message whose receipt matters to whoever sent it. A `MonitorStatus` is one: the
 * coroutine it reports stays restartable while any copy of the notice is still to be handled,
 * and is released once every copy is.
 *
 * A notice counts its holds. Mailboxes and turns take and give them back (lib/msg/mailbox.ts,
 * lib/core/op.ts), so the count is the number of
 * - copies queued in the mailbox of a live coroutine (a dead mailbox cannot act on it);
 * - coroutines that took it from their mailbox during their current turn (given back when the
 *   turn ends: at the coroutine's next suspension, or its end);
 * - explicit holds ({@link MonitorStatus.hold}; a remote peer holds a notice it forwarded until
 *   the other side has handled it).
 * When the count falls to zero, {@link Notice._settled} runs.
 *
 * This file imports nothing, so every module may extend the class at load time whatever order
 * the import cycles between coro.ts, mailbox.ts and lib/supervise evaluate in.
 *
 * @module
 * @internal
 */
export abstract class Notice {
  /** @internal See the module description. */
  _holds = 0;

  /** @internal */
  _hold(): void {
    this._holds++;
  }

  /** @internal Gives back one hold; the last one settles the notice. */
  _settle(): void {
    if (--this._holds === 0) this._settled();
  }

  /** @internal Every hold has been given back. */
  protected abstract _settled(): void;
}
