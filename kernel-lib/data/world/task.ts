// One task of a family: parameters rendered through one of its templates into
// a prompt with a reference reply; and the way back, a prompt read into its
// task by matching every family's templates.
import type { WorldFacts } from './facts';
import type { Params, Split, TaskFamily } from './family';
import { FAMILIES } from './families';
import type { Rng } from './rng';
import { fill, match } from './template';

export interface WorldTask {
  family: string;
  key: string;
  /** Index into the family's templates. */
  template: number;
  params: Params;
  prompt: string;
  reference: string;
}

/** What a world record keeps in meta: enough to check any reply without the world's facts. */
export interface TaskMeta {
  split: Split;
  key: string;
  template: number;
  /** The reference reply. */
  answer: string;
  params: Params;
}

export function renderTask(fam: TaskFamily, params: Params, rng: Rng): WorldTask {
  const choices = fam.templates.flatMap((t, i) => (t.op === params.op ? [i] : []));
  if (choices.length === 0) throw new Error(`world: ${fam.name} has no template for op "${params.op}"`);
  const template = rng.pick(choices);
  return {
    family: fam.name,
    key: fam.key(params),
    template,
    params,
    prompt: fill(fam.templates[template].text, fam.slots(params)),
    reference: fam.reference(params),
  };
}

export function taskMeta(task: WorldTask, split: Split): TaskMeta {
  return { split, key: task.key, template: task.template, answer: task.reference, params: task.params };
}

/** The task a prompt asks for, or null when no family's template reads it. */
export function parsePrompt(facts: WorldFacts, prompt: string): WorldTask | null {
  for (const fam of FAMILIES) {
    for (const [i, t] of fam.templates.entries()) {
      const slots = match(t.text, prompt, fam.slotPatterns);
      if (!slots) continue;
      const params = fam.fromSlots(t.op, slots, facts);
      if (params) {
        return { family: fam.name, key: fam.key(params), template: i, params, prompt: prompt.trim(), reference: fam.reference(params) };
      }
    }
  }
  return null;
}
