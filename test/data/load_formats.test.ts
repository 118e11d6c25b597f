// Every published layout through every file type: the fixtures under
// test/data/fixtures (written by make-fixtures.ts from datasets.ts) load as
// the same records from JSON, JSON Lines, CSV, Arrow IPC (stream and file)
// and Parquet, and the fixture files regenerate byte for byte.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parquetMetadata } from 'hyparquet';
import { loadDataset, streamDataset } from '../../kernel-lib/data/load';
import { readDataRows } from '../../kernel-lib/data/read_rows';
import type { DataRecord } from '../../kernel-lib/data/records';
import { FIXTURES, FIXTURE_FILES, type FixtureDataset } from './fixtures/datasets';
import { fixturePath, makeFixtures } from './fixtures/make-fixtures';

const FIXTURE_DIR = path.join(__dirname, 'fixtures');
const FORMAT_OF: Record<(typeof FIXTURE_FILES)[number], string> = { json: 'json', jsonl: 'jsonl', csv: 'csv', arrow: 'arrow', feather: 'arrow', parquet: 'parquet' };

/** The records as the fixture states them: no source, and no id where the dataset has none of its own. */
function comparable(records: DataRecord[], f: FixtureDataset): unknown[] {
  return records.map((r) => {
    const { source: _source, id, ...rest } = r;
    return f.ownIds ? { ...rest, id } : rest;
  });
}

describe('data/load: every layout through every file type', function () {
  this.timeout(60_000);

  for (const f of FIXTURES) {
    describe(`${f.name} (${f.schema})`, () => {
      for (const ext of FIXTURE_FILES) {
        it(`loads from .${ext}`, async () => {
          const file = fixturePath(FIXTURE_DIR, f.name, ext);
          const { records, report } = await loadDataset(file);
          assert.deepEqual(comparable(records, f), f.expected);
          assert.deepEqual(report, { file, format: FORMAT_OF[ext], schema: f.schema, read: f.rows.length, kept: f.expected.length, skipped: [] });
          for (const r of records) assert.equal(r.source, file);
          if (!f.ownIds) {
            const base = path.basename(file);
            const ids = records.map((r) => r.id);
            if (ext === 'jsonl') assert.deepEqual(ids, f.rows.map((_, i) => `${base}:${i + 1}`));
            else if (ext === 'csv') {
              const lines = ids.map((id) => Number(id.slice(base.length + 1)));
              assert.equal(lines[0], 2, 'the first record follows the header');
              lines.slice(1).forEach((n, i) => assert.ok(n > lines[i], `CSV lines ${lines.join(', ')} increase`));
            } else assert.deepEqual(ids, f.rows.map((_, i) => `${base}[${i}]`));
          }
        });
      }
    });
  }

  it('reads Arrow and Parquet rows back as written: nested columns as plain arrays of plain objects, int64 as numbers', async () => {
    const plainOnly = (v: unknown, where: string): void => {
      if (Array.isArray(v)) return v.forEach((x, i) => plainOnly(x, `${where}[${i}]`));
      if (v !== null && typeof v === 'object') {
        assert.equal(Object.getPrototypeOf(v), Object.prototype, `${where} is a plain object`);
        for (const [k, x] of Object.entries(v)) plainOnly(x, `${where}.${k}`);
      } else assert.ok(['string', 'number', 'boolean'].includes(typeof v) || v === null, `${where} is ${typeof v}`);
    };
    for (const f of FIXTURES) {
      for (const ext of ['json', 'jsonl', 'arrow', 'feather', 'parquet'] as const) {
        const rows: unknown[] = [];
        for await (const raw of readDataRows(fixturePath(FIXTURE_DIR, f.name, ext))) rows.push(raw.row);
        plainOnly(rows, `${f.name}.${ext}`);
        assert.deepEqual(rows, f.rows, `${f.name}.${ext}`);
      }
    }
  });

  it('streams the same records one at a time, and fills the report as it goes', async () => {
    const file = fixturePath(FIXTURE_DIR, 'dolly', 'parquet');
    const stream = streamDataset(file);
    const seen: DataRecord[] = [];
    for await (const r of stream) {
      seen.push(r);
      assert.equal(stream.report.kept, seen.length);
    }
    assert.deepEqual(seen, (await loadDataset(file)).records);
    assert.equal(stream.report.read, 4);
  });

  it('numbers CSV records by the line they start on, across quoted cells spanning lines', async () => {
    const { records } = await loadDataset(fixturePath(FIXTURE_DIR, 'hh_rlhf', 'csv'));
    // The first record's two transcripts hold four newlines each: it spans lines 2 to 10; the second holds sixteen.
    assert.deepEqual(
      records.map((r) => r.id),
      ['hh_rlhf.csv:2', 'hh_rlhf.csv:11', 'hh_rlhf.csv:28'],
    );
  });

  it('follows only the best-ranked replies of an OpenAssistant tree when asked', async () => {
    const oasst = FIXTURES.find((f) => f.name === 'oasst') as FixtureDataset;
    for (const ext of FIXTURE_FILES) {
      const { records, report } = await loadDataset(fixturePath(FIXTURE_DIR, 'oasst', ext), { oasstPaths: 'best' });
      assert.deepEqual(
        comparable(records, oasst),
        oasst.expected.filter((e) => e.id !== oasst.rows[3].message_id),
        `.${ext}`,
      );
      assert.equal(report.kept, 2);
    }
  });

  it('reads Parquet as the Hub writes it: nested LIST columns, and gzip and brotli pages besides snappy', () => {
    const codecs = new Set<string>();
    for (const f of FIXTURES) {
      const bytes = fs.readFileSync(fixturePath(FIXTURE_DIR, f.name, 'parquet'));
      const meta = parquetMetadata(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
      for (const g of meta.row_groups) for (const c of g.columns) codecs.add(c.meta_data?.codec ?? '');
      if (f.name === 'sharegpt') {
        const names = meta.schema.map((e) => `${e.name}${e.converted_type === 'LIST' ? ':LIST' : ''}`);
        assert.deepEqual(names.slice(0, 7), ['root', 'id', 'conversations:LIST', 'list', 'element', 'from', 'value']);
      }
    }
    assert.deepEqual([...codecs].sort(), ['BROTLI', 'GZIP', 'SNAPPY', 'UNCOMPRESSED']);
  });

  it('regenerates the fixture files byte for byte', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fixtures-'));
    try {
      for (const file of makeFixtures(dir)) {
        const committed = path.join(FIXTURE_DIR, path.relative(dir, file));
        assert.ok(fs.readFileSync(file).equals(fs.readFileSync(committed)), `${path.relative(dir, file)} differs from the committed fixture; rerun make-fixtures.ts`);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
