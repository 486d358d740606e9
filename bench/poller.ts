/**
 * The poller benchmark (`npm run bench`): what each backend and mode delivers into JavaScript, and
 * how fast a write wakes it, printed beside Node's own `net` sockets measured in the same run.
 * A measurement, not a test: it prints numbers and never passes or fails.
 *
 * 1. Events per second delivered into JS at batch sizes 1, 16 and 1024. K socketpairs are made
 *    readable once (one byte each, never read) and registered level-triggered, so every wait of
 *    the poller reports the same K events. Each cell counts the triples JavaScript receives (and
 *    reads) during a fixed time, after a short warm-up.
 * 2. Wake-up latency: a one-byte `native.write()` on a socketpair, timed with
 *    `process.hrtime.bigint()` from just before the write to the start of the JS callback that
 *    reports it (integrated and thread modes) or to the return of `wait()` (exclusive mode). The
 *    byte is drained and the next round starts from `setImmediate`, so every round goes once
 *    around Node's loop, the way a real program's would.
 * 3. Node's own sockets, measured the same way: `socket.write()` of one byte on a connected pair
 *    (a Unix domain socket, the like of our socketpair, and loopback TCP with Nagle off) to the
 *    start of the peer's 'data' handler.
 *
 * @module
 */
import net from 'node:net';
import os from 'node:os';
import fs from 'node:fs';
import path from 'node:path';
import {
  backends,
  openPoller,
  EV,
  native,
  type BackendName,
  type NativePoller,
  type PollerMode,
} from '../lib/index.js';

const BATCHES = [1, 16, 1024] as const;
const CELL_SECONDS = 1.0;
const WARMUP_SECONDS = 0.2;
const LATENCY_ROUNDS = 5000;
const LATENCY_WARMUP = 500;

const now = (): bigint => process.hrtime.bigint();
const one = Buffer.from('x');
const sink = Buffer.alloc(4096);

function check(what: string, rc: number): number {
  if (rc < 0) throw new Error(`${what}: ${native.strerror(rc)} (${native.errnoName(rc)})`);
  return rc;
}

function socketPair(): [number, number] {
  const out = new Int32Array(2);
  check('socketpair', native.socketpair(out));
  return [out[0]!, out[1]!];
}

/** Reads whatever is buffered on a non-blocking fd. */
function drain(fd: number): void {
  while (native.read(fd, sink, 0, sink.length) > 0) {
    /* keep reading until EAGAIN */
  }
}

/** A backend and one of the modes it supports, as `backends()` lists them. */
interface Combo {
  backend: BackendName;
  mode: PollerMode;
}

// ---------------------------------------------------------------------------------------------
// 1. Events per second into JS.

/** What a throughput cell measured. */
interface Rate {
  eventsPerSecond: number;
  /** Batches whose size was not K (should be none: every wait reports all K ready fds). */
  oddBatches: number;
}

/**
 * Counts the triples delivered into JS per second with the first `k` of `readable` registered
 * level-triggered. The consumer reads every triple's token and events, as a scheduler would.
 */
function throughput(combo: Combo, readable: readonly number[], k: number): Promise<Rate> {
  let delivered = 0;
  let oddBatches = 0;
  let checksum = 0;
  const consume = (events: Int32Array, n: number): void => {
    for (let i = 0; i < n; i++) checksum = (checksum + events[3 * i]! + events[3 * i + 1]!) | 0;
    if (n !== k) oddBatches++;
    delivered += n;
  };
  const register = (poller: NativePoller): void => {
    for (let i = 0; i < k; i++) check('add', poller.add(readable[i]!, EV.READ, i));
  };
  const result = (elapsed: bigint): Rate => {
    if (checksum === 0.5) console.log('unreachable'); // keeps the reads of the triples alive
    return { eventsPerSecond: delivered / (Number(elapsed) / 1e9), oddBatches };
  };

  if (combo.mode === 'exclusive') {
    const { poller, events } = openPoller({ poller: combo.backend, mode: 'exclusive', capacity: k });
    try {
      register(poller);
      // Reading the clock costs about as much as a small wait, so it is read every few waits.
      const mask = k >= 1024 ? 0 : k >= 16 ? 15 : 255;
      const spin = (seconds: number): bigint => {
        const start = now();
        const end = start + BigInt(Math.round(seconds * 1e9));
        let t = start;
        for (let iter = 1; t < end; iter++) {
          consume(events, check('wait', poller.wait(1000)));
          if ((iter & mask) === 0) t = now();
        }
        return t - start;
      };
      spin(WARMUP_SECONDS);
      delivered = 0;
      oddBatches = 0;
      return Promise.resolve(result(spin(CELL_SECONDS)));
    } finally {
      poller.close();
    }
  }

  return new Promise((resolve, reject) => {
    let failed = 0;
    const { poller, events } = openPoller({
      poller: combo.backend,
      mode: combo.mode,
      capacity: k,
      onEvents: (n) => {
        if (n < 0) failed = n;
        else consume(events, n);
      },
    });
    register(poller);
    setTimeout(() => {
      delivered = 0;
      oddBatches = 0;
      const start = now();
      setTimeout(() => {
        const elapsed = now() - start;
        const rate = result(elapsed);
        poller.close();
        if (failed < 0) reject(new Error(`onEvents: ${native.strerror(failed)}`));
        else resolve(rate);
      }, CELL_SECONDS * 1000);
    }, WARMUP_SECONDS * 1000);
  });
}

