/**
 * The matrix scaler's objective in AssemblyScript (re-exported by kernel.ts, so it is part of the same module):
 * a port of src/core/scaling-objectives.ts matrixObjective and of the exp and log of src/core/detmath.ts it calls,
 * operation for operation and in the same order, so it returns the same doubles bit for bit. WebAssembly has no
 * exp or log of its own, and its f64 arithmetic, like JavaScript's, is IEEE 754 binary64 with round-to-nearest
 * and no fused multiply-add; the f64x2 lanes below are the same, one lane at a time.
 * test/unit/scaling-wasm.test.ts checks both backends bit for bit.
 */

/** NUM_CLASSES (src/core/types.ts). */
const K: i32 = 4;
/** Inputs per class row of the matrix map, x = (z_0..z_{K-1}, 1), and parameters, theta = [W (K*K), b (K)]. */
const E: i32 = K + 1;
const P: i32 = K * K + K;
/** Entries in the upper triangle of x x^T, and that padded to whole f64x2 pairs (the pad entry is 0, its sum never read). */
const XX: i32 = (E * (E + 1)) / 2;
const XX_PAD: i32 = 16;
/** Class pairs k <= k2 of the Hessian's blocks. */
const PAIRS: i32 = (K * (K + 1)) / 2;

/**
 * Byte offsets within matrixObjective's scratch: per class pair, the running sum of A_{k k2} x x^T (XX_PAD
 * doubles each), then x x^T of the current item, s, q = softmax(s) and x; PAIRS * XX_PAD + XX_PAD + 2K + E = 189
 * doubles in all (MATRIX_SCRATCH_DOUBLES in scaling-objectives.ts).
 */
const ACC: usize = 0;
const XX_ROW: usize = ACC + ((<usize>(PAIRS * XX_PAD)) << 3);
const S_ROW: usize = XX_ROW + ((<usize>XX_PAD) << 3);
const Q_ROW: usize = S_ROW + ((<usize>K) << 3);
const X_ROW: usize = Q_ROW + ((<usize>K) << 3);

function f64At(ptr: usize, i: i32): f64 {
  return load<f64>(ptr + ((<usize>i) << 3));
}
function setF64(ptr: usize, i: i32, v: f64): void {
  store<f64>(ptr + ((<usize>i) << 3), v);
}

const LN2_HI: f64 = 6.9314718036912381649e-1;
const LN2_LO: f64 = 1.90821492927058770002e-10;
const INV_LN2: f64 = 1.442695040888963387;
const EXP_P1: f64 = 1.66666666666666019037e-1;
const EXP_P2: f64 = -2.77777777770155933842e-3;
const EXP_P3: f64 = 6.61375632143793436117e-5;
const EXP_P4: f64 = -1.6533902205465251539e-6;
const EXP_P5: f64 = 4.13813679705723846039e-8;
const EXP_OVERFLOW: f64 = 7.09782712893383973096e2;
const EXP_UNDERFLOW: f64 = -7.4513321910194110842e2;

/** 2^k for an integer k in [-1022, 1023], built from its bits (exact). */
function powerOfTwo(k: i32): f64 {
  return reinterpret<f64>((<i64>(k + 1023)) << 52);
}

