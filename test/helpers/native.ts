/**
 * Helpers the native tests share: fd pairs that are closed after each test, and waiting for a
 * batch of events from a poller in any mode through one promise-returning call.
 */
import { native } from '../../lib/native/binding.js';
import { openPoller, type BackendName, type PollerMode, type NativePoller } from '../../lib/core/poller.js';

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
export class Harness {
  readonly poller: NativePoller;
  readonly events: Int32Array;
  readonly mode: PollerMode;
  private queue: Triple[][] = [];
  private waiter: ((b: Triple[]) => void) | undefined;
  errors: number[] = [];

  constructor(backend: BackendName, mode: PollerMode, capacity = 64) {
    this.mode = mode;
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
    if (count < 0) {
      this.errors.push(count);
      return;
    }
    const batch = this.copy(count);
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w(batch);
    } else {
      this.queue.push(batch);
    }
  }

  /** The next batch, or [] after `timeoutMs`. */
  next(timeoutMs = 1000): Promise<Triple[]> {
    if (this.mode === 'exclusive') {
      const n = this.poller.wait(timeoutMs);
      if (n < 0) throw new Error(`wait: ${native.strerror(n)}`);
      return Promise.resolve(this.copy(n));
    }
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        resolve([]);
      }, timeoutMs);
      this.waiter = (b) => {
        clearTimeout(timer);
        resolve(b);
      };
    });
  }

  /** Collects batches until `pred` holds for the union or `timeoutMs` passes; returns the union. */
  async until(pred: (all: Triple[]) => boolean, timeoutMs = 2000): Promise<Triple[]> {
    const all: Triple[] = [];
    const end = Date.now() + timeoutMs;
    while (!pred(all)) {
      const left = end - Date.now();
      if (left <= 0) break;
      all.push(...(await this.next(Math.min(left, 200))));
    }
    return all;
  }

  /** Forgets batches already delivered (integrated/thread) so the next wait sees fresh ones. */
  flush(): void {
    this.queue = [];
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
