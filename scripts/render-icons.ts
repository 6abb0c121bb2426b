/**
 * Renders public/favicon.svg into the PNG icons of public/ (favicon, apple-touch and the manifest's 192/512)
 * with the test suite's Chromium, so the PNGs never drift from the SVG. Run: npx tsx scripts/render-icons.ts
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { chromiumArgs, chromiumExecutable } from '../vite.config';
import { REPO_ROOT } from './mmlu-folder';

const publicDir = path.join(REPO_ROOT, 'public');
const svg = readFileSync(path.join(publicDir, 'favicon.svg'), 'utf8');
const sizes: [string, number][] = [
  ['favicon.png', 32],
  ['apple-touch-icon.png', 180],
  ['icon-192.png', 192],
  ['icon-512.png', 512],
];

const browser = await chromium.launch({ executablePath: chromiumExecutable, args: chromiumArgs, headless: true });
try {
  for (const [name, size] of sizes) {
    const page = await browser.newPage({ viewport: { width: size, height: size } });
    await page.setContent(
      `<style>html,body{margin:0;background:transparent}svg{display:block;width:${size}px;height:${size}px}</style>${svg}`,
    );
    await page.screenshot({ path: path.join(publicDir, name), omitBackground: true });
    await page.close();
    console.log(`${name} ${size}x${size}`);
  }
} finally {
  await browser.close();
}
