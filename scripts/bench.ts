/**
 * `npm run bench`: times the analysis core on the two standard workloads and prints the figures.
 *   (1) 3 variants x 1,000 items; (2) 4 variants x 14,042 items (MMLU's whole test split).
 * Each: all metrics, 5-fold cross-fitted matrix scaling, 10,000 bootstrap resamples, 10,000 permutations for
 * every pair of variants. Synthetic, seeded inputs (the timing does not depend on what the logits are).
 * Timed twice: on this thread, and on a pool of worker threads (one per core), which is what the CLI uses.
 * Options: --quick (1,000 resamples and permutations, for a fast look), --only 1|2, --repeat N (best of N).
 */
import { Command } from 'commander';
import os from 'node:os';
import { analyzeVariants, analyzeVariantsWith, planAnalysis, runAnalysisJob } from '../src/core/analysis';
import { availableThreads, threadJobRunner } from './lib/analysis-threads';
import type { VariantScores } from '../src/core/types';
import { pairedVariant, syntheticVariant } from '../test/support/synthetic';

const program = new Command()
  .name('bench')
  .option('--quick', 'use 1,000 resamples and permutations instead of 10,000')
  .option('--only <workload>', 'run only workload 1 or 2')
  .option('--repeat <n>', 'best of n runs per workload', '1')
  .parse();
const opts = program.opts<{ quick?: boolean; only?: string; repeat: string }>();
const resamples = opts.quick ? 1_000 : 10_000;
const repeat = Math.max(1, Number(opts.repeat));

function variants(count: number, items: number): VariantScores[] {
  const base = { ...syntheticVariant({ n: items, seed: 1, sharpness: 1.2 }), name: 'base' };
  const others = ['sft', 'grpo', 'other'].slice(0, count - 1).map((name, i) => pairedVariant(base, 10 + i, 1.3 + 0.4 * i, name));
  return [base, ...others];
}

async function timeAsync(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

function time<T>(fn: () => T): { ms: number; result: T } {
  const t0 = performance.now();
  const result = fn();
  return { ms: performance.now() - t0, result };
}

async function workload(label: string, count: number, items: number) {
  const vs = variants(count, items);
  const settings = { bootstrap: resamples, permutations: resamples };
  let best = Infinity;
  let bestPool = Infinity;
  const threads = availableThreads();
  for (let r = 0; r < repeat; r++) {
    best = Math.min(best, time(() => analyzeVariants(vs, settings)).ms);
    bestPool = Math.min(bestPool, await timeAsync(() => analyzeVariantsWith(threadJobRunner(threads), vs, settings)));
  }

  // Where the time goes, measured separately on the same inputs.
  const plan = time(() => planAnalysis(vs, settings));
  const jobTime = (kind: 'bootstrap' | 'permutation') =>
    time(() => plan.result.jobs.filter((j) => j.kind === kind).forEach(runAnalysisJob)).ms;
  const boot = { ms: jobTime('bootstrap') };
  const perm = { ms: jobTime('permutation') };
  const prep = plan;
  const pairs = (count * (count - 1)) / 2;
  const kernelEntries = count * 2 * resamples * items + pairs * 2 * resamples * 2 * items;
  console.log(`${label}: ${count} variants x ${items.toLocaleString('en')} items, ${resamples.toLocaleString('en')} resamples + ${resamples.toLocaleString('en')} permutations x ${pairs} pairs x 2 stages`);
  console.log(`  total, ${threads} worker threads    ${fmt(bestPool)}${repeat > 1 ? ` (best of ${repeat})` : ''}  <- what the CLI does`);
  console.log(`  total, one thread          ${fmt(best)}`);
  console.log(`    prepare + 5-fold matrix  ${fmt(prep.ms)}`);
  console.log(`    bootstrap CIs            ${fmt(boot.ms)}`);
  console.log(`    permutation tests        ${fmt(perm.ms)}`);
  console.log(`  one-thread throughput      ${((kernelEntries / best) * 1e-3).toFixed(1)} M item-evaluations/s (${((best * 1e6) / kernelEntries).toFixed(1)} ns each)`);
}

function fmt(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`;
}

console.log(`node ${process.version}, ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown CPU'}), load average ${os.loadavg()[0].toFixed(2)}`);
if (opts.only !== '2') await workload('workload 1', 3, 1_000);
if (opts.only !== '1') await workload('workload 2', 4, 14_042);