// ---------------------------------------------------------------------------------------------
// 2. Wake-up latency of our pollers.

/** Nanoseconds per round, warm-up rounds excluded, sorted. */
type Samples = Float64Array;

function finish(samples: Float64Array): Samples {
  return samples.subarray(LATENCY_WARMUP).sort();
}

function latency(combo: Combo): Promise<Samples> {
  const [rd, wr] = socketPair();
  const TOKEN = 7;
  const total = LATENCY_WARMUP + LATENCY_ROUNDS;
  const samples = new Float64Array(total);
  const cleanup = (poller: NativePoller): void => {
    poller.close();
    native.close(rd);
    native.close(wr);
  };

  if (combo.mode === 'exclusive') {
    const { poller, events } = openPoller({ poller: combo.backend, mode: 'exclusive', capacity: 16 });
    check('add', poller.add(rd, EV.READ, TOKEN));
    for (let i = 0; i < total; ) {
      const t0 = now();
      check('write', native.write(wr, one, 0, 1));
      const n = check('wait', poller.wait(1000));
      const t1 = now();
      let seen = false;
      for (let j = 0; j < n; j++) if (events[3 * j] === TOKEN) seen = true;
      if (!seen) throw new Error(`${combo.backend}/exclusive: the write was not reported`);
      samples[i++] = Number(t1 - t0);
      drain(rd);
    }
    cleanup(poller);
    return Promise.resolve(finish(samples));
  }

  return new Promise((resolve, reject) => {
    let i = 0;
    let t0 = 0n;
    const fire = (): void => {
      t0 = now();
      const rc = native.write(wr, one, 0, 1);
      if (rc < 0) reject(new Error(`write: ${native.strerror(rc)}`));
    };
    const { poller, events } = openPoller({
      poller: combo.backend,
      mode: combo.mode,
      capacity: 16,
      onEvents: (n) => {
        const t1 = now();
        if (n < 0) {
          cleanup(poller);
          reject(new Error(`onEvents: ${native.strerror(n)}`));
          return;
        }
        let seen = false;
        for (let j = 0; j < n; j++) if (events[3 * j] === TOKEN) seen = true;
        if (!seen) return;
        samples[i++] = Number(t1 - t0);
        drain(rd);
        if (i === total) {
          cleanup(poller);
          resolve(finish(samples));
        } else {
          setImmediate(fire);
        }
      },
    });
    check('add', poller.add(rd, EV.READ, TOKEN));
    setImmediate(fire);
  });
}

// ---------------------------------------------------------------------------------------------
// 3. Node's own sockets, the same way.

async function netLatency(kind: 'unix' | 'tcp'): Promise<Samples> {
  const sockPath = path.join(os.tmpdir(), `asyncoro-bench-${process.pid}.sock`);
  if (kind === 'unix') fs.rmSync(sockPath, { force: true });
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    if (kind === 'unix') server.listen(sockPath, resolve);
    else server.listen(0, '127.0.0.1', resolve);
  });
  const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
  const client =
    kind === 'unix'
      ? net.connect({ path: sockPath })
      : net.connect({ port: (server.address() as net.AddressInfo).port, host: '127.0.0.1' });
  await new Promise<void>((resolve, reject) => {
    client.once('connect', resolve);
    client.once('error', reject);
  });
  const peer = await accepted;
  client.setNoDelay(true);
  peer.setNoDelay(true);

  const total = LATENCY_WARMUP + LATENCY_ROUNDS;
  const samples = new Float64Array(total);
  let i = 0;
  let t0 = 0n;
  const fire = (): void => {
    t0 = now();
    client.write(one);
  };
  await new Promise<void>((resolve) => {
    peer.on('data', (chunk: Buffer) => {
      const t1 = now();
      // A chunk holds every byte written so far; rounds are sequential, so it is always one.
      for (let b = 0; b < chunk.length && i < total; b++) samples[i++] = Number(t1 - t0);
      if (i >= total) resolve();
      else setImmediate(fire);
    });
    setImmediate(fire);
  });
  client.destroy();
  peer.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (kind === 'unix') fs.rmSync(sockPath, { force: true });
  return finish(samples);
}

