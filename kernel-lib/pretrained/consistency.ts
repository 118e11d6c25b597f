// A model folder's three parts must agree: config.json (what the embedding and
// generation know), tokenizer.json with tokenizer_config.json (what the text
// becomes), and the chat template (what a conversation looks like). Files
// edited by hand, or copied from a sibling model, disagree in ways that train
// without an error and fail later: a token id past the embedding, a model
// that never stops because its end-of-turn is not a stop token.
import { checkTokenizerForTemplate, type BpeTokenizer, type ChatTemplate } from '../text';

export interface Consistency {
  /** Disagreements that make the model unusable as it is: loading stops, naming them all. */
  errors: string[];
  /** Worth knowing, not fatal (no PAD token, a padded vocabulary, an end-of-turn added to the stop tokens). */
  notes: string[];
  /** The ids generation stops at: config.json's and generation_config.json's eos_token_id, plus the template's end-of-turn. */
  stopIds: number[];
}

const idsOf = (v: unknown): number[] => (Array.isArray(v) ? v : v === undefined || v === null ? [] : [v]).filter((x): x is number => Number.isInteger(x));

/**
 * Checks `config` (config.json), `generation` (generation_config.json, or {}),
 * the tokenizer and the template (null for a base model without one) against
 * each other. `folder` prefixes every message.
 */
export function checkConsistency(
  folder: string,
  config: Record<string, unknown>,
  generation: Record<string, unknown>,
  tokenizer: BpeTokenizer,
  template: ChatTemplate | null,
): Consistency {
  const errors: string[] = [];
  const notes: string[] = [];
  const vocab = Number(config.vocab_size);
  const name = (id: number | undefined) => (id === undefined ? 'none' : `${JSON.stringify(tokenizer.idToToken(id))} (id ${id})`);

  if (tokenizer.vocabSize > vocab) {
    const over: string[] = [];
    for (let id = vocab; id < tokenizer.vocabSize && over.length < 3; id++) {
      try {
        over.push(`${JSON.stringify(tokenizer.idToToken(id))} = ${id}`);
      } catch {
        /* a gap in the ids */
      }
    }
    errors.push(`${folder}: tokenizer.json has ${tokenizer.vocabSize} token ids but config.json vocab_size is ${vocab}: the embedding has no row for ${over.join(', ')}${tokenizer.vocabSize - vocab > over.length ? ', ...' : ''}`);
  } else if (tokenizer.vocabSize < vocab) {
    notes.push(`config.json vocab_size ${vocab} is larger than the tokenizer's ${tokenizer.vocabSize} ids (rows padded for speed; they are never produced by the tokenizer)`);
  }

  const configBos = idsOf(config.bos_token_id)[0];
  if (configBos !== undefined && tokenizer.bosId !== undefined && configBos !== tokenizer.bosId) {
    errors.push(`${folder}: config.json bos_token_id is ${name(configBos)} but tokenizer_config.json bos_token is ${name(tokenizer.bosId)}`);
  }

  const eosIds = [...new Set([...idsOf(config.eos_token_id), ...idsOf(generation.eos_token_id)])];
  if (tokenizer.eosId !== undefined && eosIds.length > 0 && !eosIds.includes(tokenizer.eosId)) {
    errors.push(
      `${folder}: tokenizer_config.json eos_token is ${name(tokenizer.eosId)} but config.json / generation_config.json eos_token_id is [${eosIds.map(name).join(', ')}]: generation would not stop where the tokenizer ends a text`,
    );
  }
  const stopIds = eosIds.length ? [...eosIds] : tokenizer.eosId !== undefined ? [tokenizer.eosId] : [];

  if (template) {
    const eot = tokenizer.tokenToId(template.endOfTurn);
    if (eot === undefined) {
      errors.push(`${folder}: the chat template ends a turn with ${JSON.stringify(template.endOfTurn)}, which is not a token of tokenizer.json`);
    } else {
      if (eot >= vocab) errors.push(`${folder}: the template's end-of-turn ${name(eot)} is past config.json vocab_size ${vocab}`);
      if (!stopIds.includes(eot)) {
        stopIds.push(eot);
        notes.push(`the template's end-of-turn ${name(eot)} is not an eos_token_id in config.json; generation stops at it too`);
      }
    }
    for (const problem of checkTokenizerForTemplate(tokenizer, template)) {
      // PAD is chosen for training (an unused id), so its absence is not fatal here.
      if (/PAD/.test(problem)) notes.push(problem);
      else errors.push(`${folder}: ${problem}`);
    }
  }
  for (const id of stopIds) if (id >= vocab) errors.push(`${folder}: stop token id ${id} is past config.json vocab_size ${vocab}`);
  return { errors, notes, stopIds };
}
