import { expect, it } from 'vitest';
import { commands } from 'vitest/browser';
import { analyzeVariants } from '../../src/core/analysis';
import { kernelBackend, setKernelBackend } from '../../src/core/kernel-wasm';
import { determinismVariants } from './analysis-inputs';

declare module 'vitest/browser' {
  interface BrowserCommands {
    analysisReportInNode: (settings: Record<string, unknown>) => Promise<string>;
  }
}

// Seeded folds, bootstrap resamples, permutations and Newton fits must give the same numbers in every engine:
// the whole report computed in Chromium equals Node's to the last bit (compared as JSON text).
it.each([
  { bootstrap: 300, permutations: 299 },
  { bootstrap: 200, permutations: 199, scaling: 'temperature', bins: 10, seed: 7 },
  { bootstrap: 100, permutations: 0, scaling: 'vector', inSample: true },
  { bootstrap: 100, permutations: 0, interval: 'bca' },
])('the analysis report in Chromium equals the one computed in Node (%o)', async (settings) => {
  const inBrowser = JSON.stringify(analyzeVariants(determinismVariants(), settings as never));
  const inNode = await commands.analysisReportInNode(settings);
  expect(inBrowser.length).toBeGreaterThan(10_000);
  expect(inBrowser).toBe(inNode);
});

it('runs the WebAssembly kernel in Chromium, and its JavaScript loops give the same report as Node', async () => {
  expect(kernelBackend()).toBe('wasm');
  const settings = { bootstrap: 300, permutations: 299 };
  const inNode = await commands.analysisReportInNode(settings);
  setKernelBackend('js');
  try {
    expect(kernelBackend()).toBe('js');
    expect(JSON.stringify(analyzeVariants(determinismVariants(), settings as never))).toBe(inNode);
  } finally {
    setKernelBackend('wasm');
  }
});
