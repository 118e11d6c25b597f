// The trainer's progress outside a notebook: a cli-progress bar on a terminal
// (forced here with 'bar', drawn into the stream it is given), and compact
// lines in a log; 'display' falls back to lines where no kernel runs.
import * as assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { createProgress } from '../../kernel-lib/train';

function capture(stream: NodeJS.WriteStream, run: () => void): string {
  const write = stream.write.bind(stream);
  let text = '';
  (stream as unknown as { write: (c: string) => boolean }).write = (chunk: string) => {
    text += chunk;
    return true;
  };
  try {
    run();
  } finally {
    (stream as unknown as { write: typeof write }).write = write;
  }
  return text;
}

describe('train: progress', () => {
  const fields = (step: number) => ({ loss: 3 - step / 10, tokensPerSecond: 1234.4, lr: 3e-4 });

  it('prints about twenty lines in a log, each with the step, loss, tokens/s, lr and time left', () => {
    for (const mode of ['line', 'display'] as const) {
      const text = capture(process.stdout, () => {
        const p = createProgress(mode, 'sft');
        p.start(40, 0);
        for (let s = 1; s <= 40; s++) p.update(s, fields(s));
        p.stop();
      });
      const lines = text.trim().split('\n');
      assert.equal(lines.length, 20, `${mode}: ${text}`);
      assert.match(lines[0], /^sft 2\/40 · loss 2\.8000 · 1,234 tok\/s · lr 3\.00e-4 · eta \d+s$/);
      assert.match(lines.at(-1)!, /^sft 40\/40 · loss (-)?\d\.\d{4} · /);
    }
  });

  it('draws a bar on a terminal, redrawn in place, that ends at the total', () => {
    let text = '';
    const terminal = Object.assign(new PassThrough(), { isTTY: true, columns: 120 });
    terminal.on('data', (chunk) => (text += chunk));
    const p = createProgress('auto', 'sft', terminal);
    p.start(10, 0);
    for (let s = 1; s <= 10; s++) p.update(s, fields(s));
    p.stop();
    assert.match(text, /sft \[█{40}\] 10\/10 · loss 2\.0000 · 1234 tok\/s · eta 0s/);
    assert.ok(text.includes('\x1b[1G'), `redrawn from the line start: ${JSON.stringify(text)}`);
  });
});
