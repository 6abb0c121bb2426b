/** Worker-thread side of the Node job pool: runs analysis jobs posted by analysis-threads.ts. */
import { parentPort } from 'node:worker_threads';
import { runAnalysisJob, type AnalysisJob } from '../../src/core/analysis';

parentPort!.on('message', (job: AnalysisJob) => {
  const result = runAnalysisJob(job);
  parentPort!.postMessage(result, [result.group0.buffer as ArrayBuffer, result.group1.buffer as ArrayBuffer]);
});
