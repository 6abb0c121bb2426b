import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

// The layering STYLE.md asks for, checked on the source: the core imports nothing but itself and two small
// pure libraries, web-llm and idb each have exactly one importer.
const root = path.resolve(import.meta.dirname, '../..');

function sources(dir: string): string[] {
  return readdirSync(path.join(root, dir)).flatMap((name) => {
    const rel = path.join(dir, name);
    if (statSync(path.join(root, rel)).isDirectory()) return sources(rel);
    return /\.(ts|svelte)$/.test(name) ? [rel] : [];
  });
}

/** Module specifiers a file imports (static and dynamic). */
function importsOf(file: string): string[] {
  const text = readFileSync(path.join(root, file), 'utf8');
  return [...text.matchAll(/(?:^|\s)(?:import|export)\s[^;]*?from\s+'([^']+)'|import\(\s*'([^']+)'\s*\)/gm)].map((m) => m[1] ?? m[2]);
}

describe('architecture', () => {
  const core = sources('src/core');

  it('src/core imports only itself, valibot and @noble/hashes', () => {
    expect(core.length).toBeGreaterThan(5);
    // The import scanner sees multi-line and type-only imports.
    expect(importsOf('src/core/analysis.ts')).toEqual(expect.arrayContaining(['./types', './metrics', './scaling', './stats', './random']));
    for (const file of core) {
      for (const spec of importsOf(file)) {
        expect(spec.startsWith('./') || spec === 'valibot' || spec.startsWith('@noble/hashes/'), `${file} imports ${spec}`).toBe(true);
      }
    }
  });

  it('src/core touches no DOM, Node or browser globals', () => {
    for (const file of core) {
      const code = readFileSync(path.join(root, file), 'utf8')
        .replace(/\/\*[\s\S]*?\*\//g, '')
        .replace(/\/\/.*$/gm, '');
      for (const global of ['document.', 'window.', 'process.', 'Buffer.', 'localStorage', 'indexedDB', 'navigator.', 'require(']) {
        expect(code.includes(global), `${file} uses ${global}`).toBe(false);
      }
    }
  });

  it('only src/engine/webllm.ts imports @mlc-ai/web-llm, and only src/storage/db.ts imports idb', () => {
    const all = [...sources('src'), ...sources('workers')];
    const importers = (pkg: string) => all.filter((f) => importsOf(f).some((s) => s === pkg || s.startsWith(`${pkg}/`)));
    expect(importers('@mlc-ai/web-llm')).toEqual(['src/engine/webllm.ts']);
    expect(importers('idb')).toEqual(['src/storage/db.ts']);
  });
});
