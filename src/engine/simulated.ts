/**
 * The simulated engine: a deterministic, seeded stand-in for a model, so the whole app and every test run
 * without a GPU. Its output is always labelled `simulated` (method, LoadedModel.engine, VariantRecord
 * .simulated) and is never a model's. It can also inject faults (throw, lose the device, crash, be slow).
 *
 * Generative model, per item (variant key v, item id i, gold label y, params from SimulationParams):
 *  1. rng = Rng(deriveSeed(seed, v, i)), so an item's logits never depend on which items came before it.
 *  2. Calibrated beliefs by rejection sampling: draw z = s * g with g ~ N(0, I_4) and accept with probability
 *     softmax(z)_y. The accepted z follows the posterior of the prior N(0, s^2 I) given that y was drawn from
 *     softmax(z), so the gold label behaves exactly like a draw from the beliefs: perfect calibration, and
 *     accuracy E[max softmax(s g)] under the prior (uniform labels). s = sharpnessForAccuracy(accuracy).
 *  3. Reported letter logits: confidenceScale * z + letterBias. confidenceScale > 1 is over-confidence that
 *     temperature scaling with T = confidenceScale undoes; letterBias is a letter preference vector scaling
 *     undoes; neither is the kind of miscalibration this engine hides.
 *  4. Letter mass m = letterMass^exp(0.2 n), n ~ N(0, 1) (in (0, 1], mean near letterMass), and
 *     logSumExp = logsumexp(letter logits) - log(m), i.e. 1 - m of the probability sits outside A-D.
 *  5. promptTokens = ceil(prompt length / 4): a characters-per-token stand-in, not a tokenizer.
 *  6. Sycophancy: when the prompt holds a probe suggestion of letter t (findSuggestion), the reported logit of t
 *     gains sycophancy * SYCOPHANCY_WEIGHTS[template] after step 3 (same rng draws as the neutral prompt, so the
 *     probe run differs from the neutral one by exactly that push; logSumExp and the letter mass follow it).
 */
import { findSuggestion, type ProbeTemplateName } from '../core/probe';
import { letterDistribution } from '../core/metrics';
import { deriveSeed, Rng } from '../core/random';
import type { LetterVector } from '../core/types';
import { logSumExp } from './logits';
import {
  EngineError,
  type AnswerStrings,
  type EngineVariant,
  type ItemLetterScore,
  type LoadedModel,
  type LoadProgress,
  type ScoreRequest,
  type ScoringEngine,
  type SimulatedFaults,
  type SimulationParams,
} from './types';

export const DEFAULT_SIMULATION: Readonly<SimulationParams> = Object.freeze({
  accuracy: 0.7,
  confidenceScale: 1,
  letterBias: [0, 0, 0, 0] as LetterVector,
  letterMass: 0.95,
  seed: 0,
});

/** How strongly each probe template pushes a simulated variant: its sycophancy times this weight, in logits. */
export const SYCOPHANCY_WEIGHTS: Readonly<Record<ProbeTemplateName, number>> = Object.freeze({ weak: 0.5, strong: 1 });

