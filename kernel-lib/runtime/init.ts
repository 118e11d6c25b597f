// What a notebook (or script) calls first: choose the backend, seed, and
// leave a report where the headless runner can pick it up for its manifest.
import * as fs from 'node:fs';
import { selectBackend, type BackendChoice, type BackendReport } from './backend';
import { seedEverything } from './seed';

/** The headless runner sets this to a file path; the report is written there. */
export const RUNTIME_REPORT_ENV = 'WORKBOOK_RUNTIME_REPORT';

export interface RuntimeOptions {
  /** Force a backend; default 'auto' (or WORKBOOK_BACKEND). */
  backend?: BackendChoice | 'auto';
  /** Global seed; default WORKBOOK_SEED, else 0. */
  seed?: number;
}

export interface RuntimeReport extends BackendReport {
  seed: number;
}

export async function initRuntime(options: RuntimeOptions = {}): Promise<RuntimeReport> {
  const seed = options.seed ?? Number(process.env.WORKBOOK_SEED ?? 0);
  seedEverything(seed);
  const report: RuntimeReport = { ...(await selectBackend(options.backend)), seed };
  const reportFile = process.env[RUNTIME_REPORT_ENV];
  if (reportFile) fs.writeFileSync(reportFile, JSON.stringify(report, null, 2));
  return report;
}
