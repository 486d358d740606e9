#!/usr/bin/env node
/**
 * The `asyncoro` command. `asyncoro node --secret S --register ./tasks.js` starts a peer process
 * (or with `--tls-cert/--tls-key/--tls-ca`, one whose links are mutual TLS) that hosts the generator functions `tasks.js` exports (each registered as an RCI under its
 * export name), prints a status line, and leaves the network cleanly on SIGINT or SIGTERM.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { self, sleep, spawn } from '../core/coro.js';
import { defaultScheduler } from '../core/scheduler.js';
import { receive } from '../msg/mailbox.js';
import { joinNetwork, peerStatus, PeerStatus, type Network, type NetworkOptions } from '../remote/network.js';
import { RCI } from '../remote/rci.js';

const USAGE = `usage: asyncoro node --secret SECRET [options]
       asyncoro node --tls-cert CERT --tls-key KEY --tls-ca CA [options]

  --secret SECRET        the network's shared secret (or ASYNCORO_SECRET)
  --tls-cert FILE        this node's certificate (PEM); with --tls-key and --tls-ca, every peer
                         link is mutual TLS, and the secret becomes optional
  --tls-key FILE         its private key (PEM)
  --tls-ca FILE          the CA certificates a peer's certificate must chain to (PEM)
  --tls-servername NAME  the name peers' certificates are checked against (default: their IP)
  --name NAME            this node's name (default: <hostname>-<pid>)
  --host HOST            address to listen on and announce (default 127.0.0.1)
  --tcp-port PORT        TCP port (default: any free port)
  --udp-port PORT        UDP discovery port (default 51350)
  --no-discover          no UDP discovery (broadcast or multicast)
  --multicast GROUP      discover by pinging this multicast group (239.1.2.3, ff15::1234)
                         instead of broadcasting; joined on the interface of --host
  --peers H:P[,H:P...]   peers to dial
  --dest-path DIR        where files sent here land
  --max-file-size BYTES  largest file accepted
  --register FILE        a module whose exported generator functions peers may run (repeatable)
  --status-ms MS         how often the status line is refreshed (default 1000)
`;

function fail(msg: string): never {
  process.stderr.write(`asyncoro: ${msg}\n\n${USAGE}`);
  process.exit(2);
}

function num(v: string | undefined, what: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) fail(`${what} must be a whole number, got ${JSON.stringify(v)}`);
  return n;
}

/** Registers every generator function `file` exports (and every RCI it exports) as an RCI. */
async function register(file: string): Promise<string[]> {
  const mod = (await import(pathToFileURL(resolve(file)).href)) as Record<string, unknown>;
  const names: string[] = [];
  const add = (name: string, v: unknown): void => {
    if (v instanceof RCI) {
      v.register();
      names.push(v.name);
    } else if (typeof v === 'function' && v.constructor.name === 'GeneratorFunction') {
      const rci = new RCI(v as (...a: unknown[]) => Generator<unknown, unknown, unknown>, { name: name === 'default' ? v.name || 'default' : name });
      rci.register();
      names.push(rci.name);
    }
  };
  for (const [name, v] of Object.entries(mod)) {
    if (name === 'default' && v !== null && typeof v === 'object') for (const [n, w] of Object.entries(v)) add(n, w);
    else add(name, v);
  }
  if (names.length === 0) fail(`${file} exports no generator function`);
  return names;
}

