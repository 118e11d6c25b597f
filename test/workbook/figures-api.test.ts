// The pieces of the figures mechanism that need no kernel: recordFigure as a
// notebook calls it (here in-process, with the runner's variable set or not),
// the bands file reader, and the runner's reading of a figures file.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FIGURES_FILE_ENV, recordFigure, recordFigures } from '../../kernel-lib/runtime';
import { formatBand, loadBands, readBands } from '../../scripts/workbook/bands';
import { checkFigures, FigureLog, figuresSummary, figuresTable } from '../../scripts/workbook/figures';
import { tempDir } from './helpers';

/** Runs `fn` with console.log captured and FIGURES_FILE_ENV set to `file` (or unset). */
function capture<T>(file: string | null, fn: () => T): { result: T; printed: string[] } {
  const printed: string[] = [];
  const log = console.log;
  const before = process.env[FIGURES_FILE_ENV];
  if (file === null) delete process.env[FIGURES_FILE_ENV];
  else process.env[FIGURES_FILE_ENV] = file;
  console.log = (...args: unknown[]) => void printed.push(args.join(' '));
  try {
    return { result: fn(), printed };
  } finally {
    console.log = log;
    if (before === undefined) delete process.env[FIGURES_FILE_ENV];
    else process.env[FIGURES_FILE_ENV] = before;
  }
}

function lines(file: string): unknown[] {
  return fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
}

describe('recordFigure (the notebook side)', () => {
  it('under the runner, appends one JSON line a figure to the named file, and prints it', () => {
    const file = path.join(tempDir('figures-api-'), 'figures.jsonl');
    const { printed } = capture(file, () => {
      recordFigure('sft/heldout_exact_match', 0.24600000000000002, { unit: 'fraction', note: 'greedy, held-out' });
      recordFigure('sft/tokens_per_s', 1234);
    });
    assert.deepEqual(lines(file), [
      { name: 'sft/heldout_exact_match', value: 0.24600000000000002, unit: 'fraction', note: 'greedy, held-out' },
      { name: 'sft/tokens_per_s', value: 1234 },
    ]);
    assert.deepEqual(printed, ['figure sft/heldout_exact_match = 0.246 (fraction): greedy, held-out', 'figure sft/tokens_per_s = 1234']);
  });

  it('used interactively (no runner), only prints', () => {
    const { printed } = capture(null, () => recordFigure('reward/accuracy', 0.82));
    assert.deepEqual(printed, ['figure reward/accuracy = 0.82']);
  });

  it('refuses NaN, Infinity, non-numbers and bad names, naming the figure, and writes nothing', () => {
    const file = path.join(tempDir('figures-api-'), 'figures.jsonl');
    capture(file, () => {
      assert.throws(() => recordFigure('sft/accuracy', 0 / 0), /^Error: recordFigure: figure 'sft\/accuracy': value must be a finite number, got NaN$/);
      assert.throws(() => recordFigure('sft/loss', Infinity), /figure 'sft\/loss': value must be a finite number, got Infinity/);
      assert.throws(() => recordFigure('sft/loss', '0.5' as unknown as number), /figure 'sft\/loss': value must be a number, got string "0.5"/);
      assert.throws(() => recordFigure('sft accuracy', 1), /recordFigure: figure name "sft accuracy" is not valid/);
      assert.throws(() => recordFigure('sft//accuracy', 1), /figure name "sft\/\/accuracy" is not valid/);
      assert.throws(() => recordFigure('sft/a', 1, { unit: 3 as unknown as string }), /figure 'sft\/a': option 'unit' must be a string, got number/);
    });
    assert.equal(fs.existsSync(file), false);
  });

  it('recordFigures names each entry prefix/key, and records none when one entry is bad', () => {
    const file = path.join(tempDir('figures-api-'), 'figures.jsonl');
    capture(file, () => {
      recordFigures('sft/heldout_exact_match', { arithmetic: 0.1, lookup: 0.44 }, { unit: 'fraction' });
      assert.throws(() => recordFigures('sft/by_family', { counting: 0.2, sorting: NaN }), /recordFigures: figure 'sft\/by_family\/sorting': value must be a finite number, got NaN/);
    });
    assert.deepEqual(lines(file), [
      { name: 'sft/heldout_exact_match/arithmetic', value: 0.1, unit: 'fraction' },
      { name: 'sft/heldout_exact_match/lookup', value: 0.44, unit: 'fraction' },
    ]);
  });
});

