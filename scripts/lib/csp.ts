/**
 * The Content-Security-Policy of the built page (a <meta> tag: static hosts such as GitHub Pages set no headers).
 * It allows only what the kit needs: its own scripts, workers, styles and icons; WebAssembly compilation
 * ('wasm-unsafe-eval', for web-llm's model libraries); and fetches to the model hosts (Hugging Face and its CDNs
 * for weights and the MMLU parquet files, raw.githubusercontent.com for web-llm's prebuilt model libraries) and
 * to a local `npm run serve-model` (any port of 127.0.0.1 or localhost). A policy in a meta tag covers the page;
 * a worker script takes its policy from its own response headers, which only a host that sets headers can add
 * (see README "What you trust when you load a model").
 */
export const CSP_DIRECTIVES: Readonly<Record<string, readonly string[]>> = {
  'default-src': ["'self'"],
  'script-src': ["'self'", "'wasm-unsafe-eval'"],
  'worker-src': ["'self'"],
  // Svelte and Observable Plot set style attributes on the elements they create.
  'style-src': ["'self'", "'unsafe-inline'"],
  // Chart PNG export draws the chart's SVG through a blob: image.
  'img-src': ["'self'", 'data:', 'blob:'],
  'connect-src': [
    "'self'",
    'https://huggingface.co',
    'https://*.huggingface.co',
    'https://*.hf.co',
    'https://raw.githubusercontent.com',
    'http://127.0.0.1:*',
    'http://localhost:*',
  ],
  'manifest-src': ["'self'"],
  'object-src': ["'none'"],
  'base-uri': ["'self'"],
  'form-action': ["'none'"],
};

export function contentSecurityPolicy(directives = CSP_DIRECTIVES): string {
  return Object.entries(directives)
    .map(([name, sources]) => `${name} ${sources.join(' ')}`)
    .join('; ');
}
