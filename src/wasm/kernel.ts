/**
 * The resampling kernel's inner loops in AssemblyScript, compiled to WebAssembly by `npm run build:kernel`
 * (scripts/build-kernel.ts; `npm ci` runs it). Each function is a line-for-line port of the loop of the same
 * name in src/core/stats.ts (MetricPool), with every sum taken in the same order, so it returns the same doubles:
 * WebAssembly's f64 arithmetic is IEEE 754 binary64 with round-to-nearest, as JavaScript's, and nothing here
 * fuses a multiply and an add. test/unit/kernel-identity.test.ts checks both backends bit for bit.
 *
 * Memory is the host's (one WebAssembly.Memory per pool, sized once, never grown); every argument named *Ptr is
 * a byte offset into it. Entries: 5 doubles each (conf, correct, gap, nll, brier), as MetricPool's ENTRY_STRIDE.
 */

const STRIDE: i32 = 5;

function f64At(ptr: usize, i: i32): f64 {
  return load<f64>(ptr + ((<usize>i) << 3));
}
function i32At(ptr: usize, i: i32): i32 {
  return load<i32>(ptr + ((<usize>i) << 2));
}
/**
 * Weights are bootstrap counts, stored as u16 (exact as doubles), four lanes interleaved: lane q of slot s at
 * byte s * 8 + q * 2 (ptr points at the lane), so one load reads a slot's four.
 */
function weightAt(ptr: usize, slot: i32): f64 {
  return <f64>load<u16>(ptr + ((<usize>slot) << 3));
}

/** Lanes 2 and 3 of four i32 lanes as two doubles (lanes 0 and 1 are f64x2.convert_low_i32x4_s). */
function convertHigh(x: v128): v128 {
  return f64x2.convert_low_i32x4_s(i32x4.shuffle(x, x, 2, 3, 0, 1));
}

/**
 * Where an entry (slot * 2 + side, ss) is in group 1 of each of four permutations: byte q of the result is 1 for
 * permutation q (flip words interleaved as swappedClasswise reads them: permutation q of pair s at s * 4 + q).
 */
function groupBytes(flipPtr: usize, ss: i32): u32 {
  return load<u32>(flipPtr + ((<usize>(ss >> 1)) << 2)) ^ (<u32>(ss & 1) * 0x01010101);
}

/** groupBytes as four i32 lane masks: all ones where the entry is in group 1 of permutation q. */
function groupMask(g: u32): v128 {
  return i32x4.neg(i32x4.extend_low_i16x8_u(i16x8.extend_low_i8x16_u(i32x4.splat(<i32>g))));
}

/**
 * groupMask of every entry of four permutations, looked up instead of computed where an entry is read: the mask of
 * slot side ss (pair ss >> 1, side ss & 1) at maskPtr + ss * 16, from the interleaved flip bytes at flipPtr.
 * Only for a pool of few pairs (the host's choice; maskPtr 0 elsewhere): for many, the table (16 bytes per
 * entry against the flips' 2) no longer stays in cache, and making each mask again costs less than missing it.
 * swappedTopLabel4 and swappedClasswise read the same n pairs' masks 2n and 8n times.
 */
export function groupMasks4(flipPtr: usize, n: i32, maskPtr: usize): void {
  for (let j = 0; j < n; j++) {
    const bytes = load<u32>(flipPtr + ((<usize>j) << 2));
    const at = maskPtr + ((<usize>j) << 5);
    v128.store(at, groupMask(bytes));
    v128.store(at, groupMask(bytes ^ 0x01010101), 16);
  }
}

/** Writes a side's top-label sums in the order MetricPool reads them: correct, ece, mce, emSum, brier, nll. */
function storeSums(outPtr: usize, correct: f64, ece: f64, mce: f64, emSum: f64, brier: f64, nll: f64): void {
  store<f64>(outPtr, correct);
  store<f64>(outPtr, ece, 8);
  store<f64>(outPtr, mce, 16);
  store<f64>(outPtr, emSum, 24);
  store<f64>(outPtr, brier, 32);
  store<f64>(outPtr, nll, 40);
}

/**
 * MetricPool.weightedSide without classwise ECE: entries [start, ..) of one side, walked bin by bin up to
 * runEnd[b], weighted by weights[slot[r]] (u16). nb, small and extra are the equal-mass chunking of the total
 * weight (computed by the host as there). Positions in the repeated sequence are integers here (the weights are),
 * which the JavaScript loop keeps as doubles: the same values. Writes correct, ece, mce, emSum, brier, nll to
 * outPtr.
 */
export function weightedSide(
  slotPtr: usize,
  dataPtr: usize,
  runEndPtr: usize,
  boundariesPtr: usize,
  weightsPtr: usize,
  start: i32,
  bins: i32,
  nb: i32,
  small: i32,
  extra: i32,
  minCount: f64,
  outPtr: usize,
): void {
  let edges: i32 = 0;
  let end: i32 = small + min(1, extra);
  let pos: i32 = 0;
  let last: f64 = 0;
  let em: i32 = 0;
  let emD: f64 = 0;
  let emSum: f64 = 0;
  let nll: f64 = 0;
  let brier: f64 = 0;
  let correct: f64 = 0;
  let ece: f64 = 0;
  let mce: f64 = NaN;
  let r = start;
  for (let b = 0; b < bins; b++) {
    const runEnd = i32At(runEndPtr, b);
    let c: f64 = 0;
    let d: f64 = 0;
    let a: f64 = 0;
    for (; r < runEnd; r++) {
      const wi = <i32>load<u16>(weightsPtr + ((<usize>i32At(slotPtr, r)) << 3));
      const w = <f64>wi;
      const e = dataPtr + ((<usize>(r * STRIDE)) << 3);
      const v = load<f64>(e);
      const dd = load<f64>(e, 16);
      c += w;
      d += w * dd;
      a += w * load<f64>(e, 8);
      nll += w * load<f64>(e, 24);
      brier += w * load<f64>(e, 32);
      // Equal-mass bins, as in MetricPool.evaluate (the test outside the loop only skips a loop that would not run).
      const next = pos + wi;
      if (end < next) {
        while (edges < nb - 1 && end < next) {
          store<f64>(boundariesPtr + ((<usize>edges) << 3), (select<f64>(v, last, end - 1 >= pos) + v) / 2);
          edges++;
          end = (edges + 1) * small + min(edges + 1, extra);
        }
      }
      while (em < edges && v > f64At(boundariesPtr, em)) {
        emSum += Math.abs(emD);
        emD = 0;
        em++;
      }
      pos = next;
      last = select<f64>(v, last, wi > 0);
      emD += w * dd;
    }
    correct += a;
    ece += Math.abs(d);
    if (c >= minCount && !(Math.abs(d) / c <= mce)) mce = Math.abs(d) / c;
  }
  storeSums(outPtr, correct, ece, mce, emSum + Math.abs(emD), brier, nll);
}

/**
 * weightedSide for the four weight lanes at once (four bootstrap resamples): one walk over the side's entries,
 * each lane's sums in 128-bit vectors (two lanes per vector), each lane's multiplies and adds the scalar ones in
 * the same order, so every lane's six sums are weightedSide's, bit for bit. Counts c come from the positions
 * (exact integers, as weightedSide's sums of integer weights are).
 *
 * The equal-mass bins of each lane are tracked as in weightedSide, but only checked in vector form: an entry
 * goes through the scalar steps (laneEvents) only when some lane crosses a chunk edge (end < pos + w) or passes
 * its current boundary (v > boundary[em]); otherwise neither loop of weightedSide would run for any lane. A lane
 * whose chunk edges are all known keeps end at i32.MAX_VALUE, so it never asks again.
 *
 * lanePtr holds per lane nb, small, extra (three i32 x 4, set by the host), then this function's scratch
 * (240 bytes in all). Boundaries of lane q at boundariesPtr + q * bins * 8. Writes correct, ece, mce,
 * emSum, brier, nll (k = 0..5) of lane q at outPtr + (k * 4 + q) * 8.
 */
