/**
 * The main thread's side of an engine worker: a comlink proxy with the same ScoringEngine interface, plus
 * crash detection. A worker that dies never answers, so every call races the worker's `error` event and
 * terminate(): pending calls reject with WorkerCrashedError instead of hanging, and the run controller can
 * start a fresh worker and resume. No web-llm here: the workers own it.
 */
import { proxy, releaseProxy, wrap, type Remote } from 'comlink';
import {
  EngineError,
  type AnswerStrings,
  type EngineVariant,
  type ItemLetterScore,
  type LoadedModel,
  type LoadProgress,
  type ScoreRequest,
  type ScoringEngine,
  type SimulatedWorkerApi,
  type WebLLMWorkerApi,
} from './types';

/** An engine running in a worker, with the worker's lifetime attached. */
export interface EngineHandle<T extends ScoringEngine = ScoringEngine> extends ScoringEngine {
  readonly kind: 'webllm' | 'simulated';
  /** The raw comlink proxy for the worker's extra methods; wrap calls in `guard`. */
  readonly remote: Remote<T>;
  /** Races a call on `remote` against the worker's death (pass the call's promise). */
  guard<R>(call: Promise<R>): Promise<R>;
  /** Whether the worker has died or been terminated. */
  readonly dead: boolean;
  /** Stops the worker at once; pending calls reject with WorkerCrashedError. */
  terminate(): void;
}

export function connectEngineWorker<T extends ScoringEngine>(
  worker: Worker,
  kind: 'webllm' | 'simulated',
): EngineHandle<T> {
  const remote = wrap<T>(worker);
  // Remote<T> of a generic T does not resolve its methods; the ScoringEngine view of it does.
  const engine = remote as unknown as Remote<ScoringEngine>;
  const pending = new Set<(error: EngineError) => void>();
  let death: EngineError | undefined;

  const kill = (error: EngineError) => {
    if (death) return;
    death = error;
    worker.terminate();
    for (const reject of pending) reject(error);
    pending.clear();
    remote[releaseProxy]();
  };
  worker.addEventListener('error', (event) => {
    event.preventDefault();
    kill(new EngineError('WorkerCrashedError', `The scoring worker crashed: ${event.message || 'unknown error'}.`));
  });
  worker.addEventListener('messageerror', () => {
    kill(new EngineError('WorkerCrashedError', 'The scoring worker sent a message that could not be read.'));
  });

  /** Calls the worker unless it is dead (a released comlink proxy throws on any access). */
  const call = <R>(invoke: () => Promise<R>): Promise<R> => {
    if (death) return Promise.reject(death);
    try {
      return guard(invoke());
    } catch (e) {
      return Promise.reject(e);
    }
  };

  const guard = <R>(promise: Promise<R>): Promise<R> => {
    if (death) {
      promise.catch(() => {});
      return Promise.reject(death);
    }
    return new Promise<R>((resolve, reject) => {
      pending.add(reject);
      promise.then(resolve, reject).finally(() => pending.delete(reject));
    });
  };

  return {
    kind,
    remote,
    guard,
    get dead() {
      return death !== undefined;
    },
    terminate: () => kill(new EngineError('WorkerCrashedError', 'The scoring worker was stopped.')),
    load: (
      variant: EngineVariant,
      answerStrings: AnswerStrings,
      onProgress?: (p: LoadProgress) => void,
    ): Promise<LoadedModel> =>
      call(() => engine.load(variant, answerStrings, onProgress ? proxy(onProgress) : undefined)),
    score: (request: ScoreRequest): Promise<ItemLetterScore> => call(() => engine.score(request)),
    unload: () => (death ? Promise.resolve() : call(() => engine.unload())),
    dispose: async () => {
      if (!death) await call(() => engine.dispose()).catch(() => {});
      kill(new EngineError('WorkerCrashedError', 'The scoring worker was disposed.'));
    },
  };
}

/** A new worker running the simulated engine. */
export function startSimulatedEngine(): EngineHandle<SimulatedWorkerApi> {
  const worker = new Worker(new URL('../../workers/simulated.worker.ts', import.meta.url), {
    type: 'module',
    name: 'simulated-engine',
  });
  return connectEngineWorker<SimulatedWorkerApi>(worker, 'simulated');
}

/** A new worker running web-llm (it is downloaded only when this is first called). */
export function startWebLLMEngine(): EngineHandle<WebLLMWorkerApi> {
  const worker = new Worker(new URL('../../workers/webllm.worker.ts', import.meta.url), {
    type: 'module',
    name: 'webllm-engine',
  });
  return connectEngineWorker<WebLLMWorkerApi>(worker, 'webllm');
}
