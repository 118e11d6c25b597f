// Notebooks on disk in nbformat 4 (https://nbformat.readthedocs.io/en/latest/format_description.html):
// reading them with errors that name the file, and papermill-style parameters.
import * as fs from 'node:fs';

export type MultilineString = string | string[];
export type MimeBundle = Record<string, unknown>;

export type Output =
  | { output_type: 'stream'; name: 'stdout' | 'stderr'; text: MultilineString }
  | { output_type: 'display_data'; data: MimeBundle; metadata: Record<string, unknown> }
  | {
      output_type: 'execute_result';
      execution_count: number | null;
      data: MimeBundle;
      metadata: Record<string, unknown>;
    }
  | { output_type: 'error'; ename: string; evalue: string; traceback: string[] };

export type CellMetadata = Record<string, unknown> & { tags?: string[] };

export interface CodeCell {
  cell_type: 'code';
  id?: string;
  source: MultilineString;
  metadata: CellMetadata;
  execution_count: number | null;
  outputs: Output[];
}

export interface TextCell {
  cell_type: 'markdown' | 'raw';
  id?: string;
  source: MultilineString;
  metadata: CellMetadata;
  attachments?: Record<string, unknown>;
}

export type Cell = CodeCell | TextCell;

export interface Notebook {
  nbformat: 4;
  nbformat_minor: number;
  metadata: Record<string, unknown>;
  cells: Cell[];
}

export function sourceText(source: MultilineString): string {
  return Array.isArray(source) ? source.join('') : source;
}

/** Reads and checks a notebook; every problem names the file and the cell. */
export function readNotebook(file: string): Notebook {
  let raw: string;
  try {
    raw = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`${file}: cannot read notebook (${(err as Error).message})`);
  }
  let nb: Notebook;
  try {
    nb = JSON.parse(raw);
  } catch (err) {
    throw new Error(`${file}: not valid JSON (${(err as Error).message})`);
  }
  if (nb === null || typeof nb !== 'object' || nb.nbformat !== 4) {
    throw new Error(`${file}: expected an nbformat 4 notebook, got nbformat ${JSON.stringify((nb as Notebook)?.nbformat)}`);
  }
  if (!Array.isArray(nb.cells)) throw new Error(`${file}: field 'cells' must be an array`);
  nb.cells.forEach((cell, i) => {
    if (!['code', 'markdown', 'raw'].includes(cell?.cell_type)) {
      throw new Error(`${file}: cell ${i + 1} has cell_type ${JSON.stringify(cell?.cell_type)}, expected code, markdown or raw`);
    }
    if (typeof cell.source !== 'string' && !Array.isArray(cell.source)) {
      throw new Error(`${file}: cell ${i + 1} field 'source' must be a string or a list of strings`);
    }
    cell.metadata ??= {};
  });
  nb.metadata ??= {};
  return nb;
}

/** The kernel this runner runs notebooks in, by the name its kernelspec has. */
export const KERNEL_NAME = 'tslab';

/**
 * Whether `nb` was written for this kernel, by its metadata.kernelspec: an
 * error (naming the kernelspec) for another kernel, a warning for none. A
 * TypeScript kernelspec under another name (tslab installed as 'ts2') is run
 * with a warning.
 */
export function checkKernelspec(nb: Notebook, file: string): { error: string | null; warning: string | null } {
  const spec = nb.metadata.kernelspec as { name?: unknown; display_name?: unknown; language?: unknown } | undefined;
  if (spec === undefined || spec === null) {
    return { error: null, warning: `${file}: no metadata.kernelspec; run as TypeScript in ${KERNEL_NAME}` };
  }
  if (spec.name === KERNEL_NAME) return { error: null, warning: null };
  const described = `kernelspec ${JSON.stringify(spec.name)} (display_name ${JSON.stringify(spec.display_name)}, language ${JSON.stringify(spec.language)})`;
  if (typeof spec.language === 'string' && spec.language.toLowerCase() === 'typescript') {
    return { error: null, warning: `${file}: ${described} is not '${KERNEL_NAME}'; run as TypeScript in ${KERNEL_NAME}` };
  }
  return { error: `${file}: metadata.kernelspec is ${described}, expected '${KERNEL_NAME}' (TypeScript): this runner runs only TypeScript notebooks`, warning: null };
}

