/**
 * Tiny dense linear algebra for the scalers' Newton steps (systems of at most 20 unknowns): a Cholesky
 * factorisation that reports failure instead of producing NaN, and its triangular solves.
 */

/**
 * Factorises a symmetric positive-definite n x n matrix (row-major, only the lower triangle is read) as
 * A = L L^T, overwriting the lower triangle with L (the strict upper triangle is left as it was).
 * Returns false, leaving `a` partly overwritten, when a pivot is not strictly positive and finite, i.e. when
 * A is not numerically positive definite; the caller then adds damping and factorises a fresh copy.
 * Golub & Van Loan, Matrix Computations (4th ed.), Algorithm 4.2.1 (the gaxpy Cholesky).
 */
export function choleskyFactor(a: Float64Array, n: number): boolean {
  for (let j = 0; j < n; j++) {
    let d = a[j * n + j];
    for (let k = 0; k < j; k++) d -= a[j * n + k] * a[j * n + k];
    if (!(d > 0) || !Number.isFinite(d)) return false;
    const ljj = Math.sqrt(d);
    a[j * n + j] = ljj;
    for (let i = j + 1; i < n; i++) {
      let s = a[i * n + j];
      for (let k = 0; k < j; k++) s -= a[i * n + k] * a[j * n + k];
      a[i * n + j] = s / ljj;
    }
  }
  return true;
}

/**
 * Solves L L^T x = b in place (b becomes x), with L the lower triangle written by choleskyFactor:
 * forward substitution L y = b, then back substitution L^T x = y.
 */
export function choleskySolve(l: Float64Array, n: number, b: Float64Array): Float64Array {
  for (let i = 0; i < n; i++) {
    let s = b[i];
    for (let k = 0; k < i; k++) s -= l[i * n + k] * b[k];
    b[i] = s / l[i * n + i];
  }
  for (let i = n - 1; i >= 0; i--) {
    let s = b[i];
    for (let k = i + 1; k < n; k++) s -= l[k * n + i] * b[k];
    b[i] = s / l[i * n + i];
  }
  return b;
}

/** Euclidean inner product of the first n entries of x and y. */
export function dot(x: ArrayLike<number>, y: ArrayLike<number>, n: number = x.length): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += x[i] * y[i];
  return s;
}
