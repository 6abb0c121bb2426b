/// <reference types="vitest/config" />
import { defineConfig } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { playwright } from '@vitest/browser-playwright';

/**
 * Chromium flags for tests on this kind of machine: Debian's /usr/bin/chromium (Playwright cannot
 * download its own browser here), headless as root, no background traffic to a closed network, and
 * WebGPU through SwiftShader so the environment checks have an adapter to find.
 */
export const chromiumExecutable = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
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
  plugins: [svelte()],
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
        },
      },
      {
        extends: true,
        optimizeDeps: { include: ['comlink', 'idb', '@mlc-ai/web-llm', '@lenml/tokenizers', '@observablehq/plot'] },
        test: {
          name: 'browser',
          include: ['test/browser/**/*.test.ts'],
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
                (await ctx.project.import<typeof import('./test/browser/mmlu-commands')>('/test/browser/mmlu-commands.ts')).mmluCommands.readMmluCsvFiles(ctx, split),
              mmluDefaultManifestInNode: async (ctx) =>
                (await ctx.project.import<typeof import('./test/browser/mmlu-commands')>('/test/browser/mmlu-commands.ts')).mmluCommands.mmluDefaultManifestInNode(ctx),
              serveOldModelLibrary: async (ctx) =>
                (await ctx.project.import<typeof import('./test/browser/model-library-commands')>('/test/browser/model-library-commands.ts')).modelLibraryCommands.serveOldModelLibrary(ctx),
              analysisReportInNode: async (ctx, settings) =>
                (await ctx.project.import<typeof import('./test/browser/analysis-commands')>('/test/browser/analysis-commands.ts')).analysisCommands.analysisReportInNode(ctx, settings),
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
