// JSON Lines: one JSON object per line, read line by line so a file of any
// size streams in bounded memory. A malformed line is reported with its
// 1-based line number; blank lines are allowed (a trailing newline, or lines
// left between records by hand-editing) and are not records.
import * as fs from 'node:fs';
import * as readline from 'node:readline';
import type { RawRow } from './read_rows';
import { asRowObject, describeValue } from './read_plain';

export async function* readJsonlRows(file: string): AsyncGenerator<RawRow> {
  const input = fs.createReadStream(file, { encoding: 'utf8' });
  const lines = readline.createInterface({ input, crlfDelay: Infinity });
  let line = 0;
  try {
    for await (const text of lines) {
      line++;
      // A byte-order mark is legal at the start of a UTF-8 file but not inside JSON.
      const body = line === 1 ? text.replace(/^\uFEFF/, '') : text;
      if (body.trim() === '') continue;
      const at = { file, line };
      let value: unknown;
      try {
        value = JSON.parse(body);
      } catch (e) {
        yield { at, problem: `malformed JSON (${(e as Error).message}); expected one JSON object per line` };
        continue;
      }
      const row = asRowObject(value);
      if (row) yield { at, row };
      else yield { at, problem: `expected a JSON object, got ${describeValue(value)}` };
    }
  } finally {
    lines.close();
    input.destroy();
  }
}
