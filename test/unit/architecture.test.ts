import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

// The layering docs/ARCHITECTURE.md describes, checked on the source: imports point one way,
// components -> state -> (workers | services) -> (engine | storage | data) -> core, and core points nowhere.
const root = path.resolve(import.meta.dirname, '../..');

function sources(dir: string): string[] {
  return readdirSync(path.join(root, dir)).flatMap((name) => {
    const rel = path.posix.join(dir, name);
    if (statSync(path.join(root, rel)).isDirectory()) return sources(rel);
    return /\.(ts|svelte)$/.test(name) ? [rel] : [];
  });
}

/** Module specifiers a file imports or re-exports (static and dynamic). */
function importsOf(file: string): string[] {
  const text = readFileSync(path.join(root, file), 'utf8');
  return [...text.matchAll(/(?:^|\s)(?:import|export)\s[^;]*?from\s+'([^']+)'|import\(\s*'([^']+)'\s*\)/gm)].map(
    (m) => m[1] ?? m[2],
  );
}

/** The repository paths a file imports (relative specifiers resolved; packages left out). */
function localImportsOf(file: string): string[] {
  return importsOf(file)
    .filter((s) => s.startsWith('.'))
    .map((s) => path.posix.normalize(path.posix.join(path.posix.dirname(file), s)));
}

/** The layer of a repository path: `src/<layer>/...`, or its top folder. */
function layerOf(p: string): string {
  const parts = p.split('/');
  if (parts[0] === 'src') return parts.length > 2 ? parts[1] : 'src';
  return parts[0];
}

/** What each layer may import besides itself. */
const ALLOWED: Record<string, readonly string[]> = {
  core: [],
  wasm: [], // AssemblyScript compiled into the core's kernel (scripts/build-kernel.ts); imports nothing
  data: ['core'],
  storage: ['core'],
  engine: ['core'],
  services: ['engine', 'storage', 'data', 'core'],
  state: ['services', 'engine', 'storage', 'data', 'core'],
  components: ['state', 'core'],
};

/** The one import against the direction: the chart worker wires the views' own off-thread renderer. */
const WORKER_VIEW_EXCEPTION = 'src/components/results/chart-render.ts';

const resolves = (p: string) =>
  [p, `${p}.ts`, `${p}/index.ts`].some((c) => statSync(path.join(root, c), { throwIfNoEntry: false })?.isFile());

describe('architecture (docs/ARCHITECTURE.md)', () => {
  const core = sources('src/core');
  const app = [...sources('src'), ...sources('workers')];

  it('the import scanner sees multi-line and type-only imports and resolves relative paths', () => {
    expect(importsOf('src/core/analysis.ts')).toEqual(
      expect.arrayContaining(['./types', './metrics', './scaling', './stats', './random']),
    );
    expect(localImportsOf('workers/analysis.worker.ts')).toEqual(expect.arrayContaining(['src/storage/db']));
    expect(localImportsOf('src/components/results/ResultsPage.svelte')).toEqual(
      expect.arrayContaining(['src/state/analysis.svelte', 'src/core/types']),
    );
    for (const file of app)
      for (const p of localImportsOf(file))
        expect(
          resolves(p) || statSync(path.join(root, p), { throwIfNoEntry: false })?.isFile(),
          `${file} imports ${p}`,
        ).toBe(true);
  });

  it('each layer imports only the layers below it', () => {
    expect(Object.keys(ALLOWED).every((layer) => sources(`src/${layer}`).length > 0)).toBe(true);
    const wrong: string[] = [];
    for (const file of sources('src')) {
      const own = layerOf(file);
      const allowed = ALLOWED[own];
      if (!allowed) continue; // App.svelte, main.ts: the root wires everything
      for (const p of localImportsOf(file)) {
        const to = layerOf(p);
        if (p === 'package.json') continue; // the app's version and dependencies, read as data
        if (to !== own && !allowed.includes(to)) wrong.push(`${file} (${own}) imports ${p} (${to})`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('src/core imports only itself, valibot and @noble/hashes', () => {
    expect(core.length).toBeGreaterThan(5);
    for (const file of core) {
      for (const spec of importsOf(file)) {
        expect(
          spec.startsWith('./') || spec === 'valibot' || spec.startsWith('@noble/hashes/'),
          `${file} imports ${spec}`,
        ).toBe(true);
      }
    }
  });

  it('src/core touches no DOM, Node or browser globals', () => {
    for (const file of core) {
      const code = readFileSync(path.join(root, file), 'utf8')
        .replace(/\/\*[\s\S]*?\*\//g, '')
        .replace(/\/\/.*$/gm, '')
        .replace(/'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*"/g, "''");
      for (const global of [
        'document',
        'window',
        'process',
        'Buffer',
        'localStorage',
        'indexedDB',
        'navigator',
        'self',
        'require',
      ]) {
        expect(new RegExp(`\\b${global}\\s*[.(]`).test(code), `${file} uses ${global}`).toBe(false);
      }
    }
  });

  it('src/state holds only .svelte.ts state; plain modules live in services or core', () => {
    const state = sources('src/state');
    expect(state.length).toBeGreaterThan(3);
    expect(state.filter((f) => !f.endsWith('.svelte.ts'))).toEqual([]);
  });

  it('workers are wiring: a few lines exposing a module of services, engine, storage, data or core', () => {
    const workers = sources('workers');
    expect(workers.length).toBeGreaterThan(3);
    for (const file of workers) {
      const code = readFileSync(path.join(root, file), 'utf8')
        .replace(/\/\*[\s\S]*?\*\//g, '')
        .split('\n')
        .filter((l) => l.trim() !== '' && !l.trim().startsWith('//'));
      expect(code.length, `${file} has ${code.length} lines of code`).toBeLessThanOrEqual(25);
      expect(/\bexpose\(/.test(code.join('\n')), `${file} exposes nothing`).toBe(true);
      for (const p of localImportsOf(file)) {
        const to = layerOf(p);
        const ok =
          ['services', 'engine', 'storage', 'data', 'core'].includes(to) ||
          `${p}.ts` === WORKER_VIEW_EXCEPTION ||
          p.startsWith('workers/');
        expect(ok, `${file} imports ${p}`).toBe(true);
      }
    }
  });

  it('scripts never import test/, the views or the browser state', () => {
    for (const file of sources('scripts')) {
      for (const p of localImportsOf(file)) {
        expect(['test', 'components', 'state'].includes(layerOf(p)), `${file} imports ${p}`).toBe(false);
      }
    }
  });

  it('only src/engine/webllm.ts imports @mlc-ai/web-llm, and only src/storage/db.ts imports idb', () => {
    const all = app;
    const importers = (pkg: string) =>
      all.filter((f) => importsOf(f).some((s) => s === pkg || s.startsWith(`${pkg}/`)));
    expect(importers('@mlc-ai/web-llm')).toEqual(['src/engine/webllm.ts']);
    expect(importers('idb')).toEqual(['src/storage/db.ts']);
  });
});
