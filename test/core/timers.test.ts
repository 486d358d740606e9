import { expect } from 'chai';
import { TimerHeap } from '../../lib/core/timers.js';

describe('core/timers', () => {
  it('pops entries in deadline order, equal deadlines in insertion order', () => {
    const h = new TimerHeap<string>();
    let seed = 12345;
    const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % 50);
    const entries: [number, string][] = [];
    for (let i = 0; i < 1000; i++) {
      const d = rand();
      entries.push([d, `e${i}`]);
      h.push(d, `e${i}`, i);
    }
    const expected = entries.map((e, i) => ({ d: e[0], i })).sort((a, b) => a.d - b.d || a.i - b.i);
    const got: number[] = [];
    while (h.size > 0) {
      got.push(h.topSeq());
      h.pop();
    }
    expect(got).to.deep.equal(expected.map((e) => e.i));
    expect(h.topDeadline()).to.equal(Infinity);
  });

  it('compact() keeps only live entries and their order', () => {
    const h = new TimerHeap<number>();
    for (let i = 0; i < 200; i++) h.push(200 - (i % 10), i, i);
    h.stale = 100;
    h.compact((item) => item % 2 === 0);
    expect(h.size).to.equal(100);
    expect(h.stale).to.equal(0);
    const out: number[] = [];
    while (h.size > 0) {
      out.push(h.topItem()!);
      h.pop();
    }
    const want = Array.from({ length: 200 }, (_, i) => i)
      .filter((i) => i % 2 === 0)
      .sort((a, b) => 200 - (a % 10) - (200 - (b % 10)) || a - b);
    expect(out).to.deep.equal(want);
  });
});
