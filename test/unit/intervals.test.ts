import { describe, expect, it } from 'vitest';
import {
  basicInterval,
  bcaInterval,
  bootstrapInterval,
  excludesEstimate,
  jackknifeAcceleration,
  normalCdf,
  normalQuantile,
} from '../../src/core/intervals';

// Reference values from scipy.stats.norm (cdf, ppf) and numpy.
describe('normal CDF and quantile', () => {
  it('agree with scipy to 1e-14', () => {
    expect(normalCdf(0)).toBe(0.5);
    expect(Math.abs(normalCdf(1.96) - 0.9750021048517795)).toBeLessThan(1e-14);
    expect(Math.abs(normalCdf(-1) - 0.15865525393145707)).toBeLessThan(1e-14);
    expect(Math.abs(normalQuantile(0.975) - 1.959963984540054)).toBeLessThan(1e-13);
    expect(Math.abs(normalQuantile(0.3) + 0.5244005127080409)).toBeLessThan(1e-13);
    // Far in the tail the CDF is good to a relative 1e-9, which is enough for any CI level.
    expect(Math.abs(normalQuantile(1e-10) + 6.361340902404056)).toBeLessThan(1e-9);
    expect(normalQuantile(0)).toBe(-Infinity);
    expect(normalQuantile(1)).toBe(Infinity);
    expect(normalQuantile(1.5)).toBeNaN();
  });
});

describe('bootstrap intervals from a resample distribution', () => {
  const values = Float64Array.from({ length: 10 }, (_, i) => i + 1); // resamples 1..10

  it('basic: the percentile interval reflected about the estimate', () => {
    // Percentile 95% of 1..10: [1 + 9 * 0.025, 1 + 9 * 0.975] = [1.225, 9.775]; estimate 3: [6 - 9.775, 6 - 1.225].
    const [lo, hi] = basicInterval(values, 3, 0.95);
    expect(lo).toBeCloseTo(-3.775, 12);
    expect(hi).toBeCloseTo(4.775, 12);
  });

  it('BCa with no bias and no acceleration is the percentile interval', () => {
    // Five of ten resamples below 5.5: z0 = 0; a symmetric jackknife: a = 0.
    const [lo, hi] = bcaInterval(values, 5.5, [1, 2, 3], 0.95);
    expect(lo).toBeCloseTo(1.225, 12);
    expect(hi).toBeCloseTo(9.775, 12);
  });

  it('BCa shifts the quantiles by the bias and the acceleration (values from scipy.stats.norm)', () => {
    // Three of ten below 3.5: z0 = Phi^-1(0.3). Jackknife 1, 2, 4, 8: a = -0.05473397787497494 (numpy).
    expect(jackknifeAcceleration([1, 2, 4, 8])).toBeCloseTo(-0.05473397787497494, 14);
    const [lo, hi] = bcaInterval(values, 3.5, [1, 2, 4, 8], 0.95);
    expect(Math.abs(lo - 1.0030351037490222)).toBeLessThan(1e-9);
    expect(Math.abs(hi - 8.110417433643875)).toBeLessThan(1e-9);
    // Without acceleration: quantiles at Phi(2 z0 + z), i.e. 1.0118040363501397 and 8.370057171192599.
    const [lo0, hi0] = bcaInterval(values, 3.5, [1, 2, 3], 0.95);
    expect(Math.abs(lo0 - 1.0118040363501397)).toBeLessThan(1e-9);
    expect(Math.abs(hi0 - 8.370057171192599)).toBeLessThan(1e-9);
  });

  it('BCa has no interval when every resample lies on one side of the estimate', () => {
    expect(bcaInterval(values, 0.5, [1, 2, 3])).toEqual([NaN, NaN]);
    expect(bcaInterval(values, 11, [1, 2, 3])).toEqual([NaN, NaN]);
    expect(() => bootstrapInterval('bca', values, 3)).toThrow(/jackknife/);
    // One of 1,000 resamples below: z0 = Phi^-1(0.001) = -3.09, both corrected levels fall below 1/R.
    const many = Float64Array.from({ length: 1000 }, (_, i) => i + 1);
    expect(bcaInterval(many, 1.5, [1, 2, 3])).toEqual([NaN, NaN]);
    // Fifty below: z0 = Phi^-1(0.05); levels Phi(2 z0 -/+ 1.96) = 7.6e-8 and 0.0918 (scipy), so an interval is
    // given: from the lowest resample to the quantile at 0.0918, 1 + 999 * 0.0918 = 92.71.
    const [lo, hi] = bcaInterval(many, 50.5, [1, 2, 3]);
    expect(lo).toBeCloseTo(1, 3);
    expect(Math.abs(hi - (1 + 999 * 0.09180143660335716))).toBeLessThan(1e-6);
  });

  it('names an interval that lies wholly above or below its estimate', () => {
    expect(excludesEstimate([0.0224, 0.0562], 0.0147)).toBe('above');
    expect(excludesEstimate([-0.02, -0.01], 0)).toBe('below');
    expect(excludesEstimate([0.01, 0.02], 0.01)).toBeUndefined();
    expect(excludesEstimate([NaN, NaN], 0.01)).toBeUndefined();
    expect(excludesEstimate(undefined, 0.01)).toBeUndefined();
  });
});