/** detmath.ts exp (fdlibm e_exp.c): e^x, the same double as there for every x. */
export function detExp(x: f64): f64 {
  if (isNaN(x)) return NaN;
  if (x > EXP_OVERFLOW) return Infinity;
  if (x < EXP_UNDERFLOW) return 0;
  const ax = Math.abs(x);
  let hi: f64 = 0;
  let lo: f64 = 0;
  let k: i32 = 0;
  if (ax > 0.5 * 0.6931471805599453) {
    if (ax < 1.5 * 0.6931471805599453) {
      k = x > 0 ? 1 : -1;
      hi = x - <f64>k * LN2_HI;
      lo = <f64>k * LN2_LO;
    } else {
      k = <i32>trunc(INV_LN2 * x + (x < 0 ? -0.5 : 0.5));
      hi = x - <f64>k * LN2_HI;
      lo = <f64>k * LN2_LO;
    }
    x = hi - lo;
  } else if (ax < 3.725290298461914e-9) {
    return 1 + x; // |x| < 2^-28
  }
  const t = x * x;
  const c = x - t * (EXP_P1 + t * (EXP_P2 + t * (EXP_P3 + t * (EXP_P4 + t * EXP_P5))));
  if (k == 0) return 1 - ((x * c) / (c - 2) - x);
  const y = 1 - (lo - (x * c) / (2 - c) - hi);
  if (k >= -1021) return k == 1024 ? y * 2 * powerOfTwo(1023) : y * powerOfTwo(k);
  return y * powerOfTwo(k + 1000) * powerOfTwo(-1000);
}

const TWO54: f64 = 1.8014398509481984e16;
const LG1: f64 = 6.66666666666673513e-1;
const LG2: f64 = 3.999999999940941908e-1;
const LG3: f64 = 2.857142874366239149e-1;
const LG4: f64 = 2.222219843214978396e-1;
const LG5: f64 = 1.818357216161805012e-1;
const LG6: f64 = 1.531383769920937332e-1;
const LG7: f64 = 1.479819860511658591e-1;

function highWord(x: f64): i32 {
  return <i32>(reinterpret<u64>(x) >>> 32);
}

function withHighWord(x: f64, high: i32): f64 {
  return reinterpret<f64>((reinterpret<u64>(x) & 0xffffffff) | ((<u64>(<u32>high)) << 32));
}

/** detmath.ts log (fdlibm e_log.c): the natural logarithm, the same double as there for every x. */
export function detLog(x: f64): f64 {
  if (isNaN(x) || x < 0) return NaN;
  if (x == 0) return -Infinity;
  if (x == Infinity) return Infinity;
  let hx = highWord(x);
  let k: i32 = 0;
  if (hx < 0x00100000) {
    // subnormal: scale up by 2^54
    k -= 54;
    x *= TWO54;
    hx = highWord(x);
  }
  k += (hx >> 20) - 1023;
  hx &= 0x000fffff;
  const i = (hx + 0x95f64) & 0x100000;
  x = withHighWord(x, hx | (i ^ 0x3ff00000)); // normalise x or x/2 into [sqrt(2)/2, sqrt(2))
  k += i >> 20;
  const f = x - 1;
  const dk = <f64>k;
  if ((0x000fffff & (2 + hx)) < 3) {
    // -2^-20 <= f < 2^-20
    if (f == 0) return k == 0 ? 0 : dk * LN2_HI + dk * LN2_LO;
    const r = f * f * (0.5 - 0.3333333333333333 * f);
    return k == 0 ? f - r : dk * LN2_HI - (r - dk * LN2_LO - f);
  }
  const s = f / (2 + f);
  const z = s * s;
  const w = z * z;
  const t1 = w * (LG2 + w * (LG4 + w * LG6));
  const t2 = z * (LG1 + w * (LG3 + w * (LG5 + w * LG7)));
  const r = t2 + t1;
  if (((hx - 0x6147a) | (0x6b851 - hx)) > 0) {
    const hfsq = 0.5 * f * f;
    return k == 0 ? f - (hfsq - s * (hfsq + r)) : dk * LN2_HI - (hfsq - (s * (hfsq + r) + dk * LN2_LO) - f);
  }
  return k == 0 ? f - s * (f - r) : dk * LN2_HI - (s * (f - r) - dk * LN2_LO - f);
}

