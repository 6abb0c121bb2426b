/**
 * `npm test` runs this first: it finds the Chromium the browser and e2e tests drive and the real MMLU data
 * (downloading the official release once into a cache when no copy is found), and stops with one line saying
 * what is missing and how to get it, instead of letting every test file fail on its own.
 */
import { chromium } from 'playwright-core';
import { BrowserNotFoundError, NO_BROWSER_MESSAGE, findChromiumHere } from './lib/find-browser';
import { MmluDataMissingError, ensureMmluData, mmluDownloadHere, mmluLookupHere } from './lib/test-data';

try {
  const browser = findChromiumHere(chromium.executablePath());
  if (!browser) throw new BrowserNotFoundError(NO_BROWSER_MESSAGE);
  console.log(`Chromium for the tests: ${browser.executable} (${browser.source})`);
  const data = await ensureMmluData(mmluLookupHere(), mmluDownloadHere());
  console.log(`MMLU data for the tests: ${data.dir} (${data.source})`);
} catch (e) {
  if (!(e instanceof BrowserNotFoundError || e instanceof MmluDataMissingError)) throw e;
  console.error(e.message);
  process.exit(1);
}
