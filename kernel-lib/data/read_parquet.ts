// Parquet, read one row group at a time so memory follows the row group, not
// the file. Hub files are compressed with snappy, zstd, gzip, brotli or lz4,
// hence the decompressors beside hyparquet's built-in snappy. Nested columns
// (a list of structs, as `messages`) come back as plain arrays of objects.
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { DataError } from './records';
import { plainValue } from './read_plain';
import type { RawRow } from './read_rows';

// hyparquet's default export (the one Node resolves) adds asyncBufferFromFile,
// but under the "node" module resolution TypeScript reads the browser types.
declare module 'hyparquet' {
  export function asyncBufferFromFile(filename: string): Promise<import('hyparquet').AsyncBuffer>;
}

export async function* readParquetRows(file: string): AsyncGenerator<RawRow> {
  let row = 0;
  try {
    const buffer = await asyncBufferFromFile(file);
    const metadata = await parquetMetadataAsync(buffer);
    let groupStart = 0;
    for (const group of metadata.row_groups) {
      const groupEnd = groupStart + Number(group.num_rows);
      const rows = await parquetReadObjects({ file: buffer, metadata, compressors, rowStart: groupStart, rowEnd: groupEnd });
      for (const r of rows) yield { at: { file, row: row++ }, row: plainValue({ ...r }) as Record<string, unknown> };
      groupStart = groupEnd;
    }
  } catch (e) {
    if (e instanceof DataError) throw e;
    throw new DataError(row > 0 ? { file, row } : { file }, `cannot read as Parquet: ${(e as Error).message}`);
  }
}
