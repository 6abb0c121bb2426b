import { describe, expect, it } from 'vitest';
import type { LetterVector } from '../../src/core/types';
import { logSumExp } from '../../src/engine/logits';
import { DEFAULT_SIMULATION, SimulatedEngine, sharpnessForAccuracy, simulateItem } from '../../src/engine/simulated';
import type { EngineVariant, SimulationParams } from '../../src/engine/types';

const N = 4000;
const labels = Array.from({ length: N }, (_, i) => (i * 7 + 3) % 4); // balanced labels, no randomness needed
const params = (p: Partial<SimulationParams> = {}): SimulationParams => ({ ...DEFAULT_SIMULATION, ...p });
const softmax = (v: readonly number[]) => v.map((x) => Math.exp(x - logSumExp(v)));
const argmax = (v: readonly number[]) => v.indexOf(Math.max(...v));

function summary(p: SimulationParams, key = 'sim') {
  let correct = 0;
  let confidence = 0;
  const predicted = [0, 0, 0, 0];
  for (let i = 0; i < N; i++) {
    const { letterLogits } = simulateItem(p, key, `item-${i}`, labels[i]);
    const probs = softmax(letterLogits);
    const k = argmax(letterLogits);
    predicted[k]++;
    if (k === labels[i]) correct++;
    confidence += probs[k];
  }
  return { accuracy: correct / N, confidence: confidence / N, predicted };
}

describe('the generative model', () => {
  it('hits the requested accuracy and is calibrated at confidenceScale 1 (within 4 binomial sd)', () => {
    for (const a of [0.4, 0.7, 0.9]) {
      const s = summary(params({ accuracy: a }));
      const sd = Math.sqrt((a * (1 - a)) / N);
      expect(Math.abs(s.accuracy - a)).toBeLessThan(4 * sd);
      expect(Math.abs(s.confidence - s.accuracy)).toBeLessThan(4 * sd + 0.01);
    }
  });

  it('makes confidenceScale > 1 over-confident and < 1 under-confident without moving the argmax', () => {
    const base = summary(params());
    const over = summary(params({ confidenceScale: 2 }));
    const under = summary(params({ confidenceScale: 0.5 }));
    expect(over.accuracy).toBe(base.accuracy);
    expect(under.accuracy).toBe(base.accuracy);
    expect(over.confidence).toBeGreaterThan(over.accuracy + 0.05);
    expect(under.confidence).toBeLessThan(under.accuracy - 0.05);
  });

  it('turns a letter bias into a preference for that letter', () => {
    const biased = summary(params({ letterBias: [1.5, 0, 0, 0] }));
    expect(biased.predicted[0] / N).toBeGreaterThan(0.35);
    const base = summary(params());
    for (const count of base.predicted) expect(Math.abs(count / N - 0.25)).toBeLessThan(0.04);
  });

  it('puts 1 - letterMass outside the letters: exp(logsumexp(letters) - logSumExp) = letterMass, mean near the setting', () => {
    let total = 0;
    for (let i = 0; i < 1000; i++) {
      const r = simulateItem(params({ letterMass: 0.9 }), 'sim', `m-${i}`, labels[i]);
      expect(Math.exp(logSumExp(r.letterLogits) - r.logSumExp)).toBeCloseTo(r.letterMass, 12);
      expect(r.letterMass).toBeGreaterThan(0);
      expect(r.letterMass).toBeLessThanOrEqual(1);
      total += r.letterMass;
    }
    expect(Math.abs(total / 1000 - 0.9)).toBeLessThan(0.01);
    expect(simulateItem(params({ letterMass: 1 }), 'sim', 'x', 0).letterMass).toBe(1);
  });

  it('is deterministic per (seed, variant, item), independent of order, and differs across variants and seeds', () => {
    const a = simulateItem(params(), 'v1', 'item-5', 2);
    simulateItem(params(), 'v1', 'item-9', 1);
    expect(simulateItem(params(), 'v1', 'item-5', 2)).toEqual(a);
    expect(simulateItem(params(), 'v2', 'item-5', 2).letterLogits).not.toEqual(a.letterLogits);
    expect(simulateItem(params({ seed: 1 }), 'v1', 'item-5', 2).letterLogits).not.toEqual(a.letterLogits);
  });

  it('solves the sharpness monotonically and refuses accuracies outside (0.25, 1)', () => {
    expect(sharpnessForAccuracy(0.5)).toBeLessThan(sharpnessForAccuracy(0.8));
    expect(() => sharpnessForAccuracy(0.25)).toThrow(RangeError);
    expect(() => sharpnessForAccuracy(1)).toThrow(RangeError);
    expect(() => simulateItem(params(), 'v', 'i', 4)).toThrow(/label 4/);
  });
});

