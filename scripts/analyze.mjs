/**
 * What `npm run analyze` starts: scripts/analyze.ts, run from one JavaScript bundle instead of through tsx.
 * Starting through tsx costs about half a second (loading tsx, then transforming every module on the way in), a
 * quarter of a whole analysis of 1,000 items; a bundle starts in well under 0.1 s. The bundle (esbuild, npm
 * packages included: one module to load instead of one per package) is kept in node_modules/.cache/calibration-kit
 * with the list of files it was built from, and built again when any of them changed size or time (or the bundle
 * is gone), so an edited source is never run stale.
 * `node --import tsx scripts/analyze.ts` runs the same code unbundled.
 */
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const cache = join(root, 'node_modules/.cache/calibration-kit');
const bundle = join(cache, 'analyze-cli.mjs');
const inputsFile = join(cache, 'analyze-cli.inputs.json');

/** The files the bundle was built from, with their size and mtime then: [[path, size, mtimeMs], ...]. */
function readInputs() {
  try {
    return JSON.parse(readFileSync(inputsFile, 'utf8'));
  } catch {
    return null;
  }
}

function stamp(path) {
  const st = statSync(path, { throwIfNoEntry: false });
  return st ? [st.size, st.mtimeMs] : [-1, -1];
}

function fresh(inputs) {
  if (!Array.isArray(inputs) || inputs.length === 0) return false;
  return inputs.every(([path, size, mtimeMs]) => {
    const [s, m] = stamp(join(root, path));
    return s === size && m === mtimeMs;
  });
}

async function build() {
  const { build } = await import('esbuild');
  const result = await build({
    entryPoints: [join(root, 'scripts/analyze.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    // The npm packages' CommonJS require()s of Node's modules need a require in an ES module.
    banner: {
      js: "import { createRequire as __kitCreateRequire } from 'node:module'; const require = __kitCreateRequire(import.meta.url);",
    },
    // analysis-threads.ts finds the sources of its own thread bundle from the repository root.
    define: { __KIT_ROOT__: JSON.stringify(root) },
    metafile: true,
    write: false,
    logLevel: 'silent',
    absWorkingDir: root,
  });
  const inputs = Object.keys(result.metafile.inputs)
    .concat('package-lock.json')
    .map((path) => [path, ...stamp(join(root, path))]);
  mkdirSync(dirname(bundle), { recursive: true });
  // Written to temporary names first, so a concurrent run never reads half a bundle.
  const tmp = `.${process.pid}.tmp`;
  writeFileSync(bundle + tmp, result.outputFiles[0].text);
  writeFileSync(inputsFile + tmp, JSON.stringify(inputs));
  renameSync(bundle + tmp, bundle);
  renameSync(inputsFile + tmp, inputsFile);
}

// The bundle itself may be gone (a cleaned cache) while its list of inputs is still there.
if (!statSync(bundle, { throwIfNoEntry: false }) || !fresh(readInputs())) await build();
await import(pathToFileURL(bundle).href);
