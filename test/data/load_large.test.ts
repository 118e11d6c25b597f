// Big files stream: iterating streamDataset over ~50 MB of JSON Lines (and a
// smaller JSON array, whose token parser is slower) keeps the heap far below
// the file's size, because no step holds the whole file, all its lines or all
// its records.
import * as assert from 'node:assert/strict';
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { streamDataset } from '../../kernel-lib/data/load';

/**
 * A full collection before each heap sample, so the sample counts what is
 * held, not garbage V8 has yet to collect. The flag is set at run time
 * because the test command does not pass --expose-gc.
 */
function collector(): () => void {
  if (typeof globalThis.gc === 'function') return globalThis.gc;
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
}

/** Rows of about 900 bytes in the messages layout, as JSON Lines or as one JSON array, up to `target` bytes. */
async function writeBig(file: string, layout: 'jsonl' | 'json', target: number): Promise<{ bytes: number; rows: number }> {
  const out = fs.createWriteStream(file);
  const filler = 'The quick brown fox keeps a steady pace across the long field. '.repeat(6);
  let bytes = 0;
  let rows = 0;
  const put = async (text: string) => {
    bytes += Buffer.byteLength(text);
    if (!out.write(text)) await once(out, 'drain');
  };
  if (layout === 'json') await put('[\n');
  while (bytes < target) {
    const row = JSON.stringify({
      messages: [
        { role: 'user', content: `Question ${rows}: ${filler}` },
        { role: 'assistant', content: `Answer ${rows}: ${filler}` },
      ],
    });
    await put(layout === 'jsonl' ? `${row}\n` : `${rows > 0 ? ',\n' : ''}${row}`);
    rows++;
  }
  if (layout === 'json') await put('\n]\n');
  out.end();
  await once(out, 'finish');
  return { bytes, rows };
}

describe('data/load: large files stream in bounded memory', function () {
  this.timeout(60_000);
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'load-large-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  for (const [layout, target] of [
    ['jsonl', 50 * 2 ** 20],
    ['json', 16 * 2 ** 20],
  ] as const) {
    it(`streams ${target / 2 ** 20} MB of .${layout} record by record with the heap well below the file size`, async () => {
      const file = path.join(dir, `big.${layout}`);
      const { bytes, rows } = await writeBig(file, layout, target);
      const gc = collector();
      gc();
      const base = process.memoryUsage().heapUsed;
      let peak = 0;
      let count = 0;
      let chars = 0;
      const stream = streamDataset(file);
      for await (const r of stream) {
        count++;
        if (r.kind === 'conversation') chars += r.messages[1].content.length;
        if (count % 5000 === 0) {
          gc();
          peak = Math.max(peak, process.memoryUsage().heapUsed - base);
        }
      }
      assert.equal(count, rows);
      assert.deepEqual([stream.report.read, stream.report.kept, stream.report.skipped.length], [rows, rows, 0]);
      assert.ok(chars > 0);
      // Holding the file as one string, or all its records, would take at least its size in heap.
      assert.ok(peak < bytes / 10, `heap grew by ${(peak / 2 ** 20).toFixed(1)} MiB while streaming a ${(bytes / 2 ** 20).toFixed(1)} MiB file`);
    });
  }
});
