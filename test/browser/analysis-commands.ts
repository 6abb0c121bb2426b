// Node-side vitest browser command for test/browser/analysis-determinism.test.ts: the analysis report as Node
// computes it, serialised, so the test can compare Chromium's report with it byte for byte.
import type { BrowserCommandContext } from 'vitest/node';
import { analyzeVariants } from '../../src/core/analysis';
import type { AnalysisSettings } from '../../src/core/types';
import { determinismVariants } from './analysis-inputs';

export const analysisCommands = {
  analysisReportInNode(_ctx: BrowserCommandContext, settings: Partial<AnalysisSettings>): string {
    return JSON.stringify(analyzeVariants(determinismVariants(), settings));
  },
};
