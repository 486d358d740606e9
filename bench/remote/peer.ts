/**
 * The processes of bench/remote.ts, by role (`peer.ts <role> [args]`); each prints one line of
 * JSON with its result (or `port <n>` when it listens).
 *
 * asyncoro:
 * - `recv`: joins a network; 'sink' counts messages and answers ['done', from] with the count;
 *   'echo' answers [from, x] with x.
 * - `send <port> <messages> <rtts>`: throughput to the sink (send, with drain() every 256),
 *   then round trips to echo, one at a time.
 * - `hub <messages> <subscribers>`: a channel; each subscriber process sends ['join', itself]; it
 *   broadcasts the messages and times until every subscriber has counted them all.
 * - `sub <port>`: joins the hub's network and subscribes a counting coroutine.
 *
 * Plain Node (`net` sockets, msgpackr frames batched into few writes, the same framing as ours):
 * - `node-recv`, `node-send <port> <messages> <rtts>`.
 */
import { connect, createServer, type Socket } from 'node:net';
import { Packr, Unpackr } from 'msgpackr';
import { Coro, self, sleep, spawn } from '../../lib/core/coro.js';
import { Scheduler } from '../../lib/core/scheduler.js';
import { receive } from '../../lib/msg/mailbox.js';
import { Channel } from '../../lib/msg/channel.js';
import { joinNetwork } from '../../lib/remote/network.js';
import type { RemoteCoro } from '../../lib/remote/refs.js';

const SECRET = 'bench-secret';
const [role, ...args] = process.argv.slice(2);
const out = (v: unknown): void => void process.stdout.write(`${JSON.stringify(v)}\n`);

function percentiles(us: number[]): { p50: number; p99: number } {
  us.sort((a, b) => a - b);
  return { p50: us[Math.floor(us.length * 0.5)]!, p99: us[Math.floor(us.length * 0.99)]! };
}

const sched = new Scheduler();
// An orderly exit on SIGINT, so `--cpu-prof` can write its profile.
process.on('SIGINT', () => process.exit(0));
const netOpts = { secret: SECRET, discover: false as const, log: () => {} };

