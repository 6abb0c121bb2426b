/**
 * `npm run bench`: times the analysis on the two standard workloads and prints the figures.
 *   (1) 3 variants x 1,000 items; (2) 4 variants x 14,042 items (MMLU's whole test split).
 * Each: all metrics, 5-fold cross-fitted matrix scaling, 10,000 bootstrap resamples, 10,000 permutations for
 * every pair of variants, both stages. Synthetic, seeded inputs (src/core/synthetic.ts; the timing does not
 * depend on what the logits are), written as logits CSVs so the CLI and the numpy peer read the same items.
 * Per workload: the analysis in this process on one thread and on a pool of worker threads (all cores; the time
 * includes starting the threads), in ns per item-evaluation (one item at one stage in one resample or
 * permutation, every metric); the CLI's wall time from process start to exit (`node scripts/analyze.mjs`, what
 * `npm run analyze` runs, without npm's own start and without NODE_EXTRA_CA_CERTS, see cliEnv; its bundle is built
 * before the timed runs);
 * and, where python3 with numpy is present, ../shared/bench/numpy_peer.py on the same items: ONE paired ECE
 * comparison at one stage (bootstrap CI + permutation test, the same B and R), and the ratio
 * kit CLI wall / peer. Speed is only ever measured here, never asserted in a test.
 * CPU times (all threads of this process) are printed beside the wall times: on a shared, loaded machine the wall
 * time says more about the neighbours than about the kit.
 * Options: --quick (1,000 resamples and permutations), --only 1|2, --repeat N (best of N, for every timing:
 * this kind of machine's speed drifts by half from one second to the next), --no-peer,
 * --compare-kernels (one thread on the kernel's JavaScript loops too; the report must be the same),
 * --app (workload 1 in the app too, in Chromium on a production build: a settings change to every CI against the
 * CLI on the same analysis, and a revisit served from the cache; scripts/lib/app-bench.ts).
 */
import { Command } from 'commander';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { assembleReport, planAnalysis, runAnalysisJob, type AnalysisJobResult } from '../src/core/analysis';
import { pairedVariant, syntheticVariant } from '../src/core/synthetic';
import type { VariantScores } from '../src/core/types';
import { kernelBackend, setKernelBackend, type KernelBackend } from '../src/core/kernel-wasm';
import { analyzeOnThreads, availableThreads, startThreadPool } from './lib/analysis-threads';
import { timeApp } from './lib/app-bench';

const program = new Command()
  .name('bench')
  .option('--quick', 'use 1,000 resamples and permutations instead of 10,000')
  .option('--only <workload>', 'run only workload 1 or 2')
  .option('--repeat <n>', 'best of n runs per workload', '1')
  .option('--no-peer', 'do not run the numpy peer')
  .option('--compare-kernels', "also time one thread on the kernel's JavaScript loops")
  .option('--app', 'also time the app in Chromium on workload 1: a settings change and a revisit, against the CLI')
  .parse();
const opts = program.opts<{
  quick?: boolean;
  only?: string;
  repeat: string;
  peer: boolean;
  compareKernels?: boolean;
  app?: boolean;
}>();
const resamples = opts.quick ? 1_000 : 10_000;
const repeat = Math.max(1, Number(opts.repeat));
const repoRoot = resolve(import.meta.dirname, '..');
const peerScript = resolve(repoRoot, '../shared/bench/numpy_peer.py');
const threads = availableThreads();

function variants(count: number, items: number): VariantScores[] {
  const base = { ...syntheticVariant({ n: items, seed: 1, sharpness: 1.2 }), name: 'base' };
  const others = ['sft', 'grpo', 'other']
    .slice(0, count - 1)
    .map((name, i) => pairedVariant(base, 10 + i, 1.3 + 0.4 * i, name));
  return [base, ...others];
}

/** A logits CSV of a variant; String(number) round-trips every double, so the CLI reads exactly these logits. */
function logitsCsv(v: VariantScores): string {
  const rows = v.items.map((it) => [it.itemId, it.label, ...it.letterLogits, it.domain ?? ''].join(','));
  return ['item_id,label,logit_A,logit_B,logit_C,logit_D,domain', ...rows].join('\n') + '\n';
}

/** Best wall time of `repeat` runs, with the CPU time (all of this process's threads) of that run. */
async function best<T>(fn: () => T | Promise<T>): Promise<{ ms: number; cpuMs: number; result: T }> {
  let out: { ms: number; cpuMs: number; result: T } | undefined;
  for (let r = 0; r < repeat; r++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const result = await fn();
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(c0);
    if (!out || ms < out.ms) out = { ms, cpuMs: (cpu.user + cpu.system) / 1000, result };
  }
  return out!;
}

