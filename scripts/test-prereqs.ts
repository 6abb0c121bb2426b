/**
 * `npm test` runs this first: it finds the Chromium the browser and e2e tests drive, the real MMLU data and the
 * real web-llm model library (downloading each once into a cache, checked against pinned SHA-256, when no copy
 * is found), and stops with one line saying
 * what is missing and how to get it, instead of letting every test file fail on its own.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { chromium } from 'playwright-core';
import { BrowserNotFoundError, NO_BROWSER_MESSAGE, findChromiumHere } from './lib/find-browser';
import {
  MmluDataMissingError,
  RuntimeMissingError,
  ensureMmluData,
  ensureWebllmRuntime,
  mmluDownloadHere,
  mmluLookupHere,
  runtimeLookupHere,
} from './lib/test-data';

// The WebAssembly kernel is built by `npm ci` (the prepare script); rebuild it when its source is newer.
const kernelSource = resolve(import.meta.dirname, '../src/wasm/kernel.ts');
const kernelBuilt = resolve(import.meta.dirname, '../src/core/kernel-wasm.generated.ts');
if (!existsSync(kernelBuilt) || statSync(kernelBuilt).mtimeMs < statSync(kernelSource).mtimeMs) {
  execFileSync(process.execPath, ['--import', 'tsx', resolve(import.meta.dirname, 'build-kernel.ts')], {
    stdio: 'inherit',
  });
}

try {
  const browser = findChromiumHere(chromium.executablePath());
  if (!browser) throw new BrowserNotFoundError(NO_BROWSER_MESSAGE);
  console.log(`Chromium for the tests: ${browser.executable} (${browser.source})`);
  const data = await ensureMmluData(mmluLookupHere(), mmluDownloadHere());
  console.log(`MMLU data for the tests: ${data.dir} (${data.source})`);
  const runtime = await ensureWebllmRuntime(runtimeLookupHere());
  console.log(`web-llm model library for the real-runtime tests: ${runtime.dir} (${runtime.source})`);
} catch (e) {
  if (!(e instanceof BrowserNotFoundError || e instanceof MmluDataMissingError || e instanceof RuntimeMissingError))
    throw e;
  console.error(e.message);
  process.exit(1);
}
