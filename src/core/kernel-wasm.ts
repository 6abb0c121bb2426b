/**
 * The WebAssembly backend of the resampling kernels (MetricPool in stats.ts; in smooth-ece.ts SmoothEcePool's grid
 * path, its kernel-weight tables and the bandwidth search's evaluations) and of the matrix scaler's objective
 * (scaling-objectives.ts): the module built from
 * src/wasm/kernel.ts, compiled once per thread, with one instance and one memory per pool. Both backends give the
 * same doubles (test/unit/kernel-identity.test.ts); WebAssembly is about twice as fast on the inner loops.
 * Where WebAssembly cannot be compiled (no WebAssembly, or a Content-Security-Policy without 'wasm-unsafe-eval')
 * the pools run the JavaScript loops.
 */
import { KERNEL_WASM_BASE64 } from './kernel-wasm.generated';

export type KernelBackend = 'wasm' | 'js';

/** The exports of src/wasm/kernel.ts: pointers are byte offsets into the instance's memory. */
export interface KernelExports {
  weightedSide(
    slotPtr: number,
    dataPtr: number,
    runEndPtr: number,
    boundariesPtr: number,
    weightsPtr: number,
    start: number,
    bins: number,
    nb: number,
    small: number,
    extra: number,
    minCount: number,
    outPtr: number,
  ): void;
  weightedSide4(
    slotPtr: number,
    dataPtr: number,
    runEndPtr: number,
    boundariesPtr: number,
    weightsPtr: number,
    lanePtr: number,
    start: number,
    bins: number,
    minCount: number,
    outPtr: number,
  ): void;
  classwiseSide(
    slotPtr: number,
    gapPtr: number,
    runEndPtr: number,
    weightsPtr: number,
    size: number,
    start: number,
    sd: number,
    bins: number,
    count: number,
    outPtr: number,
  ): void;
  swappedTopLabel(
    slotSidePtr: number,
    topRunEndPtr: number,
    membersPtr: number,
    memberRunEndPtr: number,
    dataPtr: number,
    boundariesPtr: number,
    flipPtr: number,
    n: number,
    bins: number,
    minCount: number,
    outPtr: number,
  ): void;
  swappedTopLabel4(
    slotSidePtr: number,
    topRunEndPtr: number,
    dataPtr: number,
    boundariesPtr: number,
    flipPtr: number,
    maskPtr: number,
    scratchPtr: number,
    n: number,
    bins: number,
    minCount: number,
    outPtr: number,
  ): void;
  drawCounts4(statePtr: number, n: number, lanesPtr: number): void;
  drawFlips4(statePtr: number, n: number, flipsPtr: number): void;
  groupMasks4(flipPtr: number, n: number, maskPtr: number): void;
  permutationBlocks(
    statePtr: number,
    blocks: number,
    n: number,
    bins: number,
    minCount: number,
    size: number,
    flipPtr: number,
    maskPtr: number,
    slotSidePtr: number,
    topRunEndPtr: number,
    dataPtr: number,
    laneBoundariesPtr: number,
    scratchPtr: number,
    classSlotSidePtr: number,
    classGapPtr: number,
    classRunEndPtr: number,
    outPtr: number,
    thresholdPtr: number,
    extremePtr: number,
  ): void;
  drawWeights(statePtr: number, n: number, count: number, weightsPtr: number): void;
  finiteFirst(ptr: number, n: number): number;
  selectOrder(ptr: number, from: number, to: number, k: number, rounds: number): void;
  smoothBlock(
    nodePtr: number,
    fracPtr: number,
    residualPtr: number,
    weightsPtr: number,
    n: number,
    count: number,
    gridNodes: number,
    gridPtr: number,
    massPtr: number,
    colsumPtr: number,
    kernelPtr: number,
    firstPtr: number,
    lengthPtr: number,
    offsetsPtr: number,
    evalPoints: number,
    outPtr: number,
  ): void;
  smoothDirect(
    kernelPtr: number,
    radius: number,
    evalPoints: number,
    gridNodes: number,
    gridRPtr: number,
    gridMassPtr: number,
    colsumPtr: number,
    nodeLo: number,
    nodeHi: number,
  ): number;
  smoothTable(
    kernelPtr: number,
    radius: number,
    evalPoints: number,
    gridNodes: number,
    atPtr: number,
    rPtr: number,
    firstPtr: number,
    lengthPtr: number,
    offsetsPtr: number,
    weightsPtr: number,
    colsumPtr: number,
    reachFirstPtr: number,
    reachEndPtr: number,
  ): void;
  swappedClasswise(
    slotSidePtr: number,
    gapPtr: number,
    runEndPtr: number,
    flipPtr: number,
    maskPtr: number,
    n: number,
    size: number,
    bins: number,
    count: number,
    outPtr: number,
  ): void;
  /** src/wasm/scaling.ts: scaling-objectives.ts matrixObjective, and detmath.ts exp and log. */
  matrixObjective(
    thetaPtr: number,
    logpPtr: number,
    labelsPtr: number,
    n: number,
    lambda: number,
    mu: number,
    withGrad: boolean,
    withHess: boolean,
    gradPtr: number,
    hessPtr: number,
    scratchPtr: number,
  ): number;
  detExp(x: number): number;
  detLog(x: number): number;
}

let preferred: KernelBackend = 'wasm';
let compiled: WebAssembly.Module | null | undefined;

/** Chooses the backend for pools created from now on (tests and `npm run bench` compare both). */
export function setKernelBackend(backend: KernelBackend): void {
  preferred = backend;
}

/** The backend new pools use: 'wasm' when preferred and this thread can compile WebAssembly. */
export function kernelBackend(): KernelBackend {
  return preferred === 'wasm' && kernelModule() ? 'wasm' : 'js';
}

function kernelModule(): WebAssembly.Module | null {
  if (compiled === undefined) {
    try {
      const text = atob(KERNEL_WASM_BASE64);
      const bytes = new Uint8Array(text.length);
      for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
      compiled = new WebAssembly.Module(bytes);
    } catch {
      compiled = null;
    }
  }
  return compiled;
}

/** Typed arrays laid out one after another (8-byte aligned) in one memory, and the kernel to run on them. */
export class KernelMemory {
  readonly exports: KernelExports;
  readonly buffer: ArrayBuffer;
  private constructor(exports: KernelExports, buffer: ArrayBuffer) {
    this.exports = exports;
    this.buffer = buffer;
  }

  /**
   * An instance whose memory holds arrays of the given byte lengths, or null when the WebAssembly backend is not
   * in use. Returns the byte offset of each array, in order; each starts on a 16-byte boundary, where the
   * kernel's 128-bit loads of it are aligned.
   */
  static create(byteLengths: readonly number[]): { memory: KernelMemory; offsets: number[] } | null {
    if (kernelBackend() !== 'wasm') return null;
    const offsets: number[] = [];
    let end = 0;
    for (const length of byteLengths) {
      offsets.push(end);
      end += Math.ceil(length / 16) * 16;
    }
    const memory = new WebAssembly.Memory({ initial: Math.max(1, Math.ceil(end / 65536)) });
    const instance = new WebAssembly.Instance(kernelModule()!, { env: { memory } });
    return { memory: new KernelMemory(instance.exports as unknown as KernelExports, memory.buffer), offsets };
  }
}
