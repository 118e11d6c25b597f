// The committed expected bands of notebooks' figures (notebooks/bands.json),
// read and checked before anything runs, so a typo in a band fails at once,
// naming where it is, instead of after an hour of notebooks.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { figureNameProblem } from '../../kernel-lib/runtime/figures';
import type { Mode } from './run';

/** [low, high], both inclusive; null leaves that side open. */
export type Band = [number | null, number | null];

/** The bands of one figure, per mode; a mode without one leaves the figure unchecked in that mode. */
export interface FigureBands {
  quick?: Band;
  full?: Band;
  /** Where the band comes from (a reference run, a measured spread). */
  why?: string;
}

export interface Bands {
  /** The file they were read from. */
  file: string;
  /** Notebook name (file name without .ipynb) -> figure name -> bands. */
  notebooks: Record<string, Record<string, FigureBands>>;
}

/** The file the runner reads when not told otherwise: bands.json beside the notebooks. */
export const BANDS_FILE_NAME = 'bands.json';

const MODES: readonly Mode[] = ['quick', 'full'];
const TOP_KEYS = ['about', 'notebooks'];
const FIGURE_KEYS = ['quick', 'full', 'why'];

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkBand(value: unknown, where: string): Band {
  const ok =
    Array.isArray(value) &&
    value.length === 2 &&
    value.every((v) => v === null || (typeof v === 'number' && Number.isFinite(v)));
  if (!ok) throw new Error(`${where}: expected [low, high] (numbers, or null for an open side), got ${JSON.stringify(value)}`);
  const [lo, hi] = value as Band;
  if (lo !== null && hi !== null && lo > hi) throw new Error(`${where}: low ${lo} is above high ${hi}`);
  return [lo, hi];
}

/** Reads and checks a bands file; every problem names the file and the notebook › figure › field. */
export function readBands(file: string): Bands {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`${file}: cannot read bands (${(err as Error).message})`);
  }
  if (!isObject(raw)) throw new Error(`${file}: expected an object with 'notebooks', got ${JSON.stringify(raw)}`);
  for (const key of Object.keys(raw)) {
    if (!TOP_KEYS.includes(key)) throw new Error(`${file}: unknown field '${key}' (expected ${TOP_KEYS.join(', ')})`);
  }
  if (!isObject(raw.notebooks)) throw new Error(`${file}: field 'notebooks' must be an object of notebook name -> figures`);
  const notebooks: Bands['notebooks'] = {};
  for (const [notebook, figures] of Object.entries(raw.notebooks)) {
    const at = `${file}: notebooks › ${notebook}`;
    if (notebook.endsWith('.ipynb')) throw new Error(`${at}: name notebooks without '.ipynb' ('${notebook.slice(0, -6)}')`);
    if (!isObject(figures)) throw new Error(`${at}: expected an object of figure name -> bands, got ${JSON.stringify(figures)}`);
    notebooks[notebook] = {};
    for (const [figure, spec] of Object.entries(figures)) {
      const where = `${at} › ${figure}`;
      const problem = figureNameProblem(figure);
      if (problem) throw new Error(`${where}: ${problem}`);
      if (!isObject(spec)) throw new Error(`${where}: expected { "quick": [low, high], "full": [low, high], "why": "..." }, got ${JSON.stringify(spec)}`);
      const bands: FigureBands = {};
      for (const [key, value] of Object.entries(spec)) {
        if (!FIGURE_KEYS.includes(key)) throw new Error(`${where}: unknown field '${key}' (expected ${FIGURE_KEYS.join(', ')})`);
        if (key === 'why') {
          if (typeof value !== 'string') throw new Error(`${where} › why: expected a string, got ${JSON.stringify(value)}`);
          bands.why = value;
        } else {
          bands[key as Mode] = checkBand(value, `${where} › ${key}`);
        }
      }
      if (!MODES.some((m) => bands[m])) throw new Error(`${where}: no band for either mode (give 'quick', 'full' or both)`);
      notebooks[notebook][figure] = bands;
    }
  }
  return { file, notebooks };
}

/**
 * Which bands a run uses: `choice` null means none (--no-bands), a path means
 * that file (which must exist), undefined means bands.json in the notebooks
 * folder when there is one.
 */
export function loadBands(choice: string | null | undefined, notebooksDir: string): Bands | null {
  if (choice === null) return null;
  if (choice !== undefined) return readBands(path.resolve(choice));
  const file = path.join(notebooksDir, BANDS_FILE_NAME);
  return fs.existsSync(file) ? readBands(file) : null;
}

/** '[0.2, 0.4]', '>= 0.198', '<= 2.5', or 'any value'. */
export function formatBand(band: Band): string {
  const [lo, hi] = band;
  if (lo !== null && hi !== null) return `[${lo}, ${hi}]`;
  if (lo !== null) return `>= ${lo}`;
  if (hi !== null) return `<= ${hi}`;
  return 'any value';
}

export function inBand(value: number, band: Band): boolean {
  const [lo, hi] = band;
  return (lo === null || value >= lo) && (hi === null || value <= hi);
}
