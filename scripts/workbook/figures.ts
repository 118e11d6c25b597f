// The figures a notebook recorded (kernel-lib's recordFigure appends them to a
// file the runner names), which cell recorded each, and how each compares
// with its band for the run's mode.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { figureNameProblem } from '../../kernel-lib/runtime/figures';
import { formatBand, inBand, type Band, type Bands } from './bands';
import type { CellFailure } from './execute';
import type { Mode } from './run';

/** A figure as the manifest holds it. */
export interface FigureRecord {
  /** null when the notebook never recorded a figure that has a band. */
  value: number | null;
  unit?: string;
  note?: string;
  /** The band for the run's mode, or null when it has none (or bands were not checked). */
  band: Band | null;
  check: 'in band' | 'out of band' | 'no band' | 'not recorded';
  ok: boolean;
  /** The cell (1-based, among all cells) that recorded it last; 0 when not known. */
  cell: number;
  cellId: string | null;
}

interface Recorded {
  name: string;
  value: number;
  unit?: string;
  note?: string;
  cell: number;
  cellId: string | null;
}

/**
 * Collects what one notebook records: after each cell, `cellDone` marks the
 * lines appended so far as that cell's, so a figure's failure can name the
 * cell that recorded it.
 */
export class FigureLog {
  private marks: { lines: number; cell: number; cellId: string | null }[] = [];

  constructor(readonly file: string) {}

  private text(): string {
    return fs.existsSync(this.file) ? fs.readFileSync(this.file, 'utf8') : '';
  }

  cellDone(cell: number, cellId: string | null): void {
    const lines = this.text().split('\n').length - 1;
    this.marks.push({ lines, cell, cellId });
  }

  /**
   * Every recorded figure, the last value of each name kept; lines the API
   * cannot have written (a hand edit, a torn line) are problems, named by line.
   */
  read(): { figures: Recorded[]; repeats: string[]; problems: string[] } {
    const byName = new Map<string, Recorded>();
    const counts = new Map<string, number>();
    const problems: string[] = [];
    const lines = this.text().split('\n');
    if (lines.at(-1) === '') lines.pop();
    lines.forEach((line, i) => {
      const where = `figures file line ${i + 1}`;
      let entry: { name?: unknown; value?: unknown; unit?: unknown; note?: unknown };
      try {
        entry = JSON.parse(line);
      } catch (err) {
        problems.push(`${where}: not JSON (${(err as Error).message})`);
        return;
      }
      const nameProblem = figureNameProblem(entry?.name);
      if (nameProblem) return void problems.push(`${where}: ${nameProblem}`);
      const name = entry.name as string;
      if (typeof entry.value !== 'number' || !Number.isFinite(entry.value)) {
        return void problems.push(`${where}: figure '${name}': value must be a finite number, got ${JSON.stringify(entry.value)}`);
      }
      const owner = this.marks.find((m) => m.lines > i);
      const recorded: Recorded = { name, value: entry.value, cell: owner?.cell ?? 0, cellId: owner?.cellId ?? null };
      if (typeof entry.unit === 'string') recorded.unit = entry.unit;
      if (typeof entry.note === 'string') recorded.note = entry.note;
      byName.delete(name); // re-recorded: it moves to where it was last recorded
      byName.set(name, recorded);
      counts.set(name, (counts.get(name) ?? 0) + 1);
    });
    const repeats = [...counts].filter(([, n]) => n > 1).map(([name, n]) => `figure '${name}' was recorded ${n} times; the last value counts`);
    return { figures: [...byName.values()], repeats, problems };
  }
}

export interface FigureCheck {
  figures: Record<string, FigureRecord>;
  /** Why the figures fail the notebook, or null when they do not. */
  failure: CellFailure | null;
  /** Each figure outside its band, with the cell (1-based; 0 when not known) that recorded it. */
  outOfBand: { cell: number; message: string }[];
  warnings: string[];
}

