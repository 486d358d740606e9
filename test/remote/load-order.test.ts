/**
 * The layers import each other in cycles (lib/core/coro.ts loads the monitors layer, which
 * installs its hooks in lib/remote/monitor-seam.ts; lib/remote loads lib/core), and an ES module
 * cycle breaks at load time when a module uses a value of one that has not run yet. Whichever
 * module a program imports first, the cycle must load and the monitors hooks must be in place:
 * each module of the cycle is imported first in its own fresh process.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..');

// The modules where the cycle can be entered in a different order (each loads the others).
const FIRST = [
  'lib/index.ts',
  'lib/core/coro.ts',
  'lib/msg/channel.ts',
  'lib/supervise/monitor.ts',
  'lib/supervise/supervisor.ts',
  'lib/remote/monitor-seam.ts',
  'lib/remote/codec.ts',
  'lib/remote/network.ts',
];

/** Imports `first`, then the whole library, and says whether the monitors hooks are installed. */
function loadFirst(first: string): Promise<{ code: number | null; out: string; err: string }> {
  const script = `
    await import(${JSON.stringify(join(root, first))});
    const lib = await import(${JSON.stringify(join(root, 'lib/index.ts'))});
    const seam = await import(${JSON.stringify(join(root, 'lib/remote/monitor-seam.ts'))});
    const st = seam.remoteMonitorHooks().status({ toString: () => 'x' }, 'error', new Error('e'));
    console.log(st instanceof lib.MonitorStatus && st.kind === 'error' ? 'ok' : 'wrong status');
  `;
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('exit', (code) => resolve({ code, out, err }));
  });
}

describe('remote/load order', function () {
  this.timeout(60000);

  it('each module of the layers cycle loads first in a fresh process, and the monitors hooks are installed', async () => {
    const results: [string, { code: number | null; out: string; err: string }][] = [];
    // Two at a time: the machine has two cores.
    for (let i = 0; i < FIRST.length; i += 2) {
      const batch = FIRST.slice(i, i + 2);
      const rs = await Promise.all(batch.map(loadFirst));
      batch.forEach((m, j) => results.push([m, rs[j]!]));
    }
    for (const [m, r] of results) {
      expect(r.code, `${m} first:\n${r.err}`).to.equal(0);
      expect(r.out.trim(), m).to.equal('ok');
    }
  });
});
