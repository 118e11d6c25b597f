// Milliseconds of one forward + backward pass (computeGradients, no optimizer)
// of a bench config on the wasm backend, on fixed random tokens: the number
// that kernel changes move. Run: npx tsx scripts/bench/step.ts [S|M] [--steps 3]
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { createDecoder, modelConfig } from '../../kernel-lib/model';
import { randomStream, selectBackend } from '../../kernel-lib/runtime';
import { computeGradients } from '../../kernel-lib/train/step';
import { lmObjective } from '../../kernel-lib/train/lm';

(async () => {
  const name = process.argv[2] && !process.argv[2].startsWith('--') ? process.argv[2] : 'S';
  const at = process.argv.indexOf('--steps');
  const steps = at > 0 ? Number(process.argv[at + 1]) : 3;
  await selectBackend('wasm');
  const c = JSON.parse(fs.readFileSync(path.join(__dirname, 'configs.json'), 'utf8'))[name];
  if (!c) throw new Error(`step: unknown config "${name}"`);
  if (c.lora) throw new Error(`step: ${name} is a LoRA config; its step is measured by scripts/bench/lora.ts and scripts/bench/checkpointing.ts`);
  const config = modelConfig(c.model);
  const model = createDecoder(config, 1);
  const { batch_size: rows, seq_len: length } = c.train;
  const uniform = randomStream('step-bench');
  const draw = () => Math.floor(uniform() * config.vocab_size);
  const batch = { rows, length, inputs: Int32Array.from({ length: rows * length }, draw), targets: Int32Array.from({ length: rows * length }, draw) };
  for (let i = 0; i < 2; i++) computeGradients(model, lmObjective, batch, {}); // warm-up
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) computeGradients(model, lmObjective, batch, {});
  const ms = (performance.now() - t0) / steps;
  console.log(`[${name}] forward+backward ${ms.toFixed(0)} ms/step, ${Math.round(((rows * length) / ms) * 1000).toLocaleString('en-US')} tok/s, tensors alive ${tf.memory().numTensors}`);
})().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
