import { describe, expect, it } from 'vitest';
import {
  BrowserNotFoundError,
  NO_BROWSER_MESSAGE,
  findChromium,
  type BrowserLookup,
} from '../../scripts/lib/find-browser';

/** A machine whose only files are `files`. */
function machine(
  files: string[],
  env: Record<string, string> = {},
  platform: NodeJS.Platform = 'linux',
  playwright?: string,
): BrowserLookup {
  const set = new Set(files);
  return { env, platform, playwrightExecutable: playwright, exists: (f) => set.has(f) };
}

const PW = '/home/u/.cache/ms-playwright/chromium-1255/chrome-linux64/chrome';

describe('findChromium', () => {
  it("takes CHROMIUM_PATH first, then Playwright's Chromium, then a system one", () => {
    const all = ['/opt/c/chrome', PW, '/usr/bin/chromium'];
    expect(findChromium(machine(all, { CHROMIUM_PATH: '/opt/c/chrome' }, 'linux', PW))).toEqual({
      executable: '/opt/c/chrome',
      source: 'CHROMIUM_PATH',
    });
    expect(findChromium(machine(all, {}, 'linux', PW))).toEqual({ executable: PW, source: 'playwright' });
    expect(findChromium(machine(['/usr/bin/chromium'], {}, 'linux', PW))).toEqual({
      executable: '/usr/bin/chromium',
      source: 'system',
    });
  });

  it('finds chromium or chrome on PATH before the usual install locations', () => {
    const found = findChromium(
      machine(['/home/u/bin/google-chrome', '/usr/bin/chromium'], { PATH: '/usr/local/bin:/home/u/bin' }),
    );
    expect(found).toEqual({ executable: '/home/u/bin/google-chrome', source: 'system' });
    expect(
      findChromium(machine(['/Applications/Google Chrome.app/Contents/MacOS/Google Chrome'], {}, 'darwin'))?.source,
    ).toBe('system');
    expect(findChromium(machine(['C:\\tools\\chrome.exe'], { PATH: 'C:\\tools' }, 'win32'))?.executable).toMatch(
      /chrome\.exe$/,
    );
  });

  it('returns nothing on a machine without one, and the message says how to get one in one line', () => {
    expect(findChromium(machine([], { PATH: '/usr/bin:/bin' }, 'linux', PW))).toBeUndefined();
    expect(NO_BROWSER_MESSAGE).not.toContain('\n');
    expect(NO_BROWSER_MESSAGE).toContain('npx playwright install chromium');
    expect(NO_BROWSER_MESSAGE).toContain('apt-get install chromium');
    expect(NO_BROWSER_MESSAGE).toContain('CHROMIUM_PATH');
  });

  it('refuses a CHROMIUM_PATH that does not exist rather than quietly use another browser', () => {
    const lookup = machine(['/usr/bin/chromium'], { CHROMIUM_PATH: '/opt/missing/chrome' });
    expect(() => findChromium(lookup)).toThrow(BrowserNotFoundError);
    expect(() => findChromium(lookup)).toThrow(
      /CHROMIUM_PATH is \/opt\/missing\/chrome, which does not exist; run `npx playwright/,
    );
  });
});