export function weightedSide4(
  slotPtr: usize,
  dataPtr: usize,
  runEndPtr: usize,
  boundariesPtr: usize,
  weightsPtr: usize,
  lanePtr: usize,
  start: i32,
  bins: i32,
  minCount: f64,
  outPtr: usize,
): void {
  const st = lanePtr + 48;
  // Per-lane chunk state: edges known, current equal-mass bin, first chunk end (or MAX when no edge is left).
  for (let q = 0; q < 4; q++) {
    const nb = load<i32>(lanePtr + ((<usize>q) << 2));
    const small = load<i32>(lanePtr + 16 + ((<usize>q) << 2));
    const extra = load<i32>(lanePtr + 32 + ((<usize>q) << 2));
    store<i32>(st + ST_EDGES + ((<usize>q) << 2), 0);
    store<i32>(st + ST_EM + ((<usize>q) << 2), 0);
    store<i32>(st + ST_END + ((<usize>q) << 2), nb - 1 > 0 ? small + min(1, extra) : i32.MAX_VALUE);
    store<f64>(st + ST_BND + ((<usize>q) << 3), Infinity);
  }
  let pos = i32x4.splat(0);
  let end = v128.load(st + ST_END);
  // The least of the lanes' current boundaries: an entry above it passes some lane's boundary.
  let minB: f64 = Infinity;
  let emD01 = f64x2.splat(0);
  let emD23 = f64x2.splat(0);
  let emSum01 = f64x2.splat(0);
  let emSum23 = f64x2.splat(0);
  let nll01 = f64x2.splat(0);
  let nll23 = f64x2.splat(0);
  let brier01 = f64x2.splat(0);
  let brier23 = f64x2.splat(0);
  let correct01 = f64x2.splat(0);
  let correct23 = f64x2.splat(0);
  let ece01 = f64x2.splat(0);
  let ece23 = f64x2.splat(0);
  let mce01 = f64x2.splat(NaN);
  let mce23 = f64x2.splat(NaN);
  const minC = f64x2.splat(minCount);
  let r = start;
  for (let b = 0; b < bins; b++) {
    const runEnd = i32At(runEndPtr, b);
    const binStart = pos;
    let d01 = f64x2.splat(0);
    let d23 = f64x2.splat(0);
    let a01 = f64x2.splat(0);
    let a23 = f64x2.splat(0);
    for (; r < runEnd; r++) {
      const wp = weightsPtr + ((<usize>i32At(slotPtr, r)) << 3);
      const four = i32x4.extend_low_i16x8_u(v128.load64_zero(wp));
      const w01 = f64x2.convert_low_i32x4_s(four);
      const w23 = convertHigh(four);
      const e = dataPtr + ((<usize>(r * STRIDE)) << 3);
      const v = load<f64>(e);
      const next = i32x4.add(pos, four);
      if (v > minB || v128.any_true(i32x4.gt_s(next, end))) {
        v128.store(st + ST_POS, pos);
        v128.store(st + ST_EMD, emD01);
        v128.store(st + ST_EMD, emD23, 16);
        v128.store(st + ST_EMSUM, emSum01);
        v128.store(st + ST_EMSUM, emSum23, 16);
        minB = laneEvents(st, lanePtr, boundariesPtr, bins, slotPtr, dataPtr, weightsPtr, start, r, v);
        end = v128.load(st + ST_END);
        emD01 = v128.load(st + ST_EMD);
        emD23 = v128.load(st + ST_EMD, 16);
        emSum01 = v128.load(st + ST_EMSUM);
        emSum23 = v128.load(st + ST_EMSUM, 16);
      }
      const dd = v128.load64_splat(e + 16);
      const g01 = f64x2.mul(w01, dd);
      const g23 = f64x2.mul(w23, dd);
      d01 = f64x2.add(d01, g01);
      d23 = f64x2.add(d23, g23);
      const a = v128.load64_splat(e + 8);
      a01 = f64x2.add(a01, f64x2.mul(w01, a));
      a23 = f64x2.add(a23, f64x2.mul(w23, a));
      const nll = v128.load64_splat(e + 24);
      nll01 = f64x2.add(nll01, f64x2.mul(w01, nll));
      nll23 = f64x2.add(nll23, f64x2.mul(w23, nll));
      const brier = v128.load64_splat(e + 32);
      brier01 = f64x2.add(brier01, f64x2.mul(w01, brier));
      brier23 = f64x2.add(brier23, f64x2.mul(w23, brier));
      pos = next;
      emD01 = f64x2.add(emD01, g01);
      emD23 = f64x2.add(emD23, g23);
    }
    const count = i32x4.sub(pos, binStart);
    const c01 = f64x2.convert_low_i32x4_s(count);
    const c23 = convertHigh(count);
    correct01 = f64x2.add(correct01, a01);
    correct23 = f64x2.add(correct23, a23);
    const abs01 = f64x2.abs(d01);
    const abs23 = f64x2.abs(d23);
    ece01 = f64x2.add(ece01, abs01);
    ece23 = f64x2.add(ece23, abs23);
    // if (c >= minCount && !(|d| / c <= mce)) mce = |d| / c, per lane (mce starts NaN: the first such bin sets it).
    const ratio01 = f64x2.div(abs01, c01);
    const ratio23 = f64x2.div(abs23, c23);
    mce01 = v128.bitselect(ratio01, mce01, v128.andnot(f64x2.ge(c01, minC), f64x2.le(ratio01, mce01)));
    mce23 = v128.bitselect(ratio23, mce23, v128.andnot(f64x2.ge(c23, minC), f64x2.le(ratio23, mce23)));
  }
  emSum01 = f64x2.add(emSum01, f64x2.abs(emD01));
  emSum23 = f64x2.add(emSum23, f64x2.abs(emD23));
  // Quantity k of lane q at outPtr + (k * 4 + q) * 8.
  v128.store(outPtr, correct01);
  v128.store(outPtr, correct23, 16);
  v128.store(outPtr, ece01, 32);
  v128.store(outPtr, ece23, 48);
  v128.store(outPtr, mce01, 64);
  v128.store(outPtr, mce23, 80);
  v128.store(outPtr, emSum01, 96);
  v128.store(outPtr, emSum23, 112);
  v128.store(outPtr, brier01, 128);
  v128.store(outPtr, brier23, 144);
  v128.store(outPtr, nll01, 160);
  v128.store(outPtr, nll23, 176);
}

// weightedSide4's scratch, from lanePtr + 48: vectors of the four lanes (i32 x 4 or two f64 x 2), then i32 x 4.
const ST_POS: usize = 0;
const ST_END: usize = 16;
const ST_EMD: usize = 32;
const ST_EMSUM: usize = 64;
const ST_EDGES: usize = 96;
const ST_EM: usize = 112;
const ST_BND: usize = 128;
// The host gives weightedSide4 a lane block of 240 bytes: nb, small, extra (48), then the scratch (160 used).

/**
 * weightedSide's two equal-mass loops for entry r (value v) in each of the four lanes, on the lanes' state in the
 * scratch; returns the least of the lanes' current boundaries (Infinity for a lane with none yet). weightedSide's
 * `last` (the value of the lane's last earlier entry of nonzero weight) is found by looking back from r: it is
 * needed only at a chunk edge, where that entry is seldom more than a few back. Only the lanes with something to
 * do run equalMassStep (as in pairEvents; current boundaries at ST_BND).
 */
function laneEvents(
  st: usize,
  lanePtr: usize,
  boundariesPtr: usize,
  bins: i32,
  slotPtr: usize,
  dataPtr: usize,
  weightsPtr: usize,
  start: i32,
  r: i32,
  v: f64,
): f64 {
  let least: f64 = Infinity;
  const wp = weightsPtr + ((<usize>i32At(slotPtr, r)) << 3);
  for (let q = 0; q < 4; q++) {
    const qi = (<usize>q) << 2;
    const qd = (<usize>q) << 3;
    const lane = (<usize>q) << 1;
    const pos = load<i32>(st + ST_POS + qi);
    const next = pos + <i32>load<u16>(wp + lane);
    const crosses = load<i32>(st + ST_END + qi) < next;
    const current = load<f64>(st + ST_BND + qd);
    if (!crosses && !(v > current)) {
      least = min(least, current);
      continue;
    }
    let last: f64 = 0;
    if (crosses) {
      for (let j = r - 1; j >= start; j--) {
        if (load<u16>(weightsPtr + ((<usize>i32At(slotPtr, j)) << 3) + lane) > 0) {
          last = load<f64>(dataPtr + ((<usize>(j * STRIDE)) << 3));
          break;
        }
      }
    }
    const b = equalMassStep(
      st + ST_END + qi,
      st + ST_EDGES + qi,
      st + ST_EM + qi,
      st + ST_EMD + qd,
      st + ST_EMSUM + qd,
      boundariesPtr + <usize>(q * bins * 8),
      pos,
      next,
      last,
      load<i32>(lanePtr + qi),
      load<i32>(lanePtr + 16 + qi),
      load<i32>(lanePtr + 32 + qi),
      v,
    );
    store<f64>(st + ST_BND + qd, b);
    least = min(least, b);
  }
  return least;
}

/**
 * weightedSide's two equal-mass loops for one lane at one entry (value v, taking the lane from position pos to
 * next; last: the value of the lane's last earlier entry of nonzero weight, read only at a chunk edge), on the
 * lane's state: its next chunk end, edges known and open bin (i32 at endAt, edgesAt, emAt; the end becomes
 * i32.MAX_VALUE once every edge is known), its open bin's sum and closed bins' total (f64 at emDAt, emSumAt), its
 * boundaries at bnd. Returns the lane's current boundary, Infinity while it has none.
 */
function equalMassStep(
  endAt: usize,
  edgesAt: usize,
  emAt: usize,
  emDAt: usize,
  emSumAt: usize,
  bnd: usize,
  pos: i32,
  next: i32,
  last: f64,
  nb: i32,
  small: i32,
  extra: i32,
  v: f64,
): f64 {
  let end = load<i32>(endAt);
  let edges = load<i32>(edgesAt);
  let em = load<i32>(emAt);
  if (end < next) {
    while (edges < nb - 1 && end < next) {
      store<f64>(bnd + ((<usize>edges) << 3), (select<f64>(v, last, end - 1 >= pos) + v) / 2);
      edges++;
      end = (edges + 1) * small + min(edges + 1, extra);
    }
    if (edges >= nb - 1) end = i32.MAX_VALUE;
  }
  let emD = load<f64>(emDAt);
  let emSum = load<f64>(emSumAt);
  while (em < edges && v > f64At(bnd, em)) {
    emSum += Math.abs(emD);
    emD = 0;
    em++;
  }
  store<i32>(endAt, end);
  store<i32>(edgesAt, edges);
  store<i32>(emAt, em);
  store<f64>(emDAt, emD);
  store<f64>(emSumAt, emSum);
  return em < edges ? f64At(bnd, em) : Infinity;
}

