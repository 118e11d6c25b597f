// Arrow IPC, file or stream format (the `datasets` library caches its tables
// as IPC streams named .arrow; Feather v2 is the IPC file format), read one
// record batch at a time. Nested columns (a list of structs, as `messages`)
// come back as plain arrays of plain objects, integers as numbers.
import * as fs from 'node:fs';
import { RecordBatchReader, Vector, type RecordBatch } from 'apache-arrow';
import { DataError } from './records';
import { plainValue } from './read_plain';
import type { RawRow } from './read_rows';

/** An Arrow cell as a plain JS value: vectors to arrays, struct and map rows to objects. */
function plainArrow(value: unknown): unknown {
  if (value instanceof Vector) return Array.from(value as Iterable<unknown>, plainArrow);
  if (value !== null && typeof value === 'object' && !(value instanceof Date) && !ArrayBuffer.isView(value)) {
    const toJSON = (value as { toJSON?: () => unknown }).toJSON;
    if (typeof toJSON === 'function') {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(toJSON.call(value) as Record<string, unknown>)) out[k] = plainArrow(v);
      return out;
    }
  }
  return plainValue(value);
}

export async function* readArrowRows(file: string): AsyncGenerator<RawRow> {
  const handle = await fs.promises.open(file, 'r');
  let row = 0;
  try {
    const reader = await RecordBatchReader.from(handle);
    await reader.open();
    for await (const batch of reader as AsyncIterable<RecordBatch>) {
      const columns = batch.schema.fields.map((f, i) => ({ name: f.name, data: batch.getChildAt(i) }));
      for (let i = 0; i < batch.numRows; i++) {
        const out: Record<string, unknown> = {};
        for (const c of columns) out[c.name] = plainArrow(c.data?.get(i) ?? null);
        yield { at: { file, row: row++ }, row: out };
      }
    }
  } catch (e) {
    if (e instanceof DataError) throw e;
    throw new DataError(
      row > 0 ? { file, row } : { file },
      `cannot read as Arrow IPC (${(e as Error).message}); expected the IPC file or stream format (Feather v1 is not supported: re-save it as Feather v2)`,
    );
  } finally {
    await handle.close();
  }
}
