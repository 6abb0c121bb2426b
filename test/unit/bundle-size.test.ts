import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { bundleReport, formatBundleReport } from '../../scripts/bundle-size';

/** A tiny build: an entry with a static import, a re-export, a dynamic import and a worker URL. */
function fakeDist(entrySrc = '/assets/index-a1.js'): string {
  const dist = mkdtempSync(join(tmpdir(), 'kit-bundle-'));
  mkdirSync(join(dist, 'assets'));
  const files: Record<string, string> = {
    'index.html': `<script type="module" crossorigin src="${entrySrc}"></script>`,
    'assets/index-a1.js':
      'import{a as b}from"./dep-b2.js";export*from"./reexp-c3.js";const w=new URL("./worker-d4.js",import.meta.url);import("./lazy-e5.js");b(w);',
    'assets/dep-b2.js': 'export const a=x=>x;',
    'assets/reexp-c3.js': 'import"./side-f6.js";export const r=1;',
    'assets/side-f6.js': 'console.log(1);',
    'assets/lazy-e5.js': 'export const lazy="x".repeat(5000);',
    'assets/worker-d4.js': 'self.onmessage=()=>{};',
  };
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dist, name), text);
  return dist;
}

describe('bundle-size', () => {
  it('counts the entry and its static imports as first load, not lazy chunks or workers', () => {
    const dist = fakeDist();
    const report = bundleReport(dist);
    const first = report.files
      .filter((f) => f.firstLoad)
      .map((f) => f.file)
      .sort();
    expect(first).toEqual(['assets/dep-b2.js', 'assets/index-a1.js', 'assets/reexp-c3.js', 'assets/side-f6.js']);
    expect(report.files).toHaveLength(6);
    const gz = (s: string) => gzipSync(Buffer.from(s), { level: 9 }).byteLength;
    expect(report.firstLoadGzipBytes).toBe(
      gz(
        'import{a as b}from"./dep-b2.js";export*from"./reexp-c3.js";const w=new URL("./worker-d4.js",import.meta.url);import("./lazy-e5.js");b(w);',
      ) +
        gz('export const a=x=>x;') +
        gz('import"./side-f6.js";export const r=1;') +
        gz('console.log(1);'),
    );
    expect(report.withinBudget).toBe(true);
  });

  it('follows the relative entry of the relocatable build (base ./) the same way', () => {
    const first = bundleReport(fakeDist('./assets/index-a1.js'))
      .files.filter((f) => f.firstLoad)
      .map((f) => f.file)
      .sort();
    expect(first).toEqual(['assets/dep-b2.js', 'assets/index-a1.js', 'assets/reexp-c3.js', 'assets/side-f6.js']);
  });

  it('refuses an index.html without a module script rather than report 0 bytes', () => {
    const dist = fakeDist();
    writeFileSync(join(dist, 'index.html'), '<p>no scripts</p>');
    expect(() => bundleReport(dist)).toThrow(/no <script type="module"/);
  });

  it('fails the budget when the first-load bytes exceed it, and says so', () => {
    const report = bundleReport(fakeDist(), 100);
    expect(report.withinBudget).toBe(false);
    expect(formatBundleReport(report)).toMatch(/OVER BUDGET/);
  });
});
