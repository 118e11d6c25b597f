// Instruction data: conversations of one user request and the reference reply,
// some opening with a system message, drawn from one side of each family's
// held-out split. Train draws with replacement; test keeps distinct prompts.
import type { Conversation, Message } from '../records';
import type { KeyPlan, Params, Split, TaskFamily } from './family';
import { SYSTEM_PROMPTS } from './options';
import type { Rng } from './rng';
import { renderTask, taskMeta, type WorldTask } from './task';

export const WORLD_SOURCE = 'world';

/** The opening messages of a request: sometimes a system message, then the user's turn. */
export function requestMessages(task: WorldTask, rng: Rng, systemShare: number): Message[] {
  const system: Message[] = rng.chance(systemShare) ? [{ role: 'system', content: rng.pick(SYSTEM_PROMPTS) }] : [];
  return [...system, { role: 'user', content: task.prompt }];
}

export function makeConversations(
  fam: TaskFamily, plan: KeyPlan<Params>, split: Split, n: number, rng: Rng, systemShare: number,
): Conversation[] {
  const out: Conversation[] = [];
  const seen = new Set<string>();
  // Test prompts are kept distinct; a small held-out space can give fewer than n.
  for (let tries = 0; out.length < n && tries < n * 200; tries++) {
    const task = renderTask(fam, plan.draw(rng, split), rng);
    if (split === 'test') {
      if (seen.has(task.prompt)) continue;
      seen.add(task.prompt);
    }
    out.push({
      kind: 'conversation',
      messages: [...requestMessages(task, rng, systemShare), { role: 'assistant', content: task.reference }],
      source: WORLD_SOURCE,
      id: `${fam.name}-${split}-${String(out.length).padStart(4, '0')}`,
      category: fam.name,
      meta: { ...taskMeta(task, split) },
    });
  }
  return out;
}
