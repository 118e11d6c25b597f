// Objectives by name, so a worker thread can rebuild the one a run uses.
import { lmObjective } from './lm';
import type { Objective } from './objective';
import { sftObjective } from './sft';

const registry = new Map<string, Objective<unknown>>([
  [lmObjective.name, lmObjective as Objective<unknown>],
  [sftObjective.name, sftObjective as Objective<unknown>],
]);

export function registerObjective(objective: Objective<unknown>): void {
  registry.set(objective.name, objective);
}

export function objectiveByName(name: string): Objective<unknown> {
  const o = registry.get(name);
  if (!o) throw new Error(`train: unknown objective "${name}"; known: ${[...registry.keys()].join(', ')}`);
  return o;
}
