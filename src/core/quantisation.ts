/**
 * The quantisation study: one model in several quantised builds (role `quantisation`), each compared with the
 * least-quantised build on the items both scored. The comparisons themselves are the report's paired comparisons
 * (stats.ts: paired bootstrap CI of the difference, paired permutation p); this module only names the builds,
 * orders them by precision and reads the comparisons off as (build - reference).
 */
import type { AnalysisReport, Comparison, Interval, MetricName } from './types';

/**
 * The MLC quantisation code in a model id or name: `q<weight bits>f<float bits>[_<variant>]`, e.g. `q4f16_1`
 * (4-bit weights, float16 activations), `q0f32` (unquantised float32 weights). Undefined when there is none.
 */
export function quantisationOf(name: string): string | undefined {
  return /(?:^|[-_ /(])(q\d+f(?:16|32)(?:_\d+)?)(?=$|[-_. /)])/.exec(name)?.[1];
}

/**
 * How precise a build is: weight bits (q0 means unquantised, i.e. the float width), then float bits. Higher is
 * less quantised: q0f32 (32, 32) > q0f16 (16, 16) > q4f32_1 (4, 32) > q4f16_1 (4, 16).
 */
export function quantisationPrecision(q: string): [number, number] {
  const m = /^q(\d+)f(16|32)/.exec(q);
  if (!m) return [0, 0];
  const floatBits = Number(m[2]);
  const weightBits = Number(m[1]) === 0 ? floatBits : Number(m[1]);
  return [weightBits, floatBits];
}

/** Orders builds from the least quantised to the most (ties by code). */
export function compareQuantisation(a: string, b: string): number {
  const [wa, fa] = quantisationPrecision(a);
  const [wb, fb] = quantisationPrecision(b);
  return wb - wa || fb - fa || (a < b ? -1 : a > b ? 1 : 0);
}

/** One build against the reference build: metric(build) - metric(reference), paired on shared items. */
export interface QuantisationRow extends Pick<Comparison, 'metric' | 'stage' | 'diff' | 'ci' | 'p' | 'n'> {
  run: string;
  quantisation: string;
  reference: string;
  referenceQuantisation: string;
}

/** The metrics the quantisation table shows. */
export const QUANTISATION_METRICS: readonly MetricName[] = ['accuracy', 'ece', 'mce', 'nll'];

/**
 * For each group of runs (e.g. one prompt), the runs of role `quantisation` whose names carry a quantisation
 * code, the least quantised as reference, and each other build's comparison with it read off the report (a
 * comparison b - a is turned round: the difference and its CI negated, p unchanged). Pairs the report did not
 * compare are left out.
 */
export function quantisationComparison(
  report: AnalysisReport,
  runs: readonly { name: string; group?: string }[],
): { reference: string; rows: QuantisationRow[] }[] {
  const byGroup = new Map<string, { name: string; q: string }[]>();
  for (const r of runs) {
    const v = report.variants[r.name];
    const q = quantisationOf(r.name);
    if (!v || v.role !== 'quantisation' || !q) continue;
    const list = byGroup.get(r.group ?? '') ?? [];
    list.push({ name: r.name, q });
    byGroup.set(r.group ?? '', list);
  }
  const out: { reference: string; rows: QuantisationRow[] }[] = [];
  for (const list of byGroup.values()) {
    if (list.length < 2) continue;
    const sorted = [...list].sort((x, y) => compareQuantisation(x.q, y.q));
    const ref = sorted[0];
    const rows: QuantisationRow[] = [];
    for (const build of sorted.slice(1)) {
      for (const c of report.comparisons) {
        if (!QUANTISATION_METRICS.includes(c.metric)) continue;
        const oriented = orient(c, build.name, ref.name);
        if (!oriented) continue;
        rows.push({
          run: build.name,
          quantisation: build.q,
          reference: ref.name,
          referenceQuantisation: ref.q,
          metric: c.metric,
          stage: c.stage,
          ...oriented,
          n: c.n,
        });
      }
    }
    out.push({ reference: ref.name, rows });
  }
  return out;
}

function orient(c: Comparison, a: string, b: string): Pick<QuantisationRow, 'diff' | 'ci' | 'p'> | undefined {
  const p = c.p === undefined ? {} : { p: c.p };
  if (c.a === a && c.b === b) return { diff: c.diff, ...(c.ci ? { ci: c.ci } : {}), ...p };
  if (c.a === b && c.b === a) return { diff: -c.diff, ...(c.ci ? { ci: [-c.ci[1], -c.ci[0]] as Interval } : {}), ...p };
  return undefined;
}
