/** Worker-thread side of the Node job pool: runs the analysis jobs and preparations posted by analysis-threads.ts. */
import { parentPort } from 'node:worker_threads';
import { prepareVariant, runAnalysisJob, type AnalysisJob } from '../../src/core/analysis';
import type { PrepareRequest } from './analysis-threads';

parentPort!.on('message', (message: AnalysisJob | PrepareRequest) => {
  if ('prepare' in message) {
    // Errors travel back by name (e.g. AnalysisError: too few items for the folds), as the CLI sorts them by it.
    try {
      parentPort!.postMessage({ prepared: prepareVariant(message.prepare, message.settings) });
    } catch (e) {
      const error = e as Error;
      parentPort!.postMessage({ error: { name: error?.name ?? 'Error', message: error?.message ?? String(e) } });
    }
    return;
  }
  const result = runAnalysisJob(message);
  parentPort!.postMessage(result, [result.group0.buffer as ArrayBuffer, result.group1.buffer as ArrayBuffer]);
});
