/**
 * Chart downloads: the chart's SVG parts stacked under a title (and a legend) in one standalone SVG file, and
 * the same picture as PNG. Titles and labels are set as text nodes, never parsed as markup.
 */
const SVG_NS = 'http://www.w3.org/2000/svg';

export interface LegendEntry {
  label: string;
  color: string;
}

export interface ComposedSvg {
  text: string;
  width: number;
  height: number;
}

/** Width and height of a rendered chart part, from its attributes (Plot sets both). */
function sizeOf(svg: SVGSVGElement): { width: number; height: number } {
  return {
    width: Number(svg.getAttribute('width')) || svg.clientWidth || 640,
    height: Number(svg.getAttribute('height')) || svg.clientHeight || 300,
  };
}

/** Average advance of a character of the 15px semibold title, in px (system-ui; a generous estimate). */
const TITLE_CHAR_WIDTH = 8.6;

/** Splits a title into lines of at most `maxChars` characters at spaces (a longer word gets a line of its own). */
export function wrapTitle(title: string, maxChars: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of title.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + word.length > maxChars) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines.length > 0 ? lines : [''];
}

/** One standalone SVG: background, title (wrapped to the width), legend line, then each part below the previous one. */
export function composeSvg(
  title: string,
  parts: readonly SVGSVGElement[],
  legend: readonly LegendEntry[] = [],
  colors: { foreground: string; background: string } = { foreground: '#1b1f24', background: '#ffffff' },
): ComposedSvg {
  const width = Math.max(320, ...parts.map((p) => sizeOf(p).width));
  const root = document.createElementNS(SVG_NS, 'svg');
  const titleLines = wrapTitle(title, Math.max(20, Math.floor((width - 20) / TITLE_CHAR_WIDTH)));
  const titleHeight = 8 + 20 * titleLines.length;
  const legendHeight = legend.length > 0 ? 22 : 0;
  let y = titleHeight + legendHeight + 4;
  const background = document.createElementNS(SVG_NS, 'rect');
  background.setAttribute('width', '100%');
  background.setAttribute('height', '100%');
  background.setAttribute('fill', colors.background);
  root.append(background);
  titleLines.forEach((text, i) => {
    const heading = document.createElementNS(SVG_NS, 'text');
    heading.setAttribute('x', '10');
    heading.setAttribute('y', String(20 + 20 * i));
    heading.setAttribute('font-size', '15');
    heading.setAttribute('font-weight', '600');
    heading.setAttribute('fill', 'currentColor');
    heading.textContent = text;
    root.append(heading);
  });
  let x = 10;
  for (const entry of legend) {
    const swatch = document.createElementNS(SVG_NS, 'rect');
    swatch.setAttribute('x', String(x));
    swatch.setAttribute('y', String(titleHeight + 4));
    swatch.setAttribute('width', '12');
    swatch.setAttribute('height', '12');
    swatch.setAttribute('fill', entry.color);
    const label = document.createElementNS(SVG_NS, 'text');
    label.setAttribute('x', String(x + 16));
    label.setAttribute('y', String(titleHeight + 14));
    label.setAttribute('font-size', '12');
    label.setAttribute('fill', 'currentColor');
    label.textContent = entry.label;
    root.append(swatch, label);
    x += 28 + 7 * entry.label.length;
  }
  for (const part of parts) {
    const copy = part.cloneNode(true) as SVGSVGElement;
    copy.setAttribute('x', '0');
    copy.setAttribute('y', String(y));
    root.append(copy);
    y += sizeOf(part).height + 6;
  }
  root.setAttribute('xmlns', SVG_NS);
  root.setAttribute('width', String(width));
  root.setAttribute('height', String(y));
  root.setAttribute('viewBox', `0 0 ${width} ${y}`);
  root.setAttribute('style', `color: ${colors.foreground}; font-family: system-ui, sans-serif; font-size: 10px`);
  return { text: new XMLSerializer().serializeToString(root), width, height: y };
}

/** The composed SVG rasterised at `scale` times its size. */
export async function svgToPng(svg: ComposedSvg, scale = 2): Promise<Blob> {
  const url = URL.createObjectURL(new Blob([svg.text], { type: 'image/svg+xml' }));
  try {
    const image = new Image();
    image.src = url;
    await image.decode();
    const canvas = document.createElement('canvas');
    canvas.width = Math.round(svg.width * scale);
    canvas.height = Math.round(svg.height * scale);
    const context = canvas.getContext('2d');
    if (!context) throw new Error('This browser cannot draw on a canvas.');
    context.scale(scale, scale);
    context.drawImage(image, 0, 0, svg.width, svg.height);
    return await new Promise<Blob>((resolve, reject) =>
      canvas.toBlob((blob) => (blob ? resolve(blob) : reject(new Error('PNG encoding failed.'))), 'image/png'),
    );
  } finally {
    URL.revokeObjectURL(url);
  }
}

/** A file-name-safe version of a title. */
export function fileStem(title: string): string {
  return (
    title
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 80) || 'chart'
  );
}