// ---------------------------------------------------------------------------------------------
// Printing.

function quantile(sorted: Samples, q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

function rate(r: Rate): string {
  const v = r.eventsPerSecond;
  const s = v >= 1e6 ? `${(v / 1e6).toFixed(2)} M/s` : `${(v / 1e3).toFixed(0)} k/s`;
  return r.oddBatches > 0 ? `${s}*` : s;
}

const us = (ns: number): string => `${(ns / 1000).toFixed(1)} µs`;
const ratio = (a: number, b: number): string => `${(a / b).toFixed(2)}x`;

function table(head: string[], rows: string[][], right: boolean[]): string {
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const line = (cells: string[]): string =>
    cells
      .map((cell, c) => (right[c] ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!)))
      .join('  ')
      .trimEnd();
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

function machine(): string {
  const cpus = os.cpus();
  const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined;
  const glibc = report?.header?.glibcVersionRuntime;
  return [
    `date:    ${new Date().toISOString()}`,
    `cpu:     ${cpus[0]?.model.trim() ?? 'unknown'}, ${cpus.length} cores ` +
      `(available parallelism ${os.availableParallelism()})`,
    `kernel:  ${os.type()} ${os.release()} ${os.arch()}${glibc ? `, glibc ${glibc}` : ''}`,
    `node:    ${process.version} (N-API ${process.versions.napi}, libuv ${process.versions.uv})`,
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const combos: Combo[] = backends().flatMap((b) => b.modes.map((mode) => ({ backend: b.name, mode })));
  console.log('asyncoro poller benchmark\n');
  console.log(machine());
  console.log(`combos:  ${combos.map((c) => `${c.backend}/${c.mode}`).join(', ')}\n`);

  // One set of readable socketpairs serves every cell: one byte in each, never read.
  const maxK = Math.max(...BATCHES);
  const pairs: Array<[number, number]> = [];
  for (let i = 0; i < maxK; i++) {
    const p = socketPair();
    check('write', native.write(p[1], one, 0, 1));
    pairs.push(p);
  }
  const readable = pairs.map((p) => p[0]);

  const rateRows: string[][] = [];
  let odd = false;
  for (const combo of combos) {
    const row: string[] = [combo.backend, combo.mode];
    for (const k of BATCHES) {
      const r = await throughput(combo, readable, k);
      if (r.oddBatches > 0) odd = true;
      row.push(rate(r));
    }
    rateRows.push(row);
  }
  for (const [a, b] of pairs) {
    native.close(a);
    native.close(b);
  }

  const ours: Array<{ combo: Combo; samples: Samples }> = [];
  for (const combo of combos) ours.push({ combo, samples: await latency(combo) });
  const netUnix = await netLatency('unix');
  const netTcp = await netLatency('tcp');
  const u50 = quantile(netUnix, 0.5);
  const u99 = quantile(netUnix, 0.99);

  console.log(
    `Events per second delivered into JS: K readable socketpairs, level-triggered, so every ` +
      `batch reports K\n(${CELL_SECONDS} s per cell after ${WARMUP_SECONDS} s of warm-up)\n`,
  );
  console.log(
    table(
      ['backend', 'mode', ...BATCHES.map((k) => `batch ${k}`)],
      rateRows,
      [false, false, ...BATCHES.map(() => true)],
    ),
  );
  if (odd) console.log('* some batches were not of size K');

  console.log(
    `\nWake-up latency: one-byte write -> the JS callback (or wait() return) reporting it\n` +
      `(${LATENCY_ROUNDS} rounds after ${LATENCY_WARMUP} of warm-up; the next round starts from ` +
      `setImmediate; ratios are ours / Node's net over a Unix socket)\n`,
  );
  const latRows = ours.map(({ combo, samples }) => {
    const p50 = quantile(samples, 0.5);
    const p99 = quantile(samples, 0.99);
    return [`asyncoro ${combo.backend}`, combo.mode, us(p50), us(p99), ratio(p50, u50), ratio(p99, u99)];
  });
  for (const [name, s] of [
    ['node net', netUnix],
    ['node net', netTcp],
  ] as const) {
    const p50 = quantile(s, 0.5);
    const p99 = quantile(s, 0.99);
    latRows.push([name, s === netUnix ? 'unix socket' : 'tcp loopback', us(p50), us(p99), ratio(p50, u50), ratio(p99, u99)]);
  }
  console.log(
    table(['', 'mode', 'p50', 'p99', 'p50 ratio', 'p99 ratio'], latRows, [false, false, true, true, true, true]),
  );
  console.log(
    `\nexclusive: the write and wait() run on the same thread, so wait() finds the byte already\n` +
      `there and never sleeps; integrated, thread and node net go once around Node's loop, and\n` +
      `thread mode also wakes its waiting thread and hands the batch over.`,
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
