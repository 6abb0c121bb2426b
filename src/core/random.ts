/**
 * Seeded pseudo-random numbers that give the same stream on every machine and in every JS engine.
 * xoshiro128** (Blackman & Vigna 2018) on 32-bit integer arithmetic only (Math.imul, >>> 0), seeded
 * through splitmix32, so Node and every browser produce bit-identical resamples and permutations.
 */

/** Mixes a 32-bit state into a well-distributed 32-bit value (splitmix32 finaliser). */
function splitmix32(state: number): number {
  let z = (state + 0x9e3779b9) >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}

/** FNV-1a over the UTF-16 code units of a string: a stable 32-bit label for deriving sub-seeds. */
function hashLabel(label: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < label.length; i++) {
    h ^= label.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/**
 * A seed for an independent stream, derived from a user seed and labels (e.g. `deriveSeed(0, 'bootstrap',
 * 'grpo')`), so that adding a variant or a metric never shifts the random numbers another one sees.
 */
export function deriveSeed(seed: number, ...labels: (string | number)[]): number {
  let s = splitmix32(seed >>> 0);
  for (const label of labels) {
    const v = typeof label === 'number' ? label >>> 0 : hashLabel(label);
    s = splitmix32((s ^ v) >>> 0);
  }
  return s;
}

/** xoshiro128** generator. Not cryptographic; for resampling and shuffling only. */
export class Rng {
  /** The four 32-bit state words, kept in an Int32Array so every operation stays in int32 registers. */
  private readonly state = new Int32Array(4);

  constructor(seed: number) {
    let x = seed >>> 0;
    for (let i = 0; i < 4; i++) this.state[i] = x = splitmix32(x);
    if ((this.state[0] | this.state[1] | this.state[2] | this.state[3]) === 0) this.state[0] = 1;
  }

  /**
   * Copies the four state words into target (e.g. WebAssembly memory, where the kernel's draw loops continue the
   * same stream), and back from source with setState.
   */
  copyState(target: Int32Array): void {
    target.set(this.state);
  }

  setState(source: Int32Array): void {
    this.state.set(source.subarray(0, 4));
  }

  /** Next uniform 32-bit unsigned integer. */
  nextUint32(): number {
    const s = this.state;
    const s0 = s[0];
    const s1 = s[1];
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    const s2 = s[2] ^ s0;
    const s3 = s[3] ^ s1;
    s[1] = s1 ^ s2;
    s[0] = s0 ^ s3;
    s[2] = s2 ^ t;
    s[3] = rotl(s3, 11);
    return result;
  }

  /** Uniform float in [0, 1) with 32 bits of resolution. */
  nextFloat(): number {
    return this.nextUint32() / 4294967296;
  }

  /**
   * Uniform integer in [0, n), exactly unbiased (Lemire 2019, "Fast random integer generation in an
   * interval", with the rejection step), for 1 <= n <= 2^32.
   */
  nextInt(n: number): number {
    if (!(n >= 1 && n <= 4294967296) || !Number.isInteger(n)) {
      throw new RangeError(`nextInt(n) needs an integer 1 <= n <= 2^32, got ${n}`);
    }
    let x = this.nextUint32();
    if (n <= 2097152) {
      // x * n < 2^53 is exact in a double: the common, fast case (hi and lo words by exact scaling).
      let m = x * n;
      let hi = Math.floor(m * 2.3283064365386963e-10);
      if (m - hi * 4294967296 < n) {
        const threshold = (4294967296 - n) % n;
        while (m - hi * 4294967296 < threshold) {
          x = this.nextUint32();
          m = x * n;
          hi = Math.floor(m * 2.3283064365386963e-10);
        }
      }
      return hi;
    }
    // Larger n: the 64-bit product is formed exactly from 16-bit halves.
    let m = mul64(x, n);
    if (m.lo < n) {
      const threshold = (4294967296 - n) % n;
      while (m.lo < threshold) {
        x = this.nextUint32();
        m = mul64(x, n);
      }
    }
    return m.hi;
  }

  /**
   * Advances the stream exactly as `count` calls of nextUint32 would (a permutation test's chunk starts this many
   * words into its stream), with the state in local variables: several times faster than calling it.
   */
  skipUint32(count: number): void {
    const st = this.state;
    let s0 = st[0],
      s1 = st[1],
      s2 = st[2],
      s3 = st[3];
    for (let i = 0; i < count; i++) {
      const t = s1 << 9;
      s2 ^= s0;
      s3 ^= s1;
      s1 ^= s2;
      s0 ^= s3;
      s2 ^= t;
      s3 = rotl(s3, 11);
    }
    st[0] = s0;
    st[1] = s1;
    st[2] = s2;
    st[3] = s3;
  }

  /** Advances the stream exactly as `count` calls of nextInt(n) would, without returning them. */
  skipInts(n: number, count: number): void {
    this.drawInts(n, count, null);
  }

  /**
   * `count` draws of nextInt(n), the same stream, tallied: counts[v]++ for each value v (null: only advance).
   * The generator state stays in local int32 variables for the whole batch, which is what makes a bootstrap
   * resample's n draws cheap; nextInt's checks run once.
   */
  drawInts(n: number, count: number, counts: Float64Array | null): void {
    if (!(n >= 1 && n <= 2097152) || !Number.isInteger(n)) {
      for (let i = 0; i < count; i++) {
        const v = this.nextInt(n);
        if (counts) counts[v]++;
      }
      return;
    }
    const st = this.state;
    let s0 = st[0],
      s1 = st[1],
      s2 = st[2],
      s3 = st[3];
    const threshold = (4294967296 - n) % n;
    for (let i = 0; i < count; i++) {
      let m: number, hi: number;
      for (;;) {
        // xoshiro128** step, exactly as nextUint32.
        const x = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
        const t = s1 << 9;
        s2 ^= s0;
        s3 ^= s1;
        s1 ^= s2;
        s0 ^= s3;
        s2 ^= t;
        s3 = rotl(s3, 11);
        m = x * n;
        hi = Math.floor(m * 2.3283064365386963e-10);
        // Lemire's rejection: accept unless the low word falls under the threshold.
        if (m - hi * 4294967296 >= threshold) break;
      }
      if (counts) counts[hi]++;
    }
    st[0] = s0;
    st[1] = s1;
    st[2] = s2;
    st[3] = s3;
  }

  /** Fisher-Yates shuffle in place; returns the array. */
  shuffle<T extends { length: number; [i: number]: unknown }>(array: T): T {
    for (let i = array.length - 1; i > 0; i--) {
      const j = this.nextInt(i + 1);
      const tmp = array[i];
      array[i] = array[j];
      array[j] = tmp;
    }
    return array;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** Exact 64-bit product of a uint32 and an integer n <= 2^32, as (hi, lo) uint32 words. */
function mul64(x: number, n: number): { hi: number; lo: number } {
  const product = x * n; // may exceed 2^53: recompute the low word exactly
  const xLo = x & 0xffff;
  const xHi = x >>> 16;
  const nLo = n % 65536;
  const nHi = Math.floor(n / 65536);
  const lo = (xLo * nLo + ((((xHi * nLo + xLo * nHi) % 65536) * 65536) % 4294967296)) % 4294967296;
  const hi = Math.floor((product - lo) / 4294967296 + 0.5);
  return { hi, lo };
}
