// A cell that prints a lot: tslab sent one iopub message per write and lost
// them (and the cell's idle status) once zeromq refused a second concurrent
// send; the runner then waited for that idle status until the cell timeout.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { IDLE_GRACE_MS, KernelClient } from '../../scripts/workbook/kernel';
import type { CodeCell, Notebook } from '../../scripts/workbook/notebook';
import { sourceText } from '../../scripts/workbook/notebook';
import type { Message } from '../../scripts/workbook/protocol';
import { runWorkbook } from '../../scripts/workbook/run';

const root = path.resolve(__dirname, '..', '..');
const fixtures = path.join(root, 'test', 'fixtures', 'notebooks');

function stdout(nb: Notebook, id: string): string {
  const cell = nb.cells.find((c) => c.id === id) as CodeCell;
  return cell.outputs.map((o) => (o.output_type === 'stream' && o.name === 'stdout' ? sourceText(o.text) : '')).join('');
}

describe('workbook: chatty cells', () => {
  it('10,000 lines and 100,000 small writes in one cell each finish in seconds, every line kept', async function () {
    this.timeout(120_000);
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'workbook-chatty-'));
    const started = Date.now();
    const m = await runWorkbook({ notebooksDir: fixtures, outDir: out, select: ['chatty'], mode: 'quick', seed: 0, parameters: {}, cellTimeoutSeconds: 30, log: () => {} });
    const seconds = (Date.now() - started) / 1000;
    assert.equal(m.ok, true, JSON.stringify(m.notebooks[0].failure));
    assert.ok(seconds < 20, `took ${seconds}s`);
    const nb: Notebook = JSON.parse(fs.readFileSync(path.join(out, 'chatty.ipynb'), 'utf8'));
    const lines = Array.from({ length: 10_000 }, (_, i) => `line ${i}\n`).join('');
    assert.ok(stdout(nb, 'lines') === lines, `10,000 lines kept (got ${stdout(nb, 'lines').split('\n').length - 1} lines)`);
    let writes = '';
    for (let i = 0; i < 100_000; i++) writes += i % 10 === 9 ? `${i}\n` : '.';
    assert.ok(stdout(nb, 'writes') === writes, `100,000 writes kept (got ${stdout(nb, 'writes').length} of ${writes.length} characters)`);
    assert.equal(stdout(nb, 'after'), 'after the chatty cells\n');
  });

  it('a request ends on its execute_reply when the idle status never comes, output kept', async function () {
    this.timeout(60_000);
    const fake = path.join(__dirname, 'fake-kernel.ts');
    const kernel = await KernelClient.start({ cwd: root, argv: [process.execPath, '--import', 'tsx', fake, '{connection_file}'] });
    try {
      const seen: string[] = [];
      const started = Date.now();
      const request = kernel.request('shell', 'execute_request', { code: '1', silent: false }, (m) => {
        if (m.header.msg_type === 'stream') seen.push(String((m.content as { text: string }).text));
      });
      const result = await Promise.race([request, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 10_000))]);
      assert.notEqual(result, 'hung', 'the request waited for an idle status that never came');
      assert.equal((result as Message).content.status, 'ok');
      assert.ok(Date.now() - started < IDLE_GRACE_MS + 3000, `ended ${Date.now() - started}ms after sending`);
      assert.deepEqual(seen, ['output before the reply\n']);
    } finally {
      await kernel.kill();
    }
  });
});
