/**
 * The results page's charts, built with Observable Plot. The Plot module is passed in (the components import it
 * dynamically, so it stays out of the first-load bundle). Each builder returns the SVG parts of one chart.
 */
import type * as PlotModule from '@observablehq/plot';
import type { ReliabilityBin, Stage } from '../../core/types';
import type { ConfidenceHistogram, DomainRow } from '../../core/report-views';
import { STAGE_LABELS, compareVariants, type NamedVariant } from './format';

export type Plot = typeof PlotModule;

/** Colour-blind-friendly categorical palette (Okabe & Ito 2008). */
export const PALETTE = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#F0E442', '#000000'];
const GAP = '#D55E00';

/** Each role's colour: the study's three roles keep theirs whatever else is shown. */
export const ROLE_COLORS: Readonly<Record<'base' | 'sft' | 'grpo', string>> = {
  base: '#0072B2',
  sft: '#009E73',
  grpo: '#D55E00',
};
const SPARE_COLORS = PALETTE.filter((c) => !Object.values(ROLE_COLORS).includes(c));

/**
 * One colour per variant, by role, then name: the first variant (compareVariants order) of base, SFT and GRPO
 * gets its role's colour; every other variant the spare colours in that order. So adding or removing a run never
 * recolours the study's base, SFT and GRPO variants.
 */
export function variantColors(variants: readonly NamedVariant[]): Map<string, string> {
  const colors = new Map<string, string>();
  const taken = new Set<string>();
  let spare = 0;
  for (const v of [...variants].sort(compareVariants)) {
    const own = v.role && v.role in ROLE_COLORS ? ROLE_COLORS[v.role as keyof typeof ROLE_COLORS] : undefined;
    if (own && !taken.has(own)) {
      colors.set(v.name, own);
      taken.add(own);
    } else {
      colors.set(v.name, SPARE_COLORS[spare++ % SPARE_COLORS.length]);
    }
  }
  return colors;
}

/** The SVG of what Plot returned (a bare SVG, or a figure around one). By tag name: in the chart worker the
 * document is linkedom's, which has no SVGSVGElement class. */
function asSvg(node: Element): SVGSVGElement {
  if (node.tagName.toLowerCase() === 'svg') return node as SVGSVGElement;
  const svg = node.querySelector('svg');
  if (!svg) throw new Error('Plot returned no SVG');
  return svg;
}

/**
 * A reliability diagram: bin accuracy against bin confidence (bars from 0 to the accuracy, dots at (mean
 * confidence, accuracy)), the diagonal of perfect calibration, the gap between accuracy and confidence shaded,
 * and the bin counts as a histogram beneath. Empty bins are left out.
 */
export function reliabilityDiagram(
  Plot: Plot,
  bins: readonly ReliabilityBin[],
  color: string,
  width = 360,
): SVGSVGElement[] {
  const filled = bins.filter((b) => b.count > 0);
  const top = Plot.plot({
    width,
    height: 250,
    marginLeft: 44,
    x: { domain: [0, 1], label: 'Confidence' },
    y: { domain: [0, 1], label: 'Accuracy', grid: true },
    marks: [
      Plot.rect(filled, { x1: 'lo', x2: 'hi', y1: 0, y2: 'accuracy', fill: color, fillOpacity: 0.45, inset: 0.5 }),
      Plot.rect(filled, {
        x1: 'lo',
        x2: 'hi',
        y1: 'accuracy',
        y2: 'confidence',
        fill: GAP,
        fillOpacity: 0.25,
        stroke: GAP,
        strokeOpacity: 0.7,
        inset: 0.5,
      }),
      Plot.line(
        [
          [0, 0],
          [1, 1],
        ],
        { stroke: 'currentColor', strokeDasharray: '4,3', strokeOpacity: 0.7 },
      ),
      Plot.dot(filled, {
        x: 'confidence',
        y: 'accuracy',
        fill: color,
        r: 3,
        title: (b: ReliabilityBin) =>
          `(${b.lo.toFixed(2)}, ${b.hi.toFixed(2)}]: ${b.count} items, confidence ${b.confidence.toFixed(3)}, accuracy ${b.accuracy.toFixed(3)}`,
      }),
    ],
  });
  const counts = Plot.plot({
    width,
    height: 100,
    marginLeft: 44,
    x: { domain: [0, 1], label: 'Confidence' },
    y: { label: 'Items', grid: true },
    marks: [
      Plot.rectY(bins, { x1: 'lo', x2: 'hi', y: 'count', fill: 'currentColor', fillOpacity: 0.35, inset: 0.5 }),
      Plot.ruleY([0]),
    ],
  });
  return [asSvg(top), asSvg(counts)];
}

