/**
 * The engine check a person with a GPU can run before a long run: load a model (by default the smallest Qwen3
 * this adapter can run; or a variant the person chose, e.g. their own compiled checkpoint), score a few items,
 * and report the adapter, the speed, whether every logit is finite and whether the letter mass is plausible (a
 * model that understood the prompt puts most of its next-token probability on the four letters).
 */
import type { AdapterInfo } from '../core/types';
import { smallestSuitableModel } from '../engine/catalog';
import { describeError, type DescribedError } from '../core/errors';
import type { AnswerStrings, LoadProgress, ModelRecordSpec, ScoringMethod, WebLLMWorkerApi } from '../engine/types';
import type { RunItem } from './run-controller';

/** Mean letter mass below this suggests the prompt format or the letter tokens are wrong for the model. */
export const PLAUSIBLE_LETTER_MASS = 0.5;

export interface EngineCheckReport {
  adapter: AdapterInfo | null;
  modelId?: string;
  /** Whether the checked model came from web-llm's prebuilt list (the kit chose it) or was given. */
  prebuilt?: boolean;
  method?: ScoringMethod;
  loadSeconds?: number;
  itemsScored: number;
  itemsPerSecond?: number;
  /**
   * Every letter logit (and log-sum-exp, when known) of every scored item is a finite number; undefined when
   * no item was scored (nothing was seen, so nothing can be called finite).
   */
  finite?: boolean;
  meanLetterMass?: number;
  /** meanLetterMass >= PLAUSIBLE_LETTER_MASS; undefined when the scoring path reports no mass. */
  letterMassPlausible?: boolean;
  ok: boolean;
  error?: DescribedError;
}

export interface EngineCheckOptions {
  /** The model to check; default the smallest prebuilt Qwen3 this adapter runs. */
  model?: ModelRecordSpec;
  onProgress?: (p: LoadProgress) => void;
}

/**
 * The action for a failed check, fitted to what failed: a prebuilt model that could not be fetched is a
 * network or cache problem, not a wrong custom URL.
 */
function checkAction(error: DescribedError, prebuilt: boolean | undefined): DescribedError {
  if (prebuilt && error.name === 'ModelLoadError') {
    return {
      ...error,
      action:
        'web-llm could not fetch or load its prebuilt model: check the connection to huggingface.co (weights) and ' +
        'raw.githubusercontent.com (model library), a proxy or content blocker, and the free storage above; then ' +
        'run the check again (files already downloaded are kept).',
    };
  }
  return error;
}

export async function runEngineCheck(
  engine: Pick<WebLLMWorkerApi, 'probeAdapter' | 'listPrebuiltModels' | 'load' | 'score' | 'unload'>,
  items: readonly RunItem[],
  answerStrings: AnswerStrings,
  opts: EngineCheckOptions = {},
  clock: () => number = () => performance.now(),
): Promise<EngineCheckReport> {
  const report: EngineCheckReport = { adapter: null, itemsScored: 0, ok: false };
  try {
    report.adapter = await engine.probeAdapter();
    if (!report.adapter)
      throw Object.assign(new Error('This browser offers no WebGPU adapter.'), { name: 'WebGPUNotAvailableError' });
    let spec: ModelRecordSpec;
    if (opts.model) {
      spec = opts.model;
      report.prebuilt = false;
    } else {
      const model = smallestSuitableModel(await engine.listPrebuiltModels(), report.adapter);
      if (!model) throw new Error('web-llm lists no Qwen3 model this adapter can run.');
      const { size: _s, quantization: _q, needsShaderF16: _f, ...prebuiltSpec } = model;
      spec = prebuiltSpec;
      report.prebuilt = true;
    }
    report.modelId = spec.modelId;
    const t0 = clock();
    const loaded = await engine.load(
      { engine: 'webllm', key: `engine-check:${spec.modelId}`, model: spec },
      answerStrings,
      opts.onProgress,
    );
    report.loadSeconds = (clock() - t0) / 1000;
    report.method = loaded.method;
    const masses: number[] = [];
    const t1 = clock();
    for (const [i, item] of items.entries()) {
      const r = await engine.score({
        requestId: i + 1,
        variantKey: loaded.variantKey,
        itemId: item.itemId,
        prompt: item.prompt,
        label: item.label,
      });
      report.itemsScored++;
      report.method = r.method; // the path actually used (web-llm may force the logprobs fallback)
      const finite =
        r.letterLogits.every(Number.isFinite) && (r.logSumExp === undefined || Number.isFinite(r.logSumExp));
      report.finite = (report.finite ?? true) && finite;
      if (r.letterMass !== undefined) masses.push(r.letterMass);
    }
    const seconds = (clock() - t1) / 1000;
    if (seconds > 0 && report.itemsScored > 0) report.itemsPerSecond = report.itemsScored / seconds;
    if (masses.length) {
      report.meanLetterMass = masses.reduce((a, b) => a + b, 0) / masses.length;
      report.letterMassPlausible = report.meanLetterMass >= PLAUSIBLE_LETTER_MASS;
    }
    if (report.itemsScored === 0) throw new Error('The check had no items to score; choose the items first.');
    report.ok = report.finite === true && report.letterMassPlausible !== false;
  } catch (e) {
    report.error = checkAction(describeError(e), report.prebuilt);
  } finally {
    await engine.unload().catch(() => {});
  }
  return report;
}
