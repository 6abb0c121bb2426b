/**
 * Which Chromium the browser and e2e tests drive, looked for in this order: $CHROMIUM_PATH, the Chromium that
 * `npx playwright install chromium` puts in Playwright's cache, then a system Chromium or Chrome (on PATH or at
 * its usual install location). No Node imports beyond fs and path: vite.config.ts evaluates this.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';

export type BrowserSource = 'CHROMIUM_PATH' | 'playwright' | 'system';

export interface FoundBrowser {
  executable: string;
  source: BrowserSource;
}

export interface BrowserLookup {
  env: Record<string, string | undefined>;
  /** Where Playwright keeps the Chromium it installs (playwright-core's chromium.executablePath()), if known. */
  playwrightExecutable?: string;
  platform: NodeJS.Platform;
  exists: (file: string) => boolean;
}

const SYSTEM_NAMES = ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable', 'chrome'];
const SYSTEM_LOCATIONS: Partial<Record<NodeJS.Platform, string[]>> = {
  darwin: [
    '/Applications/Chromium.app/Contents/MacOS/Chromium',
    '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome',
  ],
  win32: [
    'C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe',
    'C:\\Program Files (x86)\\Google\\Chrome\\Application\\chrome.exe',
  ],
  linux: [
    '/usr/bin/chromium',
    '/usr/bin/chromium-browser',
    '/usr/bin/google-chrome',
    '/usr/bin/google-chrome-stable',
    '/snap/bin/chromium',
  ],
};

/** The one line a machine without a usable Chromium gets (from `npm test`). */
export const NO_BROWSER_MESSAGE =
  'No Chromium found for the browser and e2e tests: run `npx playwright install chromium`, or install Chromium or Chrome ' +
  '(Debian/Ubuntu: `apt-get install chromium`), or set CHROMIUM_PATH to its executable.';

export class BrowserNotFoundError extends Error {
  override name = 'BrowserNotFoundError';
}

/** The first Chromium of the lookup order, or undefined. A CHROMIUM_PATH that does not exist is an error. */
export function findChromium(lookup: BrowserLookup): FoundBrowser | undefined {
  const fromEnv = lookup.env.CHROMIUM_PATH?.trim();
  if (fromEnv) {
    if (!lookup.exists(fromEnv))
      throw new BrowserNotFoundError(
        `CHROMIUM_PATH is ${fromEnv}, which does not exist; ${NO_BROWSER_MESSAGE.slice(NO_BROWSER_MESSAGE.indexOf('run '))}`,
      );
    return { executable: fromEnv, source: 'CHROMIUM_PATH' };
  }
  if (lookup.playwrightExecutable && lookup.exists(lookup.playwrightExecutable)) {
    return { executable: lookup.playwrightExecutable, source: 'playwright' };
  }
  const separator = lookup.platform === 'win32' ? ';' : ':';
  const suffix = lookup.platform === 'win32' ? '.exe' : '';
  const join = lookup.platform === 'win32' ? path.win32.join : path.posix.join;
  const onPath = (lookup.env.PATH ?? '')
    .split(separator)
    .filter(Boolean)
    .flatMap((dir) => SYSTEM_NAMES.map((name) => join(dir, name + suffix)));
  for (const candidate of [...onPath, ...(SYSTEM_LOCATIONS[lookup.platform] ?? [])]) {
    if (lookup.exists(candidate)) return { executable: candidate, source: 'system' };
  }
  return undefined;
}

/** findChromium on this machine; `playwrightExecutable` comes from the caller (playwright-core is not imported here). */
export function findChromiumHere(playwrightExecutable?: string): FoundBrowser | undefined {
  return findChromium({ env: process.env, playwrightExecutable, platform: process.platform, exists: existsSync });
}
