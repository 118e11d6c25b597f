// The world's oracle as a process, for a GRPO recipe run by TRL: one JSON
// object a line on stdin, {"task": <a world conversation record>, "reply":
// "<text>"}, answered by one line on stdout, {"score", "verdict"} or
// {"error"}, in order. exportTrlRecipe bundles this file with the judge into
// the recipe's oracle_reward.js (oracle_bundle.ts), and train.py starts it
// once and keeps it, so TRL's run scores replies by the workbook's own rules.
import * as readline from 'node:readline';
import type { Conversation } from '../data/records';
import { oracleScore } from '../data/world/judge';

function answer(line: string): Record<string, unknown> {
  try {
    const { task, reply } = JSON.parse(line) as { task?: Conversation; reply?: unknown };
    if (!task || typeof task !== 'object' || !Array.isArray(task.messages)) return { error: 'task must be a world conversation record ({messages, category, meta})' };
    if (typeof reply !== 'string') return { error: `reply must be a string, got ${JSON.stringify(reply)}` };
    return oracleScore(task, reply);
  } catch (e) {
    return { error: (e as Error).message };
  }
}

// Only when run as a program (the bundle is), never on import.
if (require.main === module) {
  readline.createInterface({ input: process.stdin }).on('line', (line) => {
    if (line.trim() !== '') process.stdout.write(JSON.stringify(answer(line)) + '\n');
  });
}
