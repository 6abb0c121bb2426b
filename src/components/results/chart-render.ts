/**
 * Charts drawn off the main thread. Observable Plot builds a results page's dozen charts in hundreds of
 * milliseconds of DOM work; the chart worker runs it on a linkedom document and returns SVG markup, so the page
 * only parses and inserts finished SVG. `renderChartMarkup` is the worker's whole logic, testable in Node.
 */
import { drawChart, type ChartSpec, type Plot } from './charts';

/** The chart worker's API (workers/charts.worker.ts); both sides import it. */
export interface ChartWorkerApi {
  /** The chart's SVG parts as markup, top to bottom. */
  render(spec: ChartSpec): Promise<string[]>;
}

/**
 * Draws `spec` with Plot on the given document (Plot's `document` option) and serialises each SVG part, without
 * the <style> element Plot puts in every chart: a dozen of them would each restyle the whole page when inserted
 * (the page's stylesheet carries the same rules for `.plot svg`).
 */
export function renderChartMarkup(plot: Plot, spec: ChartSpec, document: Document): string[] {
  const onDocument: Plot = { ...plot, plot: (options) => plot.plot({ ...options, document }) };
  return drawChart(onDocument, spec).map((svg) => {
    for (const style of [...svg.children].filter((c) => c.tagName.toLowerCase() === 'style')) style.remove();
    return svg.outerHTML;
  });
}
