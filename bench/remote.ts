/**
 * Peers benchmark, on loopback, each side a process of its own (bench/remote/peer.ts):
 * - messages per second from one coroutine to a coroutine on another node (`send`, drained every
 *   256 messages), and the round trip of one message at a time (p50/p99);
 * - channel broadcast from a hub to subscribers on 3 other nodes (deliveries per second);
 * - in the same run, the same two measures on plain Node sockets with msgpackr frames batched
 *   into 64 KB writes, and Erlang distribution between two nodes when `erl` is installed.
 *
 * Usage: npx tsx bench/remote.ts [--messages 1000000] [--rtts 5000] [--broadcast 200000]
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { option, printMachine, printTable } from './common.js';

const root = join(fileURLToPath(new URL('.', import.meta.url)), '..');
const peer = join(root, 'bench', 'remote', 'peer.ts');
const messages = Number(option('messages', '1000000'));
const rtts = Number(option('rtts', '5000'));
const broadcast = Number(option('broadcast', '200000'));

const procs: ChildProcess[] = [];

function run(args: string[]): { proc: ChildProcess; lines: AsyncGenerator<string> } {
  const proc = spawn(process.execPath, ['--import', 'tsx', peer, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  procs.push(proc);
  async function* lines(): AsyncGenerator<string> {
    let buf = '';
    for await (const chunk of proc.stdout!) {
      buf += chunk;
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        yield buf.slice(0, i);
        buf = buf.slice(i + 1);
      }
    }
  }
  return { proc, lines: lines() };
}

async function first(g: AsyncGenerator<string>): Promise<string> {
  const r = await g.next();
  if (r.done === true) throw new Error('a benchmark process ended without output');
  return r.value;
}

async function pair(recvRole: string, sendRole: string): Promise<{ rate: number; p50: number; p99: number }> {
  const recv = run([recvRole]);
  const port = (await first(recv.lines)).split(' ')[1]!;
  const send = run([sendRole, port, String(messages), String(rtts)]);
  const r = JSON.parse(await first(send.lines)) as { rate: number; p50: number; p99: number };
  recv.proc.kill('SIGKILL');
  return r;
}

async function hub(): Promise<number> {
  const h = run(['hub', String(broadcast), '3']);
  const port = (await first(h.lines)).split(' ')[1]!;
  for (let i = 0; i < 3; i++) run(['sub', port]);
  return (JSON.parse(await first(h.lines)) as { rate: number }).rate;
}

/** Erlang distribution between two nodes, if erl is here: the same two measures. */
function erlang(): { rate: number; p50: number; p99: number } | string {
  try {
    execFileSync('erl', ['-noshell', '-eval', 'halt().'], { stdio: 'ignore' });
  } catch {
    return 'not installed (apt-get install erlang-nox)';
  }
  const script = join(root, 'bench', 'remote', 'erlang.escript');
  try {
    const text = execFileSync('escript', [script, String(messages), String(rtts)], { encoding: 'utf8', timeout: 300000 });
    return JSON.parse(text.trim().split('\n').pop()!) as { rate: number; p50: number; p99: number };
  } catch (e) {
    return `failed: ${(e as Error).message.split('\n')[0]}`;
  }
}

function fmtRate(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(2)} M` : n >= 1e3 ? `${(n / 1e3).toFixed(0)} k` : n.toFixed(0);
}

async function main(): Promise<void> {
  printMachine('asyncoro peers benchmark (loopback, one process per node)');
  console.log(`load:    ${messages} messages one way, ${rtts} round trips one at a time, ${broadcast} broadcasts to 3 subscriber nodes\n`);
  const ours = await pair('recv', 'send');
  const node = await pair('node-recv', 'node-send');
  const bcast = await hub();
  const erl = erlang();
  const rows: string[][] = [
    ['asyncoro peers', fmtRate(ours.rate), ours.p50.toFixed(0), ours.p99.toFixed(0), `${fmtRate(bcast)} deliveries/s`, '1.00x'],
    ['node net + msgpackr, batched', fmtRate(node.rate), node.p50.toFixed(0), node.p99.toFixed(0), '', `${(node.rate / ours.rate).toFixed(2)}x`],
  ];
  if (typeof erl === 'string') rows.push(['erlang distribution', erl, '', '', '', '']);
  else rows.push(['erlang distribution', fmtRate(erl.rate), erl.p50.toFixed(0), erl.p99.toFixed(0), '', `${(erl.rate / ours.rate).toFixed(2)}x`]);
  printTable(['transport', 'msgs/s one way', 'RTT p50 µs', 'RTT p99 µs', 'broadcast to 3 nodes', 'msgs/s vs asyncoro'], rows);
  console.log('\nAnchors measured on this machine kind (issue 8): the original Python asyncoro ~3,900 msgs/s with a 560 µs round trip;');
  console.log('Erlang distribution ~300,000 msgs/s, 74 µs; plain Node TCP with batched msgpackr ~1.2 M/s.');
}

main()
  .catch((e) => {
    console.error(e);
    process.exitCode = 1;
  })
  .finally(() => {
    for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL');
  });