async function main(argv: string[]): Promise<void> {
  const [cmd, ...rest] = argv;
  if (cmd === '--help' || cmd === '-h' || cmd === undefined) {
    process.stdout.write(USAGE);
    process.exit(cmd === undefined ? 2 : 0);
  }
  if (cmd !== 'node') fail(`unknown command ${JSON.stringify(cmd)}`);
  let args;
  try {
    args = parseArgs({
      args: rest,
      options: {
        secret: { type: 'string' },
        'tls-cert': { type: 'string' },
        'tls-key': { type: 'string' },
        'tls-ca': { type: 'string' },
        'tls-servername': { type: 'string' },
        name: { type: 'string' },
        host: { type: 'string' },
        'tcp-port': { type: 'string' },
        'udp-port': { type: 'string' },
        'no-discover': { type: 'boolean' },
        multicast: { type: 'string' },
        peers: { type: 'string' },
        'dest-path': { type: 'string' },
        'max-file-size': { type: 'string' },
        register: { type: 'string', multiple: true },
        'status-ms': { type: 'string' },
      },
      strict: true,
    }).values;
  } catch (e) {
    fail((e as Error).message);
  }
  const secret = args.secret ?? process.env['ASYNCORO_SECRET'];
  const tlsFiles = [args['tls-cert'], args['tls-key'], args['tls-ca']];
  const useTls = tlsFiles.some((f) => f !== undefined);
  if (useTls && tlsFiles.some((f) => f === undefined)) fail('--tls-cert, --tls-key and --tls-ca go together');
  if (!useTls && args['tls-servername'] !== undefined) fail('--tls-servername needs --tls-cert, --tls-key and --tls-ca');
  if ((secret === undefined || secret === '') && !useTls) fail('a secret is required (--secret or ASYNCORO_SECRET), or TLS (--tls-cert, --tls-key, --tls-ca)');
  const options: NetworkOptions = { discover: args['no-discover'] !== true };
  if (secret !== undefined && secret !== '') options.secret = secret;
  if (useTls) {
    const read = (f: string, what: string): string => {
      try {
        return readFileSync(f, 'utf8');
      } catch (e) {
        fail(`${what}: ${(e as Error).message}`);
      }
    };
    options.tls = { cert: read(args['tls-cert']!, '--tls-cert'), key: read(args['tls-key']!, '--tls-key'), ca: read(args['tls-ca']!, '--tls-ca') };
    if (args['tls-servername'] !== undefined) options.tls = { ...options.tls, servername: args['tls-servername'] };
  }
  const rcis: string[] = [];
  for (const f of args.register ?? []) rcis.push(...(await register(f)));
  if (args.multicast !== undefined) {
    if (args['no-discover'] === true) fail('--multicast and --no-discover exclude each other');
    // Checked by joinNetwork, which says what is wrong with the group.
    options.discover = { multicast: args.multicast };
  }
  if (args.name !== undefined) options.name = args.name;
  if (args.host !== undefined) options.host = args.host;
  const tcp = num(args['tcp-port'], '--tcp-port');
  if (tcp !== undefined) options.tcpPort = tcp;
  const udp = num(args['udp-port'], '--udp-port');
  if (udp !== undefined) options.udpPort = udp;
  if (args.peers !== undefined) options.peers = args.peers.split(',').filter((p) => p !== '');
  if (args['dest-path'] !== undefined) options.destPath = args['dest-path'];
  const max = num(args['max-file-size'], '--max-file-size');
  if (max !== undefined) options.maxFileSize = max;
  const statusMs = num(args['status-ms'], '--status-ms') ?? 1000;
  const tty = process.stdout.isTTY === true;
  const sched = defaultScheduler();
  let net: Network | undefined;
  let stopping = false;

  const statusLine = (): string => {
    const peers = net!.peers().filter((p) => p.status === 'online');
    const st = net!.statistics();
    const s = sched.statistics();
    return (
      `asyncoro node ${net!.name} at ${net!.location}${useTls ? ' (mutual TLS)' : ''} | ${peers.length} peer(s) online` +
      (peers.length > 0 ? ` (${peers.map((p) => p.name).join(', ')})` : '') +
      ` | rci: ${rcis.length > 0 ? rcis.join(', ') : '-'} | coroutines: ${s.alive} | frames in/out: ${st.framesIn}/${st.framesOut}`
    );
  };
  const say = (line: string): void => {
    process.stdout.write(tty ? `\r\x1b[K${line}\n` : `${line}\n`);
  };

  sched.spawn(function* node() {
    try {
      net = yield* joinNetwork({ ...options, log: (l) => say(`  ${l}`) });
    } catch (e) {
      process.stderr.write(`asyncoro: cannot join the network: ${(e as Error).message}\n`);
      process.exit(1);
    }
    spawn(function* watch() {
      peerStatus(self());
      for (;;) {
        const st = yield* receive((m): m is PeerStatus => m instanceof PeerStatus);
        say(`peer ${st.name} at ${st.location} ${st.status}`);
      }
    }).daemon = true;
    let last = '';
    for (;;) {
      const line = statusLine();
      if (tty) process.stdout.write(`\r\x1b[K${line}`);
      else if (line.replace(/ \| coroutines.*$/, '') !== last.replace(/ \| coroutines.*$/, '')) process.stdout.write(`${line}\n`);
      last = line;
      yield* sleep(statusMs);
      if (stopping) return;
    }
  });

  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    say(`asyncoro node: ${signal}: leaving the network`);
    sched.spawn(function* () {
      if (net !== undefined) yield* net.close();
      process.exit(0);
    });
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

void main(process.argv.slice(2));