/** scaling-objectives.ts softmaxInPlace: q = softmax(s) at qPtr, returns logsumexp(s) (max-shifted). */
function softmaxInPlace(sPtr: usize, qPtr: usize): f64 {
  let m = f64At(sPtr, 0);
  for (let k = 1; k < K; k++) if (f64At(sPtr, k) > m) m = f64At(sPtr, k);
  let sum: f64 = 0;
  for (let k = 0; k < K; k++) {
    const e = detExp(f64At(sPtr, k) - m);
    setF64(qPtr, k, e);
    sum += e;
  }
  for (let k = 0; k < K; k++) setF64(qPtr, k, f64At(qPtr, k) / sum);
  return m + detLog(sum);
}

/** Parameter index of (class k, input j): W_kj for j < K, b_k for j = K (scaling-objectives.ts MATRIX_INDEX). */
function matrixIndex(k: i32, j: i32): i32 {
  return j < K ? k * K + j : K * K + k;
}

/**
 * scaling-objectives.ts matrixObjective: the mean NLL of softmax(W z + b) over n items (log-probabilities z, K
 * doubles each, at logpPtr; labels, one byte each, at labelsPtr) plus the ODIR penalty, at theta = [W, b]
 * (thetaPtr). With withGrad the gradient (P doubles) goes to gradPtr, with withHess the full row-major Hessian
 * (P * P doubles) to hessPtr. scratchPtr: MATRIX_SCRATCH_DOUBLES doubles of working space. Every sum is taken in
 * the JavaScript loop's order (the Hessian's per-pair sums are independent, so adding each item's x x^T two
 * entries at a time changes no sum), so the loss, gradient and Hessian are the same doubles as there.
 */
