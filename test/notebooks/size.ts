// The size the README states for an executed notebook: figures carried as
// static images, plotly.js not inlined. Where no Chromium draws the images
// the runner keeps plotly.js in the notebook instead, and the limit does not apply.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { LIBRARY_ATTRIBUTE } from '../../kernel-lib/viz';
import { findChromium } from '../../scripts/workbook/static_figures';

export const EXECUTED_NOTEBOOK_MAX_MIB = 2.5;

export function assertExecutedSize(file: string): void {
  if (!findChromium()) return;
  const text = fs.readFileSync(file, 'utf8');
  assert.ok(!text.includes(LIBRARY_ATTRIBUTE), `${file} carries plotly.js`);
  const mib = Buffer.byteLength(text) / 2 ** 20;
  assert.ok(mib < EXECUTED_NOTEBOOK_MAX_MIB, `${file} is ${mib.toFixed(2)} MiB; the README states executed notebooks stay under ${EXECUTED_NOTEBOOK_MAX_MIB} MiB`);
}
