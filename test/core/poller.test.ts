/** The policy above the native pollers: which backends, which modes, and the errors for the rest. */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ALL_BACKENDS,
  BackendUnavailableError,
  SystemError,
  backends,
  openPoller,
  resolvePoller,
} from '../../lib/index.js';
import { native } from '../../lib/native/binding.js';

const root = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..');

describe('core/poller: backends and modes', () => {
  let saved: string | undefined;
  beforeEach(() => {
    saved = process.env['ASYNCORO_POLLER'];
    delete process.env['ASYNCORO_POLLER'];
  });
  afterEach(() => {
    if (saved === undefined) delete process.env['ASYNCORO_POLLER'];
    else process.env['ASYNCORO_POLLER'] = saved;
  });

  it('lists what this Linux host has, best first, with the modes each can run in', () => {
    const list = backends();
    // io_uring is listed where the kernel lets this process open a ring (it does on the CI host).
    const ring = native.ringProbe() === 0;
    expect(list.map((b) => b.name)).to.deep.equal(ring ? ['epoll', 'io_uring', 'poll', 'select'] : ['epoll', 'poll', 'select']);
    expect(list[0]).to.deep.include({ name: 'epoll', edge: true, oneShot: true, kind: 'readiness' });
    expect(list[0]!.modes).to.deep.equal(['integrated', 'thread', 'exclusive']);
    const rest = ring ? list.slice(2) : list.slice(1);
    for (const b of rest) {
      expect(b.modes).to.deep.equal(['thread', 'exclusive']);
      expect(b.kind).to.equal('readiness');
    }
    if (ring) expect(list[1]).to.deep.equal({ name: 'io_uring', modes: ['integrated', 'exclusive'], edge: false, oneShot: true, kind: 'completion' });
    expect(Object.isFrozen(list)).to.equal(true);
  });

  it('refuses to open io_uring as a poller: it is a completion backend, for a Scheduler', function () {
    if (native.ringProbe() !== 0) this.skip();
    expect(() => openPoller({ poller: 'io_uring', mode: 'exclusive' })).to.throw(BackendUnavailableError, "'io_uring' is a completion backend");
  });

  it('takes the best backend in its default mode when nothing is asked', () => {
    expect(resolvePoller()).to.deep.include({ mode: 'integrated' });
    expect(resolvePoller().backend.name).to.equal('epoll');
    expect(resolvePoller('poll').mode).to.equal('thread');
  });

  it('names what is available when a known backend is missing here', () => {
    for (const name of ALL_BACKENDS.filter((n) => !backends().some((b) => b.name === n))) {
      let err: unknown;
      try {
        openPoller({ poller: name, mode: 'exclusive' });
      } catch (e) {
        err = e;
      }
      expect(err).to.be.instanceOf(BackendUnavailableError);
      const e = err as BackendUnavailableError;
      expect(e.code).to.equal('ERR_BACKEND_UNAVAILABLE');
      const names = backends().map((b) => b.name);
      expect(e.message).to.contain(`'${name}'`).and.contain(`available: ${names.join(', ')}`);
      expect(e.available).to.deep.equal(names);
    }
  });

  it('refuses a mode the backend cannot run in, and unknown names, at the call', () => {
    expect(() => openPoller({ poller: 'poll', mode: 'integrated', onEvents() {} })).to.throw(
      BackendUnavailableError,
      "'poll' cannot run in integrated mode; its modes: thread, exclusive",
    );
    expect(() => openPoller({ poller: 'nope' as never })).to.throw(
      BackendUnavailableError,
      "unknown poller backend 'nope'",
    );
    expect(() => openPoller({ mode: 'fast' as never })).to.throw(TypeError, "unknown poller mode 'fast'");
    expect(() => openPoller({ poller: 'epoll', mode: 'thread' })).to.throw(TypeError, 'onEvents');
    expect(() => openPoller({ capacity: 0, mode: 'exclusive' })).to.throw(RangeError, 'capacity');
    expect(() => openPoller({ capacity: 1.5, mode: 'exclusive' })).to.throw(RangeError, 'capacity');
  });

  it('ASYNCORO_POLLER picks the backend when the code does not, and is checked like one', () => {
    process.env['ASYNCORO_POLLER'] = 'select';
    expect(resolvePoller().backend.name).to.equal('select');
    expect(resolvePoller('poll').backend.name).to.equal('poll');
    process.env['ASYNCORO_POLLER'] = 'kqueue';
    expect(() => resolvePoller()).to.throw(BackendUnavailableError, 'ASYNCORO_POLLER');
  });

  it('opens pollers whose event array has the asked capacity', () => {
    const { poller, events, description } = openPoller({ poller: 'poll', mode: 'exclusive', capacity: 5 });
    expect(events).to.have.length(15);
    expect(poller.capacity).to.equal(5);
    expect(description.name).to.equal('poll');
    expect(poller.backend).to.equal('poll');
    expect(poller.mode).to.equal('exclusive');
    poller.close();
  });

  it('turns a kernel refusal to open a poller into a SystemError (EMFILE under a low fd limit)', () => {
    const script = `
      import { openPoller } from './lib/core/poller.ts';
      import { SystemError } from './lib/core/errors.ts';
      const kept = [];
      try {
        for (let i = 0; i < 100; i++) kept.push(openPoller({ poller: 'epoll', mode: 'exclusive' }));
        console.log('no error');
      } catch (e) {
        console.log(e instanceof SystemError, e.code, e.syscall);
      }`;
    const r = spawnSync('bash', ['-c', `ulimit -n 40 && exec "${process.execPath}" --import tsx --input-type=module -e "$0"`, script], {
      cwd: root,
      encoding: 'utf8',
    });
    expect(r.stdout.trim(), r.stderr).to.equal('true EMFILE open epoll poller');
    expect(SystemError).to.be.a('function');
  });
});
