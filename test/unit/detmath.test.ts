import { describe, expect, it } from 'vitest';
import { exp, log } from '../../src/core/detmath';
import { Rng } from '../../src/core/random';

/** Distance in units in the last place between two finite doubles of the same sign. */
function ulps(a: number, b: number): number {
  const view = new DataView(new ArrayBuffer(16));
  view.setFloat64(0, a);
  view.setFloat64(8, b);
  return Math.abs(Number(view.getBigInt64(0) - view.getBigInt64(8)));
}

describe('deterministic exp', () => {
  it('is within 1 ulp of Math.exp over the range that matters', () => {
    const rng = new Rng(1);
    let worst = 0;
    for (let i = 0; i < 200_000; i++) {
      const x = (rng.nextFloat() * 2 - 1) * (i % 2 ? 40 : 700);
      worst = Math.max(worst, ulps(exp(x), Math.exp(x)));
    }
    expect(worst).toBeLessThanOrEqual(1);
  });

  it('handles exact and special values', () => {
    expect(exp(0)).toBe(1);
    expect(exp(-0)).toBe(1);
    expect(ulps(exp(1), Math.E)).toBeLessThanOrEqual(1); // fdlibm's e^1 is famously 1 ulp above Math.E
    expect(exp(NaN)).toBeNaN();
    expect(exp(Infinity)).toBe(Infinity);
    expect(exp(-Infinity)).toBe(0);
    expect(exp(710)).toBe(Infinity);
    expect(ulps(exp(709.7), Math.exp(709.7))).toBeLessThanOrEqual(1); // k = 1024: scaled in two steps
    expect(exp(-745.2)).toBe(0);
    expect(exp(-740)).toBeGreaterThan(0); // subnormal, not flushed
    expect(exp(1e-10)).toBe(1 + 1e-10);
  });
});

describe('deterministic log', () => {
  it('is within 1 ulp of Math.log for normal and subnormal inputs', () => {
    const rng = new Rng(2);
    let worst = 0;
    for (let i = 0; i < 200_000; i++) {
      const x =
        i % 3 === 0
          ? rng.nextFloat()
          : i % 3 === 1
            ? Math.exp((rng.nextFloat() * 2 - 1) * 700)
            : 1 + (rng.nextFloat() - 0.5) * 1e-5;
      if (x > 0) worst = Math.max(worst, ulps(log(x), Math.log(x)));
    }
    for (const x of [5e-324, 1e-310, 2.2250738585072014e-308]) worst = Math.max(worst, ulps(log(x), Math.log(x)));
    expect(worst).toBeLessThanOrEqual(1);
  });

  it('handles exact and special values', () => {
    expect(log(1)).toBe(0);
    expect(log(Math.E)).toBeCloseTo(1, 15);
    expect(log(2)).toBe(Math.LN2);
    expect(log(0)).toBe(-Infinity);
    expect(log(-1)).toBeNaN();
    expect(log(NaN)).toBeNaN();
    expect(log(Infinity)).toBe(Infinity);
  });

  it('inverts exp', () => {
    for (const x of [-30, -1.5, -0.1, 0.25, 3, 50]) expect(log(exp(x))).toBeCloseTo(x, 13);
  });
});
