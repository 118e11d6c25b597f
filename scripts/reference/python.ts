// Finds a Python that can import torch, for the PyTorch reference (parity
// test, benchmark): $WORKBOOK_PYTHON, then Debian's /usr/bin/python3 (where
// python3-torch installs), then python3 on PATH.
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';

export const REFERENCE_SCRIPT = path.join(__dirname, 'llama_reference.py');

export function findTorchPython(): string | null {
  for (const py of [process.env.WORKBOOK_PYTHON, '/usr/bin/python3', 'python3'].filter(Boolean) as string[]) {
    try {
      execFileSync(py, ['-c', 'import torch'], { stdio: 'ignore' });
      return py;
    } catch {
      /* try the next */
    }
  }
  return null;
}

/** Runs the reference script and parses the JSON it prints last. */
export function runReference(python: string, args: string[]): unknown {
  const out = execFileSync(python, [REFERENCE_SCRIPT, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 28 });
  return JSON.parse(out.trim().split('\n').pop()!);
}

/** The project's own virtual environment (`python3 -m venv .venv`; ignored by git). */
export const PROJECT_VENV_PYTHON = path.join(__dirname, '..', '..', '.venv', 'bin', 'python');

/** The first of $WORKBOOK_PYTHON, the project's `.venv`, python3 on PATH that can run `import <modules>`. */
function findVenvPython(modules: string): string | null {
  for (const py of [process.env.WORKBOOK_PYTHON, PROJECT_VENV_PYTHON, 'python3'].filter(Boolean) as string[]) {
    try {
      execFileSync(py, ['-c', `import ${modules}`], { stdio: 'ignore', timeout: 120_000 });
      return py;
    } catch {
      /* try the next */
    }
  }
  return null;
}

/**
 * Finds a Python that can import torch and transformers (the golden-fixture
 * scripts and live checks): $WORKBOOK_PYTHON, then the project's `.venv`,
 * then python3 on PATH. Debian's python3 has torch but no transformers.
 */
export function findTransformersPython(): string | null {
  return findVenvPython('torch, transformers');
}

/** A Python that can import TRL (the reference trainers: trl_runs.py), found as findTransformersPython does. */
export function findTrlPython(): string | null {
  return findVenvPython('trl');
}
