// A reward model on disk, in the two layouts transformers and PEFT read: a
// whole LlamaForSequenceClassification folder (config.json with one label
// and pad_token_id, model.safetensors with score.weight and no lm_head), or
// LoRA adapters for task SEQ_CLS whose file also carries the trained head
// (modules_to_save ["score"], saved as base_model.model.score.weight).
import { loadCheckpoint, modelFiles, writeCheckpointFolder } from './checkpoint';
import type { Decoder } from './decoder';
import { adapterFiles } from './lora';
import { addScoreHead, hasScoreHead, type ScoreHeadOptions } from './reward_model';
import { SCORE_WEIGHT } from './weights';

export interface SaveRewardOptions {
  /**
   * Written as config.json's pad_token_id (default: the model config's).
   * Required: transformers finds a row's last token as the rightmost token
   * that is not this id, and refuses batches of several rows without one. So
   * it must not be the id of a sequence's last token (the end-of-turn): then
   * transformers would score one token earlier than this library does.
   */
  padTokenId?: number;
  /** More files for the folder (tokenizer.json, tokenizer_config.json). */
  extraFiles?: Record<string, Uint8Array | string>;
}

function padIdFor(model: Decoder, options: SaveRewardOptions): number {
  const pad = options.padTokenId ?? model.config.pad_token_id;
  if (!(Number.isInteger(pad) && pad! >= 0 && pad! < model.config.vocab_size)) {
    throw new Error(
      `saveRewardModel: pad_token_id must be a token id in [0, ${model.config.vocab_size - 1}] (transformers finds each row's last token with it), got ${pad}; pass padTokenId`,
    );
  }
  return pad!;
}

/** The files of a LlamaForSequenceClassification folder for a reward model whose head is among its weights. */
export function rewardModelFiles(model: Decoder, options: SaveRewardOptions = {}): Record<string, Uint8Array | string> {
  if (model.lora) {
    throw new Error('saveRewardModel: the model has LoRA adapters; fold them in with mergeRewardLora first, or save them with saveRewardAdapters');
  }
  if (!model.weights.has(SCORE_WEIGHT)) throw new Error(`saveRewardModel: the model has no "${SCORE_WEIGHT}" head`);
  const config = { ...model.config, pad_token_id: padIdFor(model, options) };
  return { ...modelFiles({ ...model, config }), ...options.extraFiles };
}

/** Saves a reward model as a LlamaForSequenceClassification folder (atomically). */
export function saveRewardModel(dir: string, model: Decoder, options: SaveRewardOptions = {}): void {
  writeCheckpointFolder(dir, rewardModelFiles(model, options));
}

export interface LoadedRewardModel {
  model: Decoder;
  /** True when the folder held a causal LM (a base or SFT model) and the head was initialised here. */
  newHead: boolean;
}

/**
 * Opens a reward model folder, or starts one from a LlamaForCausalLM folder
 * (the SFT or base checkpoint) with a fresh seeded head.
 */
export function loadRewardModel(dir: string, head: ScoreHeadOptions = {}): LoadedRewardModel {
  const { model } = loadCheckpoint(dir);
  const newHead = !hasScoreHead(model);
  if (newHead) addScoreHead(model, head);
  return { model, newHead };
}

/**
 * PEFT adapter files for a LoRA reward model: adapterFiles, after checking
 * that the head is beside the adapters (then it is saved with them, task
 * SEQ_CLS and modules_to_save ["score"], as PEFT saves a sequence
 * classifier's adapters).
 */
export function rewardAdapterFiles(model: Decoder, baseModel = ''): Record<string, Uint8Array | string> {
  if (!model.lora?.tensors.has(SCORE_WEIGHT)) {
    throw new Error(`saveRewardAdapters: the model has no LoRA adapters with a "${SCORE_WEIGHT}" head beside them (addRewardLora)`);
  }
  return adapterFiles(model, baseModel);
}

/** Saves a LoRA reward model's adapters and head in PEFT's layout (atomically). */
export function saveRewardAdapters(dir: string, model: Decoder, baseModel = ''): void {
  writeCheckpointFolder(dir, rewardAdapterFiles(model, baseModel));
}
