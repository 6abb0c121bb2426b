/**
 * One analysis job worker of the pool the analysis worker starts: runs runAnalysisJob (tables transferred back)
 * and prepares variants (scalers cross-fitted), so several are prepared at once.
 */
import { expose, transfer } from 'comlink';
import { prepareVariant, runAnalysisJob, type AnalysisJob } from '../src/core/analysis';
import { kernelBackend } from '../src/core/kernel-wasm';
import type { JobWorker } from '../src/services/analysis-api';

const api: Required<JobWorker> = {
  async run(job: AnalysisJob) {
    const result = runAnalysisJob(job);
    return transfer(result, [result.group0.buffer as ArrayBuffer, result.group1.buffer as ArrayBuffer]);
  },
  async prepare(variant, settings) {
    return prepareVariant(variant, settings);
  },
  async backend() {
    return kernelBackend();
  },
};
expose(api);