describe('SimulatedEngine', () => {
  const variant: EngineVariant = { engine: 'simulated', key: 'simulated:s', simulation: params() };
  const answers = [' A', ' B', ' C', ' D'] as const;
  const req = (i: number) => ({
    requestId: i,
    variantKey: variant.key,
    itemId: `item-${i}`,
    prompt: 'x'.repeat(41),
    label: i % 4,
  });

  it('scores like simulateItem, labelled simulated, echoing the request id', async () => {
    const engine = new SimulatedEngine();
    const loaded = await engine.load(variant, answers);
    expect(loaded).toMatchObject({ engine: 'simulated', method: 'simulated', variantKey: variant.key });
    expect(loaded.letterTokenIds).toBeUndefined();
    const r = await engine.score(req(3));
    expect(r).toMatchObject({ requestId: 3, itemId: 'item-3', method: 'simulated', promptTokens: 11 });
    expect(r.letterLogits).toEqual(simulateItem(params(), variant.key, 'item-3', 3).letterLogits);
  });

  it('refuses web-llm variants, bad parameters, and scoring without a model', async () => {
    const engine = new SimulatedEngine();
    await expect(engine.score(req(0))).rejects.toMatchObject({ name: 'ModelNotLoadedError' });
    await expect(
      engine.load({ engine: 'webllm', key: 'w', model: { modelId: 'm', modelUrl: 'u', modelLibUrl: 'l' } }, answers),
    ).rejects.toMatchObject({ name: 'ModelLoadError' });
    const bad = { ...variant, simulation: params({ accuracy: 0.2, letterBias: [0, 0, 0] as unknown as LetterVector }) };
    await expect(engine.load(bad, answers)).rejects.toThrow(
      /accuracy 0.2 is not in \(0.25, 1\); letterBias needs four finite numbers/,
    );
  });

  it('injects faults by score-call index: a failure, a lost device that needs a reload, a crash that never answers', async () => {
    let crashed = 0;
    const engine = new SimulatedEngine({
      faults: { failAtCall: 1, loseDeviceAtCall: 3, crashAtCall: 5, delayMs: 1 },
      onCrash: () => crashed++,
    });
    await engine.load(variant, answers);
    await expect(engine.score(req(0))).resolves.toMatchObject({ itemId: 'item-0' });
    await expect(engine.score(req(1))).rejects.toMatchObject({ name: 'ScoringError' });
    await expect(engine.score(req(2))).resolves.toMatchObject({ itemId: 'item-2' });
    await expect(engine.score(req(3))).rejects.toMatchObject({ name: 'DeviceLostError' });
    await expect(engine.score(req(4))).rejects.toMatchObject({ name: 'ModelNotLoadedError' });
    await engine.load(variant, answers);
    const pending = engine.score(req(5));
    const outcome = await Promise.race([
      pending.then(() => 'answered'),
      new Promise((r) => setTimeout(() => r('silent'), 20)),
    ]);
    expect(outcome).toBe('silent');
    expect(crashed).toBe(1);
    await engine.setFaults({});
    await expect(engine.score(req(6))).resolves.toMatchObject({ itemId: 'item-6' });
  });
});
