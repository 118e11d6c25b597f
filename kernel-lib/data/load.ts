// Loading a dataset file, whatever its type and published layout, into the
// canonical records. The file type comes from the extension, the layout from
// the first row's fields (or the `schema` option). Records stream one at a
// time; only OpenAssistant's message trees are gathered whole first.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DataError, type DataLocation, type DataRecord } from './records';
import { fileFormatOf, readDataRows, type FileFormat } from './read_rows';
import { SCHEMAS, checkMapping, detectSchema, isSchemaName, type SchemaMapping, type SchemaName } from './schema';
import { oasstConversations } from './schema_oasst';
import { normaliseRow } from './schema_rows';

/**
 * Table formats, whose exporters sometimes write a list column (messages) as
 * JSON text: CSV always, Arrow and Parquet when made from such a CSV or a
 * flattening export. JSON and JSON Lines have lists of their own.
 */
const TABLE_FORMATS: ReadonlySet<FileFormat> = new Set(['csv', 'arrow', 'parquet']);

export interface LoadOptions {
  /** The layout: a known schema's name, or a field mapping. Default: detected from the first row's fields. */
  schema?: SchemaName | SchemaMapping;
  /** The kind of records expected; a file holding the other kind is an error, not an empty result. */
  kind?: 'conversation' | 'preference';
  /** 'error' (default): the first bad record stops the load. 'skip': it is left out and listed in the report. */
  onBadRecord?: 'error' | 'skip';
  /** Stop after this many records. */
  limit?: number;
  /** OpenAssistant trees: every root-to-leaf path ('all', default), or per tree only the best-ranked one ('best'). */
  oasstPaths?: 'all' | 'best';
  /** Fields of the row to copy into each record's meta as they are (e.g. a language tag, a source name). */
  keepFields?: string[];
}

export interface LoadReport {
  file: string;
  format: FileFormat;
  /** The schema's name, or 'mapping'; '' while no row has been read. */
  schema: string;
  /** Rows read from the file (lines, array elements, table rows), good or bad. */
  read: number;
  /** Records produced. */
  kept: number;
  /** What was left out with onBadRecord 'skip', and why. */
  skipped: { location: DataLocation; reason: string }[];
}

function checkOptions(file: string, options: LoadOptions): void {
  const { limit, onBadRecord, kind, oasstPaths, schema } = options;
  const bad = (name: string, expected: string, got: unknown) => {
    throw new DataError({ file }, `option ${name}: expected ${expected}, got ${JSON.stringify(got)}`);
  };
  if (limit !== undefined && !(Number.isInteger(limit) && limit >= 0)) bad('limit', 'a whole number >= 0', limit);
  if (onBadRecord !== undefined && onBadRecord !== 'error' && onBadRecord !== 'skip') bad('onBadRecord', "'error' or 'skip'", onBadRecord);
  if (kind !== undefined && kind !== 'conversation' && kind !== 'preference') bad('kind', "'conversation' or 'preference'", kind);
  if (oasstPaths !== undefined && oasstPaths !== 'all' && oasstPaths !== 'best') bad('oasstPaths', "'all' or 'best'", oasstPaths);
  if (typeof schema === 'string' && !isSchemaName(schema)) bad('schema', `one of ${Object.keys(SCHEMAS).join(', ')} or a field mapping`, schema);
  if (schema !== undefined && typeof schema !== 'string') checkMapping(schema, { file });
}

/**
 * A dataset's records, read lazily: iterate it with `for await`. The report
 * fills in as records are read, and is complete when the iteration ends.
 * Each iteration reads the file afresh.
 */
export class DatasetStream implements AsyncIterable<DataRecord> {
  readonly report: LoadReport;

  constructor(
    readonly file: string,
    readonly options: LoadOptions = {},
  ) {
    checkOptions(file, options);
    this.report = { file, format: fileFormatOf(file), schema: '', read: 0, kept: 0, skipped: [] };
  }

