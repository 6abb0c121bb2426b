/**
 * Reads web-llm's init progress reports ({ progress, timeElapsed, text }) into a LoadProgress a person can
 * read. web-llm reports bytes only inside the text, in the formats of @mlc-ai/web-runtime's
 * fetchTensorCacheInternal ("Fetching param cache[3/50]: 120MB fetched. 20% completed, 5 secs elapsed. ...",
 * "Loading model from cache[...]: ...MB loaded. ...") and asyncLoadWebGPUPipelines ("Loading GPU shader
 * modules[12/80]: 15% completed, 3 secs elapsed.").
 */
import type { LoadProgress } from './types';

/** web-llm's InitProgressReport, restated so this module needs no web-llm import. */
export interface InitProgressReportLike {
  progress: number;
  timeElapsed: number;
  text: string;
}

const FETCHING = /^Fetching param cache\[(\d+)\/(\d+)\]: (\d+)MB fetched\. (\d+)% completed/;
const LOADING = /^Loading model from cache\[(\d+)\/(\d+)\]: (\d+)MB loaded\. (\d+)% completed/;
const SHADERS = /^Loading GPU shader modules\[(\d+)\/(\d+)\]/;

export function parseInitProgress(report: InitProgressReportLike): LoadProgress {
  const fraction = Number.isFinite(report.progress) ? Math.min(1, Math.max(0, report.progress)) : 0;
  const base = { fraction, elapsedSeconds: report.timeElapsed, text: report.text };
  let m = FETCHING.exec(report.text) ?? LOADING.exec(report.text);
  if (m) {
    const megabytes = Number(m[3]);
    const percent = Number(m[4]);
    return {
      ...base,
      phase: report.text.startsWith('Fetching') ? 'fetching' : 'loading-cache',
      megabytes,
      totalMegabytes: percent > 0 ? Math.round((megabytes * 100) / percent) : undefined,
      shards: [Number(m[1]), Number(m[2])],
    };
  }
  m = SHADERS.exec(report.text);
  if (m) return { ...base, phase: 'shaders', shards: [Number(m[1]), Number(m[2])] };
  if (report.text.startsWith('Finish loading')) return { ...base, phase: 'done' };
  if (report.text.startsWith('Start to fetch params')) return { ...base, phase: 'fetching' };
  return { ...base, phase: 'other' };
}
