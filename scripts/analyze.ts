/**
 * `npm run analyze -- [options] [inputs...]`: the study's calibration table, before and after post-hoc
 * scaling, with bootstrap CIs and paired permutation tests, for variants read from this kit's results
 * files, logits CSVs or lm-evaluation-harness samples. The numbers come from src/core/analysis.ts, the
 * same code the app runs; this script only reads files, prints and writes JSON.
 *
 * --json FILE writes the AnalysisReport of src/core/types.ts, a stable shape:
 *   {
 *     settings: { bins, mceMinCount, scaling, folds, inSample, lambda, mu, bootstrap, permutations,
 *                 confidence, seed, interval },
 *     variants: { <name>: {
 *       n, simulated, role?,
 *       uncalibrated: { accuracy, ece, mce, ece_adaptive, classwise_ece, brier, nll,   (numbers)
 *                       smooth_ece, smooth_ece_bandwidth,
 *                       ci?: { <metric>: [lo, hi], smooth_ece: [lo, hi] },   (absent with --bootstrap 0)
 *                       mce_bin_count, letter_mass?, reliability: [{ lo, hi, count, confidence, accuracy }] },
 *       scaled?: { same as uncalibrated },   (absent with --scaling none)
 *       scaling: { method, folds, lambda, mu, in_sample, resampling: "fixed-calibrated-logits" },
 *       ece_reduction_pct?, accuracy_change_pts? } },
 *     comparisons: [{ a, b, metric, stage: "uncalibrated" | "scaled", diff, ci?, p?, n,
 *                     unmatched: { onlyA, onlyB } }],
 *     domains: [{ variant, domain, stage, n, accuracy, ece, mce, confidence }],   (core/report-views.ts)
 *     scalingEffects: [{ variant, eceChange, eceChangeCi?, eceChangePct, eceChangePctCi?,
 *                        accuracyChangePts, accuracyChangePtsCi? }],
 *     claims: [{ id, claim, published, value?, ci?, p?, verdict, summary, note?, ... }]   (core/claims.ts)
 *   }
 * The last three are the results page's per-domain table, scaling effects and published-figure checks,
 * computed by the same core functions (reportWithViews).
 *   plus, when probe runs or quantisation builds are among the inputs (see the README):
 *     probes: { rows: [ProbeRow of src/core/sycophancy.ts], comparisons: [ProbeComparison], unpaired: [{ run, reason }] },
 *     quantisation: [{ promptKey, reference, rows: [QuantisationRow of src/core/quantisation.ts] }]
 * Numbers JSON cannot hold (NaN, e.g. an empty bin's accuracy) are written as null.
 *
 * Exit codes: 0 success; 1 bad input or settings (one line on stderr naming the file, the line or field,
 * and what was expected; nothing is printed or written as a result); 2 an internal error.
 */
