// Packing: several tokenized conversations share one row, each keeping its
// own attention, positions and loss. A conversation of n ids takes n - 1 slots
// of a row: its inputs ids[0..n-2], each with its own next token as target
// (ids[1..n-1]). Its last token (the end of turn) is only ever a target, so no
// target in a row is the first token of the next conversation: the loss cannot
// cross a boundary by construction, not by a mask that could be forgotten.
// The decoder's segmentIds option (1, 2, ... per conversation, 0 for padding)
// keeps attention inside a segment, and positions restart at 0 per segment.
//
// Placement is best-fit decreasing, deterministic: conversations sorted by
// length, longest first (ties by their index), each placed into the open row
// with the least room that still fits it, or a new row. Rows come out in the
// order they were opened.
import type { LmBatch } from './lm';
import type { SftBatchExample } from './sft_batch';

/** LmBatch rows that may hold several sequences (packed) or one (padded). */
export interface SftBatch extends LmBatch {
  /** [rows * length] 1, 2, ... per sequence in a row, 0 for padding. */
  segments?: Int32Array;
  /** [rows * length] position of each token within its sequence, restarting at 0 per segment; present only in packed rows (the forward then keeps segments apart). */
  positions?: Int32Array;
  /** Row slots that hold a token rather than padding (n - 1 per conversation of n ids). */
  realTokens: number;
  /** Tokens of the conversations in the batch, their last one included (n each): what TRL's num_tokens adds up. */
  numTokens: number;
}

export interface PackOptions {
  /** Slots in a row (model inputs; each conversation of n ids takes n - 1). */
  rowLength: number;
  padId: number;
  /** Cut conversations longer than rowLength + 1 ids from the end instead of failing. */
  truncate?: boolean;
  /** Names the examples in errors, e.g. 'train.jsonl'. */
  source?: string;
  /** Names example i in errors (e.g. its record's source and id); default `${source} example i`. */
  name?: (index: number) => string;
}

/** Which examples share which row: indices into the examples, in placement order. */
export interface PackPlan {
  rowLength: number;
  rows: number[][];
  /** Slots each example takes (ids - 1, after truncation). */
  slots: number[];
}

function exampleName(options: { source?: string; name?: (i: number) => string }, i: number): string {
  return options.name ? options.name(i) : `${options.source ?? 'sft'} example ${i}`;
}

/** The slots each example takes in a row of `rowLength`, checked (too long fails unless truncate). */
export function exampleSlots(examples: SftBatchExample[], options: Omit<PackOptions, 'padId'>): number[] {
  const { rowLength } = options;
  if (!(Number.isInteger(rowLength) && rowLength >= 1)) throw new Error(`packSftExamples: rowLength must be a positive integer, got ${rowLength}`);
  return examples.map((e, i) => {
    if (e.ids.length !== e.mask.length) throw new Error(`${exampleName(options, i)}: ${e.ids.length} ids but ${e.mask.length} mask entries`);
    if (e.ids.length < 2) throw new Error(`${exampleName(options, i)}: ${e.ids.length} token(s); an example needs at least 2 to predict anything`);
    const n = e.ids.length - 1;
    if (n > rowLength && !options.truncate) {
      throw new Error(`${exampleName(options, i)}: ${e.ids.length} tokens do not fit a row of ${rowLength} + 1; raise maxLength or pass truncate: true to cut them`);
    }
    return Math.min(n, rowLength);
  });
}

/** Best-fit decreasing placement of examples into rows (see the file's header). */
export function planPacking(examples: SftBatchExample[], options: Omit<PackOptions, 'padId'>): PackPlan {
  const slots = exampleSlots(examples, options);
  const order = slots.map((_, i) => i).sort((a, b) => slots[b] - slots[a] || a - b);
  const rows: number[][] = [];
  const free: number[] = [];
  for (const i of order) {
    let best = -1;
    for (let r = 0; r < rows.length; r++) {
      if (free[r] >= slots[i] && (best < 0 || free[r] < free[best])) best = r;
    }
    if (best < 0) {
      rows.push([]);
      free.push(options.rowLength);
      best = rows.length - 1;
    }
    rows[best].push(i);
    free[best] -= slots[i];
  }
  return { rowLength: options.rowLength, rows, slots };
}

/**
 * Writes the rows of `plan` chosen by `rowIndices` into one batch. Rows are as
 * long as the fullest chosen row (not always rowLength), so a batch of short
 * rows costs less.
 */
export function packedBatch(examples: SftBatchExample[], plan: PackPlan, rowIndices: number[], padId: number, source?: string): SftBatch {
  const used = rowIndices.map((r) => plan.rows[r].reduce((s, i) => s + plan.slots[i], 0));
  const length = Math.max(1, ...used);
  const rows = rowIndices.length;
  const inputs = new Int32Array(rows * length).fill(padId);
  const targets = new Int32Array(rows * length).fill(padId);
  const mask = new Float32Array(rows * length);
  const segments = new Int32Array(rows * length);
  const positions = new Int32Array(rows * length);
  let realTokens = 0;
  let numTokens = 0;
  rowIndices.forEach((r, row) => {
    let at = row * length;
    plan.rows[r].forEach((i, s) => {
      const e = examples[i];
      for (let t = 0; t < plan.slots[i]; t++, at++) {
        inputs[at] = e.ids[t];
        targets[at] = e.ids[t + 1];
        mask[at] = e.mask[t + 1];
        segments[at] = s + 1;
        positions[at] = t;
      }
      realTokens += plan.slots[i];
      numTokens += plan.slots[i] + 1;
    });
  });
  return { rows, length, inputs, targets, mask, segments, positions, realTokens, numTokens, source };
}

/**
 * Packs tokenized conversations (ids + assistant mask, e.g. from
 * buildSftExample) into rows of `rowLength` inputs with segment ids and
 * positions restarting per conversation; see the file's header for the layout
 * and the placement rule.
 */
export function packSftExamples(examples: SftBatchExample[], options: PackOptions): SftBatch {
  if (examples.length === 0) throw new Error(`${options.source ?? 'packSftExamples'}: no examples`);
  const plan = planPacking(examples, options);
  return packedBatch(examples, plan, plan.rows.map((_, r) => r), options.padId, options.source);
}

/** Real tokens / row tokens: the share of a batch's slots that hold a token rather than padding. */
export function packingEfficiency(batch: Pick<SftBatch, 'rows' | 'length' | 'realTokens'>): number {
  return batch.realTokens / (batch.rows * batch.length);
}