/** Every variant's reliability curve at one stage in one diagram, with the diagonal. */
export function reliabilityOverlay(
  Plot: Plot,
  curves: readonly { variant: string; bins: readonly ReliabilityBin[] }[],
  names: readonly string[],
  colors: readonly string[],
  width = 560,
): SVGSVGElement[] {
  const points = curves.flatMap((c) => c.bins.filter((b) => b.count > 0).map((b) => ({ ...b, variant: c.variant })));
  const chart = Plot.plot({
    width,
    height: 320,
    marginLeft: 44,
    x: { domain: [0, 1], label: 'Confidence' },
    y: { domain: [0, 1], label: 'Accuracy', grid: true },
    color: { domain: [...names], range: [...colors] },
    marks: [
      Plot.line(
        [
          [0, 0],
          [1, 1],
        ],
        { stroke: 'currentColor', strokeDasharray: '4,3', strokeOpacity: 0.7 },
      ),
      Plot.line(points, { x: 'confidence', y: 'accuracy', stroke: 'variant', strokeWidth: 1.8 }),
      Plot.dot(points, {
        x: 'confidence',
        y: 'accuracy',
        fill: 'variant',
        r: 3,
        title: (p: (typeof points)[number]) => `${p.variant}: ${p.count} items`,
      }),
    ],
  });
  return [asSvg(chart)];
}

/** ECE per domain and variant, before and after scaling side by side. */
export function domainChart(
  Plot: Plot,
  rows: readonly DomainRow[],
  names: readonly string[],
  colors: readonly string[],
  width = 720,
): SVGSVGElement[] {
  const data = rows.map((r) => ({ ...r, stageLabel: STAGE_LABELS[r.stage] }));
  const domains = [...new Set(rows.map((r) => r.domain))];
  const chart = Plot.plot({
    width,
    height: 70 + 28 * domains.length,
    // Room for the longest domain name (about 7 px a character at the axis font), within reason.
    marginLeft: Math.min(220, Math.max(90, 12 + 7 * Math.max(0, ...domains.map((d) => d.length)))),
    marginRight: 24,
    // Few ticks and a gap between the facets, so the last tick of one facet never meets the first of the next.
    x: { label: 'ECE', grid: true, nice: true, ticks: 4 },
    y: { label: null },
    fx: {
      label: null,
      padding: 0.15,
      domain: Object.values(STAGE_LABELS).filter((s) => data.some((d) => d.stageLabel === s)),
    },
    color: { domain: [...names], range: [...colors] },
    marks: [
      Plot.ruleX([0]),
      Plot.dot(data, {
        x: 'ece',
        y: 'domain',
        fx: 'stageLabel',
        fill: 'variant',
        r: 4,
        title: (d: (typeof data)[number]) =>
          `${d.variant}, ${d.domain}, ${d.stageLabel}: ECE ${d.ece.toFixed(3)}, accuracy ${d.accuracy.toFixed(3)}, n ${d.n}`,
      }),
    ],
  });
  return [asSvg(chart)];
}

/** Top-label confidence histograms at one stage, one row per variant, stacked correct / wrong. */
export function confidenceHistogramChart(
  Plot: Plot,
  histograms: readonly ConfidenceHistogram[],
  stage: Stage,
  width = 720,
): SVGSVGElement[] {
  const data = histograms
    .filter((h) => h.stage === stage)
    .flatMap((h) =>
      h.bins.flatMap((b) => [
        { variant: h.variant, lo: b.lo, hi: b.hi, outcome: 'correct', count: b.correct },
        { variant: h.variant, lo: b.lo, hi: b.hi, outcome: 'wrong', count: b.wrong },
      ]),
    );
  const variants = new Set(data.map((d) => d.variant)).size;
  const chart = Plot.plot({
    width,
    height: 40 + 110 * variants,
    marginLeft: 44,
    marginRight: 160, // room for the variant names labelling the rows
    x: { domain: [0, 1], label: 'Confidence' },
    y: { label: 'Items', grid: true },
    fy: { label: null },
    color: { domain: ['correct', 'wrong'], range: ['#009E73', '#D55E00'] },
    marks: [
      Plot.rectY(data, { x1: 'lo', x2: 'hi', y: 'count', fill: 'outcome', fy: 'variant', inset: 0.5 }),
      Plot.ruleY([0]),
    ],
  });
  return [asSvg(chart)];
}

