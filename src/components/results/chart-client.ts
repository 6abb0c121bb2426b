/** The page's chart worker (started on first use, shared by every chart) and the parsing of its markup. */
import { wrap, type Remote } from 'comlink';
import type { ChartWorkerApi } from './chart-render';

let worker: Remote<ChartWorkerApi> | undefined;

export function chartWorker(): Remote<ChartWorkerApi> {
  worker ??= wrap<ChartWorkerApi>(
    new Worker(new URL('../../../workers/charts.worker.ts', import.meta.url), { type: 'module', name: 'charts' }),
  );
  return worker;
}

/** SVG elements of this document from the worker's markup (parsed as HTML, which puts <svg> in the SVG namespace). */
export function parseSvgParts(markup: readonly string[]): SVGSVGElement[] {
  return markup.map((text) => {
    const template = document.createElement('template');
    template.innerHTML = text;
    const svg = template.content.firstElementChild;
    if (!(svg instanceof SVGSVGElement)) throw new Error('The chart worker returned no SVG');
    return document.importNode(svg, true);
  });
}
