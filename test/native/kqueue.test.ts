/**
 * kqueue's integrated mode rests on a kernel detail: Node's loop (libuv, itself on kqueue there)
 * watches the poller's kqueue fd from its own kqueue, and some macOS kernels report such a nested
 * kqueue as ready at once and forever. The backend tests nesting when it opens; when the test
 * fails it announces no pollable fd, and the TypeScript layer offers thread mode first.
 *
 * Runs where the loaded addon has kqueue: the test addon built with the shims (npm run
 * test:shims), whose kqueue can be told to behave like such a kernel, or a kqueue system.
 */
import { expect } from 'chai';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { native, nativeFile } from '../../lib/native/binding.js';
import { runChild } from '../helpers/child.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const fixture = join(here, '..', 'fixtures', 'kqueue-child.ts');
const hasKqueue = native.backends().some((b) => b.name === 'kqueue');
const shim = nativeFile.includes(join('test', 'native', 'shims'));

interface Report {
  pollable: boolean;
  modes: string[];
  mode: string;
  integrated: string;
  read: boolean;
}

async function child(args: string[]): Promise<Report> {
  const r = await runChild(fixture, args, 20000);
  expect(r.err).to.equal('');
  expect(r.code, r.err).to.equal(0);
  return JSON.parse(r.out.trim()) as Report;
}

if (hasKqueue) {
  describe('kqueue: the nested-kqueue self-test and the fallback to thread mode', function () {
    this.timeout(30000);

    it('announces what the kernel does, and a default scheduler runs in the mode offered first', async () => {
      const r = await child([]);
      expect(r.modes[0]).to.equal(r.pollable ? 'integrated' : 'thread');
      expect(r.mode).to.equal(r.modes[0]);
      expect(r.integrated).to.equal(r.pollable ? 'opened' : 'BackendUnavailableError');
      expect(r.read).to.equal(true);
      // The shim's kqueue is an epoll fd, which nests properly.
      if (shim) expect(r.pollable).to.equal(true);
    });

    if (shim) {
      it('falls back to thread mode on a kernel that reports a nested kqueue as always ready', async () => {
        const r = await child(['always-ready']);
        expect(r).to.deep.equal({
          pollable: false,
          modes: ['thread', 'exclusive'],
          mode: 'thread',
          integrated: 'BackendUnavailableError',
          read: true,
        });
      });
    }
  });
}
