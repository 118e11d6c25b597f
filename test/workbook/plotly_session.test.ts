// plotly.js goes to a page once: the first chart a front-end session receives
// carries it, later ones reuse it, and after a page reload (a new client
// session) the next chart carries it again. Without the project's tslab patch
// the kernel cannot see the session, and a reloaded page stays without it.
import * as assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import * as path from 'node:path';
import { KernelClient } from '../../scripts/workbook/kernel';

const root = path.resolve(__dirname, '..', '..');

async function chartCarriesLibrary(kernel: KernelClient): Promise<boolean> {
  const htmls: string[] = [];
  const code = "import { showPlot } from './kernel-lib';\nshowPlot({ data: [{ type: 'bar', x: ['a'], y: [1] }] });";
  const reply = await kernel.request('shell', 'execute_request', { code, silent: false }, (m) => {
    if (m.header.msg_type === 'display_data') htmls.push(String((m.content as { data: Record<string, unknown> }).data['text/html'] ?? ''));
  });
  assert.equal((reply.content as { status: string }).status, 'ok', JSON.stringify(reply.content));
  assert.equal(htmls.length, 1, 'one chart output');
  return htmls[0].includes('data-workbook-library="plotly.js"');
}

describe('plotly.js once per front-end session (tslab patch)', function () {
  this.timeout(120_000);
  it('the first chart of a session carries plotly.js, the next does not, and a reloaded page gets it again', async () => {
    const kernel = await KernelClient.start({ cwd: root });
    try {
      assert.equal(await chartCarriesLibrary(kernel), true, 'first chart');
      assert.equal(await chartCarriesLibrary(kernel), false, 'second chart, same page');
      kernel.session = randomUUID(); // what a page reload does
      assert.equal(await chartCarriesLibrary(kernel), true, 'first chart after the reload');
    } finally {
      await kernel.shutdown();
    }
  });
});
