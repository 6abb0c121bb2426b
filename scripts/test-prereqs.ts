/**
 * `npm test` runs this first: it finds the Chromium the browser and e2e tests drive, the real MMLU data and the
 * real web-llm model library (downloading each once into a cache, checked against pinned SHA-256, when no copy
 * is found), and stops with one line saying
 * what is missing and how to get it, instead of letting every test file fail on its own.
 */
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
