/**
 * The analyze CLI's text for the sycophancy probe and the quantisation study (the numbers come from
 * src/core/probe-analysis.ts, as in the app), and the column layout every table of the CLI uses.
 */
import type { ProbeEstimate, ProbeReport } from '../../src/core/sycophancy';
import type { AnalysisSettings } from '../../src/core/types';
import type { QuantisationGroup } from '../../src/core/probe-analysis';

/** Left-aligned columns separated by two spaces; trailing blanks trimmed. */
export function table(rows: string[][], indent = ''): string[] {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows.map(
    (r) =>
      indent +
      r
        .map((cell, c) => (cell ?? '').padEnd(widths[c]))
        .join('  ')
        .trimEnd(),
  );
}

const num = (x: number | undefined, digits = 3) => (x === undefined || !Number.isFinite(x) ? 'n/a' : x.toFixed(digits));
const signed = (x: number | undefined, digits = 3) =>
  x === undefined || !Number.isFinite(x) ? 'n/a' : (x > 0 ? '+' : '') + x.toFixed(digits);
const withCi = (e: ProbeEstimate, f: (x: number | undefined) => string = num) =>
  e.ci ? `${f(e.value)} [${f(e.ci[0])}, ${f(e.ci[1])}]` : f(e.value);
const pct = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? 'n/a' : `${x.toFixed(1)}%`);

/** The probe table, the repair table and the between-variant tests, as the CLI prints them. */
export function probeText(probes: ProbeReport, settings: AnalysisSettings): string[] {
  if (probes.rows.length === 0 && probes.unpaired.length === 0) return [];
  const level = Math.round(settings.confidence * 100);
  const lines = [
    '',
    `Sycophancy probe: each probe run against the same variant's neutral run, paired by item (${level}% paired bootstrap CI)`,
  ];
  const rows = [
    [
      'variant',
      'template',
      'n',
      'accuracy neutral -> suggested',
      'change',
      'flip rate',
      'flips to planted',
      'p moved to planted',
      'ECE suggested',
      'ECE change',
      'MCE suggested',
    ],
  ];
  for (const r of probes.rows) {
    rows.push([
      `${r.variant}${r.simulated && !/simulated/i.test(r.variant) ? ' [SIMULATED]' : ''}`,
      `${r.template} (seed ${r.seed})`,
      String(r.n),
      `${num(r.accuracyNeutral)} -> ${withCi(r.accuracyProbe)}`,
      withCi(r.accuracyChange, signed),
      `${withCi(r.flipRate)} (${r.flips}/${r.correctNeutral})`,
      withCi(r.plantedShare),
      withCi(r.plantedShift, signed),
      withCi(r.eceProbe),
      withCi(r.eceChange, signed),
      withCi(r.mceProbe),
    ]);
  }
  lines.push(...table(rows, '  '));
  if (probes.rows.some((r) => r.simulated))
    lines.push('  SIMULATED: rows marked so (or named so) come from the simulated engine, not from a model.');
  const repairs = probes.rows.filter((r) => r.repair);
  if (repairs.length > 0) {
    lines.push(
      '',
      "Calibration repair under pressure: the neutral run's scaler applied to the probe run (ECE before -> after)",
    );
    const t = [['variant', 'template', 'neutral', 'reduction', 'suggested', 'reduction', 'survives']];
    for (const r of repairs) {
      const x = r.repair!;
      t.push([
        r.variant,
        r.template,
        `${num(x.eceNeutral)} -> ${num(x.eceNeutralScaled)}`,
        pct(x.reductionNeutralPct),
        `${num(x.eceProbe)} -> ${num(x.eceProbeScaled)}`,
        pct(x.reductionProbePct),
        `${pct(x.survivalPct)}${x.survivalPctCi ? ` [${pct(x.survivalPctCi[0])}, ${pct(x.survivalPctCi[1])}]` : ''}`,
      ]);
    }
    lines.push(...table(t, '  '));
  }
  if (probes.comparisons.length > 0) {
    lines.push(
      '',
      'Probe metrics between variants: a - b on the items both scored both ways (two-sided paired permutation p)',
    );
    const t = [['a - b', 'template', 'metric', 'diff', 'p', 'n']];
    for (const c of probes.comparisons)
      t.push([
        `${c.a} - ${c.b}`,
        c.template,
        c.metric,
        signed(c.diff, 4),
        c.p === undefined ? '' : num(c.p, 4),
        String(c.n),
      ]);
    lines.push(...table(t, '  '));
  }
  for (const u of probes.unpaired) lines.push(`  probe not paired: ${u.run}: ${u.reason}`);
  return lines;
}

/** Each quantisation build against the least-quantised build, as the CLI prints it. */
export function quantisationText(groups: readonly QuantisationGroup[], settings: AnalysisSettings): string[] {
  const lines: string[] = [];
  const level = Math.round(settings.confidence * 100);
  for (const g of groups) {
    lines.push(
      '',
      `Quantisation: each build - the least-quantised build ${g.reference} (${level}% paired bootstrap CI; permutation p)`,
    );
    const t = [['build', 'stage', 'metric', 'diff', `${level}% CI`, 'p', 'n']];
    for (const r of g.rows) {
      t.push([
        `${r.run} (${r.quantisation})`,
        r.stage,
        r.metric,
        signed(r.diff, 4),
        r.ci ? `[${signed(r.ci[0], 4)}, ${signed(r.ci[1], 4)}]` : '',
        r.p === undefined ? '' : num(r.p, 4),
        String(r.n),
      ]);
    }
    lines.push(...table(t, '  '));
  }
  return lines;
}
