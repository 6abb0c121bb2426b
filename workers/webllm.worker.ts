/** web-llm's MLCEngine in a worker, scoring letter logits; exposed over comlink as a WebLLMWorkerApi. */
import { expose } from 'comlink';
import type { WebLLMWorkerApi } from '../src/engine/types';
import { WebLLMScoringEngine } from '../src/engine/webllm';

const engine: WebLLMWorkerApi = new WebLLMScoringEngine();
expose(engine);
