// The inputs charts accept besides plain arrays: rows of records, an object
// of columns, a danfojs DataFrame, an Apache Arrow table, and a training
// run's metrics (the trainer's result, its records, or the JSONL or Arrow
// file the metrics callbacks write). Each becomes named columns read as
// numbers or strings; a missing column, or a value of the wrong kind, is an
// error naming the column, the row and what was expected.
//
// danfojs takes about 1.5 s to load, so it is typed here by shape and never
// imported: a frame made elsewhere is read through its `columns` and `column()`.
import * as fs from 'node:fs';
import { tableFromIPC } from 'apache-arrow';
import { ChartError } from './theme';

/** A danfojs DataFrame, by the two members read here. */
export interface DataFrameLike {
  columns: string[];
  column(name: string): { values: ArrayLike<unknown> };
}

/** An Apache Arrow Table, by the members read here (nulls are read with get(), which keeps them null). */
export interface ArrowTableLike {
  schema: { fields: { name: string }[] };
  numRows: number;
  getChild(name: string): { length: number; get(index: number): unknown } | null;
}

export type Rows = Record<string, unknown>[];
/** Columns by name, e.g. `{ step: [1, 2], loss: [2.1, 1.9] }`. */
export type ColumnRecord = Record<string, ArrayLike<unknown>>;
export type TableSource = Rows | ColumnRecord | DataFrameLike | ArrowTableLike;

/** A table's columns, read one at a time. */
export interface Columns {
  /** What the table is, for error messages ("the DataFrame", "the metrics log run.jsonl"). */
  label: string;
  names: string[];
  length: number;
  /** The column as numbers: null and undefined become NaN (a gap), bigint becomes a number, anything else is an error. */
  numbers(name: string): number[];
  /** The column as strings: numbers are written out; null, undefined and objects are errors. */
  strings(name: string): string[];
}

const describe = (v: unknown): string => (typeof v === 'string' ? JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v) : v === null ? 'null' : v === undefined ? 'missing' : Array.isArray(v) ? 'an array' : typeof v === 'object' ? 'an object' : `${String(v)} (${typeof v})`);

function toNumber(v: unknown, where: () => string): number {
  if (typeof v === 'number') return v;
  if (v === null || v === undefined) return NaN;
  if (typeof v === 'bigint') return Number(v);
  throw new ChartError(`charts: ${where()} is ${describe(v)}; expected a number`);
}

function toText(v: unknown, where: () => string): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return String(v);
  throw new ChartError(`charts: ${where()} is ${describe(v)}; expected a string`);
}

const isArrow = (s: object): s is ArrowTableLike => typeof (s as ArrowTableLike).getChild === 'function' && typeof (s as ArrowTableLike).schema === 'object';
const isFrame = (s: object): s is DataFrameLike => typeof (s as DataFrameLike).column === 'function' && Array.isArray((s as DataFrameLike).columns);

