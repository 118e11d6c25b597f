// A Python that can import transformers, for the live chat-template reference:
// $WORKBOOK_PYTHON, then the project's venv, then python3 on PATH. Null when
// none can (CI): the tests that need it skip and say why.
import { execFileSync } from 'node:child_process';

export function findTransformersPython(): string | null {
  for (const py of [process.env.WORKBOOK_PYTHON, '/work/venv/bin/python', 'python3'].filter(Boolean) as string[]) {
    try {
      execFileSync(py, ['-c', 'import transformers'], { stdio: 'ignore', timeout: 60_000 });
      return py;
    } catch {
      // not this one; try the next
    }
  }
  return null;
}
