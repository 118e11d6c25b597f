// npm run notebooks:clean -- [--check] [notebook-or-folder ...]
// Strips outputs, execution counts and volatile metadata from notebooks
// before they are committed (notebooks/ by default); --check only lists what
// it would strip and exits 1 when anything would change.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { cleanNotebook, notebookDirt, notebookText } from './workbook/clean';
import { readNotebook } from './workbook/notebook';

const USAGE = `usage: npm run notebooks:clean -- [--check] [notebook-or-folder ...]

Removes from each notebook (every .ipynb of notebooks/ by default) what a
commit must not carry: outputs, execution counts, cell timings, the runner's
injected parameters and run record, and the kernel's language_info; writes
the notebook as Jupyter saves it (sorted keys, one-space indent). Sources,
cell ids, tags and the kernelspec stay.

options:
  --check     change nothing: list what would be stripped, exit 1 if anything
  -h, --help  this text`;

function notebookFiles(targets: string[]): string[] {
  const files: string[] = [];
  for (const target of targets) {
    if (!fs.existsSync(target)) throw new Error(`${target}: no such file or folder`);
    if (fs.statSync(target).isDirectory()) {
      files.push(...fs.readdirSync(target).filter((f) => f.endsWith('.ipynb')).sort().map((f) => path.join(target, f)));
    } else if (target.endsWith('.ipynb')) {
      files.push(target);
    } else {
      throw new Error(`${target}: not a notebook (.ipynb) or a folder`);
    }
  }
  return files;
}

function main(): number {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { check: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false } },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const root = path.resolve(__dirname, '..');
  const files = notebookFiles(positionals.length ? positionals : [path.join(root, 'notebooks')]);
  let unclean = 0;
  for (const file of files) {
    const shown = path.relative(process.cwd(), file) || file;
    const nb = readNotebook(file);
    const dirt = notebookDirt(nb);
    const text = notebookText(cleanNotebook(nb));
    const changed = text !== fs.readFileSync(file, 'utf8');
    if (!changed) continue;
    unclean++;
    const what = dirt.length ? dirt.join('; ') : 'layout only (key order, indent, source lines)';
    if (values.check) {
      console.log(`${shown}: ${what}`);
    } else {
      const tmp = `${file}.${process.pid}.tmp`;
      fs.writeFileSync(tmp, text);
      fs.renameSync(tmp, file);
      console.log(`cleaned ${shown}: ${what}`);
    }
  }
  if (values.check && unclean > 0) {
    console.log(`${unclean} of ${files.length} notebook(s) not clean: run npm run notebooks:clean`);
    return 1;
  }
  if (unclean === 0) console.log(`${files.length} notebook(s) clean`);
  return 0;
}

try {
  process.exitCode = main();
} catch (err) {
  console.error(`notebooks:clean: ${(err as Error).message}`);
  process.exitCode = 2;
}
