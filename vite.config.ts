/// <reference types="vitest/config" />
import { defineConfig } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { playwright } from '@vitest/browser-playwright';
import { VitePWA } from 'vite-plugin-pwa';
import { chromium } from 'playwright-core';
import { findChromiumHere } from './scripts/lib/find-browser.ts';
import { contentSecurityPolicy } from './scripts/lib/csp.ts';

/**
 * Chromium for tests: the first of $CHROMIUM_PATH, Playwright's own Chromium, a system Chromium or Chrome
 * (scripts/lib/find-browser.ts; `npm test` stops with one line when there is none). Flags: headless as root,
 * no background traffic to a closed network, and WebGPU through SwiftShader so the environment checks have an
 * adapter to find.
 */
function chromiumForTests(): string {
  try {
    return findChromiumHere(chromium.executablePath())?.executable ?? '/usr/bin/chromium';
  } catch {
    return '/usr/bin/chromium'; // a wrong CHROMIUM_PATH is reported by scripts/test-prereqs.ts
  }
}
export const chromiumExecutable = chromiumForTests();
export const chromiumArgs = [
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
  '--enable-unsafe-webgpu',
];

export default defineConfig({
  // Relative asset and worker URLs: the build works unchanged from any sub-path of any static server.
  base: './',
  plugins: [
    svelte(),
    {
      // The built page's Content-Security-Policy (scripts/lib/csp.ts); not in dev, whose HMR needs a websocket.
      name: 'content-security-policy',
      apply: 'build',
      // Right after <meta charset> (which must stay in the first 1024 bytes), ahead of every script.
      transformIndexHtml: (html: string) => {
        const charset = /<meta charset="utf-8"\s*\/?>/i;
        if (!charset.test(html))
          throw new Error('an HTML page has no <meta charset="UTF-8" /> to put the Content-Security-Policy after');
        return html.replace(
          charset,
          (tag) => `${tag}\n    <meta http-equiv="Content-Security-Policy" content="${contentSecurityPolicy()}">`,
        );
      },
    },
    // Offline after the first visit: a Workbox service worker precaches the app shell and every chunk, the
    // web-llm worker included (see README "Offline"). registerType 'prompt': a new version waits until the user
    // accepts the "update available" prompt, which the app holds back while a run is active.
    VitePWA({
      registerType: 'prompt',
      // The same minified worker whatever NODE_ENV the build runs under (the real-engine tier builds under vitest's 'test').
      mode: 'production',
      injectRegister: false,
      manifest: false,
      workbox: {
        globPatterns: ['**/*.{js,css,html,svg,png,webmanifest}'],
        // The web-llm worker chunk is ~6 MB; Workbox skips files over 2 MiB by default.
        maximumFileSizeToCacheInBytes: 16 * 1024 * 1024,
        navigateFallback: 'index.html',
        cleanupOutdatedCaches: true,
        // An accepted update takes over this page at once (the prompt's reload), also on the very first visit.
        clientsClaim: true,
      },
    }),
  ],
  worker: { format: 'es' },
  build: { target: 'es2022', reportCompressedSize: true },
  test: {
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          environment: 'node',
          include: ['test/unit/**/*.test.ts'],
          // Correctness tests, not timed ones: loading a tokenizer or starting worker threads takes seconds on a
          // busy 2-core machine, past vitest's 5 s default.
          testTimeout: 60_000,
        },
      },
      {
        extends: true,
        // Every bare import the browser tests reach, pre-bundled before the first test: one found mid-run makes
        // vite optimise it and reload the page, failing the test then running (seen with linkedom/worker).
        optimizeDeps: {
          include: [
            'comlink',
            'idb',
            '@mlc-ai/web-llm',
            '@lenml/tokenizers',
            '@observablehq/plot',
            'linkedom/worker',
            'valibot',
            'papaparse',
            'hyparquet',
            'yaml',
            '@noble/hashes/sha2.js',
            '@noble/hashes/utils.js',
          ],
        },
        test: {
          name: 'browser',
          include: ['test/browser/**/*.test.ts'],
          // A loaded 2-core machine runs a Results page test in 5-17 s: the default 15 s is no margin.
          testTimeout: 120_000,
          hookTimeout: 120_000,
          browser: {
            enabled: true,
            headless: true,
            provider: playwright({
              launchOptions: { executablePath: chromiumExecutable, args: chromiumArgs },
            }),
            instances: [{ browser: 'chromium' }],
            // Node-side helpers for test/browser/mmlu-sample.test.ts (the real MMLU data lives outside the root),
            // loaded through the project's module runner so the config itself imports no TypeScript.
            commands: {
              readMmluCsvFiles: async (ctx, split) =>
                (
                  await ctx.project.import<typeof import('./test/browser/mmlu-commands')>(
                    '/test/browser/mmlu-commands.ts',
                  )
                ).mmluCommands.readMmluCsvFiles(ctx, split),
              mmluDefaultManifestInNode: async (ctx) =>
                (
                  await ctx.project.import<typeof import('./test/browser/mmlu-commands')>(
                    '/test/browser/mmlu-commands.ts',
                  )
                ).mmluCommands.mmluDefaultManifestInNode(ctx),
              serveOldModelLibrary: async (ctx) =>
                (
                  await ctx.project.import<typeof import('./test/browser/model-library-commands')>(
                    '/test/browser/model-library-commands.ts',
                  )
                ).modelLibraryCommands.serveOldModelLibrary(ctx),
              analysisReportInNode: async (ctx, settings) =>
                (
                  await ctx.project.import<typeof import('./test/browser/analysis-commands')>(
                    '/test/browser/analysis-commands.ts',
                  )
                ).analysisCommands.analysisReportInNode(ctx, settings),
            },
          },
        },
      },
      {
        // The built app in headless Chromium (playwright-core), served as `npm start` serves it.
        extends: true,
        test: {
          name: 'e2e',
          environment: 'node',
          include: ['test/e2e/**/*.test.ts'],
          globalSetup: ['test/e2e/global-setup.ts'],
          fileParallelism: false,
          testTimeout: 180_000,
          hookTimeout: 180_000,
          // After the unit and browser projects: the long-task checks measure the page's main thread, which
          // must not share two cores with the rest of the suite.
          sequence: { groupOrder: 1 },
        },
      },
      {
        // The real web-llm runtime (0.2.79) running a real model library with synthetic weights through the app,
        // in headless Chromium on SwiftShader (test/real-engine). Minutes of CPU: after everything else.
        extends: true,
        test: {
          name: 'real-engine',
          environment: 'node',
          include: ['test/real-engine/**/*.test.ts'],
          fileParallelism: false,
          testTimeout: 1_200_000,
          hookTimeout: 300_000,
          sequence: { groupOrder: 2 },
        },
      },
    ],
  },
});
