/**
 * The probe and quantisation sections of an analysis, from the analysed runs: probe runs paired with their
 * variant's neutral run (core/sycophancy.ts), and quantisation builds against the least-quantised one
 * (core/quantisation.ts). Shared by the analysis worker and the analyze CLI, so both report the same numbers.
 */
import type { PreparedVariant } from './analysis';
import { quantisationComparison, type QuantisationRow } from './quantisation';
import { findProbePairs, probeReport, type ProbeReport, type ProbeRunPair } from './sycophancy';
import type { AnalysisReport, AnalysisSettings } from './types';

/** What the probe pairing needs to know of one analysed run. */
export interface RunIdentity {
  /** The run's name in the analysis. */
  name: string;
  variantKey: string;
  variantName: string;
  promptKey: string;
}

/** One quantisation study: the reference build and every other build against it. */
export interface QuantisationGroup {
  /** The prompt key the builds were scored with. */
  promptKey: string;
  reference: string;
  rows: QuantisationRow[];
}

/**
 * The probe report of the runs that pair up. `prepared` are the analysis's prepared variants (named as the runs);
 * a run that was not analysed is left out of the pairing. With `pointsOnly`, no resampling (CIs and p-values later).
 */
export function probeSection(
  runs: readonly RunIdentity[],
  prepared: readonly PreparedVariant[],
  settings: AnalysisSettings,
  pointsOnly = false,
): ProbeReport {
  const byName = new Map(prepared.map((p) => [p.name, p]));
  const { pairs, unpaired } = findProbePairs(runs.filter((r) => byName.has(r.name)));
  const pairings: ProbeRunPair[] = pairs.map((p) => ({
    variant: p.variant,
    template: p.template,
    seed: p.seed,
    neutral: byName.get(p.neutral.name)!,
    probe: byName.get(p.probe.name)!,
  }));
  const used = pointsOnly ? { ...settings, bootstrap: 0, permutations: 0 } : settings;
  return probeReport(pairings, used, unpaired);
}

/** The quantisation studies among the runs: builds of role `quantisation`, grouped by prompt key. */
export function quantisationSection(report: AnalysisReport, runs: readonly RunIdentity[]): QuantisationGroup[] {
  const keyOf = new Map(runs.map((r) => [r.name, r.promptKey]));
  return quantisationComparison(
    report,
    runs.map((r) => ({ name: r.name, group: r.promptKey })),
  ).map((g) => ({
    promptKey: keyOf.get(g.reference) ?? '',
    ...g,
  }));
}
