// Notebook 04 end to end through the real tslab kernel, shortened by its
// parameters. Its base checkpoint is pointed at an empty folder, so the
// notebook takes its own way (pre-training a small base model first), as it
// must when notebook 03 has not run. It must run, raise held-out exact match
// over the base model's, and leave a Hugging Face folder that loads and
// answers with the chat template it carries exactly as the notebook measured.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runWorkbook } from '../../scripts/workbook/run';
import { loadCheckpoint, disposeDecoder } from '../../kernel-lib/model';
import { selectBackend } from '../../kernel-lib/runtime';
import { builtinTemplate, loadTokenizer, templateFromTokenizerConfig } from '../../kernel-lib/text';
import { loadWorld } from '../../kernel-lib/data';
import { evaluateTasks } from '../../kernel-lib/eval';
import { assertExecutedSize } from './size';

const root = path.resolve(__dirname, '..', '..');
const steps = 120;

describe('notebooks/04-instruction-tuning', function () {
  this.timeout(900000);
  let dir: string;
  before(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nb04-')); });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('makes its own base model, fine-tunes it, beats the base on held-out tasks, and saves a folder that loads', async () => {
    const artefacts = path.join(dir, 'artefacts');
    const m = await runWorkbook({
      notebooksDir: path.join(root, 'notebooks'),
      outDir: path.join(dir, 'executed'),
      select: ['04'],
      mode: 'quick',
      seed: 0,
      parameters: { steps: steps, workers: 2, outDir: artefacts, baseDir: path.join(dir, 'no-base-here') },
      // The quick-mode bands are for the notebook's default budget, not this shortened run.
      bandsFile: null,
      cellTimeoutSeconds: 600,
      log: () => {},
    });
    const record = m.notebooks[0];
    assert.equal(record.status, 'ok', JSON.stringify(record.failure ?? record));
    const nb = JSON.parse(fs.readFileSync(record.output, 'utf8'));
    assertExecutedSize(record.output);
    type Output = { output_type: string; data?: Record<string, unknown>; text?: string | string[] };
    const outputs = (id: string) => nb.cells.find((c: { id: string }) => c.id === id).outputs as Output[];
    // nbformat allows a stream's text as one string or a list of lines.
    const text = (id: string) => outputs(id).map((o) => (Array.isArray(o.text) ? o.text.join('') : o.text ?? '')).join('');
    assert.match(text('base'), /No base checkpoint in .*no-base-here: pre-training one here/);
    assert.ok(outputs('template').some((o) => String(o.data?.['text/html'] ?? '').includes('tv-t tr sp')), 'token view with a trained end-of-turn token');
    const live = outputs('train').map((o) => o.data?.['application/vnd.plotly.v1+json'] as { data?: { name?: string }[] } | undefined).find(Boolean);
    assert.deepEqual(live?.data?.map((t) => t.name), ['train loss', 'eval loss', 'mean_token_accuracy (right axis)', 'eval_mean_token_accuracy (right axis)'], 'live figure: loss and mean_token_accuracy, train and held out');
    for (const id of ['curve', 'after', 'masking', 'packing', 'lora']) assert.ok(outputs(id).some((o) => o.data?.['application/vnd.plotly.v1+json']), `figure in ${id}`);

    // The figures the notebook recorded, as the runner put them in the manifest.
    const figure = (name: string): number => {
      const f = record.figures?.[name];
      assert.ok(f && typeof f.value === 'number', `figure ${name} recorded: ${JSON.stringify(record.figures)}`);
      return f.value as number;
    };
    const exact = figure('sft/heldout_exact_match');
    assert.ok(exact > figure('base/heldout_exact_match'), `held-out exact match ${figure('base/heldout_exact_match')} -> ${exact}`);
    assert.ok(figure('sft/stop_rate') > 0.5, `stop rate ${figure('sft/stop_rate')}`);
    assert.ok(figure('ablation/packing/efficiency') > 0.9, `packing efficiency ${figure('ablation/packing/efficiency')}`);
    assert.ok(figure('ablation/lora/trained_share') < 0.1, `LoRA trained share ${figure('ablation/lora/trained_share')}`);

    const lines = fs.readFileSync(path.join(artefacts, 'metrics', '04-instruction-tuning.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const evals = lines.filter((l) => l.kind === 'eval');
    assert.equal(lines.filter((l) => l.kind === 'train').length, steps);
    assert.ok(evals.at(-1).eval_loss < evals[0].eval_loss, `held-out SFT loss ${evals[0].eval_loss} -> ${evals.at(-1).eval_loss}`);

    // The saved folder: Hugging Face files, the chat template it trained with, and the model the notebook measured.
    const checkpoint = path.join(artefacts, 'checkpoints', '04-instruction-tuning');
    for (const file of ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']) assert.ok(fs.existsSync(path.join(checkpoint, file)), file);
    const tokenizerConfig = JSON.parse(fs.readFileSync(path.join(checkpoint, 'tokenizer_config.json'), 'utf8'));
    assert.equal(tokenizerConfig.chat_template, builtinTemplate('chatml').jinja);
    await selectBackend('wasm');
    const { model } = loadCheckpoint(checkpoint);
    const tokenizer = loadTokenizer(checkpoint);
    const template = templateFromTokenizerConfig(tokenizerConfig);
    const again = await evaluateTasks(model, tokenizer, template, loadWorld(path.join(root, 'data', 'world')), { maxNewTokens: 48, fitContext: true, batchSize: 32 });
    assert.equal(again.overall.accuracy, exact, 'the reloaded checkpoint scores what the notebook recorded');
    disposeDecoder(model);
  });
});