/**
 * Classwise ECE numerator of one side for `count` (1 or 4) weight lanes: per class k, the side's entries sorted
 * by p_k from k * size + start, bins ending at runEnd[(k * 2 + sd) * bins + b] (offsets within class k). With
 * four lanes, the four weights of a slot are read as one 64-bit word and multiplied two per 128-bit vector (each
 * lane's products and sums are the scalar ones, in the same order). Writes count doubles to outPtr.
 */
export function classwiseSide(
  slotPtr: usize,
  gapPtr: usize,
  runEndPtr: usize,
  weightsPtr: usize,
  size: i32,
  start: i32,
  sd: i32,
  bins: i32,
  count: i32,
  outPtr: usize,
): void {
  let c0: f64 = 0;
  let c01 = f64x2.splat(0);
  let c23 = f64x2.splat(0);
  for (let k = 0; k < 4; k++) {
    const base = k * size;
    let j = base + start;
    for (let b = 0; b < bins; b++) {
      const runEnd = base + i32At(runEndPtr, (k * 2 + sd) * bins + b);
      if (count == 1) {
        let g0: f64 = 0;
        for (; j < runEnd; j++) g0 += weightAt(weightsPtr, i32At(slotPtr, j)) * f64At(gapPtr, j);
        c0 += Math.abs(g0);
        continue;
      }
      let g01 = f64x2.splat(0);
      let g23 = f64x2.splat(0);
      for (; j < runEnd; j++) {
        const four = i32x4.extend_low_i16x8_u(v128.load64_zero(weightsPtr + ((<usize>i32At(slotPtr, j)) << 3)));
        const d = f64x2.splat(f64At(gapPtr, j));
        g01 = f64x2.add(g01, f64x2.mul(f64x2.convert_low_i32x4_s(four), d));
        g23 = f64x2.add(g23, f64x2.mul(convertHigh(four), d));
      }
      c01 = f64x2.add(c01, f64x2.abs(g01));
      c23 = f64x2.add(c23, f64x2.abs(g23));
    }
  }
  if (count == 1) {
    store<f64>(outPtr, c0);
    return;
  }
  v128.store(outPtr, c01);
  v128.store(outPtr, c23, 16);
}

/**
 * MetricPool.swappedTopLabel: lists each group's entries (flip bytes at flipPtr + s * 4 for pair s, as
 * swappedClasswise interleaves them) in sorted order,
 * then walks each group with unit weights. Writes correct, ece, mce, emSum, brier, nll of group 0 and then of
 * group 1 (12 doubles) to outPtr.
 */
export function swappedTopLabel(
  slotSidePtr: usize,
  topRunEndPtr: usize,
  membersPtr: usize,
  memberRunEndPtr: usize,
  dataPtr: usize,
  boundariesPtr: usize,
  flipPtr: usize,
  n: i32,
  bins: i32,
  minCount: f64,
  outPtr: usize,
): void {
  const start1 = n + 1;
  let p0: i32 = 0;
  let p1: i32 = start1;
  let r: i32 = 0;
  for (let b = 0; b < bins; b++) {
    const end = i32At(topRunEndPtr, b);
    for (; r < end; r++) {
      const ss = i32At(slotSidePtr, r);
      const g = (ss & 1) ^ (<i32>load<u8>(flipPtr + ((<usize>(ss >> 1)) << 2)));
      store<i32>(membersPtr + ((<usize>p0) << 2), r);
      store<i32>(membersPtr + ((<usize>p1) << 2), r);
      p0 += 1 - g;
      p1 += g;
    }
    store<i32>(memberRunEndPtr + ((<usize>b) << 2), p0);
    store<i32>(memberRunEndPtr + ((<usize>(bins + b)) << 2), p1);
  }
  unitGroup(membersPtr, memberRunEndPtr, dataPtr, boundariesPtr, 0, 0, n, bins, minCount, outPtr);
  unitGroup(membersPtr, memberRunEndPtr, dataPtr, boundariesPtr, start1, bins, n, bins, minCount, outPtr + 48);
}

/**
 * swappedTopLabel for four permutations at once (flip bytes interleaved as swappedClasswise reads them, and their
 * groupMasks4 at maskPtr, unless maskPtr is 0: an entry's lanes are looked up there, its flip bytes read only for
 * an event), without
 * listing the groups' members: one walk over all 2n sorted entries with eight lanes, group g of permutation q in
 * lane g * 4 + q, each lane's sums in vectors (two lanes per f64x2, four per i32x4). An entry adds its numbers to
 * the lanes of the groups it is in and a zero to the others (d & mask): a zero changes no sum (swappedClasswise
 * says why), and an entry's own group sees the same numbers in the same order as unitGroup's walk of its members,
 * so every sum is unitGroup's, bit for bit. Counts and correct answers are integers, kept in i32 lanes.
 *
 * Equal-mass bins follow weightedSide with weights 1 (members) and 0 (others), whose sums with 0/1 weights are
 * unitGroup's: a chunk edge is crossed at the member whose position is the edge, its boundary is the midpoint of
 * that member's value and the previous member's; a bin a non-member passes is closed there instead of at the next
 * member, which adds the same |sum| in the same order. As in weightedSide4, the scalar steps (pairEvents) run for
 * an entry only when some lane crosses an edge or passes its boundary.
 *
 * scratchPtr: 384 bytes of scratch. Boundaries of lane L at boundariesPtr + L * bins * 8. Writes sum k
 * (correct, ece, mce, emSum, brier, nll) of lane L at outPtr + (k * 8 + L) * 8.
 */
