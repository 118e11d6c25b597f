// CSV with a header row, streamed. Every cell is a string (CSV has no other
// type); the schemas read numbers and, where a list is expected, JSON text.
// A record is located by the 1-based line of the file it starts on, which
// differs from its record number once a quoted cell spans lines.
import * as fs from 'node:fs';
import { parse } from 'csv-parse';
import { DataError } from './records';
import type { RawRow } from './read_rows';

type CsvItem = { record: Record<string, string>; info: { lines: number; empty_lines: number } };

export async function* readCsvRows(file: string): AsyncGenerator<RawRow> {
  const input = fs.createReadStream(file);
  const records = input.pipe(parse({ columns: true, bom: true, info: true, skip_empty_lines: true }));
  input.on('error', (e) => records.destroy(e)); // pipe() does not pass a read error on
  // csv-parse reports the line a record ends on; it starts after the previous
  // record's last line and any empty lines skipped since.
  let prevEnd = 1; // the header is line 1
  let prevEmpty = 0;
  try {
    for await (const item of records as AsyncIterable<CsvItem>) {
      const line = prevEnd + 1 + (item.info.empty_lines - prevEmpty);
      prevEnd = item.info.lines;
      prevEmpty = item.info.empty_lines;
      yield { at: { file, line }, row: item.record };
    }
  } catch (e) {
    if (e instanceof DataError) throw e;
    const err = e as Error & { lines?: number };
    throw new DataError({ file, line: err.lines }, `malformed CSV: ${err.message}`);
  } finally {
    input.destroy();
    records.destroy();
  }
}
