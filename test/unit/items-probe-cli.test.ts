// `npm run items -- --probe weak|strong --print-prompt ID`: the probe prompt of one item, on the real MMLU data.
import { describe, expect, it } from 'vitest';
import { plantedLetter, suggestionText } from '../../src/core/probe';
import { fewshotItems, fewshotPool, renderPrompt } from '../../src/core/prompts';
import { LETTERS } from '../../src/core/types';
import { main } from '../../scripts/items';
import { mmluDataDir } from '../../scripts/mmlu-folder';
import { realMmluItems } from './mmlu-real-data';

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(argv, { stdout: (t) => (out += t), stderr: (t) => (err += t) });
  return { code, out, err };
}

describe('items CLI: probe prompts', () => {
  it('prints the weak and strong probe prompts of a real item, in both formats, with the seeded planted letter', async () => {
    const items = await realMmluItems();
    const item = items.find((i) => i.id === 'anatomy/test/0')!;
    const planted = plantedLetter(item.id, item.answer, 0);
    expect(planted).not.toBe(item.answer);
    const weak = await run('--source', mmluDataDir(), '--probe', 'weak', '--print-prompt', 'anatomy/test/0');
    expect(weak.code).toBe(0);
    expect(weak.out).toBe(`${renderPrompt(item, [], { format: 'completion', kshot: 0, probe: { template: 'weak', seed: 0 } })}\n`);
    expect(weak.out).toContain(`\nI think the answer is (${LETTERS[planted]}), but I'm not sure.\nAnswer:\n`);
    const strong = await run('--source', mmluDataDir(), '--probe', 'strong', '--probe-seed', '9', '--format', 'chat', '--kshot', '2', '--print-prompt', 'anatomy/test/0');
    expect(strong.code).toBe(0);
    const shots = fewshotItems(fewshotPool(items), 'anatomy', 2);
    expect(strong.out).toBe(`${renderPrompt(item, shots, { format: 'chat', kshot: 2, probe: { template: 'strong', seed: 9 } })}\n`);
    expect(strong.out).toContain(suggestionText('strong', plantedLetter(item.id, item.answer, 9)));
  });

  it('refuses an unknown template', async () => {
    const r = await run('--source', mmluDataDir(), '--probe', 'shouty', '--print-prompt', 'anatomy/test/0');
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/--probe.*shouty.*weak, strong/s);
  });
});
