import { describe, expect, it } from 'vitest';
import { Rng, deriveSeed } from '../../src/core/random';

describe('Rng', () => {
  it('gives the same stream for the same seed and different streams for different seeds', () => {
    const a = new Rng(42);
    const b = new Rng(42);
    const c = new Rng(43);
    const sa = Array.from({ length: 100 }, () => a.nextUint32());
    const sb = Array.from({ length: 100 }, () => b.nextUint32());
    const sc = Array.from({ length: 100 }, () => c.nextUint32());
    expect(sa).toEqual(sb);
    expect(sa).not.toEqual(sc);
    for (const x of sa) expect(Number.isInteger(x) && x >= 0 && x < 2 ** 32).toBe(true);
  });

  it('skipUint32(k) leaves the stream where k calls of nextUint32 do', () => {
    for (const k of [0, 1, 2, 31, 1000]) {
      const a = new Rng(7);
      const b = new Rng(7);
      for (let i = 0; i < k; i++) a.nextUint32();
      b.skipUint32(k);
      expect(Array.from({ length: 8 }, () => b.nextUint32())).toEqual(Array.from({ length: 8 }, () => a.nextUint32()));
    }
  });

  it('nextInt stays in range and is close to uniform', () => {
    const rng = new Rng(7);
    const counts = new Array(6).fill(0);
    const draws = 60_000;
    for (let i = 0; i < draws; i++) counts[rng.nextInt(6)]++;
    // Each cell ~ Binomial(60000, 1/6): sd ~ 91; 6 sd is far outside what a correct generator gives.
    for (const c of counts) expect(Math.abs(c - draws / 6)).toBeLessThan(550);
    expect(rng.nextInt(1)).toBe(0);
    expect(() => rng.nextInt(0)).toThrow(RangeError);
    expect(() => rng.nextInt(2.5)).toThrow(RangeError);
  });

  it('nextInt handles ranges near 2^32 without leaving them', () => {
    const rng = new Rng(1);
    for (let i = 0; i < 1000; i++) {
      const x = rng.nextInt(2 ** 32 - 5);
      expect(x).toBeGreaterThanOrEqual(0);
      expect(x).toBeLessThan(2 ** 32 - 5);
    }
  });

  it('nextFloat is in [0, 1) with mean near 1/2', () => {
    const rng = new Rng(3);
    let sum = 0;
    for (let i = 0; i < 20_000; i++) {
      const u = rng.nextFloat();
      expect(u >= 0 && u < 1).toBe(true);
      sum += u;
    }
    expect(Math.abs(sum / 20_000 - 0.5)).toBeLessThan(0.01);
  });

  it('shuffle is a permutation and depends on the seed', () => {
    const base = Array.from({ length: 50 }, (_, i) => i);
    const s1 = new Rng(5).shuffle([...base]);
    const s2 = new Rng(5).shuffle([...base]);
    const s3 = new Rng(6).shuffle([...base]);
    expect([...s1].sort((x, y) => x - y)).toEqual(base);
    expect(s1).toEqual(s2);
    expect(s1).not.toEqual(s3);
  });
});

describe('deriveSeed', () => {
  it('is stable, label-sensitive and order-sensitive', () => {
    expect(deriveSeed(0, 'bootstrap', 'grpo')).toBe(deriveSeed(0, 'bootstrap', 'grpo'));
    expect(deriveSeed(0, 'bootstrap', 'grpo')).not.toBe(deriveSeed(0, 'bootstrap', 'sft'));
    expect(deriveSeed(0, 'a', 'b')).not.toBe(deriveSeed(0, 'b', 'a'));
    expect(deriveSeed(0, 'x')).not.toBe(deriveSeed(1, 'x'));
  });
});
