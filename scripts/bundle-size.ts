/**
 * `tsx scripts/bundle-size.ts [dist]`: prints the gzip size of every JavaScript file of a build and checks the
 * first-load budget. First-load JS is what index.html pulls in before anything is clicked: its module scripts
 * and their static imports, followed through the chunks. Workers (the web-llm and simulated engines, the
 * analysis) and lazily imported chunks load later, so they are listed but not counted. Exit 1 when over budget.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join, posix } from 'node:path';
import { gzipSync } from 'node:zlib';

/** The budget: the app's own first-load JavaScript, gzip. */
export const FIRST_LOAD_BUDGET_BYTES = 150 * 1024;

export interface BundleFile {
  /** Path relative to dist, with forward slashes. */
  file: string;
  bytes: number;
  gzipBytes: number;
  firstLoad: boolean;
}

export interface BundleReport {
  files: BundleFile[];
  firstLoadGzipBytes: number;
  budgetBytes: number;
  withinBudget: boolean;
}

/** Static imports of an ES module chunk as Vite/Rolldown write them: `import ... from "./x.js"` and `import "./x.js"`. */
function staticImports(code: string): string[] {
  const out: string[] = [];
  const re = /(?:^|[;\s}])(?:import|export)\s*(?:[\w$*{}\s,]+?\s*from\s*)?["']([^"']+\.js)["']/g;
  for (let m = re.exec(code); m; m = re.exec(code)) out.push(m[1]);
  return out;
}

function walk(dir: string, base = ''): string[] {
  return readdirSync(join(dir, base), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(dir, posix.join(base, e.name)) : [posix.join(base, e.name)],
  );
}

export function bundleReport(dist: string, budgetBytes = FIRST_LOAD_BUDGET_BYTES): BundleReport {
  const html = readFileSync(join(dist, 'index.html'), 'utf8');
  // Root-relative (`/assets/…`) or, in the relocatable build (`base: './'`), relative (`./assets/…`).
  const entries = [...html.matchAll(/<script[^>]*type="module"[^>]*src="(?:\.?\/)?([^"]+)"/g)].map((m) => m[1]);
  const preloads = [...html.matchAll(/<link[^>]*rel="modulepreload"[^>]*href="(?:\.?\/)?([^"]+)"/g)].map((m) => m[1]);
  if (entries.length === 0) throw new Error(`${join(dist, 'index.html')}: no <script type="module" src="…"> found`);
  const first = new Set<string>();
  const queue = [...entries, ...preloads];
  while (queue.length) {
    const file = queue.pop()!;
    if (first.has(file)) continue;
    first.add(file);
    const code = readFileSync(join(dist, file), 'utf8');
    for (const spec of staticImports(code)) queue.push(posix.normalize(posix.join(posix.dirname(file), spec)));
  }
  const files = walk(dist)
    .filter((f) => f.endsWith('.js'))
    .map((file) => {
      const bytes = readFileSync(join(dist, file));
      return {
        file,
        bytes: bytes.byteLength,
        gzipBytes: gzipSync(bytes, { level: 9 }).byteLength,
        firstLoad: first.has(file),
      };
    })
    .sort((a, b) => Number(b.firstLoad) - Number(a.firstLoad) || b.gzipBytes - a.gzipBytes);
  const firstLoadGzipBytes = files.filter((f) => f.firstLoad).reduce((n, f) => n + f.gzipBytes, 0);
  return { files, firstLoadGzipBytes, budgetBytes, withinBudget: firstLoadGzipBytes <= budgetBytes };
}

export function formatBundleReport(r: BundleReport): string {
  const kb = (n: number) => `${(n / 1024).toFixed(1)} kB`.padStart(10);
  const lines = ['JavaScript of the build (gzip level 9):', `${'raw'.padStart(10)} ${'gzip'.padStart(10)}  file`];
  for (const f of r.files)
    lines.push(`${kb(f.bytes)} ${kb(f.gzipBytes)}  ${f.file}${f.firstLoad ? '  [first load]' : ''}`);
  const later = r.files.filter((f) => !f.firstLoad && !/webllm/.test(f.file)).reduce((n, f) => n + f.gzipBytes, 0);
  lines.push(
    `Loaded later (results page, loaders, analysis, chart and simulated workers; web-llm excluded): ${(later / 1024).toFixed(1)} kB gzip.`,
  );
  lines.push(
    `First-load JS: ${(r.firstLoadGzipBytes / 1024).toFixed(1)} kB gzip of a ${(r.budgetBytes / 1024).toFixed(0)} kB budget` +
      (r.withinBudget ? '.' : ' — OVER BUDGET.'),
  );
  return lines.join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const report = bundleReport(process.argv[2] ?? 'dist');
  console.log(formatBundleReport(report));
  if (!report.withinBudget) process.exit(1);
}
