/**
 * What the poller and ring test harnesses share: batches delivered by a native handler (or taken
 * with a synchronous wait in exclusive mode), and one promise-returning way to wait for them.
 */
export abstract class BatchCollector<T> {
  private queue: T[][] = [];
  private waiter: ((b: T[]) => void) | undefined;

  constructor(
    readonly mode: string,
    /** The default time `until()` keeps collecting. */
    private readonly untilTimeout: number,
  ) {}

  /** Exclusive mode: waits up to `timeoutMs` in the native call and returns the batch. */
  protected abstract waitSync(timeoutMs: number): T[];

  /** A batch from the handler: to the waiting `next()`, or queued for the next one. */
  protected deliver(batch: T[]): void {
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w(batch);
    } else {
      this.queue.push(batch);
    }
  }

  /** The next batch, or [] after `timeoutMs`. */
  next(timeoutMs = 1000): Promise<T[]> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    if (this.mode === 'exclusive') return Promise.resolve(this.waitSync(timeoutMs));
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
  async until(pred: (all: T[]) => boolean, timeoutMs = this.untilTimeout): Promise<T[]> {
    const all: T[] = [];
    const end = Date.now() + timeoutMs;
    while (!pred(all)) {
      const left = end - Date.now();
      if (left <= 0) break;
      all.push(...(await this.next(Math.min(left, 200))));
    }
    return all;
  }

  /** Takes every batch delivered and not yet waited for, as one list. */
  takeQueued(): T[] {
    const all = this.queue.flat();
    this.queue = [];
    return all;
  }

  /** Forgets batches already delivered, so the next wait sees fresh ones. */
  flush(): void {
    this.queue = [];
  }
}
