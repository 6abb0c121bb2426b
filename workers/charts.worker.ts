/** Draws results charts with Observable Plot on a linkedom document and returns SVG markup (chart-render.ts). */
import * as Plot from '@observablehq/plot';
import { expose } from 'comlink';
import { parseHTML } from 'linkedom/worker';
import { renderChartMarkup, type ChartWorkerApi } from '../src/components/results/chart-render';

const { document } = parseHTML('<!doctype html><html><head></head><body></body></html>');
const api: ChartWorkerApi = { render: async (spec) => renderChartMarkup(Plot, spec, document as unknown as Document) };
expose(api);