  [Symbol.asyncIterator](): AsyncIterator<DataRecord> {
    return this.records();
  }

  private async *records(): AsyncGenerator<DataRecord> {
    const { file, options, report } = this;
    const limit = options.limit ?? Infinity;
    Object.assign(report, { schema: '', read: 0, kept: 0, skipped: [] });
    if (limit === 0) return;
    // Checked here, once, so that no reader is left to report a missing file in its own words.
    const stat = await fs.promises.stat(file).catch((e: Error) => {
      throw new DataError({ file }, `cannot open the file: ${e.message}`);
    });
    if (!stat.isFile()) throw new DataError({ file }, 'not a file; expected a dataset file');
    const bad = (e: DataError) => {
      if (options.onBadRecord !== 'skip') throw e;
      report.skipped.push({ location: e.location, reason: e.problem });
    };
    const base = path.basename(file);
    let schema: SchemaName | SchemaMapping | undefined = options.schema;
    if (schema !== undefined) this.setSchema(schema);
    const trees: { at: DataLocation; row: Record<string, unknown> }[] = [];
    for await (const raw of readDataRows(file, report.format)) {
      report.read++;
      if (raw.row === undefined) {
        bad(new DataError(raw.at, raw.problem));
        continue;
      }
      if (schema === undefined) schema = this.setSchema(detectSchema(raw.row, raw.at));
      if (schema === 'oasst') {
        trees.push({ at: raw.at, row: raw.row });
        continue;
      }
      const fallbackId = raw.at.line !== undefined ? `${base}:${raw.at.line}` : `${base}[${raw.at.row}]`;
      let record: DataRecord;
      try {
        record = normaliseRow(raw.row, schema, { at: raw.at, source: file, fallbackId, jsonText: TABLE_FORMATS.has(report.format) });
      } catch (e) {
        if (!(e instanceof DataError)) throw e;
        bad(e);
        continue;
      }
      yield this.keep(record, raw.row);
      if (report.kept >= limit) return;
    }
    if (schema === 'oasst') {
      const byRow = new Map(trees.map((t) => [t.row.message_id === undefined ? '' : String(t.row.message_id), t.row]));
      for (const record of oasstConversations(trees, file, { paths: options.oasstPaths, onBad: bad })) {
        yield this.keep(record, byRow.get(record.id) ?? {});
        if (report.kept >= limit) return;
      }
    }
  }

  private setSchema<S extends SchemaName | SchemaMapping>(schema: S): S {
    const kind = isSchemaName(schema) ? SCHEMAS[schema].kind : schema.kind;
    this.report.schema = isSchemaName(schema) ? schema : 'mapping';
    if (this.options.kind !== undefined && this.options.kind !== kind) {
      const name = isSchemaName(schema) ? `schema "${schema}"` : 'the schema mapping';
      throw new DataError({ file: this.file }, `holds ${kind === 'preference' ? 'preference pairs' : 'conversations'} (${name}), but kind '${this.options.kind}' was asked for`);
    }
    return schema;
  }

  private keep(record: DataRecord, row: Record<string, unknown>): DataRecord {
    for (const name of this.options.keepFields ?? []) {
      if (row[name] !== undefined) record.meta = { ...record.meta, [name]: row[name] };
    }
    this.report.kept++;
    return record;
  }
}

/** The records of a dataset file, one at a time, for files too big to hold; see DatasetStream. */
export function streamDataset(file: string, options: LoadOptions = {}): DatasetStream {
  return new DatasetStream(file, options);
}

/** All the records of a dataset file, and what was read, kept and skipped. */
export async function loadDataset(file: string, options: LoadOptions = {}): Promise<{ records: DataRecord[]; report: LoadReport }> {
  const stream = streamDataset(file, options);
  const records: DataRecord[] = [];
  for await (const r of stream) records.push(r);
  return { records, report: stream.report };
}
