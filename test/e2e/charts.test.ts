import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { freshContext, launch, runDemoToResults } from './support';

let browser: Browser;
const dir = mkdtempSync(join(tmpdir(), 'calkit-charts-'));
beforeAll(async () => {
  browser = await launch();
});
afterAll(async () => {
  await browser?.close();
});

async function downloadBytes(page: Page, name: RegExp): Promise<{ file: string; bytes: Buffer }> {
  const button = page.getByRole('button', { name }).first();
  await button.waitFor();
  const [d] = await Promise.all([page.waitForEvent('download'), button.click()]);
  const path = join(dir, d.suggestedFilename());
  await d.saveAs(path);
  return { file: d.suggestedFilename(), bytes: readFileSync(path) };
}

describe('chart downloads', () => {
  it('downloads a reliability diagram as SVG (titled SIMULATED) and as PNG', async () => {
    const context = await freshContext(browser);
    const page = await context.newPage();
    await runDemoToResults(page);

    const svg = await downloadBytes(page, /^Download .*before scaling.* as SVG$/);
    expect(svg.file).toMatch(/\.svg$/);
    const text = svg.bytes.toString('utf8');
    expect(text).toMatch(/^<svg|^<\?xml/);
    expect(text).toContain('SIMULATED');
    expect(text.match(/<rect/g)?.length ?? 0).toBeGreaterThan(5); // the bars and the count histogram

    const png = await downloadBytes(page, /^Download .*before scaling.* as PNG$/);
    expect(png.file).toMatch(/\.png$/);
    expect([...png.bytes.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    const width = png.bytes.readUInt32BE(16);
    const height = png.bytes.readUInt32BE(20);
    expect(width).toBeGreaterThan(300);
    expect(height).toBeGreaterThan(200);
    await context.close();
  });
});
