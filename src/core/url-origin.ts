/** Where a URL points, in the terms the custom-variant form warns in (this machine, a known model host, other). */

/** Where a custom variant's file comes from, as the form shows it before anything loads. */
export interface UrlOrigin {
  /** scheme://host[:port], or undefined when the text is not an http(s) URL (yet). */
  origin?: string;
  /** `local`: this machine (e.g. `npm run serve-model`); `known`: a host web-llm's own builds come from. */
  kind: 'local' | 'known' | 'other' | 'invalid';
}

const KNOWN_MODEL_HOSTS = ['huggingface.co', 'raw.githubusercontent.com'];

export function urlOrigin(text: string): UrlOrigin {
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    return { kind: 'invalid' };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return { kind: 'invalid' };
  const host = url.hostname;
  const kind =
    host === '127.0.0.1' || host === 'localhost' || host === '[::1]'
      ? 'local'
      : KNOWN_MODEL_HOSTS.includes(host)
        ? 'known'
        : 'other';
  return { origin: url.origin, kind };
}
