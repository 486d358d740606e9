/** Peer processes for the peers tests: start one, wait for lines it prints, stop it. */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const fixture = join(fileURLToPath(new URL('.', import.meta.url)), '..', 'fixtures', 'remote-node.ts');

export interface PeerProcess {
  proc: ChildProcess;
  port: number;
  out: string;
  err: string;
  /** Resolves when stdout (or stderr, with `stream: 'err'`) has a line matching `re`. */
  waitFor(re: RegExp, ms?: number, stream?: 'out' | 'err'): Promise<string>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop(): Promise<void>;
}

const started: PeerProcess[] = [];

/** A UDP port for discovery that no other test run shares. */
export function freeUdpPort(): number {
  return 20000 + Math.floor(Math.random() * 20000);
}

/**
 * Starts the fixture with `options` (joinNetwork options and the fixture's own); `prefix` runs it
 * under another command (`ip netns exec ns1`). {@link stopPeers} stops it unless it is `shared`.
 */
export function startPeer(options: Record<string, unknown>, prefix: string[] = [], shared = false): Promise<PeerProcess> {
  const args = [...prefix, process.execPath, '--import', 'tsx', fixture, JSON.stringify(options)];
  const proc = spawn(args[0]!, args.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  const p: PeerProcess = {
    proc,
    port: 0,
    out: '',
    err: '',
    waitFor(re, ms = 10000, stream = 'out') {
      return new Promise((resolve, reject) => {
        const look = (): boolean => {
          const text = stream === 'out' ? p.out : p.err;
          const m = text.split('\n').find((l) => re.test(l));
          if (m !== undefined) {
            resolve(m);
            return true;
          }
          return false;
        };
        if (look()) return;
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`no line matching ${re} within ${ms} ms; stdout:\n${p.out}\nstderr:\n${p.err}`));
        }, ms);
        const on = (): void => {
          if (look()) cleanup();
        };
        const cleanup = (): void => {
          clearTimeout(timer);
          proc.stdout!.off('data', on);
          proc.stderr!.off('data', on);
        };
        proc.stdout!.on('data', on);
        proc.stderr!.on('data', on);
      });
    },
    exited: new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal }))),
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      await p.exited;
    },
  };
  // Registered before the line listeners of waitFor, so the text is there when they look.
  proc.stdout!.on('data', (d) => (p.out += d));
  proc.stderr!.on('data', (d) => (p.err += d));
  // A shared one (started in a before() hook) is stopped by its own after() hook.
  if (!shared) started.push(p);
  return p.waitFor(/^ready \d+$/, 20000).then((line) => {
    p.port = Number(line.split(' ')[1]);
    return p;
  });
}

/** Stops every peer process the tests started. */
export async function stopPeers(): Promise<void> {
  await Promise.all(started.splice(0).map((p) => p.stop()));
}
