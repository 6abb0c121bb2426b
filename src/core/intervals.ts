/**
 * Bootstrap confidence intervals from a resample distribution: the percentile interval (the study's choice and
 * the default), the basic bootstrap, and BCa (Efron 1987) with jackknife acceleration. Normal quantiles use this
 * kit's exp/log (detmath), so every machine gives the same interval.
 */

import { exp, log } from './detmath';
import { finiteQuantiles, finiteSorted, percentileInterval } from './stats';
import { INTERVAL_METHODS, type Interval, type IntervalMethod } from './types';

export { INTERVAL_METHODS, type IntervalMethod };

/**
 * Standard normal CDF, Hart's double-precision rational approximation (Hart et al. 1968, algorithm 5666, as
 * given by West 2005, "Better approximations to cumulative normal functions"), absolute error below 1e-14.
 */
export function normalCdf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const z = Math.abs(x);
  let c: number;
  if (z > 37) c = 0;
  else {
    const e = exp((-z * z) / 2);
    if (z < 7.07106781186547) {
      let n = 3.52624965998911e-2 * z + 0.700383064443688;
      n = n * z + 6.37396220353165;
      n = n * z + 33.912866078383;
      n = n * z + 112.079291497871;
      n = n * z + 221.213596169931;
      n = n * z + 220.206867912376;
      let d = 8.83883476483184e-2 * z + 1.75566716318264;
      d = d * z + 16.064177579207;
      d = d * z + 86.7807322029461;
      d = d * z + 296.564248779674;
      d = d * z + 637.333633378831;
      d = d * z + 793.826512519948;
      d = d * z + 440.413735824752;
      c = (e * n) / d;
    } else {
      let b = z + 0.65;
      b = z + 4 / b;
      b = z + 3 / b;
      b = z + 2 / b;
      b = z + 1 / b;
      c = e / b / 2.506628274631;
    }
  }
  return x > 0 ? 1 - c : c;
}

/**
 * Standard normal quantile: Acklam's rational approximation (relative error 1.15e-9) refined by one Halley step
 * on normalCdf. Infinite at 0 and 1, NaN outside [0, 1].
 */
export function normalQuantile(p: number): number {
  if (!(p >= 0 && p <= 1)) return NaN;
  if (p === 0) return -Infinity;
  if (p === 1) return Infinity;
  const a = [
    -3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1,
    2.506628277459239,
  ];
  const b = [
    -5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1,
  ];
  const c = [
    -7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968,
    2.938163982698783,
  ];
  const d = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
  const low = 0.02425;
  let x: number;
  if (p < low) {
    const q = Math.sqrt(-2 * log(p));
    x =
      (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
      ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  } else if (p <= 1 - low) {
    const q = p - 0.5;
    const r = q * q;
    x =
      ((((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q) /
      (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
  } else {
    const q = Math.sqrt(-2 * log(1 - p));
    x =
      -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
      ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  const e = normalCdf(x) - p;
  const u = e * Math.sqrt(2 * Math.PI) * exp((x * x) / 2);
  return x - u / (1 + (x * u) / 2);
}

/**
 * Basic (reverse percentile) bootstrap interval [2 theta - q_hi, 2 theta - q_lo] (Davison & Hinkley 1997, eq. 5.6),
 * q the percentile interval's quantiles: it reflects the resamples' bias about the estimate.
 */
export function basicInterval(values: ArrayLike<number>, estimate: number, level = 0.95): Interval {
  const [lo, hi] = percentileInterval(values, level);
  return [2 * estimate - hi, 2 * estimate - lo];
}

/**
 * Jackknife acceleration a = sum (m - t_i)^3 / (6 (sum (m - t_i)^2)^(3/2)), t_i the leave-one-out estimates and
 * m their mean (Efron & Tibshirani 1993, eq. 14.15). 0 when the jackknife values do not vary.
 */
export function jackknifeAcceleration(jackknife: ArrayLike<number>): number {
  const t = finiteSorted(jackknife);
  if (t.length === 0) return NaN;
  let mean = 0;
  for (const x of t) mean += x;
  mean /= t.length;
  let s2 = 0;
  let s3 = 0;
  for (const x of t) {
    const d = mean - x;
    s2 += d * d;
    s3 += d * d * d;
  }
  // s2 * sqrt(s2), not Math.pow: sqrt is correctly rounded everywhere, pow is not.
  return s2 === 0 ? 0 : s3 / (6 * s2 * Math.sqrt(s2));
}

/**
 * BCa interval (Efron 1987, "Better bootstrap confidence intervals"; Efron & Tibshirani 1993, ch. 14): the
 * quantiles of the resamples at a1 = Phi(z0 + (z0 + z_lo) / (1 - a (z0 + z_lo))) and a2 likewise with z_hi, where
 * z0 = Phi^-1(#{resamples < estimate} / R) corrects the median bias, a is the jackknife acceleration and
 * z_lo, z_hi = Phi^-1((1 -/+ level) / 2). Quantiles as quantileSorted; undefined (NaN) resamples are left out.
 * [NaN, NaN] when no resample (or every resample) lies below the estimate: the bias correction is then
 * infinite and BCa has no interval to give; likewise when the corrected levels both fall within 1/R of one end,
 * where the "interval" would be the single most extreme resample.
 */
export function bcaInterval(
  values: ArrayLike<number>,
  estimate: number,
  jackknife: ArrayLike<number>,
  level = 0.95,
): Interval {
  let R = 0;
  let below = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isFinite(v)) continue;
    R++;
    if (v < estimate) below++;
  }
  if (R === 0 || !Number.isFinite(estimate)) return [NaN, NaN];
  if (below === 0 || below === R) return [NaN, NaN];
  const z0 = normalQuantile(below / R);
  const a = jackknifeAcceleration(jackknife);
  if (!Number.isFinite(a)) return [NaN, NaN];
  const adjusted = (z: number) => normalCdf(z0 + (z0 + z) / (1 - a * (z0 + z)));
  const a1 = adjusted(normalQuantile((1 - level) / 2));
  const a2 = adjusted(normalQuantile((1 + level) / 2));
  // Both levels beyond the outermost resample (1/R from either end): the interval would be read off no tail at
  // all, only the extreme resample, so there is none to give.
  if (a2 < 1 / R || a1 > 1 - 1 / R) return [NaN, NaN];
  const [lo, hi] = finiteQuantiles(values, [a1, a2]);
  return [lo, hi];
}

/** The interval of `method` (the jackknife values are needed for BCa only). */
export function bootstrapInterval(
  method: IntervalMethod,
  values: ArrayLike<number>,
  estimate: number,
  level = 0.95,
  jackknife?: ArrayLike<number>,
): Interval {
  switch (method) {
    case 'percentile':
      return percentileInterval(values, level);
    case 'basic':
      return basicInterval(values, estimate, level);
    case 'bca':
      if (!jackknife) throw new RangeError('a BCa interval needs the jackknife (leave-one-out) estimates');
      return bcaInterval(values, estimate, jackknife, level);
  }
}

/** Whether an interval lies wholly above or below its own estimate (and which): what the table marks. */
export function excludesEstimate(ci: Interval | undefined, estimate: number): 'above' | 'below' | undefined {
  if (!ci || !Number.isFinite(estimate) || !Number.isFinite(ci[0]) || !Number.isFinite(ci[1])) return undefined;
  if (ci[0] > estimate) return 'above';
  if (ci[1] < estimate) return 'below';
  return undefined;
}
