/** One analysis job worker of the pool the analysis worker starts: runs runAnalysisJob, tables transferred back. */
import { expose, transfer } from 'comlink';
import { runAnalysisJob, type AnalysisJob } from '../src/core/analysis';
import type { JobWorker } from '../src/state/analysis-service';

const api: JobWorker = {
  async run(job: AnalysisJob) {
    const result = runAnalysisJob(job);
    return transfer(result, [result.group0.buffer as ArrayBuffer, result.group1.buffer as ArrayBuffer]);
  },
};
expose(api);
