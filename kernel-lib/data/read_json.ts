// JSON files in the layouts datasets are published in: a top-level array of
// rows (Alpaca's alpaca_data.json), or an object holding the rows in its one
// array field ({"data": [...]}, other top-level fields such as a version are
// not rows). The file is parsed as a token stream and each row assembled on
// its own, so a large file never becomes one string or one array in memory.
//
// Hugging Face's `Dataset.to_json` writes JSON Lines under a .json name by
// default, so a .json file whose first line is a whole object followed by
// more lines is read as JSON Lines.
import * as fs from 'node:fs';
import { parser } from 'stream-json';
import { DataError } from './records';
import { readJsonlRows } from './read_jsonl';
import { asRowObject, describeValue } from './read_plain';
import type { RawRow } from './read_rows';

type Token = { name: string; value?: unknown };

/** How far to look for the end of the first line when telling JSON Lines from one JSON document. */
const SNIFF_LIMIT = 16 * 1024 * 1024;

/** Builds one JSON value from parser tokens, the way JSON.parse would. */
class ValueAssembler {
  private readonly stack: (unknown[] | Record<string, unknown>)[] = [];
  private key = '';
  value: unknown;
  done = false;

  consume(t: Token): void {
    switch (t.name) {
      case 'startObject':
        return this.open({});
      case 'startArray':
        return this.open([]);
      case 'endObject':
      case 'endArray':
        this.stack.pop();
        if (this.stack.length === 0) this.done = true;
        return;
      case 'keyValue':
        this.key = t.value as string;
        return;
      case 'stringValue':
        return this.put(t.value);
      case 'numberValue':
        return this.put(Number(t.value));
      case 'nullValue':
        return this.put(null);
      case 'trueValue':
        return this.put(true);
      case 'falseValue':
        return this.put(false);
    }
  }

  private open(container: unknown[] | Record<string, unknown>): void {
    if (this.stack.length === 0) this.value = container;
    else this.put(container);
    this.stack.push(container);
  }

  private put(v: unknown): void {
    const top = this.stack[this.stack.length - 1];
    if (top === undefined) {
      this.value = v;
      this.done = true;
    } else if (Array.isArray(top)) top.push(v);
    // defineProperty keeps a "__proto__" key an own field, as JSON.parse does.
    else Object.defineProperty(top, this.key, { value: v, writable: true, enumerable: true, configurable: true });
  }
}

const VALUE_START = new Set(['startObject', 'startArray', 'stringValue', 'numberValue', 'nullValue', 'trueValue', 'falseValue']);

/** 'array', 'object' (rows in its one array field) or 'lines' (JSON Lines under a .json name). */
async function sniffLayout(file: string): Promise<'array' | 'object' | 'lines'> {
  const fd = await fs.promises.open(file, 'r');
  try {
    // Read up to the end of the first line (or the limit): enough to tell the layouts apart.
    const chunks: Buffer[] = [];
    let total = 0;
    let newline = -1;
    while (newline < 0 && total < SNIFF_LIMIT) {
      const { bytesRead, buffer } = await fd.read(Buffer.alloc(64 * 1024), 0, 64 * 1024, total);
      if (bytesRead === 0) break;
      const i = buffer.subarray(0, bytesRead).indexOf(0x0a);
      if (i >= 0) newline = total + i;
      chunks.push(buffer.subarray(0, bytesRead));
      total += bytesRead;
    }
    const head = Buffer.concat(chunks);
    const first = head.toString('utf8').replace(/^\uFEFF/, '').trimStart()[0];
    if (first === '[') return 'array';
    if (first !== '{') {
      const found = first === undefined ? 'an empty file' : JSON.stringify(first);
      throw new DataError({ file }, `expected a JSON array of rows or an object holding one array of rows, found ${found} at the start`);
    }
    if (newline < 0) return 'object';
    try {
      if (asRowObject(JSON.parse(head.subarray(0, newline).toString('utf8').replace(/^\uFEFF/, ''))) === undefined) return 'object';
    } catch {
      return 'object'; // the first line is not a whole value: one document spread over lines
    }
    // A whole object on the first line: JSON Lines if anything follows it.
    if (head.subarray(newline + 1).toString('utf8').trim() !== '') return 'lines';
    const { bytesRead, buffer } = await fd.read(Buffer.alloc(4096), 0, 4096, total);
    return buffer.subarray(0, bytesRead).toString('utf8').trim() !== '' ? 'lines' : 'object';
  } finally {
    await fd.close();
  }
}

export async function* readJsonRows(file: string): AsyncGenerator<RawRow> {
  const layout = await sniffLayout(file);
  if (layout === 'lines') {
    yield* readJsonlRows(file);
    return;
  }
  const input = fs.createReadStream(file);
  const tokens = input.pipe(parser.asStream({ streamValues: false }));
  input.on('error', (e) => tokens.destroy(e)); // pipe() does not pass a read error on
  let depth = 0; // containers open outside the value being assembled
  const rowsDepth = layout === 'array' ? 1 : 2;
  let inRows = false;
  let rowsField: string | undefined;
  let key = '';
  let row = 0;
  let asm: ValueAssembler | undefined;
  let keep = false; // whether the value being assembled is a row (or an ignored top-level field)
  try {
    for await (const t of tokens as AsyncIterable<Token>) {
      if (asm) {
        asm.consume(t);
        if (asm.done) {
          if (keep) yield rowOf(file, row++, asm.value);
          asm = undefined;
        }
        continue;
      }
      if (inRows && depth === rowsDepth) {
        if (t.name === 'endArray') {
          inRows = false;
          depth--;
          continue;
        }
        asm = new ValueAssembler();
        keep = true;
        asm.consume(t);
        if (asm.done) {
          yield rowOf(file, row++, asm.value);
          asm = undefined;
        }
        continue;
      }
      if (depth === 0) {
        depth = 1;
        inRows = layout === 'array';
        continue;
      }
      // depth 1 of a wrapper object: find its one array field, step over the rest.
      if (t.name === 'keyValue') key = t.value as string;
      else if (t.name === 'endObject') depth = 0;
      else if (t.name === 'startArray') {
        if (rowsField !== undefined) {
          throw new DataError({ file, field: key }, `a second array field; expected the rows in one array field, and "${rowsField}" already held them`);
        }
        rowsField = key;
        inRows = true;
        depth = 2;
      } else if (VALUE_START.has(t.name)) {
        asm = new ValueAssembler();
        keep = false;
        asm.consume(t);
        if (asm.done) asm = undefined;
      }
    }
  } catch (e) {
    if (e instanceof DataError) throw e;
    throw new DataError({ file }, `invalid JSON after ${row} rows: ${(e as Error).message}`);
  } finally {
    input.destroy();
    tokens.destroy();
  }
  if (layout === 'object' && rowsField === undefined) {
    throw new DataError({ file }, 'the top-level object has no array field; expected a top-level array of rows or an object holding one (e.g. {"data": [...]})');
  }
}

function rowOf(file: string, row: number, value: unknown): RawRow {
  const obj = asRowObject(value);
  return obj ? { at: { file, row }, row: obj } : { at: { file, row }, problem: `expected a JSON object, got ${describeValue(value)}` };
}