/** Writes atomically (temp file, then rename) so a killed run leaves no half notebook. */
export function writeNotebook(file: string, nb: Notebook): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(nb, null, 1) + '\n');
  fs.renameSync(tmp, file);
}

// ---------------------------------------------------------------------------
// Parameters, the papermill way: a cell tagged `parameters` holds defaults; the
// runner adds a cell tagged `injected-parameters` right after it that
// redeclares the given names (tslab allows a later cell to redeclare a const).

export type ParameterValue = string | number | boolean | null | ParameterValue[] | { [k: string]: ParameterValue };

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** `name=value`: value read as JSON when it parses (numbers, booleans, lists), else as a string. */
export function parseParameter(assignment: string): [string, ParameterValue] {
  const eq = assignment.indexOf('=');
  if (eq <= 0) throw new Error(`parameter '${assignment}': expected name=value`);
  const name = assignment.slice(0, eq).trim();
  if (!IDENTIFIER.test(name)) throw new Error(`parameter '${assignment}': '${name}' is not a valid identifier`);
  const text = assignment.slice(eq + 1);
  try {
    return [name, JSON.parse(text) as ParameterValue];
  } catch {
    return [name, text];
  }
}

function hasTag(cell: Cell, tag: string): boolean {
  const tags = cell.metadata?.tags;
  return Array.isArray(tags) && tags.includes(tag);
}

/** Names declared by `const|let|var name` in the parameters cell. */
export function declaredParameters(nb: Notebook): string[] {
  return [...parameterTypes(nb).keys()];
}

/** Each name the parameters cell declares, with its type annotation ('' when it has none). */
function parameterTypes(nb: Notebook): Map<string, string> {
  const cell = nb.cells.find((c) => c.cell_type === 'code' && hasTag(c, 'parameters'));
  if (!cell) return new Map();
  const found = sourceText(cell.source).matchAll(/\b(?:const|let|var)\s+([A-Za-z_$][A-Za-z0-9_$]*)\s*(?::\s*([^=;\n]+?))?\s*=/g);
  return new Map([...found].map((m) => [m[1], (m[2] ?? '').trim()]));
}

export interface Injection {
  /** Index of the injected cell in the returned notebook. */
  index: number;
  /** Given names the parameters cell does not declare (papermill warns about these too). */
  undeclared: string[];
  /** False when the notebook has no cell tagged `parameters` (the cell then goes first). */
  hadParametersCell: boolean;
}

/** Returns a copy of `nb` with the injected-parameters cell in place (replacing an old one). */
export function injectParameters(
  nb: Notebook,
  params: Record<string, ParameterValue>,
  note: string,
): { notebook: Notebook; injection: Injection } {
  const cells = nb.cells.filter((c) => !hasTag(c, 'injected-parameters'));
  const at = cells.findIndex((c) => c.cell_type === 'code' && hasTag(c, 'parameters'));
  const lines = [`// Parameters injected by the workbook runner (${note}).`];
  // The declared type is kept: `const mode = "full"` alone would type mode as the
  // literal "full", and the notebook's `mode === 'quick'` would not compile.
  const types = parameterTypes(nb);
  for (const [name, value] of Object.entries(params)) {
    const type = types.get(name);
    lines.push(`const ${name}${type ? `: ${type}` : ''} = ${JSON.stringify(value)};`);
  }
  const injected: CodeCell = {
    cell_type: 'code',
    id: 'injected-parameters',
    source: lines.join('\n'),
    metadata: { tags: ['injected-parameters'] },
    execution_count: null,
    outputs: [],
  };
  const index = at + 1; // 0 when there is no parameters cell
  cells.splice(index, 0, injected);
  const undeclared = at < 0 ? [] : Object.keys(params).filter((n) => !types.has(n));
  return { notebook: { ...nb, cells }, injection: { index, undeclared, hadParametersCell: at >= 0 } };
}