export function swappedTopLabel4(
  slotSidePtr: usize,
  topRunEndPtr: usize,
  dataPtr: usize,
  boundariesPtr: usize,
  flipPtr: usize,
  maskPtr: usize,
  scratchPtr: usize,
  n: i32,
  bins: i32,
  minCount: f64,
  outPtr: usize,
): void {
  const st = scratchPtr;
  // Each group has n members: the same chunking in every lane.
  const nb = n < bins ? n : bins;
  const small = n > 0 ? n / nb : 0;
  const extra = n > 0 ? n % nb : 0;
  const end0 = nb - 1 > 0 ? small + min(1, extra) : i32.MAX_VALUE;
  for (let L = 0; L < 8; L++) {
    store<i32>(st + SW_EDGES + ((<usize>L) << 2), 0);
    store<i32>(st + SW_EM + ((<usize>L) << 2), 0);
    store<f64>(st + SW_BND + ((<usize>L) << 3), Infinity);
  }
  let endA = i32x4.splat(end0); // group 0 lanes
  let endB = i32x4.splat(end0); // group 1 lanes
  let posA = i32x4.splat(0);
  let posB = i32x4.splat(0);
  // The least of the lanes' current boundaries: an entry above it passes some lane's boundary.
  let minB: f64 = Infinity;
  let emDA01 = f64x2.splat(0);
  let emDA23 = f64x2.splat(0);
  let emDB01 = f64x2.splat(0);
  let emDB23 = f64x2.splat(0);
  let emSumA01 = f64x2.splat(0);
  let emSumA23 = f64x2.splat(0);
  let emSumB01 = f64x2.splat(0);
  let emSumB23 = f64x2.splat(0);
  let nllA01 = f64x2.splat(0);
  let nllA23 = f64x2.splat(0);
  let nllB01 = f64x2.splat(0);
  let nllB23 = f64x2.splat(0);
  let brierA01 = f64x2.splat(0);
  let brierA23 = f64x2.splat(0);
  let brierB01 = f64x2.splat(0);
  let brierB23 = f64x2.splat(0);
  let eceA01 = f64x2.splat(0);
  let eceA23 = f64x2.splat(0);
  let eceB01 = f64x2.splat(0);
  let eceB23 = f64x2.splat(0);
  let mceA01 = f64x2.splat(NaN);
  let mceA23 = f64x2.splat(NaN);
  let mceB01 = f64x2.splat(NaN);
  let mceB23 = f64x2.splat(NaN);
  let correctA = i32x4.splat(0);
  let correctB = i32x4.splat(0);
  const minC = f64x2.splat(minCount);
  let r: i32 = 0;
  for (let b = 0; b < bins; b++) {
    const runEnd = i32At(topRunEndPtr, b);
    const startA = posA;
    const startB = posB;
    let dA01 = f64x2.splat(0);
    let dA23 = f64x2.splat(0);
    let dB01 = f64x2.splat(0);
    let dB23 = f64x2.splat(0);
    for (; r < runEnd; r++) {
      const ss = i32At(slotSidePtr, r);
      const mB = maskPtr != 0 ? v128.load(maskPtr + ((<usize>ss) << 4)) : groupMask(groupBytes(flipPtr, ss));
      const mA = v128.not(mB);
      const e = dataPtr + ((<usize>(r * STRIDE)) << 3);
      const v = load<f64>(e);
      const nextA = i32x4.sub(posA, mA);
      const nextB = i32x4.sub(posB, mB);
      if (v > minB || v128.any_true(v128.or(i32x4.gt_s(nextA, endA), i32x4.gt_s(nextB, endB)))) {
        v128.store(st + SW_POS, posA);
        v128.store(st + SW_POS, posB, 16);
        v128.store(st + SW_END, endA);
        v128.store(st + SW_END, endB, 16);
        v128.store(st + SW_EMD, emDA01);
        v128.store(st + SW_EMD, emDA23, 16);
        v128.store(st + SW_EMD, emDB01, 32);
        v128.store(st + SW_EMD, emDB23, 48);
        v128.store(st + SW_EMSUM, emSumA01);
        v128.store(st + SW_EMSUM, emSumA23, 16);
        v128.store(st + SW_EMSUM, emSumB01, 32);
        v128.store(st + SW_EMSUM, emSumB23, 48);
        // The lanes with something to do: a position past its chunk end, or a value past its current boundary.
        let lanes = i32x4.bitmask(i32x4.gt_s(nextA, endA)) | (i32x4.bitmask(i32x4.gt_s(nextB, endB)) << 4);
        if (v > minB) {
          const vv = f64x2.splat(v);
          lanes |=
            i64x2.bitmask(f64x2.gt(vv, v128.load(st + SW_BND))) |
            (i64x2.bitmask(f64x2.gt(vv, v128.load(st + SW_BND, 16))) << 2) |
            (i64x2.bitmask(f64x2.gt(vv, v128.load(st + SW_BND, 32))) << 4) |
            (i64x2.bitmask(f64x2.gt(vv, v128.load(st + SW_BND, 48))) << 6);
        }
        const g = groupBytes(flipPtr, ss);
        minB = pairEvents(st, boundariesPtr, bins, nb, small, extra, slotSidePtr, dataPtr, flipPtr, r, g, v, lanes);
        endA = v128.load(st + SW_END);
        endB = v128.load(st + SW_END, 16);
        emDA01 = v128.load(st + SW_EMD);
        emDA23 = v128.load(st + SW_EMD, 16);
        emDB01 = v128.load(st + SW_EMD, 32);
        emDB23 = v128.load(st + SW_EMD, 48);
        emSumA01 = v128.load(st + SW_EMSUM);
        emSumA23 = v128.load(st + SW_EMSUM, 16);
        emSumB01 = v128.load(st + SW_EMSUM, 32);
        emSumB23 = v128.load(st + SW_EMSUM, 48);
      }
      const mB01 = i64x2.extend_low_i32x4_s(mB);
      const mB23 = i64x2.extend_high_i32x4_s(mB);
      const dd = v128.load64_splat(e + 16);
      const tA01 = v128.andnot(dd, mB01);
      const tA23 = v128.andnot(dd, mB23);
      const tB01 = v128.and(dd, mB01);
      const tB23 = v128.and(dd, mB23);
      dA01 = f64x2.add(dA01, tA01);
      dA23 = f64x2.add(dA23, tA23);
      dB01 = f64x2.add(dB01, tB01);
      dB23 = f64x2.add(dB23, tB23);
      const a = i32x4.splat(<i32>load<f64>(e, 8));
      correctA = i32x4.add(correctA, v128.and(a, mA));
      correctB = i32x4.add(correctB, v128.and(a, mB));
      const nll = v128.load64_splat(e + 24);
      nllA01 = f64x2.add(nllA01, v128.andnot(nll, mB01));
      nllA23 = f64x2.add(nllA23, v128.andnot(nll, mB23));
      nllB01 = f64x2.add(nllB01, v128.and(nll, mB01));
      nllB23 = f64x2.add(nllB23, v128.and(nll, mB23));
      const brier = v128.load64_splat(e + 32);
      brierA01 = f64x2.add(brierA01, v128.andnot(brier, mB01));
      brierA23 = f64x2.add(brierA23, v128.andnot(brier, mB23));
      brierB01 = f64x2.add(brierB01, v128.and(brier, mB01));
      brierB23 = f64x2.add(brierB23, v128.and(brier, mB23));
      posA = nextA;
      posB = nextB;
      emDA01 = f64x2.add(emDA01, tA01);
      emDA23 = f64x2.add(emDA23, tA23);
      emDB01 = f64x2.add(emDB01, tB01);
      emDB23 = f64x2.add(emDB23, tB23);
    }
    const cA = i32x4.sub(posA, startA);
    const cB = i32x4.sub(posB, startB);
    const cA01 = f64x2.convert_low_i32x4_s(cA);
    const cA23 = convertHigh(cA);
    const cB01 = f64x2.convert_low_i32x4_s(cB);
    const cB23 = convertHigh(cB);
    const absA01 = f64x2.abs(dA01);
    const absA23 = f64x2.abs(dA23);
    const absB01 = f64x2.abs(dB01);
    const absB23 = f64x2.abs(dB23);
    eceA01 = f64x2.add(eceA01, absA01);
    eceA23 = f64x2.add(eceA23, absA23);
    eceB01 = f64x2.add(eceB01, absB01);
    eceB23 = f64x2.add(eceB23, absB23);
    mceA01 = mceStep(mceA01, absA01, cA01, minC);
    mceA23 = mceStep(mceA23, absA23, cA23, minC);
    mceB01 = mceStep(mceB01, absB01, cB01, minC);
    mceB23 = mceStep(mceB23, absB23, cB23, minC);
  }
  const cA01 = f64x2.convert_low_i32x4_s(correctA);
  const cA23 = convertHigh(correctA);
  const cB01 = f64x2.convert_low_i32x4_s(correctB);
  const cB23 = convertHigh(correctB);
  store8(outPtr, cA01, cA23, cB01, cB23);
  store8(outPtr + 64, eceA01, eceA23, eceB01, eceB23);
  store8(outPtr + 128, mceA01, mceA23, mceB01, mceB23);
  store8(
    outPtr + 192,
    f64x2.add(emSumA01, f64x2.abs(emDA01)),
    f64x2.add(emSumA23, f64x2.abs(emDA23)),
    f64x2.add(emSumB01, f64x2.abs(emDB01)),
    f64x2.add(emSumB23, f64x2.abs(emDB23)),
  );
  store8(outPtr + 256, brierA01, brierA23, brierB01, brierB23);
  store8(outPtr + 320, nllA01, nllA23, nllB01, nllB23);
}

/** if (c >= minCount && !(|d| / c <= mce)) mce = |d| / c, lane by lane (mce starts NaN: the first such bin sets it). */
function mceStep(mce: v128, absD: v128, c: v128, minC: v128): v128 {
  const ratio = f64x2.div(absD, c);
  return v128.bitselect(ratio, mce, v128.andnot(f64x2.ge(c, minC), f64x2.le(ratio, mce)));
}

function store8(ptr: usize, x0: v128, x1: v128, x2: v128, x3: v128): void {
  v128.store(ptr, x0);
  v128.store(ptr, x1, 16);
  v128.store(ptr, x2, 32);
  v128.store(ptr, x3, 48);
}

// swappedTopLabel4's scratch: eight lanes of i32 (positions, chunk ends, edges, em) and of f64 (the rest).
const SW_POS: usize = 0;
const SW_END: usize = 32;
const SW_EDGES: usize = 64;
const SW_EM: usize = 96;
const SW_EMD: usize = 128;
const SW_EMSUM: usize = 192;
const SW_BND: usize = 256;
// The host gives swappedTopLabel4 384 bytes of scratch (320 used).

/**
 * weightedSide's two equal-mass loops, weights 0 or 1, for entry r (value v; g: byte q is 1 where the entry is in
 * group 1 of permutation q) in each of the eight lanes, on the lanes' state in the scratch; returns the least of
 * the lanes' current boundaries (Infinity for a lane with none yet). A lane's `last` (the value of its group's
 * previous member) is found by looking back from r, as in laneEvents. Only the lanes in `lanes` (bit L: lane L)
 * run equalMassStep, the ones whose position crosses their chunk end or whose value passes their current boundary
 * (kept at SW_BND, as equalMassStep last returned it); for any other lane it would change nothing and return that
 * boundary.
 */
function pairEvents(
  st: usize,
  boundariesPtr: usize,
  bins: i32,
  nb: i32,
  small: i32,
  extra: i32,
  slotSidePtr: usize,
  dataPtr: usize,
  flipPtr: usize,
  r: i32,
  g: u32,
  v: f64,
  lanes: i32,
): f64 {
  for (; lanes != 0; lanes &= lanes - 1) {
    const L = ctz(lanes);
    const li = (<usize>L) << 2;
    const ld = (<usize>L) << 3;
    const shift = <u32>((L & 3) << 3);
    const group = <u32>(L >> 2);
    const pos = load<i32>(st + SW_POS + li);
    const next = pos + <i32>(((g >> shift) & 1) == group);
    let last: f64 = 0;
    if (load<i32>(st + SW_END + li) < next) {
      for (let j = r - 1; j >= 0; j--) {
        if (((groupBytes(flipPtr, i32At(slotSidePtr, j)) >> shift) & 1) == group) {
          last = load<f64>(dataPtr + ((<usize>(j * STRIDE)) << 3));
          break;
        }
      }
    }
    const b = equalMassStep(
      st + SW_END + li,
      st + SW_EDGES + li,
      st + SW_EM + li,
      st + SW_EMD + ld,
      st + SW_EMSUM + ld,
      boundariesPtr + <usize>(L * bins * 8),
      pos,
      next,
      last,
      nb,
      small,
      extra,
      v,
    );
    store<f64>(st + SW_BND + ld, b);
  }
  // The least current boundary of the eight lanes (finite or Infinity: never NaN, so min is exact).
  const m = f64x2.min(
    f64x2.min(v128.load(st + SW_BND), v128.load(st + SW_BND, 16)),
    f64x2.min(v128.load(st + SW_BND, 32), v128.load(st + SW_BND, 48)),
  );
  return min(f64x2.extract_lane(m, 0), f64x2.extract_lane(m, 1));
}

