// Objectives by name, so a worker thread can rebuild the one a run uses.
// The built-in table is filled on first use, not at import: an objective's
// module that (directly or through others) imports this one would otherwise
// find the table not yet made, or run before the objectives it lists exist.
import { defaultDpoObjective } from './dpo';
import { lmObjective } from './lm';
import type { Objective } from './objective';
import { defaultRewardObjective } from './reward';
import { defaultRlObjective } from './rl';
import { defaultSimpoObjective } from './simpo';
import { defaultKtoObjective } from './kto';
import { sftObjective } from './sft';

let registry: Map<string, Objective<unknown>> | null = null;

function objectives(): Map<string, Objective<unknown>> {
  registry ??= new Map(
    [lmObjective, sftObjective, defaultRewardObjective, defaultDpoObjective, defaultSimpoObjective, defaultKtoObjective, defaultRlObjective].map((o) => [o.name, o as Objective<unknown>] as [string, Objective<unknown>]),
  );
  return registry;
}

/** Adds an objective to this thread's table under its name (a worker thread has a table of its own). */
export function registerObjective(objective: Objective<unknown>): void {
  objectives().set(objective.name, objective);
}

export function objectiveByName(name: string): Objective<unknown> {
  const o = objectives().get(name);
  if (!o) throw new Error(`train: unknown objective "${name}"; known: ${[...objectives().keys()].join(', ')}`);
  return o;
}
