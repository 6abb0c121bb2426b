import { describe, expect, it } from 'vitest';
import { PALETTE, ROLE_COLORS, variantColors } from '../../src/components/results/charts';
import { compareVariants, inVariantOrder, type NamedVariant } from '../../src/components/results/format';

const demo: NamedVariant[] = [
  { name: 'GRPO (simulated)', role: 'grpo' },
  { name: 'SFT (simulated)', role: 'sft' },
  { name: 'base (simulated)', role: 'base' },
];

describe('one order of variants', () => {
  it('is by role as the study lists them, then by name', () => {
    const mixed: NamedVariant[] = [
      ...demo,
      { name: 'b-other' },
      { name: 'a-other', role: 'other' },
      { name: 'Qwen3-0.6B', role: 'base' },
    ];
    expect([...mixed].sort(compareVariants).map((v) => v.name)).toEqual([
      'Qwen3-0.6B',
      'base (simulated)',
      'SFT (simulated)',
      'GRPO (simulated)',
      'a-other',
      'b-other',
    ]);
  });

  it("reorders a view's runs and its report's variants (the key order legends follow) the same way", () => {
    const view = {
      runs: demo.map((v) => ({ ...v, id: v.name })),
      report: { variants: Object.fromEntries(demo.map((v) => [v.name, { role: v.role, n: 10 }])) },
    };
    const ordered = inVariantOrder(view);
    expect(ordered.runs.map((r) => r.name)).toEqual(['base (simulated)', 'SFT (simulated)', 'GRPO (simulated)']);
    expect(Object.keys(ordered.report!.variants)).toEqual(['base (simulated)', 'SFT (simulated)', 'GRPO (simulated)']);
    expect(ordered.report!.variants['SFT (simulated)'].n).toBe(10);
    expect(Object.keys(view.report.variants)[0]).toBe('GRPO (simulated)'); // the input is left as it was
  });
});

describe('one colour per variant', () => {
  it('gives base, SFT and GRPO their role colours whatever else is shown, in any order', () => {
    const colors = variantColors(demo);
    expect(colors.get('base (simulated)')).toBe(ROLE_COLORS.base);
    expect(colors.get('SFT (simulated)')).toBe(ROLE_COLORS.sft);
    expect(colors.get('GRPO (simulated)')).toBe(ROLE_COLORS.grpo);
    // A run added (before or after in any list) changes none of them; the newcomer gets a spare colour.
    const more = variantColors([{ name: 'a new run', role: 'other' }, ...demo.slice().reverse()]);
    for (const v of demo) expect(more.get(v.name)).toBe(colors.get(v.name));
    expect(Object.values(ROLE_COLORS)).not.toContain(more.get('a new run'));
    // Without the base, SFT and GRPO keep theirs.
    expect(variantColors(demo.slice(0, 2)).get('SFT (simulated)')).toBe(ROLE_COLORS.sft);
  });

  it('gives a second variant of one role a colour of its own, and every colour is from the palette', () => {
    const colors = variantColors([...demo, { name: 'zz base', role: 'base' }]);
    expect(colors.get('base (simulated)')).toBe(ROLE_COLORS.base);
    expect(new Set(colors.values()).size).toBe(4);
    for (const c of colors.values()) expect(PALETTE).toContain(c);
  });
});
