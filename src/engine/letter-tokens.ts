/**
 * Letter token ids from the model's own tokenizer at run time: the tokenizer.json that web-llm cached for the
 * model is read with @lenml/tokenizers (a port of Hugging Face tokenizers), and each answer string must encode
 * to exactly one token. No token id is hard-coded anywhere in the kit.
 */
import { TokenizerLoader } from '@lenml/tokenizers';
import type { LetterVector } from '../core/types';
import { EngineError, type AnswerStrings } from './types';

/** The part of a tokenizer this module needs: text to token ids, without special tokens added. */
export interface LetterTokenizer {
  encode(text: string): ArrayLike<number>;
}

/**
 * Token ids of the answer strings A..D. Refuses (LetterTokenError) a tokenizer that splits any of them into
 * several tokens, or maps two of them to one token, since their logits could then not be read from a single
 * next-token distribution.
 */
export function resolveLetterTokenIds(tokenizer: LetterTokenizer, answerStrings: AnswerStrings): LetterVector {
  const ids = answerStrings.map((s) => {
    const encoded = Array.from(tokenizer.encode(s));
    if (encoded.length !== 1) {
      throw new EngineError(
        'LetterTokenError',
        `The answer ${JSON.stringify(s)} encodes to ${encoded.length} tokens [${encoded.join(', ')}] in this model's ` +
          'tokenizer; the kit needs each answer letter to be exactly one token.',
      );
    }
    return encoded[0];
  }) as LetterVector;
  if (new Set(ids).size !== ids.length) {
    throw new EngineError('LetterTokenError', `Two answer strings share a token id: [${ids.join(', ')}].`);
  }
  return ids;
}

/**
 * A tokenizer built from a model's tokenizer.json (the parsed JSON). tokenizer_config.json is not needed to
 * encode plain text; special tokens are never added.
 */
export function tokenizerFromJson(tokenizerJson: unknown): LetterTokenizer {
  if (typeof tokenizerJson !== 'object' || tokenizerJson === null || !('model' in tokenizerJson)) {
    throw new EngineError(
      'LetterTokenError',
      'tokenizer.json has no "model" field; it is not a Hugging Face tokenizer file.',
    );
  }
  let tokenizer: ReturnType<typeof TokenizerLoader.fromPreTrained>;
  try {
    tokenizer = TokenizerLoader.fromPreTrained({
      tokenizerJSON: tokenizerJson as Parameters<typeof TokenizerLoader.fromPreTrained>[0]['tokenizerJSON'],
      tokenizerConfig: {},
    });
  } catch (e) {
    throw new EngineError('LetterTokenError', `tokenizer.json could not be read: ${(e as Error).message}`);
  }
  return { encode: (text) => tokenizer.encode(text, { add_special_tokens: false }) };
}
