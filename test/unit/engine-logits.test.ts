import { describe, expect, it } from 'vitest';
import type { LetterVector } from '../../src/core/types';
import {
  captureLetterLogits,
  FLOAT32_LOG_FLOOR,
  LetterLogitCapture,
  letterLogitsFromTopLogprobs,
  logSumExp,
} from '../../src/engine/logits';

const VOCAB = 151_936; // Qwen3's padded vocabulary: the length of web-llm's logit vector for these models.

describe('logSumExp', () => {
  it('matches hand-computed values', () => {
    expect(logSumExp([0, 0])).toBeCloseTo(Math.log(2), 15);
    expect(logSumExp([Math.log(1), Math.log(2), Math.log(3)])).toBeCloseTo(Math.log(6), 14);
    expect(logSumExp([5])).toBe(5);
  });

  it('does not overflow or underflow on large magnitudes', () => {
    expect(logSumExp([1000, 1000])).toBeCloseTo(1000 + Math.log(2), 12);
    expect(logSumExp([-1000, -1000, -1000])).toBeCloseTo(-1000 + Math.log(3), 12);
  });

  it('handles masked (-Infinity) entries, all-masked, empty and NaN input', () => {
    expect(logSumExp([-Infinity, 0])).toBe(0);
    expect(logSumExp([-Infinity, -Infinity])).toBe(-Infinity);
    expect(logSumExp([])).toBe(-Infinity);
    expect(logSumExp([0, NaN, 1])).toBeNaN();
  });
});

describe('captureLetterLogits over a 151,936-entry Float32Array', () => {
  const ids: LetterVector = [10, 20_000, 151_000, VOCAB - 1];

  it('reads the four letters and the full-vocabulary log-sum-exp', () => {
    const logits = new Float32Array(VOCAB); // zeros everywhere else
    const raw = [2, 1, 0.5, -1];
    ids.forEach((id, k) => (logits[id] = raw[k]));
    const c = captureLetterLogits(logits, ids);
    expect(c.letterLogits).toEqual(raw.map(Math.fround));
    const lettersExp = raw.reduce((s, x) => s + Math.exp(x), 0);
    const expectedLse = Math.log(VOCAB - 4 + lettersExp);
    expect(c.logSumExp).toBeCloseTo(expectedLse, 10);
    expect(c.letterMass).toBeCloseTo(lettersExp / (VOCAB - 4 + lettersExp), 12);
    expect(c.vocabSize).toBe(VOCAB);
  });

  it('gives letter mass near 1 when the letters dominate, with magnitudes that would overflow exp', () => {
    const logits = new Float32Array(VOCAB).fill(-30);
    ids.forEach((id, k) => (logits[id] = 80 - k));
    const c = captureLetterLogits(logits, ids);
    // Outside mass: (VOCAB - 4) e^-30 relative to sum_k e^(80-k); tiny but representable.
    const inside = [0, 1, 2, 3].reduce((s, k) => s + Math.exp(-k), 0);
    const outside = (VOCAB - 4) * Math.exp(-110);
    expect(c.letterMass).toBeCloseTo(inside / (inside + outside), 12);
    expect(c.letterMass).toBeLessThanOrEqual(1);
    expect(c.logSumExp).toBeCloseTo(80 + Math.log(inside + outside), 10);
  });

  it('refuses out-of-range token ids and non-finite letters', () => {
    const logits = new Float32Array(VOCAB);
    expect(() => captureLetterLogits(logits, [0, 1, 2, VOCAB])).toThrow(/outside the logit vector/);
    logits[2] = NaN;
    expect(() => captureLetterLogits(logits, [0, 1, 2, 3])).toThrow(/non-finite/);
  });
});

describe('LetterLogitCapture (web-llm LogitProcessor)', () => {
  it('captures the first vector after a reset, returns it unchanged, and forgets on reset', () => {
    const cap = new LetterLogitCapture();
    cap.setLetterTokenIds([0, 1, 2, 3]);
    expect(cap.take()).toBeUndefined();
    const first = new Float32Array([1, 2, 3, 4, 0]);
    expect(cap.processLogits(first)).toBe(first);
    cap.processSampledToken(3);
    cap.processLogits(new Float32Array([9, 9, 9, 9, 9])); // a decode step: ignored
    expect(cap.calls).toBe(2);
    expect(cap.take()?.letterLogits).toEqual([1, 2, 3, 4]);
    cap.resetState();
    expect(cap.calls).toBe(0);
    expect(cap.take()).toBeUndefined();
  });

  it('reports a failed capture when the request is read, not inside web-llm', () => {
    const cap = new LetterLogitCapture();
    cap.setLetterTokenIds([0, 1, 2, 9]);
    const logits = new Float32Array(4);
    expect(() => cap.processLogits(logits)).not.toThrow();
    expect(() => cap.take()).toThrow(/outside the logit vector/);
  });
});

describe('letterLogitsFromTopLogprobs (logprobs + logit_bias fallback)', () => {
  const answers = [' A', ' B', ' C', ' D'] as const;

  it('maps entries to letters by token text, in any order', () => {
    const top = [
      { token: ' C', logprob: -0.5 },
      { token: ' A', logprob: -1.5 },
      { token: ' D', logprob: -3 },
      { token: ' B', logprob: -2 },
    ];
    expect(letterLogitsFromTopLogprobs(top, answers)).toEqual([-1.5, -2, -0.5, -3]);
  });

  it('gives the 4-way log-softmax of the raw logits, i.e. the same softmax as the captured logits', () => {
    const raw = [3.25, -1, 0.5, 2];
    const lse4 = logSumExp(raw);
    const top = raw.map((l, k) => ({ token: answers[k], logprob: l - lse4 }));
    const got = letterLogitsFromTopLogprobs(top, answers);
    const soft = (v: number[]) => v.map((x) => Math.exp(x - logSumExp(v)));
    soft(got).forEach((p, k) => expect(p).toBeCloseTo(soft(raw)[k], 14));
  });

  it('floors an underflowed letter and refuses a missing one', () => {
    const top = [
      { token: ' A', logprob: 0 },
      { token: ' B', logprob: -Infinity },
      { token: ' C', logprob: -200 },
      { token: ' D', logprob: -1 },
    ];
    expect(letterLogitsFromTopLogprobs(top, answers)[1]).toBe(FLOAT32_LOG_FLOOR);
    expect(FLOAT32_LOG_FLOOR).toBeCloseTo(Math.log(2 ** -149), 12);
    expect(() => letterLogitsFromTopLogprobs(top.slice(0, 3), answers)).toThrow(/do not contain " D"/);
    expect(() => letterLogitsFromTopLogprobs([...top.slice(0, 3), { token: ' D', logprob: NaN }], answers)).toThrow(
      /NaN/,
    );
  });
});
