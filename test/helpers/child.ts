/** Runs a TypeScript fixture in a child Node process and collects what it did. */
import { spawn } from 'node:child_process';

export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  out: string;
  err: string;
  ms: number;
}

/**
 * Runs `node [nodeArgs] --import tsx <fixture> <args>`; with `killAfterMs`, sends SIGTERM then if
 * it has not exited by itself.
 */
export function runChild(fixture: string, args: string[], killAfterMs = 0, nodeArgs: string[] = []): Promise<ChildResult> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const p = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', fixture, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    const killer = killAfterMs > 0 ? setTimeout(() => p.kill('SIGTERM'), killAfterMs) : undefined;
    p.on('exit', (code, signal) => {
      if (killer) clearTimeout(killer);
      resolve({ code, signal, out, err, ms: Date.now() - t0 });
    });
  });
}
