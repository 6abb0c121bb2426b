/**
 * Exact letter logits from a next-token logit vector: the capture behind web-llm's LogitProcessor hook, the
 * log-sum-exp over the whole vocabulary, and the logprobs fallback. Pure math on typed arrays.
 */
import type { LetterVector } from '../core/types';
import { EngineError, type AnswerStrings } from './types';

/**
 * log(sum_i exp(x_i)) in double precision with the max subtracted first, so 151,936 float32 logits of any
 * magnitude neither overflow nor lose the small terms. -Infinity entries (masked tokens) contribute nothing;
 * all -Infinity gives -Infinity; any NaN gives NaN.
 */
export function logSumExp(values: ArrayLike<number>): number {
  let max = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (Number.isNaN(v)) return NaN;
    if (v > max) max = v;
  }
  if (max === -Infinity || max === Infinity) return max;
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += Math.exp(values[i] - max);
  return max + Math.log(sum);
}

/** The four letters' logits and where they sit in the full-vocabulary softmax. */
export interface LetterCapture {
  letterLogits: LetterVector;
  /** log-sum-exp of the whole logit vector. */
  logSumExp: number;
  /** sum_k exp(letterLogits_k - logSumExp), in [0, 1]: probability the model put on the four letters. */
  letterMass: number;
  /** Length of the logit vector (the model's full vocabulary, padding included). */
  vocabSize: number;
}

/**
 * Reads the letter logits out of one next-token logit vector. Throws ScoringError when a token id is outside
 * the vector or a value is not finite, since an item with such logits cannot enter the analysis.
 */
export function captureLetterLogits(logits: ArrayLike<number>, letterTokenIds: LetterVector): LetterCapture {
  const letterLogits = letterTokenIds.map((id) => {
    if (!Number.isInteger(id) || id < 0 || id >= logits.length) {
      throw new EngineError(
        'ScoringError',
        `Letter token id ${id} is outside the logit vector of length ${logits.length}.`,
      );
    }
    return logits[id];
  }) as LetterVector;
  if (!letterLogits.every(Number.isFinite)) {
    throw new EngineError('ScoringError', `The model produced non-finite letter logits [${letterLogits.join(', ')}].`);
  }
  const lse = logSumExp(logits);
  if (!Number.isFinite(lse)) {
    throw new EngineError('ScoringError', `The model's logit vector has no finite log-sum-exp (${lse}).`);
  }
  let letterMass = 0;
  for (const l of letterLogits) letterMass += Math.exp(l - lse);
  return { letterLogits, logSumExp: lse, letterMass: Math.min(1, letterMass), vocabSize: logits.length };
}

/**
 * A web-llm LogitProcessor (structurally: processLogits, processSampledToken, resetState) that records the
 * first logit vector after each reset and returns it unchanged. web-llm calls processLogits on the CPU copy of
 * the logits right after the forward pass, before logit_bias, penalties and temperature, and calls resetState
 * from resetChat, which every completions.create runs before its prefill (web-llm src/llm_chat.ts,
 * sampleTokenFromLogits and resetChat).
 */
export class LetterLogitCapture {
  private letterTokenIds: LetterVector | undefined;
  private captured: LetterCapture | undefined;
  private failure: unknown;
  /** processLogits calls since the last reset (1 for a max_tokens = 1 request). */
  calls = 0;

  setLetterTokenIds(ids: LetterVector): void {
    this.letterTokenIds = ids;
  }

  processLogits = (logits: Float32Array): Float32Array => {
    this.calls++;
    if (this.calls === 1 && this.letterTokenIds) {
      try {
        this.captured = captureLetterLogits(logits, this.letterTokenIds);
      } catch (e) {
        this.failure = e;
      }
    }
    return logits;
  };

  processSampledToken = (_token: number): void => {};

  resetState = (): void => {
    this.captured = undefined;
    this.failure = undefined;
    this.calls = 0;
  };

  /** The capture of the current request; undefined when web-llm never called the processor. */
  take(): LetterCapture | undefined {
    if (this.failure !== undefined) throw this.failure;
    return this.captured;
  }
}

/** One entry of web-llm's `top_logprobs` (OpenAI's shape: token text, its bytes, natural-log probability). */
export interface TopLogprob {
  token: string;
  logprob: number;
}

/**
 * Smallest positive float32 (denormal) is 2^-149; log of it bounds the logprob of a letter whose float32
 * probability underflowed to 0 (web-llm computes Math.log(prob) of a float32 softmax).
 */
export const FLOAT32_LOG_FLOOR = -149 * Math.LN2;

/**
 * Letter logits from the fallback path: top-4 logprobs at temperature 1 with logit_bias +100 on the four
 * letter tokens. The bias lifts the letters e^100 above every other token, so the top four are the letters
 * and their logprobs are the 4-way log-softmax of the raw logits (exact up to float32). Entries are matched by
 * token text, which web-llm produces by decoding each token id. A letter that underflowed to probability 0
 * gets FLOAT32_LOG_FLOOR.
 */
export function letterLogitsFromTopLogprobs(top: readonly TopLogprob[], answerStrings: AnswerStrings): LetterVector {
  return answerStrings.map((s) => {
    const entry = top.find((t) => t.token === s);
    if (!entry) {
      throw new EngineError(
        'ScoringError',
        `The top logprobs [${top.map((t) => JSON.stringify(t.token)).join(', ')}] do not contain ${JSON.stringify(s)}; ` +
          'the logit_bias on the letter tokens did not take effect.',
      );
    }
    if (entry.logprob === -Infinity) return FLOAT32_LOG_FLOOR;
    if (!Number.isFinite(entry.logprob)) {
      throw new EngineError('ScoringError', `The logprob of ${JSON.stringify(s)} is ${entry.logprob}.`);
    }
    return entry.logprob;
  }) as LetterVector;
}