/** A getter of raw values for each kind of source, plus its column names and length. */
function rawColumns(source: TableSource, label: string | undefined): { label: string; names: string[]; length: number; raw(name: string): ArrayLike<unknown> | undefined } {
  if (Array.isArray(source)) {
    // Rows: a column is every key any row has; a row without it reads as missing.
    const names = [...new Set(source.flatMap((r) => (r && typeof r === 'object' ? Object.keys(r) : [])))];
    source.forEach((r, i) => {
      if (!r || typeof r !== 'object' || Array.isArray(r)) throw new ChartError(`charts: row ${i} of ${label ?? 'the rows'} is ${describe(r)}; expected a record`);
    });
    return { label: label ?? 'the rows', names, length: source.length, raw: (n) => (names.includes(n) ? source.map((r) => r[n]) : undefined) };
  }
  if (!source || typeof source !== 'object') throw new ChartError(`charts: a table must be rows, an object of columns, a danfojs DataFrame or an Arrow table; got ${describe(source)}`);
  if (isArrow(source)) {
    const names = source.schema.fields.map((f) => f.name);
    return {
      label: label ?? 'the Arrow table',
      names,
      length: source.numRows,
      raw: (n) => {
        const v = names.includes(n) ? source.getChild(n) : null;
        return v ? Array.from({ length: v.length }, (_, i) => v.get(i)) : undefined;
      },
    };
  }
  if (isFrame(source)) {
    const names = [...source.columns];
    const length = names.length ? source.column(names[0]).values.length : 0;
    return { label: label ?? 'the DataFrame', names, length, raw: (n) => (names.includes(n) ? source.column(n).values : undefined) };
  }
  const record = source as ColumnRecord;
  const names = Object.keys(record);
  for (const n of names) {
    const v = record[n];
    if (typeof v !== 'object' || v === null || typeof v.length !== 'number') throw new ChartError(`charts: column "${n}" of ${label ?? 'the columns'} is ${describe(v)}; expected an array`);
  }
  const lengths = new Set(names.map((n) => record[n].length));
  if (lengths.size > 1) throw new ChartError(`charts: the columns of ${label ?? 'the columns'} differ in length (${names.map((n) => `${n}: ${record[n].length}`).join(', ')})`);
  return { label: label ?? 'the columns', names, length: names.length ? record[names[0]].length : 0, raw: (n) => record[n] };
}

/** Reads any table source as named columns; `label` names it in errors. */
export function columnsOf(source: TableSource, label?: string): Columns {
  const t = rawColumns(source, label);
  const get = (name: string): ArrayLike<unknown> => {
    const values = t.raw(name);
    if (values === undefined) throw new ChartError(`charts: no column "${name}" in ${t.label}; it has ${t.names.length ? t.names.map((n) => `"${n}"`).join(', ') : 'no columns'}`);
    return values;
  };
  return {
    label: t.label,
    names: t.names,
    length: t.length,
    numbers: (name) => Array.from(get(name), (v, i) => toNumber(v, () => `column "${name}" of ${t.label}, row ${i},`)),
    strings: (name) => Array.from(get(name), (v, i) => toText(v, () => `column "${name}" of ${t.label}, row ${i},`)),
  };
}

// ---- metrics of a training run ----

/** One run's records: the trainer's per-step records and its evaluations (keys prefixed eval_). */
export interface MetricsLog {
  label: string;
  train: Record<string, number>[];
  eval: Record<string, number>[];
}

/**
 * Where a run's metrics come from: the trainer's result (`{ history, evals }`),
 * an array of its records (an eval record is one with `kind: "eval"`, as
 * jsonlMetrics writes, or with an eval_ key), the path of a JSONL file written
 * by jsonlMetrics, or the path of an Arrow file written by arrowMetrics (its
 * evaluations are read from the `.eval.arrow` file beside it, when there is one).
 */
export type MetricsSource = string | { history: readonly object[]; evals?: readonly object[] } | readonly object[];

const isEvalRecord = (r: Record<string, unknown>) => r.kind === 'eval' || (r.kind === undefined && Object.keys(r).some((k) => k.startsWith('eval_')));

/** Checks a record's values are numbers (null, as JSON writes NaN, reads as NaN); `kind` is dropped. */
function numericRecord(r: unknown, where: string): Record<string, number> {
  if (!r || typeof r !== 'object' || Array.isArray(r)) throw new ChartError(`charts: ${where} is ${describe(r)}; expected a record of numbers`);
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(r as Record<string, unknown>)) {
    if (k === 'kind') continue;
    out[k] = toNumber(v, () => `${where}, field "${k}",`);
  }
  return out;
}

function readJsonl(file: string): MetricsLog {
  const train: Record<string, number>[] = [];
  const evals: Record<string, number>[] = [];
  fs.readFileSync(file, 'utf8').split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch (err) {
      throw new ChartError(`charts: ${file}:${i + 1} is not JSON (${(err as Error).message}); expected one metrics record a line`);
    }
    const record = numericRecord(parsed, `${file}:${i + 1}`);
    (isEvalRecord(parsed as Record<string, unknown>) ? evals : train).push(record);
  });
  return { label: `the metrics log ${file}`, train, eval: evals };
}