/** MetricPool.unitGroup: top-label sums of one group listed in members[start..] (unit weights, n entries). */
function unitGroup(
  membersPtr: usize,
  memberRunEndPtr: usize,
  dataPtr: usize,
  boundariesPtr: usize,
  start: i32,
  runOffset: i32,
  n: i32,
  bins: i32,
  minCount: f64,
  outPtr: usize,
): void {
  const nb = n < bins ? n : bins;
  const small = n > 0 ? n / nb : 0;
  const extra = n > 0 ? n % nb : 0;
  for (let c = 0; c < nb - 1; c++) {
    const end = start + (c + 1) * small + (c + 1 < extra ? c + 1 : extra);
    const lo = f64At(dataPtr, i32At(membersPtr, end - 1) * STRIDE);
    const hi = f64At(dataPtr, i32At(membersPtr, end) * STRIDE);
    store<f64>(boundariesPtr + ((<usize>c) << 3), (lo + hi) / 2);
  }
  let em: i32 = 0;
  let emD: f64 = 0;
  let emSum: f64 = 0;
  let nll: f64 = 0;
  let brier: f64 = 0;
  let correct: f64 = 0;
  let ece: f64 = 0;
  let mce: f64 = NaN;
  let q = start;
  for (let b = 0; b < bins; b++) {
    const end = i32At(memberRunEndPtr, runOffset + b);
    let c: f64 = 0;
    let d: f64 = 0;
    let a: f64 = 0;
    for (; q < end; q++) {
      const e = dataPtr + ((<usize>(i32At(membersPtr, q) * STRIDE)) << 3);
      const v = load<f64>(e);
      const dd = load<f64>(e, 16);
      c += 1;
      d += dd;
      a += load<f64>(e, 8);
      nll += load<f64>(e, 24);
      brier += load<f64>(e, 32);
      while (em < nb - 1 && v > f64At(boundariesPtr, em)) {
        emSum += Math.abs(emD);
        emD = 0;
        em++;
      }
      emD += dd;
    }
    correct += a;
    ece += Math.abs(d);
    if (c >= minCount && !(Math.abs(d) / c <= mce)) mce = Math.abs(d) / c;
  }
  storeSums(outPtr, correct, ece, mce, emSum + Math.abs(emD), brier, nll);
}

/**
 * Classwise ECE numerators of both groups for `count` (1 or 4) permutations (flip bytes interleaved: permutation
 * q of pair s at flipPtr + s * 4 + q; for 4, their groupMasks4 at maskPtr, which is what is read unless maskPtr is 0): per class k, all entries sorted by p_k, bins ending at
 * k * size + runEnd[k * bins + b]. Writes group 0 and group 1 of each permutation (2 * count doubles) to outPtr.
 *
 * An entry adds its gap d to one group of each permutation and nothing to the other. The JavaScript loop adds
 * (1 - w) d and w d (w = 0 or 1); here the four permutations' memberships become 64-bit lane masks and the adds
 * take d & mask and d & ~mask, two permutations per 128-bit vector. Both add d or a zero, and a zero changes no
 * sum: a sum starts at +0 and so is never -0 (x + (-x) is +0), and for any other s, s + 0 = s + (-0) = s. So each
 * lane's sums are the scalar ones, bit for bit.
 */
export function swappedClasswise(
  slotSidePtr: usize,
  gapPtr: usize,
  runEndPtr: usize,
  flipPtr: usize,
  maskPtr: usize,
  n: i32,
  size: i32,
  bins: i32,
  count: i32,
  outPtr: usize,
): void {
  let c00: f64 = 0;
  let c01: f64 = 0;
  // Lanes: (permutation 0, 1) and (2, 3), group 0 (a) and group 1 (b).
  let ca01 = f64x2.splat(0);
  let ca23 = f64x2.splat(0);
  let cb01 = f64x2.splat(0);
  let cb23 = f64x2.splat(0);
  for (let k = 0; k < 4; k++) {
    let j = k * size;
    for (let b = 0; b < bins; b++) {
      const end = k * size + i32At(runEndPtr, k * bins + b);
      if (count == 1) {
        let a0: f64 = 0;
        let b0: f64 = 0;
        for (; j < end; j++) {
          const ss = i32At(slotSidePtr, j);
          const w = (ss & 1) ^ (<i32>load<u8>(flipPtr + ((<usize>(ss >> 1)) << 2)));
          const d = f64At(gapPtr, j);
          a0 += <f64>(1 - w) * d;
          b0 += <f64>w * d;
        }
        c00 += Math.abs(a0);
        c01 += Math.abs(b0);
        continue;
      }
      let a01 = f64x2.splat(0);
      let a23 = f64x2.splat(0);
      let b01 = f64x2.splat(0);
      let b23 = f64x2.splat(0);
      for (; j < end; j++) {
        const ss = i32At(slotSidePtr, j);
        const m = maskPtr != 0 ? v128.load(maskPtr + ((<usize>ss) << 4)) : groupMask(groupBytes(flipPtr, ss));
        const m01 = i64x2.extend_low_i32x4_s(m);
        const m23 = i64x2.extend_high_i32x4_s(m);
        const d = v128.load64_splat(gapPtr + ((<usize>j) << 3));
        a01 = f64x2.add(a01, v128.andnot(d, m01));
        a23 = f64x2.add(a23, v128.andnot(d, m23));
        b01 = f64x2.add(b01, v128.and(d, m01));
        b23 = f64x2.add(b23, v128.and(d, m23));
      }
      ca01 = f64x2.add(ca01, f64x2.abs(a01));
      ca23 = f64x2.add(ca23, f64x2.abs(a23));
      cb01 = f64x2.add(cb01, f64x2.abs(b01));
      cb23 = f64x2.add(cb23, f64x2.abs(b23));
    }
  }
  if (count == 1) {
    store<f64>(outPtr, c00);
    store<f64>(outPtr, c01, 8);
    return;
  }
  // Group 0 then group 1 of each permutation.
  v128.store(outPtr, i64x2.shuffle(ca01, cb01, 0, 2));
  v128.store(outPtr, i64x2.shuffle(ca01, cb01, 1, 3), 16);
  v128.store(outPtr, i64x2.shuffle(ca23, cb23, 0, 2), 32);
  v128.store(outPtr, i64x2.shuffle(ca23, cb23, 1, 3), 48);
}

/**
 * SmoothEcePool.evaluateBlock's kernel pass (smooth-ece.ts): for each evaluation point k, the kernel weights
 * kernel[offsets[k] .. + length[k]) against grid nodes first[k] .., for eight weightings at once (grid node j of
 * weighting q at grid[j * 8 + q]); the numerator of weighting q is the sum over k of |sum_j w_kj grid_jq|.
 * Two weightings per 128-bit lane pair: each lane's multiplies and adds are the scalar ones, in the same order.
 * Writes eight doubles to outPtr.
 */
