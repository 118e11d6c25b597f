// Committed notebooks carry no outputs or volatile metadata, and
// `npm run notebooks:clean` makes an executed notebook so: a real run of a
// fixture through the tslab kernel leaves outputs, counts, timings, injected
// parameters and language_info, and cleaning gives back the source's cells.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { cleanNotebook, notebookDirt, notebookText } from '../../scripts/workbook/clean';
import { readNotebook, sourceText } from '../../scripts/workbook/notebook';
import { runWorkbook } from '../../scripts/workbook/run';

const root = path.resolve(__dirname, '..', '..');
const fixtures = path.join(root, 'test', 'fixtures', 'notebooks');
const notebooksDir = path.join(root, 'notebooks');
const tsx = path.join(root, 'node_modules', '.bin', 'tsx');
const clean = (args: string[]) => spawnSync(tsx, [path.join(root, 'scripts', 'notebooks-clean.ts'), ...args], { encoding: 'utf8' });

describe('notebook hygiene', function () {
  this.timeout(120_000);

  it('every committed notebook is clean and laid out as Jupyter saves it', () => {
    const files = fs.readdirSync(notebooksDir).filter((f) => f.endsWith('.ipynb'));
    assert.ok(files.length >= 8, files.join(', '));
    for (const f of files) {
      const file = path.join(notebooksDir, f);
      const nb = readNotebook(file);
      assert.deepEqual(notebookDirt(nb), [], `${f} is not clean: run npm run notebooks:clean`);
      assert.equal(fs.readFileSync(file, 'utf8'), notebookText(cleanNotebook(nb)), `${f} is not in Jupyter's layout: run npm run notebooks:clean`);
    }
    const check = clean(['--check']);
    assert.equal(check.status, 0, check.stdout + check.stderr);
    assert.match(check.stdout, /notebook\(s\) clean/);
  });

  it('cleans an executed notebook back to its source: --check names what is there, cleaning removes it and is idempotent', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'workbook-clean-'));
    await runWorkbook({ notebooksDir: fixtures, outDir: dir, select: ['params'], mode: 'quick', seed: 0, parameters: { steps: 7 }, cellTimeoutSeconds: 60, log: () => {}, images: false });
    const file = path.join(dir, 'params.ipynb');
    const executed = readNotebook(file);
    const dirt = notebookDirt(executed);
    for (const want of [/^metadata\.language_info$/, /^metadata\.workbook$/, /injected parameters/, /\d+ outputs?$/, /execution_count \d+$/, /metadata\.execution$/]) {
      assert.ok(dirt.some((d) => want.test(d)), `${want} in ${JSON.stringify(dirt)}`);
    }

    const check = clean(['--check', file]);
    assert.equal(check.status, 1, check.stdout + check.stderr);
    assert.match(check.stdout, /params\.ipynb: metadata\.language_info; .*injected parameters/);
    assert.equal(fs.readFileSync(file, 'utf8'), JSON.stringify(executed, null, 1) + '\n', '--check changes nothing');

    const run = clean([dir]);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /cleaned .*params\.ipynb/);
    const cleaned = readNotebook(file);
    assert.deepEqual(notebookDirt(cleaned), []);
    const source = readNotebook(path.join(fixtures, 'params.ipynb'));
    assert.deepEqual(
      cleaned.cells.map((c) => [c.id, c.cell_type, sourceText(c.source), c.metadata]),
      source.cells.map((c) => [c.id, c.cell_type, sourceText(c.source), c.metadata]),
    );
    assert.deepEqual(cleaned.metadata.kernelspec, source.metadata.kernelspec);

    const bytes = fs.readFileSync(file, 'utf8');
    const again = clean([file]);
    assert.equal(again.status, 0);
    assert.match(again.stdout, /1 notebook\(s\) clean/);
    assert.equal(fs.readFileSync(file, 'utf8'), bytes);
  });

  it('refuses what is not a notebook, naming it', () => {
    const r = clean([path.join(root, 'package.json')]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /package\.json: not a notebook \(\.ipynb\) or a folder/);
  });
});
