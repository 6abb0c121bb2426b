// The probe chart in Node, as the chart worker draws it: one bar and one CI rule per variant and template.
import * as Plot from '@observablehq/plot';
import { parseHTML } from 'linkedom';
import { describe, expect, it } from 'vitest';
import { renderChartMarkup } from '../../src/components/results/chart-render';

const { document } = parseHTML('<!doctype html><html><head></head><body></body></html>');

describe('probe-shift chart', () => {
  it('draws a bar per variant and template in the variant colours, with the CI in the tooltip', () => {
    const [markup] = renderChartMarkup(
      Plot,
      {
        kind: 'probe-shift',
        bars: [
          { variant: 'base', template: 'weak', shift: 0.05, ci: [0.01, 0.09] },
          { variant: 'grpo', template: 'weak', shift: 0.3, ci: [0.2, 0.4] },
          { variant: 'grpo', template: 'strong', shift: 0.45 },
        ],
        names: ['base', 'grpo'],
        colors: ['#0072B2', '#D55E00'],
      },
      document as unknown as Document,
    );
    const { document: page } = parseHTML(`<!doctype html><html><body>${markup}</body></html>`);
    const svg = page.body.firstElementChild!;
    const bars = [...svg.querySelectorAll('rect')].filter(
      (r) => r.getAttribute('fill') === '#0072B2' || r.getAttribute('fill') === '#D55E00',
    );
    expect(bars.map((r) => r.getAttribute('fill')).sort()).toEqual(['#0072B2', '#D55E00', '#D55E00']);
    const titles = [...svg.querySelectorAll('circle title')].map((t) => t.textContent).sort();
    expect(titles).toEqual([
      'base, weak: 0.050 [0.010, 0.090]',
      'grpo, strong: 0.450',
      'grpo, weak: 0.300 [0.200, 0.400]',
    ]);
  });
});
