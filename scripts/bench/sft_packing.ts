// Padding vs packing for SFT on the world's conversations: packing efficiency
// (real tokens / row tokens) and training throughput in real tokens per
// second, the same model, optimizer and conversations, and their ratio.
// The machine may be shared: modes take turns for several rounds and each
// reports its median round.
// Run: npx tsx scripts/bench/sft_packing.ts [steps per round = 8] [rounds = 5]
import * as path from 'node:path';
import { selectBackend, type BackendChoice } from '../../kernel-lib/runtime';
import { createDecoder, disposeDecoder, modelConfig } from '../../kernel-lib/model';
import { loadWorld } from '../../kernel-lib/data';
import { builtinTemplate, trainBpe } from '../../kernel-lib/text';
import { sftData, sftObjective, train, type SftBatch } from '../../kernel-lib/train';

const root = path.resolve(__dirname, '../..');

async function main() {
  const steps = Number(process.argv[2] ?? 8);
  const backend = await selectBackend((process.env.BACKEND as BackendChoice | undefined) ?? 'wasm');
  const world = loadWorld(path.join(root, 'data/world'));
  const template = builtinTemplate('chatml');
  const tok = trainBpe(world.corpus, { vocabSize: 512, specialTokens: ['<|pad|>', '<|eos|>', ...template.specialTokens], padToken: '<|pad|>', eosToken: '<|eos|>', maxChars: 100_000 });
  const config = modelConfig({ vocab_size: tok.vocabSize, hidden_size: 128, intermediate_size: 352, num_hidden_layers: 4, num_attention_heads: 4, num_key_value_heads: 4, max_position_embeddings: 256, tie_word_embeddings: true });
  const rowLength = 256;
  const modes = [
    { name: 'padding (16 conversations a batch, padded to the longest)', cfg: { batchSize: 16, packing: false, maxLength: rowLength, seed: 0 } },
    { name: `packing (4 rows of ${rowLength}, best-fit decreasing)`, cfg: { batchSize: 4, packing: true, maxLength: rowLength, seed: 0 } },
    { name: 'packing (7 rows of 144, best-fit decreasing)', cfg: { batchSize: 7, packing: true, maxLength: 144, seed: 0 } },
  ];
  const rounds = Number(process.argv[3] ?? 5);
  const runs = modes.map((mode) => {
    const data = sftData(world.sftTrain, tok, template, mode.cfg);
    let real = 0, slots = 0;
    const perEpoch = Math.ceil(data.batches.unitsPerEpoch / mode.cfg.batchSize);
    for (let k = 0; k < perEpoch; k++) { const b = data.batches.batch(k, 0); real += b.realTokens; slots += b.rows * b.length; }
    return { mode, data, efficiency: real / slots, model: createDecoder(config, 0), next: 0, rates: [] as { real: number; trained: number; conv: number }[] };
  });
  for (const run of runs) {
    await train(run.model, { steps: 1, lr: 1e-3, progress: 'none' }, { objective: sftObjective, data: run.data.batches });
    run.next = 1;
  }
  for (let round = 0; round < rounds; round++) {
    for (const run of runs) {
      let tokens = 0, trained = 0, conversations = 0;
      const from = run.next;
      const timed = { batch: (s: number, m: number): SftBatch => { const b = run.data.batches.batch(from + s, m); tokens += b.realTokens; trained += b.mask!.reduce((x, y) => x + y, 0); conversations += b.numTokens - b.realTokens; return b; } };
      const t0 = process.hrtime.bigint();
      await train(run.model, { steps, lr: 1e-3, progress: 'none' }, { objective: sftObjective, data: timed });
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      run.next += steps;
      run.rates.push({ real: tokens / seconds, trained: trained / seconds, conv: conversations / seconds });
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const results = runs.map((r) => {
    disposeDecoder(r.model);
    return { name: r.mode.name, efficiency: r.efficiency, realPerS: median(r.rates.map((x) => x.real)), trainedPerS: median(r.rates.map((x) => x.trained)), convPerS: median(r.rates.map((x) => x.conv)) };
  });
  console.log(`backend ${backend.backend}, ${world.sftTrain.length} conversations, model d128 x4 layers, vocab ${tok.vocabSize}, ${rounds} rounds of ${steps} timed steps each, medians`);
  for (const r of results) {
    console.log(`${r.name}: efficiency ${(100 * r.efficiency).toFixed(1)}%, ${r.realPerS.toFixed(0)} real tokens/s, ${r.trainedPerS.toFixed(0)} trained tokens/s, ${r.convPerS.toFixed(1)} conversations/s`);
  }
  for (const r of results.slice(1)) {
    console.log(`${r.name} / padding: ${(r.realPerS / results[0].realPerS).toFixed(2)}x real tokens/s, ${(r.convPerS / results[0].convPerS).toFixed(2)}x conversations/s`);
  }
}
main();
