/**
 * The engine check a person with a GPU can run before a long run: load the smallest Qwen3 this adapter can
 * run, score a few items, and report the adapter, the speed, whether every logit is finite and whether the
 * letter mass is plausible (a model that understood the prompt puts most of its next-token probability on
 * the four letters).
 */
import type { AdapterInfo } from '../core/types';
import { smallestSuitableModel } from '../engine/catalog';
import { describeEngineError, type DescribedError } from '../engine/errors';
import type { AnswerStrings, LoadProgress, ScoringMethod, WebLLMWorkerApi } from '../engine/types';
import type { RunItem } from './run-controller';

/** Mean letter mass below this suggests the prompt format or the letter tokens are wrong for the model. */
export const PLAUSIBLE_LETTER_MASS = 0.5;

export interface EngineCheckReport {
  adapter: AdapterInfo | null;
  modelId?: string;
  method?: ScoringMethod;
  loadSeconds?: number;
  itemsScored: number;
  itemsPerSecond?: number;
  /** Every letter logit (and log-sum-exp, when known) of every item is a finite number. */
  finite: boolean;
  meanLetterMass?: number;
  /** meanLetterMass >= PLAUSIBLE_LETTER_MASS; undefined when the scoring path reports no mass. */
  letterMassPlausible?: boolean;
  ok: boolean;
  error?: DescribedError;
}

export async function runEngineCheck(
  engine: Pick<WebLLMWorkerApi, 'probeAdapter' | 'listPrebuiltModels' | 'load' | 'score' | 'unload'>,
  items: readonly RunItem[],
  answerStrings: AnswerStrings,
  onProgress?: (p: LoadProgress) => void,
  now: () => number = () => performance.now(),
): Promise<EngineCheckReport> {
  const report: EngineCheckReport = { adapter: null, itemsScored: 0, finite: true, ok: false };
  try {
    report.adapter = await engine.probeAdapter();
    if (!report.adapter) throw Object.assign(new Error('This browser offers no WebGPU adapter.'), { name: 'WebGPUNotAvailableError' });
    const model = smallestSuitableModel(await engine.listPrebuiltModels(), report.adapter);
    if (!model) throw new Error('web-llm lists no Qwen3 model this adapter can run.');
    report.modelId = model.modelId;
    const { size: _s, quantization: _q, needsShaderF16: _f, ...spec } = model;
    const t0 = now();
    const loaded = await engine.load({ engine: 'webllm', key: `engine-check:${model.modelId}`, model: spec }, answerStrings, onProgress);
    report.loadSeconds = (now() - t0) / 1000;
    report.method = loaded.method;
    const masses: number[] = [];
    const t1 = now();
    for (const [i, item] of items.entries()) {
      const r = await engine.score({ requestId: i + 1, variantKey: loaded.variantKey, itemId: item.itemId, prompt: item.prompt, label: item.label });
      report.itemsScored++;
      report.method = r.method; // the path actually used (web-llm may force the logprobs fallback)
      if (!r.letterLogits.every(Number.isFinite) || (r.logSumExp !== undefined && !Number.isFinite(r.logSumExp))) report.finite = false;
      if (r.letterMass !== undefined) masses.push(r.letterMass);
    }
    const seconds = (now() - t1) / 1000;
    if (seconds > 0) report.itemsPerSecond = report.itemsScored / seconds;
    if (masses.length) {
      report.meanLetterMass = masses.reduce((a, b) => a + b, 0) / masses.length;
      report.letterMassPlausible = report.meanLetterMass >= PLAUSIBLE_LETTER_MASS;
    }
    report.ok = report.finite && report.letterMassPlausible !== false;
  } catch (e) {
    report.error = describeEngineError(e);
  } finally {
    await engine.unload().catch(() => {});
  }
  return report;
}