if (role === 'recv') {
  sched.spawn(function* () {
    const net = yield* joinNetwork({ ...netOpts, name: 'recv' });
    spawn(function* sink() {
      self().register('sink');
      let n = 0;
      for (;;) {
        const m = yield* receive();
        if (Array.isArray(m) && m[0] === 'done') {
          (m[1] as RemoteCoro).send(['count', n]);
          n = 0;
        } else n++;
      }
    });
    spawn(function* echo() {
      self().register('echo');
      for (;;) {
        const m = (yield* receive()) as [RemoteCoro, unknown];
        m[0].send(m[1]);
      }
    });
    process.stdout.write(`port ${net.port}\n`);
    for (;;) yield* sleep(3600_000);
  });
} else if (role === 'send') {
  const [port, messages, rtts] = args.map(Number) as [number, number, number];
  sched.spawn(function* () {
    const net = yield* joinNetwork({ ...netOpts, name: 'send', peers: [`127.0.0.1:${port}`] });
    const loc = `127.0.0.1:${port}`;
    const sink = (yield* Coro.locate('sink', { location: loc, timeout: 10000 })) as RemoteCoro;
    const echo = (yield* Coro.locate('echo', { location: loc, timeout: 10000 })) as RemoteCoro;
    const run = function* (n: number): Generator<unknown, number, unknown> {
      const t0 = performance.now();
      for (let i = 0; i < n; i++) {
        sink.send(['m', i]);
        if ((i & 255) === 255) yield* sink.drain();
      }
      sink.send(['done', self()]);
      const got = (yield* receive()) as ['count', number];
      if (got[1] !== n) throw new Error(`sink counted ${got[1]} of ${n}`);
      return n / ((performance.now() - t0) / 1000);
    };
    yield* run(Math.min(messages, 100_000)); // warm-up
    const rate = yield* run(messages);
    const lat: number[] = [];
    for (let i = 0; i < rtts + 200; i++) {
      const t = performance.now();
      echo.send([self(), i]);
      yield* receive();
      if (i >= 200) lat.push((performance.now() - t) * 1000);
    }
    out({ rate, ...percentiles(lat) });
    net.closeNow();
  });
} else if (role === 'hub') {
  const [messages, subs] = args.map(Number) as [number, number];
  sched.spawn(function* () {
    const net = yield* joinNetwork({ ...netOpts, name: 'hub' });
    const ch = new Channel('bench');
    self().register('hub');
    process.stdout.write(`port ${net.port}\n`);
    const members: RemoteCoro[] = [];
    while (members.length < subs) {
      const m = (yield* receive()) as ['join', RemoteCoro];
      members.push(m[1]);
      ch.subscribe(m[1]);
    }
    const round = function* (n: number): Generator<unknown, number, unknown> {
      const t0 = performance.now();
      for (let i = 0; i < n; i++) {
        ch.send(i);
        if ((i & 255) === 255) for (const p of members) yield* p.drain();
      }
      ch.send(['done', self()]);
      for (let i = 0; i < subs; i++) {
        const got = (yield* receive()) as ['count', number];
        if (got[1] !== n) throw new Error(`a subscriber counted ${got[1]} of ${n}`);
      }
      return (n * subs) / ((performance.now() - t0) / 1000);
    };
    yield* round(Math.min(messages, 50_000));
    out({ rate: yield* round(messages) });
    for (const p of members) p.send('exit');
    yield* sleep(100);
    net.closeNow();
  });
} else if (role === 'sub') {
  const [port] = args.map(Number) as [number];
  sched.spawn(function* () {
    const net = yield* joinNetwork({ ...netOpts, name: `sub-${process.pid}`, peers: [`127.0.0.1:${port}`] });
    const hub = (yield* Coro.locate('hub', { location: `127.0.0.1:${port}`, timeout: 10000 })) as RemoteCoro;
    hub.send(['join', self()]);
    let n = 0;
    for (;;) {
      const m = yield* receive();
      if (m === 'exit') break;
      if (Array.isArray(m) && m[0] === 'done') {
        (m[1] as RemoteCoro).send(['count', n]);
        n = 0;
      } else n++;
    }
    net.closeNow();
  });
} else if (role === 'node-recv') {
  // A receiver as one would write it on Node's own sockets: split frames, decode each.
  const unpackr = new Unpackr({ useRecords: true, moreTypes: true });
  const packr = new Packr({ useRecords: true, moreTypes: true });
  const server = createServer((s: Socket) => {
    s.setNoDelay(true);
    let buf: Buffer = Buffer.alloc(0);
    let n = 0;
    s.on('data', (d: Buffer) => {
      buf = buf.length === 0 ? d : Buffer.concat([buf, d]);
      let at = 0;
      const replies: Buffer[] = [];
      while (buf.length - at >= 4) {
        const len = buf.readUInt32BE(at);
        if (buf.length - at - 4 < len) break;
        const m = unpackr.unpack(buf, { start: at + 4, end: at + 4 + len }) as unknown[];
        at += 4 + len;
        if (m[0] === 'echo') replies.push(frameOf(packr.pack(m[1])));
        else if (m[0] === 'done') {
          replies.push(frameOf(packr.pack(n)));
          n = 0;
        } else n++;
      }
      buf = buf.subarray(at);
      if (replies.length > 0) s.write(replies.length === 1 ? replies[0]! : Buffer.concat(replies));
    });
  });
  server.listen(0, '127.0.0.1', () => process.stdout.write(`port ${(server.address() as { port: number }).port}\n`));
} else if (role === 'node-send') {
  const [port, messages, rtts] = args.map(Number) as [number, number, number];
  const packr = new Packr({ useRecords: true, moreTypes: true });
  const unpackr = new Unpackr({ useRecords: true, moreTypes: true });
  const s = connect(port, '127.0.0.1', () => void main());
  s.setNoDelay(true);
  let buf: Buffer = Buffer.alloc(0);
  let waiter: ((v: unknown) => void) | undefined;
  s.on('data', (d: Buffer) => {
    buf = buf.length === 0 ? d : Buffer.concat([buf, d]);
    while (buf.length >= 4 && buf.length - 4 >= buf.readUInt32BE(0)) {
      const len = buf.readUInt32BE(0);
      const v = unpackr.unpack(buf, { start: 4, end: 4 + len });
      buf = buf.subarray(4 + len);
      const w = waiter;
      waiter = undefined;
      w?.(v);
    }
  });
  const next = (): Promise<unknown> => new Promise((r) => (waiter = r));
  // Batched: frames are packed into one 64 KB buffer and written when it is full, and the
  // writer waits for 'drain' when the socket's buffer is over its mark.
  const batch = Buffer.allocUnsafe(65536);
  let used = 0;
  const flush = async (): Promise<void> => {
    if (used === 0) return;
    const ok = s.write(Buffer.from(batch.subarray(0, used)));
    used = 0;
    if (!ok) await new Promise((r) => s.once('drain', r));
  };
  const put = async (v: unknown): Promise<void> => {
    const b = packr.pack(v);
    if (used + 4 + b.length > batch.length) await flush();
    batch.writeUInt32BE(b.length, used);
    b.copy(batch, used + 4);
    used += 4 + b.length;
  };
  const run = async (n: number): Promise<number> => {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) await put(['m', i]);
    await put(['done']);
    const got = next();
    await flush();
    if ((await got) !== n) throw new Error('node sink lost messages');
    return n / ((performance.now() - t0) / 1000);
  };
  const main = async (): Promise<void> => {
    await run(Math.min(messages, 100_000));
    const rate = await run(messages);
    const lat: number[] = [];
    for (let i = 0; i < rtts + 200; i++) {
      const t = performance.now();
      const got = next();
      await put(['echo', i]);
      await flush();
      await got;
      if (i >= 200) lat.push((performance.now() - t) * 1000);
    }
    out({ rate, ...percentiles(lat) });
    s.destroy();
    process.exit(0);
  };
} else {
  console.error('usage: peer.ts recv | send <port> <n> <rtts> | hub <n> <subs> | sub <port> | node-recv | node-send <port> <n> <rtts>');
  process.exit(2);
}

function frameOf(b: Buffer): Buffer {
  const f = Buffer.allocUnsafe(4 + b.length);
  f.writeUInt32BE(b.length, 0);
  b.copy(f, 4);
  return f;
}