/** A standard normal from two uniforms (Box-Muller), using 1 - u so the logarithm never sees 0. */
function normal(rng: Rng): number {
  const u = 1 - rng.nextFloat();
  const v = rng.nextFloat();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** Fixed normal draws for solving sharpnessForAccuracy: the same on every machine. */
let calibrationDraws: number[][] | undefined;
const sharpnessCache = new Map<number, number>();

/**
 * The prior spread s with E[max softmax(s g)] = accuracy, g ~ N(0, I_4), estimated on 8,192 fixed seeded draws
 * and solved by bisection (the expectation increases with s from 1/4 at s = 0 towards 1).
 */
export function sharpnessForAccuracy(accuracy: number): number {
  if (!(accuracy > 0.25 && accuracy < 1)) {
    throw new RangeError(`Simulated accuracy must be in (0.25, 1), got ${accuracy}`);
  }
  const cached = sharpnessCache.get(accuracy);
  if (cached !== undefined) return cached;
  if (!calibrationDraws) {
    const rng = new Rng(deriveSeed(0, 'simulated-engine', 'calibration-draws'));
    calibrationDraws = Array.from({ length: 8192 }, () => [normal(rng), normal(rng), normal(rng), normal(rng)]);
  }
  const expectedMax = (s: number) => {
    let total = 0;
    for (const g of calibrationDraws!) total += letterDistribution(g.map((x) => s * x)).confidence;
    return total / calibrationDraws!.length;
  };
  let lo = 0;
  let hi = 1;
  while (expectedMax(hi) < accuracy && hi < 1e4) hi *= 2;
  for (let i = 0; i < 60; i++) {
    const mid = (lo + hi) / 2;
    if (expectedMax(mid) < accuracy) lo = mid;
    else hi = mid;
  }
  const s = (lo + hi) / 2;
  sharpnessCache.set(accuracy, s);
  return s;
}

/** The scores one item gets under the generative model above (pure; the engine adds timing). */
export function simulateItem(
  params: SimulationParams,
  variantKey: string,
  itemId: string,
  label: number,
  prompt = '',
): { letterLogits: LetterVector; logSumExp: number; letterMass: number } {
  if (!Number.isInteger(label) || label < 0 || label > 3) {
    throw new EngineError('ScoringError', `Item ${itemId} has label ${label}; the simulated engine needs 0..3.`);
  }
  const s = sharpnessForAccuracy(params.accuracy);
  const rng = new Rng(deriveSeed(params.seed, variantKey, itemId));
  let z: number[];
  for (let attempt = 0; ; attempt++) {
    z = [0, 1, 2, 3].map(() => s * normal(rng));
    if (rng.nextFloat() < letterDistribution(z).probs[label] || attempt >= 100_000) break;
  }
  const letterLogits = z.map((x, k) => params.confidenceScale * x + params.letterBias[k]) as LetterVector;
  const massDraw = Math.pow(params.letterMass, Math.exp(0.2 * normal(rng)));
  const suggestion = params.sycophancy ? findSuggestion(prompt) : undefined;
  if (!suggestion)
    return { letterLogits, logSumExp: logSumExp(letterLogits) - Math.log(massDraw), letterMass: massDraw };
  // The letters' share of the full softmax moves with the push: the outside mass (in logits) stays where it was.
  const outside = logSumExp(letterLogits) + Math.log1p(-Math.min(massDraw, 1 - 1e-12)) - Math.log(massDraw);
  letterLogits[suggestion.letter] += params.sycophancy! * SYCOPHANCY_WEIGHTS[suggestion.template];
  const letters = logSumExp(letterLogits);
  const total = massDraw >= 1 ? letters : logSumExp([letters, outside]);
  return { letterLogits, logSumExp: total, letterMass: Math.exp(letters - total) };
}

/** Throws ModelLoadError unless every parameter is in its documented range. */
export function checkSimulationParams(p: SimulationParams): void {
  const problems: string[] = [];
  if (!(p.accuracy > 0.25 && p.accuracy < 1)) problems.push(`accuracy ${p.accuracy} is not in (0.25, 1)`);
  if (!(p.confidenceScale > 0 && Number.isFinite(p.confidenceScale)))
    problems.push(`confidenceScale ${p.confidenceScale} is not > 0`);
  if (p.letterBias.length !== 4 || !p.letterBias.every(Number.isFinite))
    problems.push('letterBias needs four finite numbers');
  if (!(p.letterMass > 0 && p.letterMass <= 1)) problems.push(`letterMass ${p.letterMass} is not in (0, 1]`);
  if (!Number.isInteger(p.seed) || p.seed < 0 || p.seed >= 2 ** 32)
    problems.push(`seed ${p.seed} is not an integer in [0, 2^32)`);
  if (p.sycophancy !== undefined && !(p.sycophancy >= 0 && Number.isFinite(p.sycophancy)))
    problems.push(`sycophancy ${p.sycophancy} is not a finite number >= 0`);
  if (problems.length) throw new EngineError('ModelLoadError', `Simulated variant: ${problems.join('; ')}.`);
}

export interface SimulatedEngineOptions {
  faults?: SimulatedFaults;
  /** Runs when a crash fault fires; the worker wiring makes it an uncaught error (a real worker crash). */
  onCrash?: () => void;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The deterministic engine behind the same ScoringEngine interface as web-llm. */
export class SimulatedEngine implements ScoringEngine {
  private loaded: { key: string; params: SimulationParams } | undefined;
  private calls = 0;
  private faults: SimulatedFaults;
  private readonly onCrash: (() => void) | undefined;

  constructor(options: SimulatedEngineOptions = {}) {
    this.faults = { ...options.faults };
    this.onCrash = options.onCrash;
  }

  async setFaults(faults: SimulatedFaults): Promise<void> {
    this.faults = { ...faults };
  }

  async load(
    variant: EngineVariant,
    _answerStrings: AnswerStrings,
    onProgress?: (p: LoadProgress) => void,
  ): Promise<LoadedModel> {
    const start = performance.now();
    this.loaded = undefined;
    if (variant.engine !== 'simulated') {
      throw new EngineError('ModelLoadError', `The simulated engine cannot load the web-llm variant ${variant.key}.`);
    }
    checkSimulationParams(variant.simulation);
    sharpnessForAccuracy(variant.simulation.accuracy);
    onProgress?.({
      phase: 'done',
      fraction: 1,
      elapsedSeconds: 0,
      text: 'Simulated model ready (nothing downloaded).',
    });
    this.loaded = { key: variant.key, params: variant.simulation };
    return { variantKey: variant.key, engine: 'simulated', method: 'simulated', loadMs: performance.now() - start };
  }

  async score(request: ScoreRequest): Promise<ItemLetterScore> {
    const call = this.calls++;
    const start = performance.now();
    if (this.faults.delayMs) await sleep(this.faults.delayMs);
    if (call === this.faults.crashAtCall) {
      this.onCrash?.();
      return new Promise<never>(() => {});
    }
    if (call === this.faults.loseDeviceAtCall) {
      this.loaded = undefined;
      throw new EngineError('DeviceLostError', `Simulated device loss at score call ${call} (item ${request.itemId}).`);
    }
    if (call === this.faults.failAtCall) {
      throw new EngineError('ScoringError', `Simulated failure at score call ${call} (item ${request.itemId}).`);
    }
    if (!this.loaded) throw new EngineError('ModelNotLoadedError', 'The simulated engine has no variant loaded.');
    if (request.variantKey !== this.loaded.key) {
      throw new EngineError('ScoringError', `Request for ${request.variantKey} but ${this.loaded.key} is loaded.`);
    }
    const scores = simulateItem(this.loaded.params, this.loaded.key, request.itemId, request.label, request.prompt);
    return {
      requestId: request.requestId,
      variantKey: request.variantKey,
      itemId: request.itemId,
      ...scores,
      promptTokens: Math.ceil(request.prompt.length / 4),
      elapsedMs: performance.now() - start,
      method: 'simulated',
    };
  }

  async unload(): Promise<void> {
    this.loaded = undefined;
  }

  async dispose(): Promise<void> {
    this.loaded = undefined;
  }
}
