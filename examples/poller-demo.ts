/**
 * The `npm start` demo: events flowing through every poller backend and mode this host has.
 *
 * For each backend and mode it opens a poller, registers the read ends of three socketpairs
 * (tokens 1, 2, 3), and shows the `[token, events, fd]` triples the poller reports when data
 * arrives, when a peer hangs up, and when `wakeup()` is called. In your own project, import from
 * 'asyncoro' instead of '../lib/index.js'.
 *
 * Run it with `npm start` (or `npx tsx examples/poller-demo.ts`); `ASYNCORO_POLLER=poll npm start`
 * shows one backend only.
 */
import {
  backends,
  openPoller,
  resolvePoller,
  EV,
  native,
  type BackendName,
  type NativePoller,
  type PollerMode,
} from '../lib/index.js';

interface Triple {
  token: number;
  events: number;
  fd: number;
}

/** `READ|HANGUP` for the bits set in `events`. */
function bits(events: number): string {
  const names = (['READ', 'WRITE', 'ERROR', 'HANGUP', 'WAKEUP'] as const).filter((n) => events & EV[n]);
  return names.join('|') || String(events);
}

function show(batch: readonly Triple[]): string {
  if (batch.length === 0) return '(nothing within a second)';
  return batch
    .map((t) => (t.token === EV.TOKEN_WAKEUP ? `[wakeup ${bits(t.events)}]` : `[${t.token} ${bits(t.events)} fd=${t.fd}]`))
    .join(' ');
}

function ok(what: string, rc: number): number {
  if (rc < 0) throw new Error(`${what}: ${native.strerror(rc)}`);
  return rc;
}

/**
 * One poller in any mode, with one way to ask for the next batch that reports a given token.
 * Level-triggered fds are reported again on every wait until they are read, so batches that do not
 * carry what a step waits for are skipped.
 */
class Demo {
  private readonly poller: NativePoller;
  private readonly events: Int32Array;
  private readonly mode: PollerMode;
  private waiting: { token: number; resolve: (b: Triple[]) => void } | undefined;

  constructor(backend: BackendName, mode: PollerMode) {
    this.mode = mode;
    const opened = openPoller({ poller: backend, mode, capacity: 16, onEvents: (n) => this.onEvents(n) });
    this.poller = opened.poller;
    this.events = opened.events;
  }

  add(fd: number, token: number): void {
    ok('add', this.poller.add(fd, EV.READ, token));
  }

  remove(fd: number): void {
    ok('remove', this.poller.remove(fd));
  }

  wakeup(): void {
    ok('wakeup', this.poller.wakeup());
  }

  close(): void {
    this.poller.close();
  }

  private batch(n: number): Triple[] {
    const out: Triple[] = [];
    for (let i = 0; i < n; i++) {
      out.push({ token: this.events[3 * i]!, events: this.events[3 * i + 1]!, fd: this.events[3 * i + 2]! });
    }
    return out;
  }

  private onEvents(n: number): void {
    if (n < 0) throw new Error(`poller: ${native.strerror(n)}`);
    // The array is only valid during this call, so the triples are copied out.
    const batch = this.batch(n);
    const w = this.waiting;
    if (w !== undefined && batch.some((t) => t.token === w.token)) {
      this.waiting = undefined;
      w.resolve(batch);
    }
  }

  /** Runs `action`, then resolves with the first batch that reports `token` ([] after a second). */
  next(token: number, action: () => void): Promise<Triple[]> {
    if (this.mode === 'exclusive') {
      action();
      const end = Date.now() + 1000;
      for (let left = 1000; left > 0; left = end - Date.now()) {
        const batch = this.batch(ok('wait', this.poller.wait(left)));
        if (batch.some((t) => t.token === token)) return Promise.resolve(batch);
      }
      return Promise.resolve([]);
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiting = undefined;
        resolve([]);
      }, 1000);
      this.waiting = {
        token,
        resolve: (b) => {
          clearTimeout(timer);
          resolve(b);
        },
      };
      action();
    });
  }
}

const buf = Buffer.alloc(64);
function readText(fd: number): string {
  const n = native.read(fd, buf, 0, buf.length);
  return n > 0 ? JSON.stringify(buf.toString('latin1', 0, n)) : n === 0 ? 'EOF' : native.errnoName(n);
}

async function run(backend: BackendName, mode: PollerMode): Promise<void> {
  const demo = new Demo(backend, mode);
  const pairs: Array<[number, number]> = [];
  for (let token = 1; token <= 3; token++) {
    const out = new Int32Array(2);
    ok('socketpair', native.socketpair(out));
    pairs.push([out[0]!, out[1]!]);
    demo.add(out[0]!, token);
  }
  const [p1, p2, p3] = pairs as [[number, number], [number, number], [number, number]];
  const ping = Buffer.from('ping');
  const step = (label: string, batch: Triple[]): void => console.log(`  ${label.padEnd(34)} -> ${show(batch)}`);

  step(
    'write "ping" to pairs 1 and 3',
    await demo.next(3, () => {
      ok('write', native.write(p1[1], ping, 0, ping.length));
      ok('write', native.write(p3[1], ping, 0, ping.length));
    }),
  );
  console.log(`  ${'read them back'.padEnd(34)} -> 1: ${readText(p1[0])}, 3: ${readText(p3[0])}`);

  const hangup = await demo.next(2, () => {
    native.close(p2[1]);
  });
  // select has no hang-up bit: there the hung-up peer shows as READ alone, and the read says EOF.
  console.log(`  ${'close the peer of pair 2'.padEnd(34)} -> ${show(hangup)}, read: ${readText(p2[0])}`);
  // Remove before close: a level-triggered hang-up would otherwise be reported on every wait.
  demo.remove(p2[0]);
  native.close(p2[0]);

  step('wakeup()', await demo.next(EV.TOKEN_WAKEUP, () => demo.wakeup()));

  demo.remove(p1[0]);
  demo.remove(p3[0]);
  for (const fd of [p1[0], p1[1], p3[0], p3[1]]) native.close(fd);
  demo.close();
}

async function main(): Promise<void> {
  console.log('asyncoro poller demo: [token EVENTS fd=N] triples as JavaScript receives them\n');
  const list = backends();
  console.log(`backends on this host: ${list.map((b) => `${b.name} (${b.modes.join(', ')})`).join('; ')}`);
  const wanted = process.env['ASYNCORO_POLLER'];
  // With ASYNCORO_POLLER set, resolvePoller() picks (or rejects, with the available list) that one.
  // io_uring is a completion backend (a Scheduler runs on it, see socket-demo); this demo shows pollers.
  const chosen = (wanted ? [resolvePoller().backend] : list).filter((b) => b.kind === 'readiness');
  console.log(`openPoller() with no options: ${resolvePoller().backend.name} in ${resolvePoller().mode} mode\n`);
  for (const b of chosen) {
    for (const mode of b.modes) {
      console.log(`${b.name}/${mode}`);
      await run(b.name, mode);
    }
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
