import { describe, expect, it } from 'vitest';
import { choleskyFactor, choleskySolve, dot } from '../../src/core/linalg';

describe('choleskyFactor / choleskySolve', () => {
  it('factorises a 2x2 matrix and solves a system, by hand', () => {
    // A = [[4, 2], [2, 3]] = L L^T with L = [[2, 0], [1, sqrt 2]].
    const a = new Float64Array([4, 2, 2, 3]);
    expect(choleskyFactor(a, 2)).toBe(true);
    expect(a[0]).toBe(2);
    expect(a[2]).toBe(1);
    expect(a[3]).toBeCloseTo(Math.SQRT2, 15);
    // 4x + 2y = 2, 2x + 3y = 1  ->  x = 1/2, y = 0.
    const x = choleskySolve(a, 2, new Float64Array([2, 1]));
    expect(x[0]).toBeCloseTo(0.5, 15);
    expect(x[1]).toBeCloseTo(0, 15);
  });

  it('solves a 3x3 system whose solution is known', () => {
    // A = M M^T for M lower-triangular with positive diagonal, b = A x* for x* = (1, -2, 3).
    const m = [
      [2, 0, 0],
      [1, 3, 0],
      [-1, 0.5, 1],
    ];
    const a = new Float64Array(9);
    for (let i = 0; i < 3; i++)
      for (let j = 0; j < 3; j++) for (let k = 0; k < 3; k++) a[i * 3 + j] += m[i][k] * m[j][k];
    const xStar = [1, -2, 3];
    const b = new Float64Array(3);
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) b[i] += a[i * 3 + j] * xStar[j];
    expect(choleskyFactor(a, 3)).toBe(true);
    for (let i = 0; i < 3; i++) for (let j = 0; j <= i; j++) expect(a[i * 3 + j]).toBeCloseTo(m[i][j], 14);
    const x = choleskySolve(a, 3, b);
    for (let i = 0; i < 3; i++) expect(x[i]).toBeCloseTo(xStar[i], 13);
  });

  it('reports failure on indefinite, singular and non-finite matrices instead of producing NaN', () => {
    expect(choleskyFactor(new Float64Array([1, 2, 2, 1]), 2)).toBe(false); // eigenvalues 3 and -1
    expect(choleskyFactor(new Float64Array([1, 1, 1, 1]), 2)).toBe(false); // rank 1: second pivot is 0
    expect(choleskyFactor(new Float64Array([0]), 1)).toBe(false);
    expect(choleskyFactor(new Float64Array([Infinity]), 1)).toBe(false);
    expect(choleskyFactor(new Float64Array([NaN]), 1)).toBe(false);
  });

  it('dot is the inner product over the first n entries', () => {
    expect(dot([1, 2, 3], [4, 5, 6])).toBe(32);
    expect(dot([1, 2, 3], [4, 5, 6], 2)).toBe(14);
    expect(dot([], [])).toBe(0);
  });
});