function smoothNumerators(
  kernelPtr: usize,
  firstPtr: usize,
  lengthPtr: usize,
  offsetsPtr: usize,
  gridPtr: usize,
  evalPoints: i32,
  nodeLo: i32,
  nodeHi: i32,
  outPtr: usize,
): void {
  let s01 = f64x2.splat(0);
  let s23 = f64x2.splat(0);
  let s45 = f64x2.splat(0);
  let s67 = f64x2.splat(0);
  // Two points at a time: their rows mostly cover the same nodes, and there each grid load serves both, with
  // eight independent sums instead of four. Each point's sums still add its nodes in increasing order (the nodes
  // only its row has before and after the shared ones), so they are the one-point loop's, bit for bit.
  let k = 0;
  for (; k + 1 < evalPoints; k += 2) {
    // Only nodes nodeLo..nodeHi hold anything: the rest would add +0 to each sum, which changes none.
    const fromA = i32At(firstPtr, k);
    const fA = max(fromA, nodeLo);
    const eA = max(fA, min(fromA + i32At(lengthPtr, k), nodeHi + 1));
    const wA = kernelPtr + ((<usize>(i32At(offsetsPtr, k) - fromA)) << 3);
    const fromB = i32At(firstPtr, k + 1);
    const fB = max(fromB, nodeLo);
    const eB = max(fB, min(fromB + i32At(lengthPtr, k + 1), nodeHi + 1));
    const wB = kernelPtr + ((<usize>(i32At(offsetsPtr, k + 1) - fromB)) << 3);
    const lo = max(fA, fB);
    const shared = max(lo, min(eA, eB));
    let a01 = f64x2.splat(0);
    let a23 = f64x2.splat(0);
    let a45 = f64x2.splat(0);
    let a67 = f64x2.splat(0);
    let b01 = f64x2.splat(0);
    let b23 = f64x2.splat(0);
    let b45 = f64x2.splat(0);
    let b67 = f64x2.splat(0);
    // The nodes before the shared ones: of one row only.
    for (let j = fA, end = min(eA, lo); j < end; j++) {
      const c = v128.load64_splat(wA + ((<usize>j) << 3));
      const g = gridPtr + ((<usize>j) << 6);
      a01 = f64x2.add(a01, f64x2.mul(c, v128.load(g)));
      a23 = f64x2.add(a23, f64x2.mul(c, v128.load(g, 16)));
      a45 = f64x2.add(a45, f64x2.mul(c, v128.load(g, 32)));
      a67 = f64x2.add(a67, f64x2.mul(c, v128.load(g, 48)));
    }
    for (let j = fB, end = min(eB, lo); j < end; j++) {
      const c = v128.load64_splat(wB + ((<usize>j) << 3));
      const g = gridPtr + ((<usize>j) << 6);
      b01 = f64x2.add(b01, f64x2.mul(c, v128.load(g)));
      b23 = f64x2.add(b23, f64x2.mul(c, v128.load(g, 16)));
      b45 = f64x2.add(b45, f64x2.mul(c, v128.load(g, 32)));
      b67 = f64x2.add(b67, f64x2.mul(c, v128.load(g, 48)));
    }
    for (let j = lo; j < shared; j++) {
      const ca = v128.load64_splat(wA + ((<usize>j) << 3));
      const cb = v128.load64_splat(wB + ((<usize>j) << 3));
      const g = gridPtr + ((<usize>j) << 6);
      const g01 = v128.load(g);
      const g23 = v128.load(g, 16);
      const g45 = v128.load(g, 32);
      const g67 = v128.load(g, 48);
      a01 = f64x2.add(a01, f64x2.mul(ca, g01));
      a23 = f64x2.add(a23, f64x2.mul(ca, g23));
      a45 = f64x2.add(a45, f64x2.mul(ca, g45));
      a67 = f64x2.add(a67, f64x2.mul(ca, g67));
      b01 = f64x2.add(b01, f64x2.mul(cb, g01));
      b23 = f64x2.add(b23, f64x2.mul(cb, g23));
      b45 = f64x2.add(b45, f64x2.mul(cb, g45));
      b67 = f64x2.add(b67, f64x2.mul(cb, g67));
    }
    // The nodes after the shared ones.
    for (let j = max(shared, fA); j < eA; j++) {
      const c = v128.load64_splat(wA + ((<usize>j) << 3));
      const g = gridPtr + ((<usize>j) << 6);
      a01 = f64x2.add(a01, f64x2.mul(c, v128.load(g)));
      a23 = f64x2.add(a23, f64x2.mul(c, v128.load(g, 16)));
      a45 = f64x2.add(a45, f64x2.mul(c, v128.load(g, 32)));
      a67 = f64x2.add(a67, f64x2.mul(c, v128.load(g, 48)));
    }
    for (let j = max(shared, fB); j < eB; j++) {
      const c = v128.load64_splat(wB + ((<usize>j) << 3));
      const g = gridPtr + ((<usize>j) << 6);
      b01 = f64x2.add(b01, f64x2.mul(c, v128.load(g)));
      b23 = f64x2.add(b23, f64x2.mul(c, v128.load(g, 16)));
      b45 = f64x2.add(b45, f64x2.mul(c, v128.load(g, 32)));
      b67 = f64x2.add(b67, f64x2.mul(c, v128.load(g, 48)));
    }
    s01 = f64x2.add(f64x2.add(s01, f64x2.abs(a01)), f64x2.abs(b01));
    s23 = f64x2.add(f64x2.add(s23, f64x2.abs(a23)), f64x2.abs(b23));
    s45 = f64x2.add(f64x2.add(s45, f64x2.abs(a45)), f64x2.abs(b45));
    s67 = f64x2.add(f64x2.add(s67, f64x2.abs(a67)), f64x2.abs(b67));
  }
  if (k < evalPoints) {
    const from = i32At(firstPtr, k);
    const first = max(from, nodeLo);
    const end = max(first, min(from + i32At(lengthPtr, k), nodeHi + 1));
    const w = kernelPtr + ((<usize>(i32At(offsetsPtr, k) - from)) << 3);
    let a01 = f64x2.splat(0);
    let a23 = f64x2.splat(0);
    let a45 = f64x2.splat(0);
    let a67 = f64x2.splat(0);
    for (let j = first; j < end; j++) {
      const c = v128.load64_splat(w + ((<usize>j) << 3));
      const g = gridPtr + ((<usize>j) << 6);
      a01 = f64x2.add(a01, f64x2.mul(c, v128.load(g)));
      a23 = f64x2.add(a23, f64x2.mul(c, v128.load(g, 16)));
      a45 = f64x2.add(a45, f64x2.mul(c, v128.load(g, 32)));
      a67 = f64x2.add(a67, f64x2.mul(c, v128.load(g, 48)));
    }
    s01 = f64x2.add(s01, f64x2.abs(a01));
    s23 = f64x2.add(s23, f64x2.abs(a23));
    s45 = f64x2.add(s45, f64x2.abs(a45));
    s67 = f64x2.add(s67, f64x2.abs(a67));
  }
  v128.store(outPtr, s01);
  v128.store(outPtr, s23, 16);
  v128.store(outPtr, s45, 32);
  v128.store(outPtr, s67, 48);
}

/**
 * SmoothEcePool.evaluateBlock on the grid path, whole: `count` (<= 8) weightings of n items (n doubles each, one
 * after another at weightsPtr) spread to the interleaved grid (node j of weighting q at gridPtr + (j * 8 + q) * 8,
 * mass likewise at massPtr) from each item's node, share and residual, then smoothNumerators, then each
 * weighting's density over the column sums. Writes smECE (NaN for a weighting whose weights sum to 0) of each
 * weighting to outPtr, after the eight numerators (outPtr .. + 64 is scratch). Every sum in the order of the
 * JavaScript loops there.
 */
export function smoothBlock(
  nodePtr: usize,
  fracPtr: usize,
  residualPtr: usize,
  weightsPtr: usize,
  n: i32,
  count: i32,
  gridNodes: i32,
  gridPtr: usize,
  massPtr: usize,
  colsumPtr: usize,
  kernelPtr: usize,
  firstPtr: usize,
  lengthPtr: usize,
  offsetsPtr: usize,
  evalPoints: i32,
  outPtr: usize,
): void {
  const bytes = (<usize>gridNodes) << 6;
  memory.fill(gridPtr, 0, bytes);
  memory.fill(massPtr, 0, bytes);
  let nodeLo = gridNodes;
  let nodeHi = -1;
  let oneByOne = count;
  if (count == 8) {
    // All eight weightings of an item at once (two per vector), zero weights included. An item of weight 0 adds
    // (1 - f) * 0 * res = +0 or -0 to a grid sum, which changes none: a sum starts at +0 and so is never -0
    // (see swappedClasswise). Every other addition is the loop's below, in item order, so every sum is the same
    // double. The nodes nodeLo..nodeHi then span every item's, which is at least the nodes that hold anything.
    const row = (<usize>n) << 3;
    for (let i = 0; i < n; i++) {
      const node = i32At(nodePtr, i);
      nodeLo = min(nodeLo, node);
      nodeHi = max(nodeHi, node + 1);
      const f = f64At(fracPtr, i);
      const c0 = f64x2.splat(1 - f);
      const c1 = f64x2.splat(f);
      const res = v128.load64_splat(residualPtr + ((<usize>i) << 3));
      const wi = weightsPtr + ((<usize>i) << 3);
      const g = gridPtr + ((<usize>node) << 6);
      const m = massPtr + ((<usize>node) << 6);
      for (let q: usize = 0; q < 64; q += 16) {
        const w = f64x2.replace_lane(v128.load64_splat(wi + (q >> 3) * row), 1, load<f64>(wi + ((q >> 3) + 1) * row));
        const a = f64x2.mul(c0, w);
        const b = f64x2.mul(c1, w);
        v128.store(g + q, f64x2.add(v128.load(g + q), f64x2.mul(a, res)));
        v128.store(g + q, f64x2.add(v128.load(g + q, 64), f64x2.mul(b, res)), 64);
        v128.store(m + q, f64x2.add(v128.load(m + q), a));
        v128.store(m + q, f64x2.add(v128.load(m + q, 64), b), 64);
      }
    }
    oneByOne = 0;
  }
  for (let q = 0; q < oneByOne; q++) {
    const weights = weightsPtr + ((<usize>(q * n)) << 3);
    for (let i = 0; i < n; i++) {
      const w = f64At(weights, i);
      if (w == 0) continue;
      const node = i32At(nodePtr, i);
      nodeLo = min(nodeLo, node);
      nodeHi = max(nodeHi, node + 1);
      const f = f64At(fracPtr, i);
      const res = f64At(residualPtr, i);
      const at = (<usize>(node * 8 + q)) << 3;
      store<f64>(gridPtr + at, load<f64>(gridPtr + at) + (1 - f) * w * res);
      store<f64>(gridPtr + at + 64, load<f64>(gridPtr + at + 64) + f * w * res);
      store<f64>(massPtr + at, load<f64>(massPtr + at) + (1 - f) * w);
      store<f64>(massPtr + at + 64, load<f64>(massPtr + at + 64) + f * w);
    }
  }
  smoothNumerators(kernelPtr, firstPtr, lengthPtr, offsetsPtr, gridPtr, evalPoints, nodeLo, nodeHi, outPtr);
  for (let q = 0; q < count; q++) {
    const weights = weightsPtr + ((<usize>(q * n)) << 3);
    let total: f64 = 0;
    for (let i = 0; i < n; i++) total += f64At(weights, i);
    let value: f64 = NaN;
    if (total != 0) {
      let density: f64 = <f64>evalPoints * 0.0001;
      for (let j = 0; j < gridNodes; j++) density += f64At(massPtr, j * 8 + q) * f64At(colsumPtr, j);
      value = f64At(outPtr, q) / density;
    }
    store<f64>(outPtr + 64 + ((<usize>q) << 3), value);
  }
}

/**
 * smooth-ece.ts smoothEceDirect: smECE at one bandwidth of one weighted set already spread to the grid (G nodes of
 * residual at gridRPtr and of mass at gridMassPtr), with the E rows of weights computed as they are used from the
 * kernel k(0..radius) at kernelPtr. The same operations in the same order as there (see rowWeights there), so the
 * same double. colsumPtr: G doubles of scratch.
 */