describe('bands files', () => {
  function bandsFile(content: unknown): string {
    const file = path.join(tempDir('figures-bands-'), 'bands.json');
    fs.writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
    return file;
  }

  it('reads bands per notebook, figure and mode, with open sides and reasons', () => {
    const file = bandsFile({
      about: 'test',
      notebooks: { '04-sft': { 'sft/acc': { quick: [0.2, null], full: [0.5, 1], why: 'TRL 19.8%' }, 'sft/loss': { full: [null, 2] } } },
    });
    assert.deepEqual(readBands(file), {
      file,
      notebooks: { '04-sft': { 'sft/acc': { quick: [0.2, null], full: [0.5, 1], why: 'TRL 19.8%' }, 'sft/loss': { full: [null, 2] } } },
    });
    assert.deepEqual([[0.2, 0.4], [0.2, null], [null, 2], [null, null]].map((b) => formatBand(b as [number | null, number | null])), ['[0.2, 0.4]', '>= 0.2', '<= 2', 'any value']);
  });

  it('refuses a malformed file, naming the file, notebook, figure and field', () => {
    const cases: [unknown, RegExp][] = [
      ['{"notebooks": ', /bands\.json: cannot read bands \(.*JSON/],
      [{ notebook: {} }, /bands\.json: unknown field 'notebook' \(expected about, notebooks\)/],
      [{ notebooks: { '04.ipynb': {} } }, /notebooks › 04\.ipynb: name notebooks without '\.ipynb' \('04'\)/],
      [{ notebooks: { '04': { 'sft acc': { quick: [0, 1] } } } }, /notebooks › 04 › sft acc: figure name "sft acc" is not valid/],
      [{ notebooks: { '04': { 'sft/acc': { quick: [0.6, 0.4] } } } }, /notebooks › 04 › sft\/acc › quick: low 0\.6 is above high 0\.4/],
      [{ notebooks: { '04': { 'sft/acc': { quick: [0.6] } } } }, /› quick: expected \[low, high\] \(numbers, or null for an open side\), got \[0\.6\]/],
      [{ notebooks: { '04': { 'sft/acc': { quick: ['0.1', 1] } } } }, /› quick: expected \[low, high\]/],
      [{ notebooks: { '04': { 'sft/acc': { fast: [0, 1] } } } }, /› sft\/acc: unknown field 'fast' \(expected quick, full, why\)/],
      [{ notebooks: { '04': { 'sft/acc': { why: 'no band' } } } }, /› sft\/acc: no band for either mode/],
      [{ notebooks: { '04': { 'sft/acc': { quick: [0, 1], why: 3 } } } }, /› sft\/acc › why: expected a string, got 3/],
    ];
    for (const [content, error] of cases) assert.throws(() => readBands(bandsFile(content)), error, JSON.stringify(content));
  });

  it('the committed notebooks/bands.json is valid, and every band says why', () => {
    const bands = readBands(path.resolve(__dirname, '..', '..', 'notebooks', 'bands.json'));
    const figures = Object.values(bands.notebooks).flatMap((f) => Object.entries(f));
    assert.ok(figures.length > 0);
    for (const [name, spec] of figures) assert.ok(spec.why && spec.why.length > 0, `${name} has no 'why'`);
  });

  it('defaults to bands.json beside the notebooks, when there is one; null means none; a named file must exist', () => {
    const dir = tempDir('figures-bands-');
    assert.equal(loadBands(undefined, dir), null);
    fs.writeFileSync(path.join(dir, 'bands.json'), JSON.stringify({ notebooks: { a: { 'x/y': { quick: [0, 1] } } } }));
    assert.equal(loadBands(undefined, dir)?.file, path.join(dir, 'bands.json'));
    assert.equal(loadBands(null, dir), null);
    assert.throws(() => loadBands(path.join(dir, 'missing.json'), dir), /missing\.json: cannot read bands/);
  });
});

describe('the runner reading a figures file', () => {
  const bands = { file: '/b/bands.json', notebooks: { nb: { 'a/in': { quick: [0, 1] }, 'a/out': { quick: [0, 1] }, 'a/full-only': { full: [0, 1] }, 'a/missing': { quick: [2, null] } } } } as const;

  function log(content: string): FigureLog {
    const file = path.join(tempDir('figures-log-'), 'f.jsonl');
    fs.writeFileSync(file, content);
    return new FigureLog(file);
  }

  it('checks each figure against its band for the mode, lists unbanded ones, and fails on out-of-band and missing ones', () => {
    const l = log('');
    fs.appendFileSync(l.file, '{"name":"a/in","value":0.5}\n');
    l.cellDone(3, 'first');
    fs.appendFileSync(l.file, '{"name":"a/out","value":1.5,"unit":"x"}\n{"name":"a/full-only","value":7}\n{"name":"a/free","value":-1}\n');
    l.cellDone(5, null);
    const checked = checkFigures(l, 'nb', bands as never, 'quick');
    assert.deepEqual(checked.figures, {
      'a/in': { value: 0.5, band: [0, 1], check: 'in band', ok: true, cell: 3, cellId: 'first' },
      'a/out': { value: 1.5, unit: 'x', band: [0, 1], check: 'out of band', ok: false, cell: 5, cellId: null },
      'a/full-only': { value: 7, band: null, check: 'no band', ok: true, cell: 5, cellId: null },
      'a/free': { value: -1, band: null, check: 'no band', ok: true, cell: 5, cellId: null },
      'a/missing': { value: null, band: [2, null], check: 'not recorded', ok: false, cell: 0, cellId: null },
    });
    assert.deepEqual(checked.failure, {
      cell: 5, cellId: null, kind: 'figures', ename: 'FigureOutOfBand',
      evalue: "figure 'a/out' = 1.5 is outside its quick band [0, 1]; figure 'a/missing' was never recorded (its quick band is >= 2) (bands: /b/bands.json)",
    });
    assert.equal(figuresSummary(checked.figures), '1/3 in band, 2 unbanded');
    const table = figuresTable([{ name: 'nb', figures: checked.figures }], 'quick');
    assert.match(table, /^nb\s+a\/out\s+1\.5\s+x\s+\[0, 1\]\s+OUT OF BAND$/m);
    assert.match(table, /^nb\s+a\/missing\s+-\s+>= 2\s+NOT RECORDED$/m);
    assert.match(table, /^nb\s+a\/free\s+-1\s+-\s+no band$/m);
  });

  it('keeps the last value of a figure recorded twice, with a warning', () => {
    const l = log('{"name":"a/in","value":0.5}\n{"name":"a/in","value":0.75}\n');
    const checked = checkFigures(l, 'nb', null, 'quick');
    assert.equal(checked.figures['a/in'].value, 0.75);
    assert.deepEqual(checked.warnings, ["figure 'a/in' was recorded 2 times; the last value counts"]);
    assert.equal(checked.failure, null, 'no bands: nothing fails');
  });

  it('fails on lines recordFigure cannot have written, naming the line', () => {
    const checked = checkFigures(log('{"name":"a/in","value":0.5}\n{"name":"a/in","val\n{"name":"a/x","value":null}\n'), 'nb', null, 'quick');
    assert.equal(checked.failure?.ename, 'FiguresFileError');
    assert.match(checked.failure!.evalue, /^figures file line 2: not JSON .*; figures file line 3: figure 'a\/x': value must be a finite number, got null$/);
  });
});