/** numpy's version, or undefined when python3 or numpy is missing. */
function numpyVersion(): string | undefined {
  const r = spawnSync('python3', ['-c', 'import numpy; print(numpy.__version__)'], {
    encoding: 'utf8',
    env: peerEnv(),
  });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

/** The environment for the peer: OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE (set on this machine) slow numpy down. */
function peerEnv(): NodeJS.ProcessEnv {
  const { OPENBLAS_CORETYPE: _c, OPENBLAS_L2_SIZE: _l, ...env } = process.env;
  return env;
}

async function workload(label: string, count: number, items: number, numpy: string | undefined) {
  const vs = variants(count, items);
  const dir = mkdtempSync(join(os.tmpdir(), 'kit-bench-'));
  const paths = vs.map((v) => {
    const path = join(dir, `${v.name}.csv`);
    writeFileSync(path, logitsCsv(v));
    return path;
  });
  const settings = { bootstrap: resamples, permutations: resamples };
  const pairs = (count * (count - 1)) / 2;
  // Every variant's items at both stages per resample, and both arms of every pair at both stages per permutation.
  const evaluations = count * 2 * resamples * items + pairs * 2 * resamples * 2 * items;
  const n = (x: number) => x.toLocaleString('en');
  console.log(
    `\n${label}: ${count} variants x ${n(items)} items, ${n(resamples)} resamples + ${n(resamples)} permutations x ${pairs} pairs x 2 stages (${n(evaluations)} item-evaluations)`,
  );

  // One thread, timed by part.
  const oneThread = async (backend: KernelBackend) => {
    setKernelBackend(backend);
    const run = await best(() => {
      let t = performance.now();
      const plan = planAnalysis(vs, settings);
      const prepare = performance.now() - t;
      const results: AnalysisJobResult[] = [];
      // other: smooth ECE resamples (and jackknife tables for BCa intervals).
      const spent = { bootstrap: 0, permutation: 0, other: 0 };
      for (const job of plan.jobs) {
        t = performance.now();
        results.push(runAnalysisJob(job));
        spent[job.kind === 'bootstrap' || job.kind === 'permutation' ? job.kind : 'other'] += performance.now() - t;
      }
      return { report: assembleReport(plan, results), parts: { prepare, ...spent } };
    });
    const { parts } = run.result;
    const kernel = kernelBackend() === 'wasm' ? 'WebAssembly kernel' : 'JavaScript kernel';
    console.log(
      `  one thread        ${fmt(run.ms)}  ${ns(run.ms)} ns per item-evaluation  (${kernel}; CPU ${fmt(run.cpuMs)}; ` +
        `prepare + 5-fold matrix ${fmt(parts.prepare)}, bootstrap ${fmt(parts.bootstrap)}, permutations ${fmt(parts.permutation)}, smooth ECE ${fmt(parts.other)})`,
    );
    setKernelBackend('wasm');
    return { ...run, result: run.result.report };
  };
  const ns = (ms: number) => ((ms * 1e6) / evaluations).toFixed(1);
  const single = await oneThread('wasm');
  if (opts.compareKernels) {
    const js = await oneThread('js');
    if (!isDeepStrictEqual(js.result, single.result)) throw new Error('the two kernels gave different reports');
  }
  const pooled = await best(async () => {
    const pool = startThreadPool(threads);
    try {
      return await analyzeOnThreads(pool, vs, settings);
    } finally {
      await pool.close();
    }
  });
  const same = isDeepStrictEqual(pooled.result, single.result);
  console.log(
    `  ${String(threads).padEnd(2)} threads        ${fmt(pooled.ms)}  ${ns(pooled.ms)} ns per item-evaluation  ` +
      `(CPU ${fmt(pooled.cpuMs)} over all threads; report identical to one thread: ${same ? 'yes' : 'NO'})`,
  );

  const cli = spawnBest(
    process.execPath,
    [
      'scripts/analyze.mjs',
      ...vs.flatMap((v, i) => ['--variant', `${v.name}=${paths[i]}`]),
      '--bootstrap',
      String(resamples),
      '--permutations',
      String(resamples),
      '--json',
      join(dir, 'report.json'),
    ],
    cliEnv(),
  );
  if (cli.status !== 0) throw new Error(`the CLI failed: ${cli.stderr}`);
  console.log(`  CLI wall          ${fmt(cli.ms)}  (process start to exit, ${threads} threads)`);

  if (numpy && opts.peer) {
    const peer = spawnBest(
      'python3',
      [peerScript, paths[0], paths[1], String(resamples), String(resamples)],
      peerEnv(),
      peerSeconds,
    );
    const seconds = peerSeconds(peer);
    if (peer.status !== 0 || !Number.isFinite(seconds))
      throw new Error(`numpy_peer.py failed: ${peer.stderr || peer.stdout}`);
    const peerMs = seconds * 1000;
    const target = count <= 3 ? 2 : 3;
    console.log(
      `  numpy peer        ${fmt(peerMs)}  (one paired ECE comparison at one stage, its own timer; process wall ${fmt(peer.ms)})`,
    );
    console.log(
      `  ratio             CLI wall / peer = ${(cli.ms / peerMs).toFixed(2)}  (target <= ${target}); CLI wall / peer process wall = ${(cli.ms / peer.ms).toFixed(2)}`,
    );
  }
  if (opts.app && count <= 3) await appTimes(vs, paths, dir);
  rmSync(dir, { recursive: true, force: true });
}

/** The app on the workload's CSVs (scripts/lib/app-bench.ts) against the CLI on the same analysis (bins 16). */
async function appTimes(vs: VariantScores[], paths: string[], dir: string) {
  const runs = Math.max(2, repeat);
  const app = await timeApp(paths, { bootstrap: resamples, permutations: resamples }, runs);
  const cli = spawnBest(
    process.execPath,
    [
      'scripts/analyze.mjs',
      ...vs.flatMap((v, i) => ['--variant', `${v.name}=${paths[i]}`]),
      '--bins',
      '16',
      '--bootstrap',
      String(resamples),
      '--permutations',
      String(resamples),
      '--json',
      join(dir, 'report-16.json'),
    ],
    cliEnv(),
  );
  if (cli.status !== 0) throw new Error(`the CLI failed: ${cli.stderr}`);
  const change = Math.min(...app.settingsChange);
  const revisit = app.revisit.reduce((a, b) => (b.ms < a.ms ? b : a));
  console.log(
    `  app (Chromium)    settings change (bins 15 -> 16, 17, ..., committed with Enter) to every CI: ${fmt(change)} (${app.settingsChange.map(fmt).join(', ')}; ${app.workers} job workers)`,
  );
  console.log(
    `                    CLI on the same analysis ${fmt(cli.ms)}: app / CLI = ${(change / cli.ms).toFixed(2)} (target <= 1.2)`,
  );
  console.log(
    `                    revisit, click to the ready view painted (timed in the page): ${fmt(revisit.ms)} from ${revisit.source ?? 'unknown'} (${app.revisit.map((r) => `${fmt(r.ms)} ${r.source}`).join(', ')}; target < 300 ms)`,
  );
  console.log(
    `                    the same revisits as the driver saw them (click() called to its wait returning): ${app.revisit.map((r) => fmt(r.driverMs)).join(', ')}`,
  );
}

function spawnTimed(command: string, args: string[], env: NodeJS.ProcessEnv = process.env) {
  const t0 = performance.now();
  const r = spawnSync(command, args, { cwd: repoRoot, encoding: 'utf8', env, maxBuffer: 64 * 1024 * 1024 });
  return { ms: performance.now() - t0, status: r.status, stdout: r.stdout, stderr: r.stderr };
}

type Spawned = ReturnType<typeof spawnTimed>;

/** The fastest of `repeat` runs, by `time` (default: the process's wall time); the first failing run if one fails. */
function spawnBest(command: string, args: string[], env = process.env, time = (r: Spawned) => r.ms): Spawned {
  let out: Spawned | undefined;
  for (let r = 0; r < repeat; r++) {
    const run = spawnTimed(command, args, env);
    if (run.status !== 0) return run;
    if (!out || time(run) < time(out)) out = run;
  }
  return out!;
}

/** The peer's own timing of its comparison, printed as "seconds N" (NaN when absent). */
const peerSeconds = (r: Spawned) => Number(/seconds ([\d.]+)/.exec(r.stdout)?.[1]);

function fmt(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`;
}

/**
 * The environment for the CLI: NODE_EXTRA_CA_CERTS (set on this machine, for its proxy) makes Node read and parse
 * that certificate file as every process starts, before any of the kit's code runs; the analysis opens no
 * connection. Removed as the peer's OPENBLAS settings are, and what it costs is printed (nodeStart).
 */
function cliEnv(): NodeJS.ProcessEnv {
  const { NODE_EXTRA_CA_CERTS: _certs, ...env } = process.env;
  return env;
}

/** Node's own start and exit (`node -e ''`), best of five, in an environment. */
function nodeStart(env: NodeJS.ProcessEnv): number {
  return Math.min(...Array.from({ length: 5 }, () => spawnTimed(process.execPath, ['-e', ''], env).ms));
}

const numpy = opts.peer && existsSync(peerScript) ? numpyVersion() : undefined;
// The CLI's bundle (scripts/analyze.mjs) is built now if the sources changed, so no timed run builds it.
if (spawnTimed(process.execPath, ['scripts/analyze.mjs', '--help'], cliEnv()).status !== 0)
  throw new Error('the CLI does not start');
const [l1, l5, l15] = os.loadavg().map((x) => x.toFixed(2));
console.log(
  `machine: ${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.cpus().length} cores (${threads} usable), node ${process.version}, ` +
    `load average ${l1} ${l5} ${l15}, ${numpy ? `python3 numpy ${numpy}` : existsSync(peerScript) ? 'no python3 with numpy: peer skipped' : `no ${peerScript}: peer skipped`}` +
    `${repeat > 1 ? `, best of ${repeat}` : ''}`,
);
if (process.env.NODE_EXTRA_CA_CERTS !== undefined)
  console.log(
    `node start: ${fmt(nodeStart(cliEnv()))}, ${fmt(nodeStart(process.env))} with this environment's NODE_EXTRA_CA_CERTS, ` +
      'which the CLI runs without (it opens no connection)',
  );
if (opts.only !== '2') await workload('workload 1', 3, 1_000, numpy);
if (opts.only !== '1') await workload('workload 2', 4, 14_042, numpy);