export function smoothDirect(
  kernelPtr: usize,
  radius: i32,
  E: i32,
  G: i32,
  gridRPtr: usize,
  gridMassPtr: usize,
  colsumPtr: usize,
  nodeLo: i32,
  nodeHi: i32,
): f64 {
  const last = G - 1;
  const gm1 = <f64>(G - 1);
  memory.fill(colsumPtr, 0, (<usize>G) << 3);
  let numerator: f64 = 0;
  for (let k = 0; k < E; k++) {
    const t = <f64>k / <f64>(E - 1);
    let at = <i32>Math.floor(t * gm1);
    if (at < 0) at = 0;
    if (at > G - 2) at = G - 2;
    const r = (t - <f64>at / gm1) * gm1;
    let lo = G;
    let hi = -1;
    for (let q = 0; q < 2; q++) {
      if ((q == 0 ? 1 - r : r) == 0) continue;
      const node = at + q;
      if (-node - 1 >= -radius) {
        lo = min(lo, 1);
        hi = max(hi, radius - node);
      }
      const inStart = max(-radius, -node);
      const inEnd = min(radius, last - node);
      if (inEnd >= inStart) {
        lo = min(lo, node + inStart);
        hi = max(hi, node + inEnd);
      }
      const rightStart = max(-radius, last - node + 1);
      if (radius >= rightStart) {
        lo = min(lo, 2 * last - node - radius);
        hi = max(hi, last - 1);
      }
    }
    if (hi < lo) {
      lo = 0;
      hi = 0;
    }
    lo = max(lo, nodeLo);
    hi = min(hi, nodeHi);
    const edgeLo = min(max(lo, radius - at + 1), hi + 1);
    const edgeHi = max(min(hi, 2 * last - at - 2 - radius), edgeLo - 1);
    let num: f64 = 0;
    for (let m = lo; m < edgeLo; m++) {
      const w = rowWeight(kernelPtr, radius, last, at, r, m);
      num += w * f64At(gridRPtr, m);
      store<f64>(colsumPtr + ((<usize>m) << 3), f64At(colsumPtr, m) + w);
    }
    const s0 = 1 - r;
    for (let m = edgeLo; m <= edgeHi; m++) {
      const w = innerWeight(kernelPtr, radius, at, s0, r, m);
      num += w * f64At(gridRPtr, m);
      store<f64>(colsumPtr + ((<usize>m) << 3), f64At(colsumPtr, m) + w);
    }
    for (let m = edgeHi + 1; m <= hi; m++) {
      const w = rowWeight(kernelPtr, radius, last, at, r, m);
      num += w * f64At(gridRPtr, m);
      store<f64>(colsumPtr + ((<usize>m) << 3), f64At(colsumPtr, m) + w);
    }
    numerator += Math.abs(num);
  }
  let density: f64 = <f64>E * 0.0001;
  for (let j = nodeLo; j <= nodeHi; j++) density += f64At(gridMassPtr, j) * f64At(colsumPtr, j);
  return numerator / density;
}

/**
 * smooth-ece.ts buildDiscretisation's second pass, with nodeReach: row k (interpolating from node at[k] with share
 * 1 - r[k] and at[k] + 1 with share r[k]) gets its weights W_km for nodes m = first[k] .. first[k] + length[k] - 1
 * at weightsPtr + (offsets[k] + m - first[k]) * 8, each as rowWeights there computes it (the same operations in
 * the same order, so the same doubles); the column sums (G doubles at colsumPtr) add the rows onto +0 in row
 * order. Per node j: the first row that reads it at reachFirstPtr and one past the last at reachEndPtr (E and 0
 * when none does).
 */
export function smoothTable(
  kernelPtr: usize,
  radius: i32,
  E: i32,
  G: i32,
  atPtr: usize,
  rPtr: usize,
  firstPtr: usize,
  lengthPtr: usize,
  offsetsPtr: usize,
  weightsPtr: usize,
  colsumPtr: usize,
  reachFirstPtr: usize,
  reachEndPtr: usize,
): void {
  const last = G - 1;
  memory.fill(colsumPtr, 0, (<usize>G) << 3);
  for (let j = 0; j < G; j++) {
    store<i32>(reachFirstPtr + ((<usize>j) << 2), E);
    store<i32>(reachEndPtr + ((<usize>j) << 2), 0);
  }
  for (let k = 0; k < E; k++) {
    const at = i32At(atPtr, k);
    const r = f64At(rPtr, k);
    const lo = i32At(firstPtr, k);
    const hi = lo + i32At(lengthPtr, k) - 1;
    const out = weightsPtr + ((<usize>(i32At(offsetsPtr, k) - lo)) << 3);
    const edgeLo = min(max(lo, radius - at + 1), hi + 1);
    const edgeHi = max(min(hi, 2 * last - at - 2 - radius), edgeLo - 1);
    for (let m = lo; m < edgeLo; m++) store<f64>(out + ((<usize>m) << 3), rowWeight(kernelPtr, radius, last, at, r, m));
    const s0 = 1 - r;
    for (let m = edgeLo; m <= edgeHi; m++)
      store<f64>(out + ((<usize>m) << 3), innerWeight(kernelPtr, radius, at, s0, r, m));
    for (let m = edgeHi + 1; m <= hi; m++)
      store<f64>(out + ((<usize>m) << 3), rowWeight(kernelPtr, radius, last, at, r, m));
    for (let m = lo; m <= hi; m++) {
      const c = colsumPtr + ((<usize>m) << 3);
      store<f64>(c, load<f64>(c) + load<f64>(out + ((<usize>m) << 3)));
      const f = reachFirstPtr + ((<usize>m) << 2);
      if (k < load<i32>(f)) store<i32>(f, k);
      store<i32>(reachEndPtr + ((<usize>m) << 2), k + 1);
    }
  }
}

/**
 * rowWeights' W_km for a node m far from both ends (edgeLo <= m <= edgeHi there): only the inside offsets m - at
 * and m - at - 1 reach it, each within the radius or adding +0.
 */
function innerWeight(kernelPtr: usize, radius: i32, at: i32, s0: f64, r: f64, m: i32): f64 {
  const d0 = m - at;
  const d1 = d0 - 1;
  const w0: f64 = d0 >= -radius && d0 <= radius ? s0 * f64At(kernelPtr, d0 < 0 ? -d0 : d0) : 0;
  const w1: f64 = d1 >= -radius && d1 <= radius ? r * f64At(kernelPtr, d1 < 0 ? -d1 : d1) : 0;
  return w0 + w1;
}

/** smooth-ece.ts rowWeight: W_km for one node, every term of both nodes as rowWeights adds them. */
function rowWeight(kernelPtr: usize, radius: i32, last: i32, at: i32, r: f64, m: i32): f64 {
  let w: f64 = 0;
  for (let q = 0; q < 2; q++) {
    const share: f64 = q == 0 ? 1 - r : r;
    if (share == 0) continue;
    const node = at + q;
    if (m >= 1 && m + node <= radius) w += share * f64At(kernelPtr, m + node);
    const d = m - node;
    if (d >= -radius && d <= radius) w += share * f64At(kernelPtr, d < 0 ? -d : d);
    if (m <= last - 1 && 2 * last - node - m <= radius) w += share * f64At(kernelPtr, 2 * last - node - m);
  }
  return w;
}

/**
 * Random draws, continuing a Rng's stream (src/core/random.ts: xoshiro128**, state words at statePtr, read at the
 * start and written back at the end), so the host's and the kernel's draws are one sequence: the same integers
 * as Rng.nextUint32, all in u32 arithmetic.
 */
function rotl(x: u32, k: u32): u32 {
  return (x << k) | (x >> (32 - k));
}

/**
 * Four bootstrap resamples of n slots, as bootstrapMetrics draws them (for each resample in turn, n draws of
 * Rng.nextInt(n), by Lemire's method with its rejection step), tallied into the four u16 weight lanes at
 * lanesPtr (lane q of slot s at s * 8 + q * 2). n <= 65535, so no count overflows.
 */
export function drawCounts4(statePtr: usize, n: i32, lanesPtr: usize): void {
  drawCounts<u16>(statePtr, n, 4, lanesPtr);
}

/**
 * `count` bootstrap resamples of n items as item weights, one after another at weightsPtr (n doubles each):
 * resample q takes n draws of Rng.nextInt(n), in stream order, and item i's weight is how often it was drawn, as
 * `weights.fill(0); rng.drawInts(n, n, weights)` gives them.
 */
export function drawWeights(statePtr: usize, n: i32, count: i32, weightsPtr: usize): void {
  drawCounts<f64>(statePtr, n, count, weightsPtr);
}

/**
 * drawCounts4 (T = u16: counts in four interleaved lanes) and drawWeights (T = f64: counts one resample after
 * another): `count` resamples of n draws each, tallied from zero. One instance per T, each with its own store.
 */