import { readFileSync, readdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { SMOOTH_ECE_MAX_RESAMPLES, type PreparedVariant } from '../src/core/analysis';
import { analyzeWithViewsOnThreads, availableThreads, startThreadPool } from './lib/analysis-threads';
import { probeText, quantisationText, table } from './lib/probe-text';
import type { ClaimCheck } from '../src/core/claims';
import { PROBE_TEMPLATE_NAMES, parseProbeKey, probeAwarePairs, type ProbeTemplateName } from '../src/core/probe';
import type { DomainRow, ReportWithViews, ScalingEffect } from '../src/core/report-views';
import { probeReport, type ProbeReport } from '../src/core/sycophancy';
import {
  probeSection,
  quantisationSection,
  type QuantisationGroup,
  type RunIdentity,
} from '../src/core/probe-analysis';
import { excludesEstimate } from '../src/core/intervals';
import {
  DEFAULT_ANALYSIS_SETTINGS,
  INTERVAL_METHODS,
  METRICS,
  SCALING_METHODS,
  type AnalysisSettings,
  type Interval,
  type MetricName,
  type StageMetrics,
  type VariantReport,
  type VariantScores,
} from '../src/core/types';
import { DataFileError } from '../src/data/errors';
import { loadVariant, parseVariantSpec, variantsFromResultsFile, type InputFile } from '../src/data/load-variant';

/** An input problem reported as one line, exit code 1. */
class InputError extends Error {
  override name = 'InputError';
}

/** Error names that mean bad input rather than a bug: shown as one line, exit code 1. */
const INPUT_ERRORS = new Set(['InputError', 'DataFileError', 'ResultsFileError', 'AnalysisError']);

// ---------------------------------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------------------------------

function integerAtLeast(min: number) {
  return (value: string): number => {
    const x = Number(value);
    if (!/^[+-]?\d+$/.test(value.trim()) || !Number.isSafeInteger(x) || x < min) {
      throw new InvalidArgumentError(`expected an integer >= ${min}`);
    }
    return x;
  };
}

function nonNegativeNumber(value: string): number {
  const x = Number(value);
  if (value.trim() === '' || !Number.isFinite(x) || x < 0)
    throw new InvalidArgumentError('expected a finite number >= 0');
  return x;
}

function level(value: string): number {
  const x = Number(value);
  if (value.trim() === '' || !(x > 0 && x < 1))
    throw new InvalidArgumentError('expected a level between 0 and 1, e.g. 0.95');
  return x;
}

function seed(value: string): number {
  const x = integerAtLeast(0)(value);
  if (x > 0xffffffff) throw new InvalidArgumentError('expected an integer in [0, 2^32)');
  return x;
}

const collect = (value: string, previous: string[] | undefined) => [...(previous ?? []), value];

function buildProgram(): Command {
  const d = DEFAULT_ANALYSIS_SETTINGS;
  return new Command()
    .name('npm run analyze --')
    .description(
      'Calibration of model variants on the same multiple-choice items: accuracy, ECE, MCE, adaptive ECE, ' +
        'classwise ECE, Brier and NLL with bootstrap CIs, before and after post-hoc scaling, and paired ' +
        'permutation tests between variants.',
    )
    .argument('[inputs...]', 'results files (.json) exported by this kit; every run in them becomes a variant')
    .option(
      '--variant <NAME=PATH>',
      'a variant from PATH: a results file (.json; PATH#RUN picks one of several runs), an lm-evaluation-harness ' +
        'samples file (.jsonl), a logits CSV (.csv), or a directory of .jsonl samples files. Repeatable; ' +
        'repeating a NAME joins its files (e.g. one samples file per subject)',
      collect,
    )
    .option('--bins <B>', 'equal-width bins for ECE, MCE, adaptive and classwise ECE', integerAtLeast(1), d.bins)
    .option('--mce-min-count <m>', 'MCE ignores bins with fewer items than this', integerAtLeast(1), d.mceMinCount)
    .addOption(
      new Option('--scaling <method>', 'post-hoc scaling of the 4-way log-softmax')
        .choices(SCALING_METHODS)
        .default(d.scaling),
    )
    .option(
      '--folds <k>',
      'cross-fitting folds: each item is calibrated by a scaler fitted without it',
      integerAtLeast(2),
      d.folds,
    )
    .option('--in-sample', 'fit and evaluate the scaler on the same items (optimistic; labelled as such)', d.inSample)
    .option('--lambda <x>', 'matrix scaling: ODIR off-diagonal penalty', nonNegativeNumber, d.lambda)
    .option('--mu <x>', 'matrix scaling: ODIR bias penalty', nonNegativeNumber, d.mu)
    .option('--bootstrap <R>', 'bootstrap resamples for CIs (0: no CIs)', integerAtLeast(0), d.bootstrap)
    .option(
      '--permutations <R>',
      'permutations for the paired tests (0: no p-values)',
      integerAtLeast(0),
      d.permutations,
    )
    .option('--confidence <level>', 'CI level', level, d.confidence)
    .option('--seed <n>', 'seed of folds, resamples and permutations', seed, d.seed)
    .addOption(
      new Option(
        '--interval <method>',
        "how CIs are read off the resamples: percentile (the study's), bca (Efron 1987) or basic",
      )
        .choices(INTERVAL_METHODS)
        .default(d.interval),
    )
    .option(
      '--compare <A:B>',
      'paired comparison A - B (repeatable; default: every pair A:B in input order, A the earlier, except a sycophancy probe run with a run of another prompt)',
      collect,
    )
    .option(
      '--probe <PROBE:NEUTRAL>',
      "pair a sycophancy probe variant with the neutral variant of the same model (repeatable). Runs of this kit's results " +
        'files pair by their prompt keys without it; this is for inputs that carry no prompt key (CSV, lm-eval samples)',
      collect,
    )
    .addOption(
      new Option('--probe-template <name>', 'the probe template of --probe pairs whose probe carries no prompt key')
        .choices(PROBE_TEMPLATE_NAMES)
        .default('weak'),
    )
    .option('--probe-seed <n>', 'the planting seed of --probe pairs whose probe carries no prompt key', seed, 0)
    .option(
      '--threads <n>',
      'worker threads for the resampling (results do not depend on it)',
      integerAtLeast(1),
      availableThreads(),
    )
    .option(
      '--json <FILE>',
      'also write the full report as JSON (shape documented in scripts/analyze.ts and the README)',
    )
    .allowExcessArguments(false);
}

/** Every analysis setting has an option of the same name (commander camel-cases --mce-min-count etc.). */
interface CliOptions extends AnalysisSettings {
  threads: number;
  variant?: string[];
  compare?: string[];
  json?: string;
  probe?: string[];
  probeTemplate: ProbeTemplateName;
  probeSeed: number;
}

// ---------------------------------------------------------------------------------------------------
// Inputs
// ---------------------------------------------------------------------------------------------------

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new InputError(`${path}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

/** The files behind one PATH: the file itself, or a directory's samples files (*.jsonl, sorted by name). */
function filesAt(path: string): InputFile[] {
  let isDirectory: boolean;
  try {
    isDirectory = statSync(path).isDirectory();
  } catch (err) {
    throw new InputError(`${path}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  if (!isDirectory) return [{ name: path, text: readText(path) }];
  const names = readdirSync(path)
    .filter((n) => n.toLowerCase().endsWith('.jsonl'))
    .sort();
  if (names.length === 0) throw new InputError(`${path}: directory holds no .jsonl samples files`);
  return names.map((n) => ({ name: join(path, n), text: readText(join(path, n)) }));
}

function loadInputs(inputs: string[], variantSpecs: string[]): VariantScores[] {
  const variants: VariantScores[] = [];
  const origin = new Map<string, string>();
  const add = (v: VariantScores, from: string) => {
    const earlier = origin.get(v.name);
    if (earlier !== undefined) {
      throw new InputError(
        `${from}: variant name "${v.name}" is already used by ${earlier}; expected unique names (rename with --variant NAME=PATH#RUN)`,
      );
    }
    origin.set(v.name, from);
    variants.push(v);
  };
  for (const path of inputs) {
    for (const file of filesAt(path)) for (const v of variantsFromResultsFile(file)) add(v, file.name);
  }
  // Specs sharing a NAME form one variant, placed where that NAME first appears.
  const byName = new Map<string, { file: InputFile; run?: string }[]>();
  for (const spec of variantSpecs) {
    const { name, path, run } = parseVariantSpec(spec);
    const files = byName.get(name) ?? [];
    for (const file of filesAt(path)) files.push({ file, run });
    byName.set(name, files);
  }
  for (const [name, files] of byName) add(loadVariant(name, files), `--variant ${name}`);
  if (variants.length === 0)
    throw new InputError('no inputs; expected --variant NAME=PATH or results files (run with --help for usage)');
  return variants;
}

/** `A:B` into a pair of known variant names; a name may itself contain ':' as long as the split is unique. */
function parseCompare(spec: string, names: string[], flag = '--compare'): [string, string] {
  const known = new Set(names);
  const splits: [string, string][] = [];
  for (let i = spec.indexOf(':'); i >= 0; i = spec.indexOf(':', i + 1)) {
    const a = spec.slice(0, i);
    const b = spec.slice(i + 1);
    if (known.has(a) && known.has(b)) splits.push([a, b]);
  }
  if (splits.length === 1) {
    if (splits[0][0] === splits[0][1]) throw new InputError(`${flag} ${spec}: expected two different variants`);
    return splits[0];
  }
  if (!spec.includes(':')) throw new InputError(`${flag} ${spec}: expected A:B, two variant names`);
  throw new InputError(`${flag} ${spec}: expected A:B with A and B among the variants (${names.join(', ')})`);
}

// ---------------------------------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------------------------------

const METRIC_LABEL: Record<MetricName, string> = {
  accuracy: 'accuracy',
  ece: 'ECE',
  mce: 'MCE',
  ece_adaptive: 'adaptive ECE',
  classwise_ece: 'classwise ECE',
  brier: 'Brier',
  nll: 'NLL',
};

const INTERVAL_LABEL = {
  percentile: 'percentile bootstrap',
  bca: 'BCa bootstrap (Efron 1987)',
  basic: 'basic bootstrap',
} as const;

const num = (x: number | undefined, digits = 4) => (x === undefined || !Number.isFinite(x) ? 'n/a' : x.toFixed(digits));
const signed = (x: number, digits = 4) => (Number.isFinite(x) ? (x >= 0 ? '+' : '') + x.toFixed(digits) : 'n/a');
const interval = (ci: Interval | undefined, fmt: (x: number) => string = (x) => num(x)) =>
  ci ? `[${fmt(ci[0])}, ${fmt(ci[1])}]` : '';

function scalingLabel(s: AnalysisSettings): string {
  if (s.scaling === 'none') return 'no post-hoc scaling';
  const how = s.inSample
    ? 'fitted in-sample (scaler fitted and evaluated on the same items: optimistic)'
    : `${s.folds}-fold cross-fitted (each item calibrated by a scaler fitted without it)`;
  const odir = s.scaling === 'matrix' ? ` with ODIR lambda = ${s.lambda}, mu = ${s.mu}` : '';
  return `${s.scaling} scaling${odir}, ${how}`;
}

/** The mark of an interval that lies wholly above or below its own estimate; EXCLUDES_NOTE says why. */
const EXCLUDES_MARK = ' (!)';
const EXCLUDES_NOTE =
  '(!) the interval lies wholly above or below its own estimate: binned calibration errors are biased upward in ' +
  'bootstrap resamples (a resample repeats items, which makes bins noisier); --interval bca corrects for such bias, and smooth ECE uses no bins.';

function stageCell(stage: StageMetrics, metric: MetricName | 'smooth_ece'): string {
  const estimate = stage[metric];
  const value = num(estimate);
  const ci = interval(stage.ci?.[metric]);
  const extra = metric === 'mce' ? ` (bin of ${stage.mce_bin_count})` : '';
  const mark = estimate !== undefined && excludesEstimate(stage.ci?.[metric], estimate) ? EXCLUDES_MARK : '';
  return `${value} ${ci}${mark}${extra}`.trim();
}

function variantBlock(name: string, v: VariantReport, s: AnalysisSettings, source: string | undefined): string[] {
  const pct = Math.round(s.confidence * 100);
  const head = `${name}${v.simulated ? '  [SIMULATED: scores from the simulated engine, not from a model]' : ''}`;
  const sub = [`n = ${v.n}`, v.role ? `role ${v.role}` : '', source ? `from ${source}` : ''].filter(Boolean).join(', ');
  const scaledHead = v.scaled
    ? `after ${v.scaling.method} scaling (${v.scaling.in_sample ? 'in-sample' : `${v.scaling.folds}-fold cross-fitted`})`
    : '';
  const rows: string[][] = [['metric', `uncalibrated (${pct}% CI)`, scaledHead ? `${scaledHead} (${pct}% CI)` : '']];
  for (const m of METRICS)
    rows.push([METRIC_LABEL[m], stageCell(v.uncalibrated, m), v.scaled ? stageCell(v.scaled, m) : '']);
  if (v.uncalibrated.smooth_ece !== undefined) {
    rows.push([
      'smooth ECE',
      stageCell(v.uncalibrated, 'smooth_ece'),
      v.scaled ? stageCell(v.scaled, 'smooth_ece') : '',
    ]);
  }
  if (v.uncalibrated.letter_mass !== undefined) rows.push(['letter mass', num(v.uncalibrated.letter_mass), '']);
  const lines = [head, `  ${sub}`, ...table(rows, '  ')];
  if (v.scaled) {
    const red = v.ece_reduction_pct;
    const acc = v.accuracy_change_pts;
    lines.push(
      // The change, as the app's "ECE change" column shows it: negative when scaling lowered ECE.
      `  ECE change ${red === undefined || !Number.isFinite(red) ? 'n/a' : `${signed(-red, 1)}%`}; ` +
        `accuracy change ${acc === undefined || !Number.isFinite(acc) ? 'n/a' : `${signed(acc, 2)} points`}`,
    );
  }
  return lines;
}

/** The per-domain table (domainBreakdown): one row per variant, stage and domain. */
function domainLines(domains: readonly DomainRow[]): string[] {
  if (domains.length === 0) return [];
  const rows = [['variant', 'stage', 'domain', 'n', 'accuracy', 'ECE', 'MCE', 'confidence']];
  for (const d of domains) {
    rows.push([d.variant, d.stage, d.domain, String(d.n), num(d.accuracy), num(d.ece), num(d.mce), num(d.confidence)]);
  }
  return ['', 'Per domain (the same bins; no CIs):', ...table(rows, '  ')];
}

/** What scaling did to each variant (scalingEffects), with paired bootstrap CIs when resampled. */
function scalingEffectLines(effects: readonly ScalingEffect[], pct: number): string[] {
  if (effects.length === 0) return [];
  const rows = [
    ['variant', 'ECE change', `${pct}% CI`, 'ECE change %', `${pct}% CI`, 'accuracy change (points)', `${pct}% CI`],
  ];
  for (const e of effects) {
    rows.push([
      e.variant,
      signed(e.eceChange),
      interval(e.eceChangeCi, (x) => signed(x)),
      signed(e.eceChangePct, 1),
      interval(e.eceChangePctCi, (x) => signed(x, 1)),
      signed(e.accuracyChangePts, 2),
      interval(e.accuracyChangePtsCi, (x) => signed(x, 2)),
    ]);
  }
  return ['', 'Effect of scaling: after - before on the same resampled items (paired):', ...table(rows, '  ')];
}

/** The study's published figures against this report (checkPublishedClaims), as the results page shows them. */
function claimLines(claims: readonly ClaimCheck[], pct: number): string[] {
  if (claims.length === 0) return [];
  const rows = [['claim', 'published', 'yours', `${pct}% CI`, 'p', 'verdict']];
  for (const c of claims) {
    rows.push([c.claim, c.published, num(c.value), interval(c.ci), c.p === undefined ? '' : num(c.p), c.verdict]);
  }
  const lines = ['', "The study's published figures:", ...table(rows, '  ')];
  for (const c of claims) lines.push(`  ${c.id}: ${c.summary}${c.note ? ` (${c.note})` : ''}`);
  return lines;
}

function render(views: ReportWithViews, sources: Map<string, string | undefined>): string {
  const { report } = views;
  const s = report.settings;
  const pct = Math.round(s.confidence * 100);
  const lines: string[] = [];
  const simulated = Object.entries(report.variants)
    .filter(([, v]) => v.simulated)
    .map(([n]) => n);
  if (simulated.length > 0) {
    lines.push(`SIMULATED variants (numbers from the simulated engine, not from a model): ${simulated.join(', ')}`, '');
  }
  lines.push(`Scaling: ${scalingLabel(s)}.`);
  lines.push(
    `Bins: ${s.bins} equal-width (MCE over bins with >= ${s.mceMinCount} item${s.mceMinCount === 1 ? '' : 's'}). ` +
      (s.bootstrap > 0
        ? `CIs: ${pct}% ${INTERVAL_LABEL[s.interval]}, ${s.bootstrap} resamples (smooth ECE: the first ${Math.min(s.bootstrap, SMOOTH_ECE_MAX_RESAMPLES)}). `
        : 'CIs: none (--bootstrap 0). ') +
      (s.permutations > 0
        ? `Paired permutation tests: ${s.permutations} permutations. `
        : 'p-values: none (--permutations 0). ') +
      `Seed ${s.seed}.`,
  );
  if (s.scaling !== 'none') {
    lines.push('After scaling, CIs and tests resample the calibrated logits; the scaler is not refitted per resample.');
  }
  for (const [name, v] of Object.entries(report.variants))
    lines.push('', ...variantBlock(name, v, s, sources.get(name)));
  const marked = Object.values(report.variants).some((v) =>
    [v.uncalibrated, v.scaled].some(
      (st) =>
        st &&
        [...METRICS, 'smooth_ece' as const].some((m) => st[m] !== undefined && excludesEstimate(st.ci?.[m], st[m]!)),
    ),
  );
  if (marked) lines.push('', EXCLUDES_NOTE);
  const undefinedBca =
    s.interval === 'bca' &&
    Object.values(report.variants).some((v) =>
      [v.uncalibrated, v.scaled].some((st) => st?.ci && Object.values(st.ci).some((ci) => ci && Number.isNaN(ci[0]))),
    );
  if (undefinedBca)
    lines.push(
      'n/a intervals: BCa has none when (almost) every resample lies on one side of the estimate (the bias correction is infinite or beyond the resamples).',
    );
  for (const u of report.unanalysed ?? []) lines.push('', `not analysed: ${u.variant}: ${u.reason}`);
  for (const u of report.uncompared ?? []) lines.push(`not compared: ${u.a} - ${u.b}: ${u.reason}`);

  if (report.comparisons.length > 0) {
    lines.push(
      '',
      `Paired comparisons: a - b on the items both scored (${pct}% paired bootstrap CI; two-sided permutation p)`,
    );
    const rows = [['a - b', 'stage', 'metric', 'diff', `${pct}% CI`, 'p', 'n']];
    for (const c of report.comparisons) {
      rows.push([
        `${c.a} - ${c.b}`,
        c.stage,
        METRIC_LABEL[c.metric],
        signed(c.diff),
        interval(c.ci, (x) => signed(x)),
        c.p === undefined ? '' : num(c.p),
        String(c.n),
      ]);
    }
    lines.push(...table(rows, '  '));
    const notes = new Set<string>();
    for (const c of report.comparisons) {
      if (c.unmatched.onlyA > 0 || c.unmatched.onlyB > 0) {
        notes.add(
          `  note: ${c.a} vs ${c.b}: ${c.unmatched.onlyA} item(s) only in ${c.a}, ${c.unmatched.onlyB} only in ${c.b}; compared on the ${c.n} shared`,
        );
      }
    }
    lines.push(...notes);
  }
  lines.push(
    ...domainLines(views.domains),
    ...scalingEffectLines(views.scalingEffects, pct),
    ...claimLines(views.claims, pct),
  );
  return lines.join('\n') + '\n';
}

/** The run identities the probe pairing reads: a results-file run's keys, or the name for other inputs. */
function identityOf(v: VariantScores): RunIdentity {
  const key = v.promptKey ?? '';
  const suffix = `/${key}`;
  const variantName = key && v.name.endsWith(suffix) ? v.name.slice(0, -suffix.length) : v.name;
  return { name: v.name, variantKey: v.variantKey ?? v.name, variantName, promptKey: key };
}

/** The probe section: pairs found by prompt key, plus the --probe pairs (template and seed from the key or the options). */
function probesOf(
  variants: VariantScores[],
  prepared: PreparedVariant[],
  settings: AnalysisSettings,
  opts: CliOptions,
): ProbeReport {
  const identities = variants.map(identityOf);
  const auto = probeSection(identities, prepared, settings);
  if (!opts.probe?.length) return auto;
  const names = variants.map((v) => v.name);
  const byName = new Map(prepared.map((p) => [p.name, p]));
  const explicit = opts.probe.map((spec) => {
    const [probe, neutral] = parseCompare(spec, names, '--probe');
    const parsed = parseProbeKey(variants[names.indexOf(probe)].promptKey ?? '');
    return {
      variant: identityOf(variants[names.indexOf(neutral)]).variantName,
      template: parsed?.template ?? opts.probeTemplate,
      seed: parsed?.seed ?? opts.probeSeed,
      neutral: byName.get(neutral)!,
      probe: byName.get(probe)!,
    };
  });
  const taken = new Set(explicit.map((p) => p.probe.name));
  const extra = probeReport(explicit, settings);
  return {
    rows: [...auto.rows.filter((r) => !taken.has(r.probeRun)), ...extra.rows],
    comparisons: [...auto.comparisons, ...extra.comparisons],
    unpaired: [...auto.unpaired.filter((u) => !taken.has(u.run)), ...extra.unpaired],
  };
}

/** Writes FILE whole or not at all: a temporary file in the same directory, then a rename. */
function writeJsonAtomically(
  path: string,
  views: ReportWithViews,
  extra: { probes?: ProbeReport; quantisation?: QuantisationGroup[] } = {},
): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  const { report, domains, scalingEffects, claims } = views;
  try {
    writeFileSync(tmp, JSON.stringify({ ...report, ...extra, domains, scalingEffects, claims }, null, 2) + '\n');
    renameSync(tmp, path);
  } catch (err) {
    throw new InputError(
      `${path}: cannot write the JSON report (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
    );
  }
}

// ---------------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------------

async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  program.parse(argv);
  const opts = program.opts<CliOptions>();
  // Started first, so the threads boot while the inputs are read and the scalers fitted.
  const pool = startThreadPool(opts.threads);
  try {
    const variants = loadInputs(program.args, opts.variant ?? []);
    const names = variants.map((v) => v.name);
    const compare = (opts.compare ?? []).map((spec) => parseCompare(spec, names));
    // The options minus the CLI's own are exactly the analysis settings.
    const {
      threads: _threads,
      variant: _variant,
      compare: _compare,
      json: _json,
      probe: _probe,
      probeTemplate: _pt,
      probeSeed: _ps,
      ...settings
    } = opts;
    // Without --compare: every pair, except a probe run with a run of another prompt (as the app compares them).
    const pairs = compare.length > 0 ? compare : probeAwarePairs(variants);
    const {
      views,
      prepared,
      settings: resolved,
    } = await analyzeWithViewsOnThreads(pool, variants, settings, pairs ? { compare: pairs } : undefined);
    const probes = probesOf(variants, prepared, resolved, opts);
    const quantisation = quantisationSection(views.report, variants.map(identityOf));
    const text =
      render(views, new Map(variants.map((v) => [v.name, v.source]))) +
      [...probeText(probes, resolved), ...quantisationText(quantisation, resolved)].map((l) => l + '\n').join('');
    if (opts.json !== undefined) {
      const extra = {
        ...(probes.rows.length || probes.unpaired.length ? { probes } : {}),
        ...(quantisation.length ? { quantisation } : {}),
      };
      writeJsonAtomically(opts.json, views, extra);
    }
    process.stdout.write(text);
    return 0;
  } catch (err) {
    const e = err as Error;
    if (INPUT_ERRORS.has(e?.name) || err instanceof DataFileError) {
      process.stderr.write(`${e.message.replace(/\s*\n\s*/g, ' ')}\n`);
      return 1;
    }
    process.stderr.write(`internal error: ${e?.stack ?? String(err)}\n`);
    return 2;
  } finally {
    await pool.close();
  }
}

process.exitCode = await main(process.argv);
