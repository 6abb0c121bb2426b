import * as Plot from '@observablehq/plot';
import { parseHTML } from 'linkedom';
import { describe, expect, it } from 'vitest';
import { renderChartMarkup } from '../../src/components/results/chart-render';
import type { ChartSpec } from '../../src/components/results/charts';
import type { ReliabilityBin } from '../../src/core/types';

// The chart worker's logic in Node: Plot drawing on a linkedom document, as workers/charts.worker.ts runs it.
const { document } = parseHTML('<!doctype html><html><head></head><body></body></html>');
const render = (spec: ChartSpec) => renderChartMarkup(Plot, spec, document as unknown as Document);

const bins: ReliabilityBin[] = [
  { lo: 0, hi: 0.5, count: 0, confidence: NaN, accuracy: NaN },
  { lo: 0.5, hi: 0.75, count: 3, confidence: 0.6, accuracy: 1 / 3 },
  { lo: 0.75, hi: 1, count: 5, confidence: 0.9, accuracy: 0.8 },
];

/** The markup parsed back, as the page does (HTML parsing puts <svg> in the SVG namespace). */
function parsed(markup: string): Element {
  const { document: page } = parseHTML(`<!doctype html><html><body>${markup}</body></html>`);
  return page.body.firstElementChild!;
}

describe('renderChartMarkup', () => {
  it('draws a reliability diagram as two SVG parts without Plot’s <style>, one bar and one gap per filled bin', () => {
    const parts = render({ kind: 'reliability', bins, color: '#0072B2' });
    expect(parts).toHaveLength(2);
    const [top, counts] = parts.map(parsed);
    for (const svg of [top, counts]) {
      expect(svg.tagName.toLowerCase()).toBe('svg');
      expect(svg.querySelector('style')).toBeNull();
    }
    expect(top.getAttribute('width')).toBe('360');
    // Two rect marks (bar to the accuracy, gap to the confidence) over the two filled bins; one dot per filled bin.
    expect(top.querySelectorAll('rect')).toHaveLength(4);
    expect(top.querySelectorAll('circle')).toHaveLength(2);
    expect(top.querySelector('circle title')?.textContent).toBe(
      '(0.50, 0.75]: 3 items, confidence 0.600, accuracy 0.333',
    );
    // The count histogram keeps every bin, empty ones too.
    expect(counts.querySelectorAll('rect')).toHaveLength(3);
  });

  it('draws the overlay, the per-domain chart and the histograms from plain data', () => {
    const overlay = render({
      kind: 'overlay',
      curves: [
        { variant: 'base', bins },
        { variant: 'grpo', bins },
      ],
      names: ['base', 'grpo'],
      colors: ['#0072B2', '#D55E00'],
    });
    expect(overlay).toHaveLength(1);
    expect(parsed(overlay[0]).querySelectorAll('circle')).toHaveLength(4);
    // Each variant in the colour the page gave it (the worker knows no roles).
    expect([...parsed(overlay[0]).querySelectorAll('circle')].map((c) => c.getAttribute('fill'))).toEqual([
      '#0072B2',
      '#0072B2',
      '#D55E00',
      '#D55E00',
    ]);

    const row = { domain: 'STEM', n: 8, accuracy: 0.75, ece: 0.1, mce: 0.3, confidence: 0.8 };
    const domain = render({
      kind: 'domain',
      rows: [
        { ...row, variant: 'base', stage: 'uncalibrated' },
        { ...row, variant: 'base', stage: 'scaled', ece: 0.05 },
      ],
      names: ['base'],
      colors: ['#0072B2'],
    });
    expect(parsed(domain[0]).querySelectorAll('circle')).toHaveLength(2);

    const histogram = render({
      kind: 'histogram',
      histograms: [{ variant: 'base', stage: 'uncalibrated', bins: [{ lo: 0, hi: 0.5, correct: 1, wrong: 2 }] }],
      stage: 'uncalibrated',
    });
    expect(parsed(histogram[0]).querySelectorAll('rect')).toHaveLength(2);
  });

  it('keeps text as text: a variant name with markup in it does not become elements', () => {
    const name = '<img src=x onerror=alert(1)>';
    const [svg] = render({
      kind: 'overlay',
      curves: [{ variant: name, bins }],
      names: [name],
      colors: ['#0072B2'],
    }).map(parsed);
    expect(svg.querySelector('img')).toBeNull();
    expect(svg.querySelector('circle title')?.textContent).toBe(`${name}: 3 items`);
  });
});
