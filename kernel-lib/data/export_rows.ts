// Any table of flat rows (record stats, counts, splits, metrics) written where
// other tools read it: Arrow IPC for pandas/Polars/DuckDB, Parquet for the
// same and for the Hub. Column types are taken from the values: numbers are
// doubles (integers when every value is one), booleans stay booleans,
// everything else is text; a missing value is null.
import * as fs from 'node:fs';
import { tableFromArrays, tableToIPC, type Table } from 'apache-arrow';

export type FlatRow = Record<string, string | number | boolean | null | undefined>;

type Column = { name: string; kind: 'int' | 'float' | 'bool' | 'text'; values: (string | number | boolean | null)[] };

function columnsOf(rows: FlatRow[]): Column[] {
  const names = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  return names.map((name) => {
    const values = rows.map((r) => (r[name] === undefined ? null : r[name]!));
    const present = values.filter((v) => v !== null);
    let kind: Column['kind'] = 'text';
    if (present.length && present.every((v) => typeof v === 'boolean')) kind = 'bool';
    else if (present.length && present.every((v) => typeof v === 'number')) kind = present.every((v) => Number.isInteger(v) && Math.abs(v as number) < 2 ** 31) ? 'int' : 'float';
    return { name, kind, values: kind === 'text' ? values.map((v) => (v === null ? null : String(v))) : values };
  });
}

/** An Arrow table of the rows (int32, float64, bool or utf8 columns). */
export function rowsToArrow(rows: FlatRow[]): Table {
  const arrays: Record<string, unknown> = {};
  for (const c of columnsOf(rows)) {
    if (c.kind === 'int' && !c.values.includes(null)) arrays[c.name] = Int32Array.from(c.values as number[]);
    else if (c.kind === 'float' && !c.values.includes(null)) arrays[c.name] = Float64Array.from(c.values as number[]);
    else arrays[c.name] = c.values;
  }
  return tableFromArrays(arrays as Parameters<typeof tableFromArrays>[0]) as unknown as Table;
}

/** Writes rows to `file` as Arrow IPC (.arrow, .feather, .ipc) or Parquet (.parquet), by extension. */
export async function writeRows(file: string, rows: FlatRow[]): Promise<void> {
  if (/\.(arrow|feather|ipc)$/i.test(file)) {
    fs.writeFileSync(file, tableToIPC(rowsToArrow(rows), 'file'));
    return;
  }
  if (/\.parquet$/i.test(file)) {
    const { parquetWriteBuffer } = (await import('hyparquet-writer')) as typeof import('hyparquet-writer');
    const columnData = columnsOf(rows).map((c) => ({
      name: c.name,
      data: c.values,
      type: (c.kind === 'int' ? 'INT32' : c.kind === 'float' ? 'DOUBLE' : c.kind === 'bool' ? 'BOOLEAN' : 'STRING') as 'INT32' | 'DOUBLE' | 'BOOLEAN' | 'STRING',
    }));
    fs.writeFileSync(file, Buffer.from(parquetWriteBuffer({ columnData })));
    return;
  }
  throw new Error(`writeRows: ${file}: unknown extension; use .arrow, .feather, .ipc or .parquet`);
}
