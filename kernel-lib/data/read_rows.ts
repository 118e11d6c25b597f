// One reader per file type, all yielding the same thing: plain JS rows, one at
// a time, each with where it sits in the file. The file type comes from the
// extension alone, so a misnamed file fails loudly instead of being guessed.
import * as path from 'node:path';
import { DataError, type DataLocation } from './records';
import { readArrowRows } from './read_arrow';
import { readCsvRows } from './read_csv';
import { readJsonRows } from './read_json';
import { readJsonlRows } from './read_jsonl';
import { readParquetRows } from './read_parquet';

export type FileFormat = 'json' | 'jsonl' | 'csv' | 'arrow' | 'parquet';

/** The extensions each file type is recognised by (lower case, with the dot). */
export const FILE_EXTENSIONS: Record<FileFormat, readonly string[]> = {
  json: ['.json'],
  jsonl: ['.jsonl', '.ndjson'],
  csv: ['.csv'],
  arrow: ['.arrow', '.feather', '.ipc'],
  parquet: ['.parquet'],
};

/**
 * A row as read, or the reason a row could not be read (a malformed JSONL
 * line, a JSON array element that is not an object): the caller decides
 * whether that stops the load or is counted as skipped.
 */
export type RawRow = { at: DataLocation; row: Record<string, unknown> } | { at: DataLocation; row?: undefined; problem: string };

export function fileFormatOf(file: string): FileFormat {
  const ext = path.extname(file).toLowerCase();
  for (const [format, exts] of Object.entries(FILE_EXTENSIONS) as [FileFormat, readonly string[]][]) {
    if (exts.includes(ext)) return format;
  }
  const known = Object.values(FILE_EXTENSIONS).flat().join(', ');
  throw new DataError({ file }, `unknown file type ${JSON.stringify(ext || '(no extension)')}; the known extensions are ${known}`);
}

/** The rows of a data file, streamed; the format is taken from the extension unless given. */
export function readDataRows(file: string, format: FileFormat = fileFormatOf(file)): AsyncIterable<RawRow> {
  switch (format) {
    case 'json':
      return readJsonRows(file);
    case 'jsonl':
      return readJsonlRows(file);
    case 'csv':
      return readCsvRows(file);
    case 'arrow':
      return readArrowRows(file);
    case 'parquet':
      return readParquetRows(file);
  }
}