function readArrow(file: string): MetricsLog {
  const rows = (path: string): Record<string, number>[] => {
    const c = columnsOf(tableFromIPC(fs.readFileSync(path)), `the metrics table ${path}`);
    const cols = c.names.map((n) => c.numbers(n));
    return Array.from({ length: c.length }, (_, i) => Object.fromEntries(c.names.map((n, k) => [n, cols[k][i]])));
  };
  const evalFile = file.replace(/(\.arrow)?$/, '.eval.arrow');
  return { label: `the metrics table ${file}`, train: rows(file), eval: fs.existsSync(evalFile) ? rows(evalFile) : [] };
}

/** Reads a run's metrics from any MetricsSource; `label` names it in errors. */
export function readMetrics(source: MetricsSource, label?: string): MetricsLog {
  if (typeof source === 'string') {
    if (!fs.existsSync(source)) throw new ChartError(`charts: no metrics file ${source}`);
    const log = source.endsWith('.arrow') ? readArrow(source) : readJsonl(source);
    return label ? { ...log, label } : log;
  }
  const name = label ?? 'the run';
  if (Array.isArray(source)) {
    const records = source as Record<string, unknown>[];
    const split = records.map((r, i) => ({ r: numericRecord(r, `record ${i} of ${name}`), isEval: isEvalRecord(r) }));
    return { label: name, train: split.filter((s) => !s.isEval).map((s) => s.r), eval: split.filter((s) => s.isEval).map((s) => s.r) };
  }
  const run = source as { history?: unknown; evals?: unknown };
  if (!run || typeof run !== 'object' || !Array.isArray(run.history)) {
    throw new ChartError(`charts: ${name} is ${describe(source)}; expected a metrics file path, an array of records, or the trainer's result { history, evals }`);
  }
  const evals = (run.evals ?? []) as unknown[];
  if (!Array.isArray(evals)) throw new ChartError(`charts: ${name}.evals is ${describe(evals)}; expected an array of records`);
  return {
    label: name,
    train: (run.history as unknown[]).map((r, i) => numericRecord(r, `history[${i}] of ${name}`)),
    eval: evals.map((r, i) => numericRecord(r, `evals[${i}] of ${name}`)),
  };
}

/**
 * One metric of a run as x and y arrays: keys starting eval_ are read from
 * the evaluations, others from the step records. A record that did not log
 * the metric gives NaN there (curves leave such points out); a metric no
 * record has is an error listing the ones there are.
 */
export function metricSeries(source: MetricsSource | MetricsLog, metric: string, x = 'step'): { x: number[]; y: number[] } {
  const log = isLog(source) ? source : readMetrics(source);
  const isEval = metric.startsWith('eval_');
  const records = isEval ? log.eval : log.train;
  if (!records.some((r) => metric in r)) {
    const keys = [...new Set(records.flatMap((r) => Object.keys(r)))];
    const other = isEval ? log.train : log.eval;
    const hint = other.some((r) => metric in r) ? ` (it is in the ${isEval ? 'step' : 'eval'} records)` : '';
    throw new ChartError(`charts: no metric "${metric}" in the ${isEval ? 'eval' : 'step'} records of ${log.label}${hint}; ${records.length ? `they have ${keys.map((k) => `"${k}"`).join(', ')}` : 'there are none'}`);
  }
  const c = columnsOf(records, `the ${isEval ? 'eval' : 'step'} records of ${log.label}`);
  return { x: c.numbers(x), y: c.numbers(metric) };
}

const isLog = (s: unknown): s is MetricsLog => !!s && typeof s === 'object' && Array.isArray((s as MetricsLog).train) && Array.isArray((s as MetricsLog).eval) && typeof (s as MetricsLog).label === 'string';
