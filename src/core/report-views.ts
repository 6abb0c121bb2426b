/**
 * The views of an analysis beside the study's table: the per-domain breakdown, the confidence histograms and
 * the paired effect of scaling, and the records the results page shows. Plain data in and out, so the results
 * page (through the analysis worker) and the CLI print the same numbers.
 */
import {
  assembleReport,
  jackknifeTable,
  resampleTable,
  type AnalysisJobResult,
  type AnalysisPlan,
  type PreparedVariant,
} from './analysis';
import { checkPublishedClaims, type ClaimCheck } from './claims';
import { bootstrapInterval } from './intervals';
import {
  accuracy,
  equalWidthBin,
  expectedCalibrationError,
  maximumCalibrationError,
  selectPredictions,
  topLabel,
  type Predictions,
} from './metrics';
import { metricColumn } from './stats';
import type { QuantisationGroup } from './probe-analysis';
import type { ProbeReport } from './sycophancy';
import {
  METRICS,
  type AnalysisReport,
  type AnalysisSettings,
  type Interval,
  type Stage,
  type VariantReport,
  type VariantRole,
} from './types';

/** One stored (variant, prompt) as the page lists it. */
export interface RunSummary {
  /** groupId: variant key and prompt key. */
  id: string;
  /** Its name in the analysis (runNames over the analysed runs; over all runs for unselected ones). */
  name: string;
  variantKey: string;
  variantName: string;
  promptKey: string;
  role: VariantRole;
  simulated: boolean;
  items: number;
  /** Status of the latest run record (`imported` runs are `done`). */
  status: string;
  engineKind: string;
  /** Why this run is not in the analysis (it was selected but could not be analysed); the others still are. */
  problem?: string;
}

/** Calibration of one variant on one domain (or subject, when items carry no domain), at one stage. */
export interface DomainRow {
  variant: string;
  domain: string;
  stage: Stage;
  n: number;
  accuracy: number;
  ece: number;
  mce: number;
  /** Mean top-label confidence. */
  confidence: number;
}

/** Top-label confidences of one variant at one stage, in the report's equal-width bins, split by correctness. */
export interface ConfidenceHistogram {
  variant: string;
  stage: Stage;
  bins: { lo: number; hi: number; correct: number; wrong: number }[];
}

/**
 * What scaling did to one variant, as paired differences after - before on the same resampled items (both
 * stages' bootstrap resamples use the same seed and item order, so they are paired).
 */
export interface ScalingEffect {
  variant: string;
  /** ECE after - ECE before (negative: scaling reduced ECE). */
  eceChange: number;
  eceChangeCi?: Interval;
  /** 100 (ECE after - ECE before) / ECE before: the ECE change in % (the study's "cuts ECE by 40-64%"). */
  eceChangePct: number;
  /** Its CI in %: the relative change computed on each resample (the same resampled items for both stages). */
  eceChangePctCi?: Interval;
  /** Accuracy after - before, in points. */
  accuracyChangePts: number;
  accuracyChangePtsCi?: Interval;
}

export interface AnalysisRequest {
  requestId: number;
  settings: Partial<AnalysisSettings>;
  /** groupIds to analyse; absent means every stored run. */
  selection?: string[];
}

export interface AnalysisView {
  requestId: number;
  /** True for the points-first view: no CIs and no p-values yet. */
  partial: boolean;
  /** Every stored run, analysed or not. */
  runs: RunSummary[];
  /** groupIds analysed, in analysis order (selected runs that could be analysed). */
  analysed: string[];
  /** Selected runs that could not be analysed, with the reason (also on their RunSummary as `problem`). */
  unanalysable: { id: string; name: string; reason: string }[];
  /** Absent when nothing is stored or selected. */
  report?: AnalysisReport;
  domains: DomainRow[];
  histograms: ConfidenceHistogram[];
  scalingEffects: ScalingEffect[];
  /** Sycophancy probe runs against their variants' neutral runs (absent in analyses kept by an older kit). */
  probes?: ProbeReport;
  /** Quantisation builds against the least-quantised build. */
  quantisation?: QuantisationGroup[];
  /** Resampling jobs finished and planned. */
  jobsDone: number;
  jobsTotal: number;
  /** `cache`: a finished analysis of exactly these runs and settings, read back from storage; else computed now. */
  source: 'computed' | 'cache';
}

function stages(p: PreparedVariant): [Stage, Predictions][] {
  return p.scaled
    ? [
        ['uncalibrated', p.uncalibrated],
        ['scaled', p.scaled],
      ]
    : [['uncalibrated', p.uncalibrated]];
}

/** Per-domain accuracy, ECE, MCE and mean confidence (metrics.ts definitions, the report's bins). */
export function domainBreakdown(plan: AnalysisPlan): DomainRow[] {
  const out: DomainRow[] = [];
  for (const p of plan.prepared) {
    const rows = p.groupNames.map(() => [] as number[]);
    p.groups.forEach((g, i) => rows[g].push(i));
    for (const [stage, pred] of stages(p)) {
      p.groupNames.forEach((domain, g) => {
        const sub = selectPredictions(pred, rows[g]);
        const { confidence } = topLabel(sub);
        out.push({
          variant: p.name,
          domain: domain === '' ? '(none)' : domain,
          stage,
          n: sub.n,
          accuracy: accuracy(sub),
          ece: expectedCalibrationError(sub, plan.settings.bins),
          mce: maximumCalibrationError(sub, plan.settings.bins, plan.settings.mceMinCount).value,
          confidence: confidence.reduce((s, c) => s + c, 0) / sub.n,
        });
      });
    }
  }
  return out;
}