/** `file` relative to the working folder when inside it, else absolute: the shortest clear name for the reader. */
export function displayPath(file: string): string {
  const rel = path.relative(process.cwd(), file);
  return rel && !rel.startsWith('..') ? rel : file;
}

/**
 * Compares a notebook's figures with its bands for `mode`. A figure outside
 * its band, or a band whose figure was never recorded, fails the notebook; a
 * figure without a band is only reported. `bands` null: nothing is checked.
 */
export function checkFigures(log: FigureLog, notebook: string, bands: Bands | null, mode: Mode): FigureCheck {
  const { figures: recorded, repeats, problems } = log.read();
  const expected = bands?.notebooks[notebook] ?? {};
  const figures: Record<string, FigureRecord> = {};
  const outOfBand: FigureCheck['outOfBand'] = [];
  const missing: string[] = [];
  let first: { cell: number; cellId: string | null } | null = null;
  for (const r of recorded) {
    const band = expected[r.name]?.[mode] ?? null;
    const ok = band === null || inBand(r.value, band);
    const check = band === null ? 'no band' : ok ? 'in band' : 'out of band';
    figures[r.name] = { value: r.value, ...(r.unit ? { unit: r.unit } : {}), ...(r.note ? { note: r.note } : {}), band, check, ok, cell: r.cell, cellId: r.cellId };
    if (!ok) {
      outOfBand.push({ cell: r.cell, message: `figure '${r.name}' = ${r.value} is outside its ${mode} band ${formatBand(band!)}` });
      first ??= r;
    }
  }
  for (const [name, spec] of Object.entries(expected)) {
    const band = spec[mode];
    if (!band || name in figures) continue;
    figures[name] = { value: null, band, check: 'not recorded', ok: false, cell: 0, cellId: null };
    missing.push(`figure '${name}' was never recorded (its ${mode} band is ${formatBand(band)})`);
  }
  let failure: CellFailure | null = null;
  const from = bands ? ` (bands: ${displayPath(bands.file)})` : '';
  if (problems.length) {
    failure = { cell: 0, cellId: null, kind: 'figures', ename: 'FiguresFileError', evalue: problems.join('; ') };
  } else if (outOfBand.length || missing.length) {
    const ename = outOfBand.length ? 'FigureOutOfBand' : 'FigureNotRecorded';
    const at = first ?? { cell: 0, cellId: null };
    const evalue = [...outOfBand.map((o) => o.message), ...missing].join('; ') + from;
    failure = { cell: at.cell, cellId: at.cellId, kind: 'figures', ename, evalue };
  }
  return { figures, failure, outOfBand, warnings: repeats };
}

/** The summary table's figures column: '2/3 in band', '+1 unbanded'; '' when none. */
export function figuresSummary(figures: Record<string, FigureRecord> | undefined): string {
  const all = Object.values(figures ?? {});
  if (all.length === 0) return '';
  const banded = all.filter((f) => f.band !== null);
  const unbanded = all.length - banded.length;
  const parts = [];
  if (banded.length) parts.push(`${banded.filter((f) => f.ok).length}/${banded.length} in band`);
  if (unbanded) parts.push(`${unbanded} unbanded`);
  return parts.join(', ');
}

/** One row per figure of every notebook: value, unit, band and how it compared. */
export function figuresTable(records: { name: string; figures?: Record<string, FigureRecord> }[], mode: Mode): string {
  const rows = [['notebook', 'figure', 'value', 'unit', `${mode} band`, 'check']];
  for (const r of records) {
    for (const [name, f] of Object.entries(r.figures ?? {})) {
      const value = f.value === null ? '-' : String(Number(f.value.toPrecision(6)));
      rows.push([r.name, name, value, f.unit ?? '', f.band ? formatBand(f.band) : '-', f.ok ? f.check : `${f.check.toUpperCase()}`]);
    }
  }
  if (rows.length === 1) return '';
  const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
  const line = (row: string[]) => row.map((v, c) => v.padEnd(widths[c])).join('  ').trimEnd();
  return [line(rows[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)].join('\n');
}
