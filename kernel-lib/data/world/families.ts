// The task families, in the order they are generated and reported.
import type { Params, TaskFamily } from './family';
import { animalLookup } from './tasks/animal_lookup';
import { arithmetic } from './tasks/arithmetic';
import { comparison } from './tasks/comparison';
import { counting } from './tasks/counting';
import { formatting } from './tasks/formatting';
import { personLookup } from './tasks/person_lookup';
import { refusal } from './tasks/refusal';
import { sequence } from './tasks/sequence';
import { sorting } from './tasks/sorting';
import { stringEdit } from './tasks/string_edit';

export const FAMILIES: readonly TaskFamily[] = [
  arithmetic, stringEdit, counting, sorting, comparison, sequence, animalLookup, personLookup, formatting, refusal,
] as unknown as readonly TaskFamily<Params>[];

export const WORLD_FAMILIES = [
  'arithmetic', 'string_edit', 'counting', 'sorting', 'comparison', 'sequence', 'animal_lookup', 'person_lookup', 'formatting', 'refusal',
] as const;
export type WorldFamily = (typeof WORLD_FAMILIES)[number];

export function isWorldFamily(name: unknown): name is WorldFamily {
  return typeof name === 'string' && (WORLD_FAMILIES as readonly string[]).includes(name);
}

export function familyNamed(name: string): TaskFamily {
  const f = FAMILIES.find((x) => x.name === name);
  if (!f) throw new Error(`world: no task family "${name}" (families: ${WORLD_FAMILIES.join(', ')})`);
  return f;
}