/** Confidence histograms in the report's bins: (lo, hi], the first also holds 0, as metrics.ts bins them. */
export function confidenceHistograms(plan: AnalysisPlan): ConfidenceHistogram[] {
  const B = plan.settings.bins;
  const out: ConfidenceHistogram[] = [];
  for (const p of plan.prepared) {
    for (const [stage, pred] of stages(p)) {
      const bins = Array.from({ length: B }, (_, b) => ({ lo: b / B, hi: (b + 1) / B, correct: 0, wrong: 0 }));
      const { confidence, correct } = topLabel(pred);
      for (let i = 0; i < pred.n; i++) {
        const b = equalWidthBin(confidence[i], B);
        if (correct[i]) bins[b].correct++;
        else bins[b].wrong++;
      }
      out.push({ variant: p.name, stage, bins });
    }
  }
  return out;
}

const ECE = METRICS.indexOf('ece');
const ACC = METRICS.indexOf('accuracy');

/**
 * ECE and accuracy change from scaling, with paired bootstrap CIs when the resample tables are there; a variant's
 * row in `ready` (scalingEffect, computed earlier on the same tables) is taken as it is.
 */
export function scalingEffects(
  report: AnalysisReport,
  results: readonly AnalysisJobResult[],
  ready?: ReadonlyMap<string, ScalingEffect>,
): ScalingEffect[] {
  const out: ScalingEffect[] = [];
  for (const [name, v] of Object.entries(report.variants)) {
    const effect = ready?.get(name) ?? scalingEffect(name, v, report.settings, results);
    if (effect) out.push(effect);
  }
  return out;
}

/**
 * One variant's scalingEffects row (undefined without a scaled stage): from its report and its own resample
 * tables alone, so that it can be computed as soon as its jobs are done (ReportViewsSoFar).
 */
export function scalingEffect(
  name: string,
  v: VariantReport,
  settings: AnalysisSettings,
  results: readonly AnalysisJobResult[],
): ScalingEffect | undefined {
  if (!v.scaled) return undefined;
  const effect: ScalingEffect = {
    variant: name,
    eceChange: v.scaled.ece - v.uncalibrated.ece,
    eceChangePct: (100 * (v.scaled.ece - v.uncalibrated.ece)) / v.uncalibrated.ece,
    accuracyChangePts: 100 * (v.scaled.accuracy - v.uncalibrated.accuracy),
  };
  const before = resampleTable(results, name, 'uncalibrated');
  const after = resampleTable(results, name, 'scaled');
  if (before && after) {
    const { confidence: level, interval: method = 'percentile' } = settings;
    const jb = jackknifeTable(results, name, 'uncalibrated');
    const ja = jackknifeTable(results, name, 'scaled');
    const relative = (table: Float64Array, base: Float64Array) => {
      const beforeEce = metricColumn(base, ECE);
      return metricColumn(table, ECE, base).map((d, r) => (100 * d) / beforeEce[r]);
    };
    const ci = (values: Float64Array, estimate: number, jack?: Float64Array) =>
      bootstrapInterval(method, values, estimate, level, jack);
    effect.eceChangeCi = ci(
      metricColumn(after, ECE, before),
      effect.eceChange,
      ja && jb ? metricColumn(ja, ECE, jb) : undefined,
    );
    effect.eceChangePctCi = ci(relative(after, before), effect.eceChangePct, ja && jb ? relative(ja, jb) : undefined);
    const [lo, hi] = ci(
      metricColumn(after, ACC, before),
      effect.accuracyChangePts / 100,
      ja && jb ? metricColumn(ja, ACC, jb) : undefined,
    );
    effect.accuracyChangePtsCi = [100 * lo, 100 * hi];
  }
  return effect;
}

/** The finished report with every view the results page shows beside it. */
export interface ReportWithViews {
  report: AnalysisReport;
  domains: DomainRow[];
  histograms: ConfidenceHistogram[];
  scalingEffects: ScalingEffect[];
  /** The study's published figures checked against this report (checkPublishedClaims). */
  claims: ClaimCheck[];
}

/**
 * The report of a plan and its finished jobs, with its views: what the analysis service hands the results page
 * and what the CLI prints and writes, so the two cannot differ.
 */
export function reportWithViews(
  plan: AnalysisPlan,
  results: AnalysisJobResult[],
  ready?: ReadonlyMap<string, VariantReport>,
  soFar: ReportViewsSoFar = {},
): ReportWithViews {
  const report = assembleReport(plan, results, ready);
  const effects = scalingEffects(report, results, soFar.effects);
  return {
    report,
    domains: soFar.domains ?? domainBreakdown(plan),
    histograms: soFar.histograms ?? confidenceHistograms(plan),
    scalingEffects: effects,
    claims: checkPublishedClaims(report, effects),
  };
}

/**
 * Views already computed while the jobs ran, for reportWithViews to take as they are: the plan's domain rows and
 * histograms (domainBreakdown, confidenceHistograms: the plan alone), and the scaling effects of variants whose
 * own jobs are done (scalingEffect, on the same tables as `ready`'s variant reports).
 */
export interface ReportViewsSoFar {
  domains?: DomainRow[];
  histograms?: ConfidenceHistogram[];
  effects?: ReadonlyMap<string, ScalingEffect>;
}