export function matrixObjective(
  thetaPtr: usize,
  logpPtr: usize,
  labelsPtr: usize,
  n: i32,
  lambda: f64,
  mu: f64,
  withGrad: bool,
  withHess: bool,
  gradPtr: usize,
  hessPtr: usize,
  scratchPtr: usize,
): f64 {
  const acc = scratchPtr + ACC;
  const xxRow = scratchPtr + XX_ROW;
  const sRow = scratchPtr + S_ROW;
  const qRow = scratchPtr + Q_ROW;
  const xRow = scratchPtr + X_ROW;
  if (withGrad) memory.fill(gradPtr, 0, (<usize>P) << 3);
  if (withHess) memory.fill(acc, 0, (<usize>(PAIRS * XX_PAD)) << 3);
  setF64(xxRow, XX, 0);
  let nll: f64 = 0;
  setF64(xRow, K, 1);
  for (let i = 0; i < n; i++) {
    const o = logpPtr + ((<usize>(i * K)) << 3);
    for (let j = 0; j < K; j++) setF64(xRow, j, f64At(o, j));
    for (let k = 0; k < K; k++) {
      let s = f64At(thetaPtr, K * K + k);
      for (let j = 0; j < K; j++) s += f64At(thetaPtr, k * K + j) * f64At(xRow, j);
      setF64(sRow, k, s);
    }
    const lse = softmaxInPlace(sRow, qRow);
    const y = <i32>load<u8>(labelsPtr + <usize>i);
    // A label outside 0..K-1 reads past the JavaScript scratch row: undefined, so NaN.
    nll += lse - (y < K ? f64At(sRow, y) : NaN);
    if (withGrad) {
      for (let k = 0; k < K; k++) {
        const r = f64At(qRow, k) - (k == y ? 1 : 0);
        for (let j = 0; j < K; j++) {
          const at = gradPtr + ((<usize>(k * K + j)) << 3);
          store<f64>(at, load<f64>(at) + r * f64At(xRow, j));
        }
        const at = gradPtr + ((<usize>(K * K + k)) << 3);
        store<f64>(at, load<f64>(at) + r);
      }
    }
    if (withHess) {
      let m = 0;
      for (let j = 0; j < E; j++) for (let j2 = j; j2 < E; j2++) setF64(xxRow, m++, f64At(xRow, j) * f64At(xRow, j2));
      const xx0 = v128.load(xxRow);
      const xx1 = v128.load(xxRow, 16);
      const xx2 = v128.load(xxRow, 32);
      const xx3 = v128.load(xxRow, 48);
      const xx4 = v128.load(xxRow, 64);
      const xx5 = v128.load(xxRow, 80);
      const xx6 = v128.load(xxRow, 96);
      const xx7 = v128.load(xxRow, 112);
      let base = acc;
      for (let k = 0; k < K; k++) {
        const qk = f64At(qRow, k);
        for (let k2 = k; k2 < K; k2++, base += (<usize>XX_PAD) << 3) {
          const a = f64x2.splat((k == k2 ? qk : 0) - qk * f64At(qRow, k2));
          v128.store(base, f64x2.add(v128.load(base), f64x2.mul(a, xx0)));
          v128.store(base, f64x2.add(v128.load(base, 16), f64x2.mul(a, xx1)), 16);
          v128.store(base, f64x2.add(v128.load(base, 32), f64x2.mul(a, xx2)), 32);
          v128.store(base, f64x2.add(v128.load(base, 48), f64x2.mul(a, xx3)), 48);
          v128.store(base, f64x2.add(v128.load(base, 64), f64x2.mul(a, xx4)), 64);
          v128.store(base, f64x2.add(v128.load(base, 80), f64x2.mul(a, xx5)), 80);
          v128.store(base, f64x2.add(v128.load(base, 96), f64x2.mul(a, xx6)), 96);
          v128.store(base, f64x2.add(v128.load(base, 112), f64x2.mul(a, xx7)), 112);
        }
      }
    }
  }
  const dn = <f64>n;
  const cw = lambda / <f64>(K * (K - 1));
  const cb = mu / <f64>K;
  let penalty: f64 = 0;
  for (let i = 0; i < K; i++) {
    for (let j = 0; j < K; j++) {
      if (i != j) penalty += cw * f64At(thetaPtr, i * K + j) * f64At(thetaPtr, i * K + j);
    }
    penalty += cb * f64At(thetaPtr, K * K + i) * f64At(thetaPtr, K * K + i);
  }
  if (withGrad) {
    for (let p = 0; p < P; p++) setF64(gradPtr, p, f64At(gradPtr, p) / dn);
    for (let i = 0; i < K; i++) {
      for (let j = 0; j < K; j++) {
        if (i != j) setF64(gradPtr, i * K + j, f64At(gradPtr, i * K + j) + 2 * cw * f64At(thetaPtr, i * K + j));
      }
      setF64(gradPtr, K * K + i, f64At(gradPtr, K * K + i) + 2 * cb * f64At(thetaPtr, K * K + i));
    }
  }
  if (withHess) {
    let base = acc;
    for (let k = 0; k < K; k++) {
      for (let k2 = k; k2 < K; k2++, base += (<usize>XX_PAD) << 3) {
        let t = 0;
        for (let j = 0; j < E; j++) {
          for (let j2 = j; j2 < E; j2++, t++) {
            const v = f64At(base, t) / dn;
            // Entry (k, j; k2, j2) and, by symmetry of x x^T, (k, j2; k2, j); then their transposes.
            const r1 = matrixIndex(k, j);
            const c1 = matrixIndex(k2, j2);
            const r2 = matrixIndex(k, j2);
            const c2 = matrixIndex(k2, j);
            setF64(hessPtr, r1 * P + c1, v);
            setF64(hessPtr, c1 * P + r1, v);
            setF64(hessPtr, r2 * P + c2, v);
            setF64(hessPtr, c2 * P + r2, v);
          }
        }
      }
    }
    for (let i = 0; i < K; i++) {
      for (let j = 0; j < K; j++) {
        if (i != j) {
          const d = (i * K + j) * P + i * K + j;
          setF64(hessPtr, d, f64At(hessPtr, d) + 2 * cw);
        }
      }
      const d = (K * K + i) * P + K * K + i;
      setF64(hessPtr, d, f64At(hessPtr, d) + 2 * cb);
    }
  }
  return nll / dn + penalty;
}
