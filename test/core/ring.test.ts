import { expect } from 'chai';
import { Ring } from '../../lib/core/ring.js';

describe('core/ring', () => {
  it('is a FIFO that grows past its capacity keeping order', () => {
    const r = new Ring<number>(2);
    for (let i = 0; i < 5; i++) r.push(i);
    expect(r.shift()).to.equal(0);
    for (let i = 5; i < 40; i++) r.push(i);
    const out: number[] = [];
    while (r.length > 0) out.push(r.shift()!);
    expect(out).to.deep.equal(Array.from({ length: 39 }, (_, i) => i + 1));
    expect(r.shift()).to.equal(undefined);
  });

  it('at() and removeAt() address items from the head, across the wrap-around', () => {
    const r = new Ring<string>(4);
    for (const s of ['x', 'y', 'a', 'b']) r.push(s);
    r.shift();
    r.shift();
    for (const s of ['c', 'd']) r.push(s); // wraps
    expect([0, 1, 2, 3].map((i) => r.at(i))).to.deep.equal(['a', 'b', 'c', 'd']);
    expect(r.at(4)).to.equal(undefined);
    expect(r.removeAt(2)).to.equal('c');
    expect(r.removeAt(0)).to.equal('a');
    expect(r.removeAt(9)).to.equal(undefined);
    expect([r.shift(), r.shift(), r.length]).to.deep.equal(['b', 'd', 0]);
  });

  it('clear() drops every item', () => {
    const r = new Ring<object>();
    r.push({});
    r.push({});
    r.clear();
    expect(r.length).to.equal(0);
    expect(r.at(0)).to.equal(undefined);
  });
});