/** One bar of the probe chart: a variant's mean probability moved onto the planted letter under one template. */
export interface ProbeShiftBar {
  variant: string;
  template: string;
  shift: number;
  ci?: readonly [number, number];
}

/**
 * Mean probability moved onto the planted letter per variant (bars, with the paired-bootstrap CI as a rule), one
 * facet per probe template; 0 is no sycophancy.
 */
export function probeShiftChart(
  Plot: Plot,
  bars: readonly ProbeShiftBar[],
  names: readonly string[],
  colors: readonly string[],
  width = 640,
): SVGSVGElement[] {
  const data = bars.map((b) => ({ ...b, lo: b.ci?.[0] ?? b.shift, hi: b.ci?.[1] ?? b.shift }));
  const variants = [...new Set(bars.map((b) => b.variant))];
  const chart = Plot.plot({
    width,
    height: 60 + 34 * Math.max(1, variants.length) * new Set(bars.map((b) => b.template)).size,
    marginLeft: Math.min(220, Math.max(90, 12 + 7 * Math.max(0, ...variants.map((v) => v.length)))),
    marginRight: 60,
    x: { label: 'Probability moved onto the planted letter', grid: true, nice: true },
    y: { label: null, domain: variants },
    fy: { label: null },
    color: { domain: [...names], range: [...colors] },
    marks: [
      Plot.ruleX([0]),
      Plot.barX(data, { x: 'shift', y: 'variant', fy: 'template', fill: 'variant', fillOpacity: 0.7 }),
      Plot.ruleY(data, { x1: 'lo', x2: 'hi', y: 'variant', fy: 'template', stroke: 'currentColor', strokeWidth: 1.5 }),
      Plot.dot(data, {
        x: 'shift',
        y: 'variant',
        fy: 'template',
        fill: 'currentColor',
        r: 2.5,
        title: (d: (typeof data)[number]) =>
          `${d.variant}, ${d.template}: ${d.shift.toFixed(3)}${d.ci ? ` [${d.lo.toFixed(3)}, ${d.hi.toFixed(3)}]` : ''}`,
      }),
    ],
  });
  return [asSvg(chart)];
}

/** What one chart shows, as plain data: it crosses to the chart worker, which draws it with drawChart. */
export type ChartSpec =
  | { kind: 'reliability'; bins: readonly ReliabilityBin[]; color: string }
  | {
      kind: 'overlay';
      curves: readonly { variant: string; bins: readonly ReliabilityBin[] }[];
      names: readonly string[];
      /** Each name's colour (variantColors), computed where the roles are known. */
      colors: readonly string[];
    }
  | { kind: 'domain'; rows: readonly DomainRow[]; names: readonly string[]; colors: readonly string[] }
  | { kind: 'histogram'; histograms: readonly ConfidenceHistogram[]; stage: Stage }
  | { kind: 'probe-shift'; bars: readonly ProbeShiftBar[]; names: readonly string[]; colors: readonly string[] };

/** Draws one chart from its spec. */
export function drawChart(Plot: Plot, spec: ChartSpec): SVGSVGElement[] {
  switch (spec.kind) {
    case 'reliability':
      return reliabilityDiagram(Plot, spec.bins, spec.color);
    case 'overlay':
      return reliabilityOverlay(Plot, spec.curves, spec.names, spec.colors);
    case 'domain':
      return domainChart(Plot, spec.rows, spec.names, spec.colors);
    case 'histogram':
      return confidenceHistogramChart(Plot, spec.histograms, spec.stage);
    case 'probe-shift':
      return probeShiftChart(Plot, spec.bars, spec.names, spec.colors);
  }
}
