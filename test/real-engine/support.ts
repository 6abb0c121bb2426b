/**
 * The real-engine tier's setup: web-llm's own prebuilt model library (from $WEBLLM_RUNTIME_DIR, ../shared or the test cache),
 * a synthetic-weights model folder generated for it, the app and the harness page built with web-llm 0.2.79
 * standing in for the bundled version (into their own outDir, never dist/), served by `vite preview`, and the
 * model served by the kit's own `npm run serve-model`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { build, preview, type PreviewServer } from 'vite';
import { writeSyntheticModel, type SyntheticModel } from '../../scripts/synthetic-model';
import { WEBLLM_LIBRARY, findWebllmRuntime, runtimeLookupHere } from '../../scripts/lib/test-data';

export const repoRoot = resolve(import.meta.dirname, '../..');
const cacheDir = resolve(repoRoot, 'node_modules/.cache/calibration-kit');

/** The library the tier runs, as SOURCE.md of ../shared/webllm-runtime describes it (found as npm test finds it). */
export const MODEL_LIB = WEBLLM_LIBRARY;

/** The web-llm runtime that links MODEL_LIB (0.2.86, the bundled one, does not: see the README). */
export const TIER_WEBLLM = '@mlc-ai/web-llm-0.2.79';

/**
 * The model library's path ($WEBLLM_RUNTIME_DIR, ../shared/webllm-runtime or the cache npm test fills: see
 * scripts/lib/test-data.ts), or an Error whose message is the one line saying how to get it.
 */
export function modelLibPath(): string {
  const found = findWebllmRuntime(runtimeLookupHere());
  if (!found) {
    throw new Error(
      `The real-engine tier needs web-llm's model library ${MODEL_LIB.file} (looked in $WEBLLM_RUNTIME_DIR, ` +
        `../shared/webllm-runtime and the test cache): download it from ${MODEL_LIB.url} and set WEBLLM_RUNTIME_DIR to its folder.`,
    );
  }
  const path = resolve(found.dir, MODEL_LIB.file);
  const sha = createHash('sha256').update(readFileSync(path)).digest('hex');
  if (sha !== MODEL_LIB.sha256)
    throw new Error(`${path} has sha256 ${sha}, not ${MODEL_LIB.sha256} (${MODEL_LIB.url}).`);
  return path;
}

/** The synthetic-weights folder for the library, generated once and reused while its fingerprint matches. */
export function syntheticModel(modelLib: string): SyntheticModel {
  return writeSyntheticModel({ modelLib, outDir: resolve(cacheDir, 'synthetic-qwen2-0.5b-q4f32_1'), seed: 0 });
}

export const tierOutDir = resolve(cacheDir, 'real-engine-app');

/**
 * Builds the app and the harness page with TIER_WEBLLM wherever the kit imports @mlc-ai/web-llm (the engine
 * adapter in the worker; the package.json it reads its version from), into tierOutDir.
 */
export async function buildTierApp(): Promise<void> {
  await build({
    configFile: resolve(repoRoot, 'vite.config.ts'),
    root: repoRoot,
    logLevel: 'warn',
    resolve: { alias: [{ find: /^@mlc-ai\/web-llm(\/package\.json)?$/, replacement: `${TIER_WEBLLM}$1` }] },
    build: {
      outDir: tierOutDir,
      emptyOutDir: true,
      reportCompressedSize: false,
      rollupOptions: {
        input: { index: resolve(repoRoot, 'index.html'), harness: resolve(repoRoot, 'test/real-engine/harness.html') },
      },
    },
  });
}

/** `vite preview` of the tier's build on 127.0.0.1 (WebGPU needs a secure origin; about:blank has none). */
export async function previewTierApp(
  port = Number(process.env.REAL_ENGINE_PORT ?? 0),
): Promise<{ url: string; close: () => Promise<void> }> {
  const server: PreviewServer = await preview({
    configFile: resolve(repoRoot, 'vite.config.ts'),
    root: repoRoot,
    logLevel: 'warn',
    build: { outDir: tierOutDir },
    preview: { host: '127.0.0.1', port, strictPort: port !== 0, open: false },
  });
  const address = server.httpServer.address();
  if (!address || typeof address === 'string') throw new Error('vite preview did not report its port');
  return { url: `http://127.0.0.1:${address.port}/`, close: () => server.close() };
}

/** What `npm run serve-model` printed: the two URLs a person pastes into the custom-variant form. */
export interface ServedModel {
  modelUrl: string;
  modelLibUrl: string;
  output: string;
  stop: () => Promise<void>;
}

/**
 * Starts `npm run serve-model -- <dir> --name <name> --port <port> --lib <wasm>` (in its own process group, so
 * stopping it stops npm, tsx and node together) and waits for the URLs it prints.
 */
export async function startServeModel(
  dir: string,
  name: string,
  lib: string,
  port = Number(process.env.SERVE_MODEL_PORT ?? 0),
): Promise<ServedModel> {
  const child: ChildProcess = spawn(
    'npm',
    ['run', '--silent', 'serve-model', '--', dir, '--name', name, '--port', String(port), '--lib', lib],
    {
      cwd: repoRoot,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  // A test runner that dies must not leave the server behind: stop its process group on exit too.
  const killGroup = () => {
    if (child.exitCode === null && child.pid !== undefined) process.kill(-child.pid, 'SIGTERM');
  };
  process.once('exit', killGroup);
  const stop = async () => {
    process.off('exit', killGroup);
    if (child.exitCode !== null || child.pid === undefined) return;
    const exited = new Promise((r) => child.once('exit', r));
    killGroup();
    await exited;
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    const model = /Model URL:\s+(\S+)/.exec(output)?.[1];
    const lib = /Model library URL:\s+(\S+)/.exec(output)?.[1];
    if (model && lib) return { modelUrl: model, modelLibUrl: lib, output, stop };
    if (child.exitCode !== null) throw new Error(`serve-model exited with code ${child.exitCode}:\n${output}`);
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`serve-model printed no URLs within 60 s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Seconds since `t0` (performance.now()), one decimal. */
export function secondsSince(t0: number): number {
  return Math.round((performance.now() - t0) / 100) / 10;
}