function drawCounts<T>(statePtr: usize, n: i32, count: i32, outPtr: usize): void {
  const lanes = isInteger<T>();
  let s0 = load<u32>(statePtr);
  let s1 = load<u32>(statePtr, 4);
  let s2 = load<u32>(statePtr, 8);
  let s3 = load<u32>(statePtr, 12);
  memory.fill(outPtr, 0, (<usize>(lanes ? n : n * count)) << 3);
  const nn = <u64>n;
  const threshold = <u32>((<u64>4294967296 - nn) % nn);
  for (let q = 0; q < count; q++) {
    const base = lanes ? outPtr + ((<usize>q) << 1) : outPtr + ((<usize>(q * n)) << 3);
    for (let i = 0; i < n; i++) {
      let hi: u32;
      for (;;) {
        const x = rotl(s1 * 5, 7) * 9;
        const t = s1 << 9;
        s2 ^= s0;
        s3 ^= s1;
        s1 ^= s2;
        s0 ^= s3;
        s2 ^= t;
        s3 = rotl(s3, 11);
        const m = <u64>x * nn;
        hi = <u32>(m >> 32);
        if (<u32>m >= threshold) break;
      }
      const at = base + ((<usize>hi) << 3);
      store<T>(at, load<T>(at) + <T>1);
    }
  }
  store<u32>(statePtr, s0);
  store<u32>(statePtr, s1, 4);
  store<u32>(statePtr, s2, 8);
  store<u32>(statePtr, s3, 12);
}

/**
 * Four permutations' swap bits for n pairs, as permutationExtremes draws them (for each permutation in turn, one
 * Rng.nextUint32 per 32 pairs, low bit first), interleaved at flipsPtr (permutation q of pair j at j * 4 + q).
 */
export function drawFlips4(statePtr: usize, n: i32, flipsPtr: usize): void {
  let s0 = load<u32>(statePtr);
  let s1 = load<u32>(statePtr, 4);
  let s2 = load<u32>(statePtr, 8);
  let s3 = load<u32>(statePtr, 12);
  for (let q = 0; q < 4; q++) {
    for (let j = 0; j < n; j += 32) {
      let bits = rotl(s1 * 5, 7) * 9;
      const t = s1 << 9;
      s2 ^= s0;
      s3 ^= s1;
      s1 ^= s2;
      s0 ^= s3;
      s2 ^= t;
      s3 = rotl(s3, 11);
      const end = min(n, j + 32);
      for (let i = j; i < end; i++, bits >>= 1) store<u8>(flipsPtr + ((<usize>i) << 2) + <usize>q, <u8>(bits & 1));
    }
  }
  store<u32>(statePtr, s0);
  store<u32>(statePtr, s1, 4);
  store<u32>(statePtr, s2, 8);
  store<u32>(statePtr, s3, 12);
}

/**
 * permutationExtremes' loop over blocks of four permutations, whole (stats.ts MetricPool.permuteBlocks): per block,
 * drawFlips4, groupMasks4, swappedTopLabel4 and swappedClasswise as the host calls them one by one, then each
 * permutation's metrics of both groups as writeGroup computes them (sum / n; classwise / (K n); MCE as it is) and
 * the count of permutations whose |group 0 - group 1| reaches the metric's threshold, in the order accuracy, ECE,
 * MCE, equal-mass ECE, classwise ECE, Brier, NLL (7 doubles at thresholdPtr; counts added to the 7 at
 * extremePtr). The same operations on the same doubles as there, so the same counts. outPtr: 56 doubles of
 * scratch (the top-label sums, then the classwise numerators at outPtr + 384).
 */
export function permutationBlocks(
  statePtr: usize,
  blocks: i32,
  n: i32,
  bins: i32,
  minCount: f64,
  size: i32,
  flipPtr: usize,
  maskPtr: usize,
  slotSidePtr: usize,
  topRunEndPtr: usize,
  dataPtr: usize,
  laneBoundariesPtr: usize,
  scratchPtr: usize,
  classSlotSidePtr: usize,
  classGapPtr: usize,
  classRunEndPtr: usize,
  outPtr: usize,
  thresholdPtr: usize,
  extremePtr: usize,
): void {
  if (n == 0) return; // every metric NaN: no permutation counts
  const nf = <f64>n;
  const nk = <f64>(4 * n);
  const cwPtr = outPtr + 384;
  for (let b = 0; b < blocks; b++) {
    drawFlips4(statePtr, n, flipPtr);
    if (maskPtr != 0) groupMasks4(flipPtr, n, maskPtr);
    swappedTopLabel4(
      slotSidePtr,
      topRunEndPtr,
      dataPtr,
      laneBoundariesPtr,
      flipPtr,
      maskPtr,
      scratchPtr,
      n,
      bins,
      minCount,
      outPtr,
    );
    swappedClasswise(classSlotSidePtr, classGapPtr, classRunEndPtr, flipPtr, maskPtr, n, size, bins, 4, cwPtr);
    for (let q = 0; q < 4; q++) {
      const a = outPtr + ((<usize>q) << 3);
      const c = cwPtr + ((<usize>q) << 4);
      countExtreme(thresholdPtr, extremePtr, 0, load<f64>(a) / nf - load<f64>(a, 32) / nf);
      countExtreme(thresholdPtr, extremePtr, 1, load<f64>(a, 64) / nf - load<f64>(a, 96) / nf);
      countExtreme(thresholdPtr, extremePtr, 2, load<f64>(a, 128) - load<f64>(a, 160));
      countExtreme(thresholdPtr, extremePtr, 3, load<f64>(a, 192) / nf - load<f64>(a, 224) / nf);
      countExtreme(thresholdPtr, extremePtr, 4, load<f64>(c) / nk - load<f64>(c, 8) / nk);
      countExtreme(thresholdPtr, extremePtr, 5, load<f64>(a, 256) / nf - load<f64>(a, 288) / nf);
      countExtreme(thresholdPtr, extremePtr, 6, load<f64>(a, 320) / nf - load<f64>(a, 352) / nf);
    }
  }
}

/** permutationExtremes' count: metric m's extreme count + 1 where |t| >= its threshold. */
function countExtreme(thresholdPtr: usize, extremePtr: usize, m: i32, t: f64): void {
  if (Math.abs(t) >= f64At(thresholdPtr, m)) {
    const at = extremePtr + ((<usize>m) << 3);
    store<f64>(at, load<f64>(at) + 1);
  }
}

/**
 * stats.ts finiteQuantiles in the kernel, so that a report's intervals cost no JavaScript warm-up: moves the n
 * doubles at ptr that are finite to the front (in order) and returns how many there are.
 */
export function finiteFirst(ptr: usize, n: i32): i32 {
  let m = 0;
  for (let i = 0; i < n; i++) {
    const v = f64At(ptr, i);
    // Finite: v - v is NaN for NaN and the infinities.
    if (v - v == 0) {
      store<f64>(ptr + ((<usize>m) << 3), v);
      m++;
    }
  }
  return m;
}

/**
 * stats.ts selectInPlace: rearranges the finite doubles a[from..to) at ptr so that a[k] holds the value sorting
 * would put there, everything before it no larger and everything after it no smaller (Hoare's FIND with
 * median-of-three pivots; a range under 16 is insertion-sorted, and one that `rounds` partitions did not shrink is
 * heap-sorted: with the host's 2 log2(n) + 8, the worst case stays n log n). The same order statistic as there,
 * whatever the path.
 */
export function selectOrder(ptr: usize, from: i32, to: i32, k: i32, rounds: i32): void {
  let lo = from;
  let hi = to - 1;
  while (hi > lo) {
    if (hi - lo < 16) {
      insertionSort(ptr, lo, hi);
      return;
    }
    if (rounds-- == 0) {
      heapSort(ptr, lo, hi);
      return;
    }
    const mid = (lo + hi) >>> 1;
    const x = f64At(ptr, lo);
    const y = f64At(ptr, mid);
    const z = f64At(ptr, hi);
    const pivot = x < y ? (y < z ? y : x < z ? z : x) : x < z ? x : y < z ? z : y;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (f64At(ptr, i) < pivot) i++;
      while (f64At(ptr, j) > pivot) j--;
      if (i <= j) {
        const t = f64At(ptr, i);
        store<f64>(ptr + ((<usize>i) << 3), f64At(ptr, j));
        store<f64>(ptr + ((<usize>j) << 3), t);
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return;
  }
}

/** Sorts the doubles a[lo..hi] at ptr ascending (insertion sort). */
function insertionSort(ptr: usize, lo: i32, hi: i32): void {
  for (let i = lo + 1; i <= hi; i++) {
    const v = f64At(ptr, i);
    let j = i - 1;
    while (j >= lo && f64At(ptr, j) > v) {
      store<f64>(ptr + ((<usize>(j + 1)) << 3), f64At(ptr, j));
      j--;
    }
    store<f64>(ptr + ((<usize>(j + 1)) << 3), v);
  }
}

/** Sorts the doubles a[lo..hi] at ptr ascending (heapsort). */
function heapSort(ptr: usize, lo: i32, hi: i32): void {
  const n = hi - lo + 1;
  const base = ptr + ((<usize>lo) << 3);
  for (let i = (n >> 1) - 1; i >= 0; i--) siftDown(base, i, n);
  for (let end = n - 1; end > 0; end--) {
    const t = f64At(base, 0);
    store<f64>(base, f64At(base, end));
    store<f64>(base + ((<usize>end) << 3), t);
    siftDown(base, 0, end);
  }
}

function siftDown(base: usize, i: i32, n: i32): void {
  for (;;) {
    let top = i;
    const l = 2 * i + 1;
    const r = l + 1;
    if (l < n && f64At(base, l) > f64At(base, top)) top = l;
    if (r < n && f64At(base, r) > f64At(base, top)) top = r;
    if (top == i) return;
    const t = f64At(base, i);
    store<f64>(base + ((<usize>i) << 3), f64At(base, top));
    store<f64>(base + ((<usize>top) << 3), t);
    i = top;
  }
}

// The matrix scaler's objective and detmath's exp and log (src/wasm/scaling.ts), in the same module.
export { matrixObjective, detExp, detLog } from './scaling';
