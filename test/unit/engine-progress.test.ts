import { describe, expect, it } from 'vitest';
import { parseInitProgress } from '../../src/engine/progress';

// The texts below follow @mlc-ai/web-runtime's report formats (fetchTensorCacheInternal, asyncLoadWebGPUPipelines)
// and web-llm's "Finish loading on ..." report.
describe('parseInitProgress', () => {
  it('reads megabytes, percent and shards while fetching, and estimates the total', () => {
    const p = parseInitProgress({
      progress: 0.25,
      timeElapsed: 12,
      text: 'Fetching param cache[10/40]: 350MB fetched. 25% completed, 12 secs elapsed. It can take a while when we first visit this page to populate the cache. Later refreshes will become faster.',
    });
    expect(p).toMatchObject({
      phase: 'fetching',
      fraction: 0.25,
      megabytes: 350,
      totalMegabytes: 1400,
      shards: [10, 40],
      elapsedSeconds: 12,
    });
  });

  it('distinguishes loading from the browser cache, shader compilation and the end', () => {
    expect(
      parseInitProgress({
        progress: 0.5,
        timeElapsed: 3,
        text: 'Loading model from cache[20/40]: 700MB loaded. 50% completed, 3 secs elapsed.',
      }),
    ).toMatchObject({ phase: 'loading-cache', megabytes: 700, totalMegabytes: 1400 });
    expect(
      parseInitProgress({
        progress: 0.3,
        timeElapsed: 4,
        text: 'Loading GPU shader modules[24/80]: 30% completed, 4 secs elapsed.',
      }),
    ).toMatchObject({ phase: 'shaders', shards: [24, 80] });
    expect(parseInitProgress({ progress: 1, timeElapsed: 9, text: 'Finish loading on WebGPU - apple' })).toMatchObject({
      phase: 'done',
      fraction: 1,
    });
    expect(parseInitProgress({ progress: 0, timeElapsed: 0, text: 'Start to fetch params' })).toMatchObject({
      phase: 'fetching',
      fraction: 0,
    });
  });

  it('keeps unknown texts, clamps the fraction and leaves the total unknown at 0%', () => {
    expect(parseInitProgress({ progress: 1.5, timeElapsed: 0, text: 'something new' })).toMatchObject({
      phase: 'other',
      fraction: 1,
      text: 'something new',
    });
    expect(parseInitProgress({ progress: NaN, timeElapsed: 0, text: '' }).fraction).toBe(0);
    const zero = parseInitProgress({
      progress: 0,
      timeElapsed: 0,
      text: 'Fetching param cache[0/40]: 0MB fetched. 0% completed, 0 secs elapsed.',
    });
    expect(zero.totalMegabytes).toBeUndefined();
  });
});
