/**
 * Helpers the native tests share: fd pairs that are closed after each test, and waiting for a
 * batch of events from a poller in any mode through one promise-returning call.
 */
import { native } from '../../lib/native/binding.js';
import { openPoller, type BackendName, type PollerMode, type NativePoller } from '../../lib/core/poller.js';
import { BatchCollector } from './batches.js';

export interface Triple {
  token: number;
  events: number;
  fd: number;
}

/** Fds opened by a test, closed by {@link closeAll}. */
const opened = new Set<number>();

export function pipePair(): [number, number] {
  const out = new Int32Array(2);
  const rc = native.pipe(out);
  if (rc < 0) throw new Error(`pipe: ${native.strerror(rc)}`);
  opened.add(out[0]!).add(out[1]!);
  return [out[0]!, out[1]!];
}

export function socketPair(): [number, number] {
  const out = new Int32Array(2);
  const rc = native.socketpair(out);
  if (rc < 0) throw new Error(`socketpair: ${native.strerror(rc)}`);
  opened.add(out[0]!).add(out[1]!);
  return [out[0]!, out[1]!];
}

export function closeFd(fd: number): void {
  if (opened.delete(fd)) native.close(fd);
}

export function closeAll(): void {
  for (const fd of opened) native.close(fd);
  opened.clear();
}

const one = Buffer.from('x');
export function writeByte(fd: number): number {
  return native.write(fd, one, 0, 1);
}

const sink = Buffer.alloc(65536);
/** Reads until EAGAIN or EOF; returns the bytes read. */
export function drain(fd: number): number {
  let total = 0;
  for (;;) {
    const n = native.read(fd, sink, 0, sink.length);
    if (n <= 0) return total;
    total += n;
  }
}

/** Writes until the fd's buffer is full (EAGAIN); returns the bytes written. */
export function fill(fd: number): number {
  const chunk = Buffer.alloc(65536, 1);
  let total = 0;
  for (;;) {
    const n = native.write(fd, chunk, 0, chunk.length);
    if (n < 0) return total;
    total += n;
  }
}

/**
 * A poller in any mode with one way to wait for its next batch: `next(timeoutMs)` resolves with
 * the triples of the next batch, or [] when none arrived in time.
 */
export class Harness extends BatchCollector<Triple> {
  readonly poller: NativePoller;
  readonly events: Int32Array;
  declare readonly mode: PollerMode;
  errors: number[] = [];

  constructor(backend: BackendName, mode: PollerMode, capacity = 64) {
    super(mode, 2000);
    const opened = openPoller({
      poller: backend,
      mode,
      capacity,
      onEvents: (count) => this.onEvents(count),
    });
    this.poller = opened.poller;
    this.events = opened.events;
  }

  private copy(count: number): Triple[] {
    const out: Triple[] = [];
    for (let i = 0; i < count; i++) {
      out.push({ token: this.events[3 * i]!, events: this.events[3 * i + 1]!, fd: this.events[3 * i + 2]! });
    }
    return out;
  }

  private onEvents(count: number): void {
    if (count < 0) this.errors.push(count);
    else this.deliver(this.copy(count));
  }

  protected waitSync(timeoutMs: number): Triple[] {
    const n = this.poller.wait(timeoutMs);
    if (n < 0) throw new Error(`wait: ${native.strerror(n)}`);
    return this.copy(n);
  }

  /**
   * Lets batches assembled before a change of registrations arrive, then forgets them. In thread
   * mode the waiting thread may have handed over a batch just before remove() or modify(); the
   * contract is that no batch assembled after the change reports the old registration.
   */
  async settle(): Promise<void> {
    if (this.mode === 'exclusive') return;
    await new Promise((resolve) => setTimeout(resolve, 40));
    this.flush();
  }

  close(): void {
    this.poller.close();
  }
}
