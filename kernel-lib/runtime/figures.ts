// Named figures a notebook measures (held-out exact match, a reward model's
// pairwise accuracy): shown to the reader and, under the headless runner,
// handed to the run's manifest, where they are checked against the bands
// committed in notebooks/bands.json.
import * as fs from 'node:fs';

/**
 * The headless runner sets this to a file path; every recorded figure is
 * appended there as one JSON line. Appending synchronously puts the figure on
 * disk before the cell ends, so a kernel that dies later cannot lose it.
 */
export const FIGURES_FILE_ENV = 'WORKBOOK_FIGURES';

/** Segments of letters, digits, '_', '-' and '.', joined by '/': 'sft/heldout_exact_match', 'reward/accuracy/format'. */
export const FIGURE_NAME = /^[A-Za-z0-9_.-]+(?:\/[A-Za-z0-9_.-]+)*$/;

export interface FigureOptions {
  /** What the value counts, for the reader: 'fraction', 'nats', 'tokens/s'. */
  unit?: string;
  /** A sentence on how it was measured ('greedy, 240 held-out tasks'). */
  note?: string;
}

/** One recorded figure, as written to the runner's file (one JSON object a line). */
export interface RecordedFigure {
  name: string;
  value: number;
  unit?: string;
  note?: string;
}

/** Why `name` is not a figure name (see FIGURE_NAME), or null when it is one. */
export function figureNameProblem(name: unknown): string | null {
  if (typeof name === 'string' && FIGURE_NAME.test(name)) return null;
  return `figure name ${JSON.stringify(name)} is not valid: expected segments of letters, digits, '_', '-' or '.' joined by '/' (e.g. 'sft/heldout_exact_match')`;
}

function checkName(caller: string, name: unknown): void {
  const problem = figureNameProblem(name);
  if (problem) throw new Error(`${caller}: ${problem}`);
}

/** The line a notebook shows for a figure: 'figure sft/heldout_exact_match = 0.246 (fraction)'. */
export function formatFigure(figure: RecordedFigure): string {
  // Six significant digits for the reader; the manifest keeps the exact value.
  const shown = Number(figure.value.toPrecision(6));
  return `figure ${figure.name} = ${shown}${figure.unit ? ` (${figure.unit})` : ''}${figure.note ? `: ${figure.note}` : ''}`;
}

/**
 * Records a named figure: prints it, and under the headless runner appends it
 * to the run's figures file, from which the runner writes it into the manifest
 * and checks it against its band. Recording a name again replaces its value
 * (re-running a cell does that). A value that is not a finite number (NaN from
 * an empty average, Infinity from a diverged loss) throws, naming the figure.
 * Returns nothing, so that a cell ending with it does not echo the figure twice.
 */
export function recordFigure(name: string, value: number, options: FigureOptions = {}): void {
  checkName('recordFigure', name);
  if (typeof value !== 'number') {
    throw new Error(`recordFigure: figure '${name}': value must be a number, got ${typeof value} ${JSON.stringify(value)}`);
  }
  if (!Number.isFinite(value)) {
    throw new Error(`recordFigure: figure '${name}': value must be a finite number, got ${value}`);
  }
  for (const key of ['unit', 'note'] as const) {
    const given = options[key];
    if (given !== undefined && typeof given !== 'string') {
      throw new Error(`recordFigure: figure '${name}': option '${key}' must be a string, got ${typeof given}`);
    }
  }
  const figure: RecordedFigure = { name, value };
  if (options.unit) figure.unit = options.unit;
  if (options.note) figure.note = options.note;
  const file = process.env[FIGURES_FILE_ENV];
  if (file) fs.appendFileSync(file, JSON.stringify(figure) + '\n');
  console.log(formatFigure(figure));
}

/**
 * Records one figure per entry of `values`, named `prefix/key`: a per-family
 * breakdown (`recordFigures('sft/heldout_exact_match', { arithmetic: 0.1, ... })`).
 * Every name and value is checked before any is recorded, so a bad entry
 * leaves none of them half recorded.
 */
export function recordFigures(prefix: string, values: Record<string, number>, options: FigureOptions = {}): void {
  const entries = Object.entries(values).map(([key, value]) => [`${prefix}/${key}`, value] as const);
  for (const [name, value] of entries) {
    checkName('recordFigures', name);
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      throw new Error(`recordFigures: figure '${name}': value must be a finite number, got ${typeof value === 'number' ? value : `${typeof value} ${JSON.stringify(value)}`}`);
    }
  }
  for (const [name, value] of entries) recordFigure(name, value, options);
}
