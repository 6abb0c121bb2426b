// ESLint: correctness rules only (the recommended sets of ESLint, typescript-eslint and eslint-plugin-svelte).
// Prettier owns layout, so no stylistic rule is turned on here. Rules turned off carry their reason.
import js from '@eslint/js';
import svelte from 'eslint-plugin-svelte';
import globals from 'globals';
import ts from 'typescript-eslint';
import svelteConfig from './svelte.config.js';

export default ts.config(
  {
    ignores: [
      'node_modules/',
      'dist/',
      'coverage/',
      'test-results/',
      'test/fixtures/',
      '.vitest-attachments/',
      // AssemblyScript (its own types and builtins), compiled by scripts/build-kernel.ts; and that script's output.
      'src/wasm/',
      'src/core/kernel-wasm.generated.ts',
    ],
  },
  js.configs.recommended,
  ...ts.configs.recommended,
  ...svelte.configs.recommended,
  {
    languageOptions: { globals: { ...globals.browser, ...globals.node, ...globals.worker } },
  },
  {
    files: ['**/*.svelte', '**/*.svelte.ts'],
    languageOptions: { parserOptions: { parser: ts.parser, extraFileExtensions: ['.svelte'], svelteConfig } },
  },
  {
    rules: {
      // Destructuring a value out on purpose (`const { a: _a, ...rest } = x`) names it with a leading underscore.
      '@typescript-eslint/no-unused-vars': [
        'error',
        {
          argsIgnorePattern: '^_',
          varsIgnorePattern: '^_',
          destructuredArrayIgnorePattern: '^_',
          ignoreRestSiblings: true,
        },
      ],
      // Large arrays and maps live in $state.raw and are replaced whole; the Maps and Sets these rules flag are
      // local scratch inside functions, never reactive state, so SvelteMap/SvelteSet would only add tracking.
      'svelte/prefer-svelte-reactivity': 'off',
    },
  },
  {
    files: ['test/**'],
    // Tests build malformed and partial inputs on purpose to check what the parsers say about them.
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
);
