/**
 * The kit's error names, and the one describer of anything thrown: an Error, a comlink-rebuilt Error, or
 * web-llm's `"Name: message"` string from its worker protocol, turned into a name, the original message and an
 * action a person can take. Errors cross workers by name (comlink keeps name, message and stack), so callers
 * switch on `name`, never on instanceof. The action table is keyed by the name unions: a new name without an
 * action does not compile.
 */

/** What an engine raises (engine/types.ts EngineError). */
export const ENGINE_ERROR_NAMES = [
  'WebGPUNotAvailableError',
  'ShaderF16SupportError',
  'FeatureSupportError',
  'DeviceLostError',
  'WorkerCrashedError',
  'LetterTokenError',
  'ModelLoadError',
  'ModelLibraryMismatchError',
  'ModelNotLoadedError',
  'ScoringError',
] as const;
export type EngineErrorName = (typeof ENGINE_ERROR_NAMES)[number];

/** What storage raises (storage/db.ts StorageError). */
export const STORAGE_ERROR_NAMES = [
  'StorageQuotaError',
  'StorageUnavailableError',
  'StorageBlockedError',
  'StorageWriteError',
] as const;
export type StorageErrorName = (typeof STORAGE_ERROR_NAMES)[number];

/** web-llm's own error classes that reach the kit with a name it has advice for (web-llm src/error.ts). */
export const WEBLLM_ERROR_NAMES = [
  'WebGPUNotFoundError',
  'MissingModelError',
  'UnsupportedTokenizerFilesError',
  'ContextWindowSizeExceededError',
] as const;
export type WebLLMErrorName = (typeof WEBLLM_ERROR_NAMES)[number];

export type KnownErrorName = EngineErrorName | StorageErrorName | WebLLMErrorName;

export interface DescribedError {
  /** The error's name (`DeviceLostError`, `ShaderF16SupportError`, ...), or `Error` when it has none. */
  name: string;
  message: string;
  /** What the person can do about it. */
  action: string;
}

/** Actions by error name: the kit's own engine errors, web-llm's error classes and storage errors. */
const ACTIONS: Readonly<Record<KnownErrorName, string>> = {
  WebGPUNotAvailableError:
    'This browser offers no WebGPU. Use a recent Chrome or Edge on a machine with a GPU (see webgpureport.org), ' +
    'or start a simulated run to try the app.',
  WebGPUNotFoundError:
    'This browser offers no WebGPU. Use a recent Chrome or Edge on a machine with a GPU, or start a simulated run.',
  ShaderF16SupportError:
    'This GPU or browser lacks the shader-f16 feature that q4f16/q0f16 models need. Choose the q4f32_1 (or q0f32) ' +
    'build of the same model.',
  FeatureSupportError: 'The GPU lacks a WebGPU feature this model needs. Choose a q4f32_1 build or another machine.',
  DeviceLostError:
    'The GPU device was lost, usually because it ran out of memory. The run resumes at the first unscored item; ' +
    'if it keeps happening, close other GPU-heavy tabs or choose a smaller model or context window.',
  WorkerCrashedError:
    'The scoring worker stopped. The run resumes at the first unscored item; if it keeps happening, reload the page.',
  LetterTokenError:
    "This model's tokenizer does not encode each answer letter as one token, so its letter logits cannot be read. " +
    'Use a Qwen3-family model or another prompt format.',
  ModelLoadError:
    'The model could not be loaded. Check the model URL and model library URL (serve-model prints both), your ' +
    'connection, and that the library matches the architecture and quantisation.',
  ModelLibraryMismatchError:
    "The model library was compiled for another web-llm version than the kit's, so its functions do not link. " +
    "Use the library URL of the kit's own web-llm model list for this architecture and quantisation (a fine-tuned " +
    "model keeps its base model's library), or compile one with the mlc-llm release matching that web-llm version.",
  MissingModelError: 'The variant has no model library URL. Add the model_lib .wasm URL to the variant.',
  ModelNotLoadedError: 'No model is loaded. Start the run again; it resumes at the first unscored item.',
  UnsupportedTokenizerFilesError:
    'The model folder has no tokenizer.json. Re-run mlc_llm gen_config so that tokenizer.json is copied.',
  ContextWindowSizeExceededError:
    'A prompt is longer than the context window. Raise context_window_size in the variant or use fewer shots.',
  ScoringError: 'Scoring this item failed. Resume the run to retry from the first unscored item.',
  StorageQuotaError:
    'The browser refused to store more data (quota exceeded). Free space (delete cached models you no longer ' +
    'need) and resume; no stored result was lost.',
  StorageUnavailableError:
    'IndexedDB is not available (private browsing or blocked site data). Allow site data for this page or use a ' +
    'normal window.',
  StorageBlockedError:
    'Another tab of this app holds an older version of its database open. Close the other tabs and reload.',
  StorageWriteError: 'Saving results failed; nothing of that batch was stored. Resume the run to retry.',
};

const GENERIC_ACTION = 'Resume the run to retry from the first unscored item; if it fails again, reload the page.';

const NAME_PREFIX = /^([A-Z][A-Za-z0-9]*(?:Error|Exception)): ([\s\S]*)$/;

/** Name, message and action of anything thrown: by an engine, a worker, storage, or the analysis. */
export function describeError(error: unknown): DescribedError {
  let name = 'Error';
  let message: string;
  if (error instanceof Error || (typeof error === 'object' && error !== null && 'message' in error)) {
    const e = error as { name?: unknown; message?: unknown };
    name = typeof e.name === 'string' && e.name !== '' ? e.name : 'Error';
    message = String(e.message ?? '');
  } else {
    message = String(error);
  }
  // web-llm's worker protocol sends `err.toString()`, i.e. "Name: message"; so does a generic Error that wraps it.
  if (name === 'Error') {
    const m = NAME_PREFIX.exec(message);
    if (m) {
      name = m[1];
      message = m[2];
    }
  }
  if (name === 'Error' && /device (was )?lost/i.test(message)) name = 'DeviceLostError';
  const action = Object.hasOwn(ACTIONS, name) ? ACTIONS[name as KnownErrorName] : GENERIC_ACTION;
  return { name, message, action };
}
