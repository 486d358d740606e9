/**
 * Echo benchmark: one C load generator (bench/echo/loadgen.c) against, in the same run, an
 * asyncoro echo server on every backend and mode, Node's `net` echo server, and a minimal C epoll
 * echo server (the physical limit here). For 64-byte and 16-KB messages over 1 and 100
 * connections it reports messages per second and the server's CPU time per message, read from
 * /proc before and after the measured interval (the machine is shared, so CPU per message is the
 * steadier figure).
 *
 * Usage: npx tsx bench/echo.ts [--seconds 3] [--only node,c,epoll/integrated,...]
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { backends } from '../lib/core/poller.js';
import { option, printMachine, printTable } from './common.js';

const root = join(fileURLToPath(new URL('.', import.meta.url)), '..');
// Not under build/: node-gyp rebuild deletes that.
const out = join(root, 'build-bench');
const seconds = Number(option('seconds', '3'));
const only = option('only', '').split(',').filter(Boolean);

function compile(name: string): string {
  mkdirSync(out, { recursive: true });
  const bin = join(out, name);
  execFileSync('cc', ['-O2', '-Wall', '-o', bin, join(root, 'bench', 'echo', `${name}.c`)], { stdio: 'inherit' });
  return bin;
}

const CLK_TCK = 100; // USER_HZ on Linux, what /proc/<pid>/stat counts in
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of stat(5); fields[] starts at field 3.
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

interface Server {
  label: string;
  proc: ChildProcess;
  port: number;
}

function start(label: string, cmd: string, argv: string[]): Promise<Server> {
  return new Promise((resolve, reject) => {
    const proc = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'inherit'] });
    let buf = '';
    proc.stdout!.on('data', (d) => {
      buf += d;
      const line = buf.split('\n')[0];
      if (buf.includes('\n')) resolve({ label, proc, port: Number(line) });
    });
    proc.once('exit', (code) => reject(new Error(`${label} exited with ${code} before listening`)));
  });
}

interface Result {
  msgs_per_sec: number;
  p50_us: number;
  p99_us: number;
  messages: number;
  mismatches: number;
}

function load(loadgen: string, port: number, conns: number, size: number): Promise<{ r: Result; wall: number }> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const p = spawn(loadgen, ['-p', String(port), '-c', String(conns), '-s', String(size), '-t', String(seconds), '-w', '1'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let text = '';
    p.stdout.on('data', (d) => (text += d));
    p.on('exit', (code) => {
      if (code !== 0) reject(new Error(`loadgen exited with ${code}: ${text}`));
      else resolve({ r: JSON.parse(text) as Result, wall: Date.now() - t0 });
    });
  });
}

async function main(): Promise<void> {
  const loadgen = compile('loadgen');
  const cecho = compile('cecho');
  const servers: [string, string, string[]][] = [['c epoll', cecho, []], ['node net', process.execPath, ['--import', 'tsx', join(root, 'bench', 'echo', 'server.ts'), 'node']]];
  for (const b of backends()) {
    for (const m of b.modes) servers.push([`asyncoro ${b.name}/${m}`, process.execPath, ['--import', 'tsx', join(root, 'bench', 'echo', 'server.ts'), 'asyncoro', b.name, m]]);
  }
  const chosen = servers.filter(([label]) => only.length === 0 || only.some((o) => label.includes(o)));
  const loads: [number, number][] = [
    [64, 1],
    [64, 100],
    [16384, 1],
    [16384, 100],
  ];
  printMachine('asyncoro echo benchmark');
  console.log(`load:    bench/echo/loadgen.c, ${seconds} s measured after 1 s of warm-up, one message in flight per connection\n`);

  const rows: string[][] = [];
  const ref = new Map<string, number>();
  for (const [label, cmd, argv] of chosen) {
    const server = await start(label, cmd, argv);
    try {
      for (const [size, conns] of loads) {
        // CPU is read around the whole run; the warm-up second is in it, and so is in messages.
        const before = cpuSeconds(server.proc.pid!);
        const { r } = await load(loadgen, server.port, conns, size);
        const cpu = cpuSeconds(server.proc.pid!) - before;
        const totalMsgs = r.msgs_per_sec * (seconds + 1);
        const usPerMsg = (cpu / totalMsgs) * 1e6;
        const key = `${size}/${conns}`;
        if (label === 'node net') ref.set(key, usPerMsg);
        if (r.mismatches !== 0) throw new Error(`${label}: ${r.mismatches} bytes came back wrong`);
        rows.push([label, size === 64 ? '64 B' : '16 KB', String(conns), fmtRate(r.msgs_per_sec), usPerMsg.toFixed(2), `${r.p50_us}`, `${r.p99_us}`, key]);
      }
    } finally {
      server.proc.kill('SIGKILL');
    }
  }
  const head = ['server', 'message', 'conns', 'msgs/s', 'CPU µs/msg', 'p50 µs', 'p99 µs', 'msgs/CPU-s vs node'];
  const table = rows.map((r) => {
    const node = ref.get(r[7]!);
    const vs = node !== undefined ? `${(node / Number(r[4])).toFixed(2)}x` : '';
    return [...r.slice(0, 7), vs];
  });
  printTable(head, table, 3);
  console.log('\nCPU µs/msg: the server process\'s user + system time over the run divided by the messages echoed.');
}

function fmtRate(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(2)} M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)} k` : n.toFixed(0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
