// The whole world from one seed: facts, corpus, SFT conversations (train and
// held-out test per family; the train demonstrations with their stated share
// of flaws, the test references clean) and preference pairs. Each part draws
// from its own named random stream, so the same options give the same bytes.
import type { Conversation, PreferencePair } from '../records';
import { buildFacts, type WorldFacts } from './facts';
import type { KeyPlan, Params } from './family';
import { FAMILIES } from './families';
import { makeCorpus } from './corpus';
import { applySftFlaws } from './flaws';
import { worldOptions, type WorldOptions, type WorldOptionsInput } from './options';
import { makePreferencePairs } from './preferences';
import { makeRng } from './rng';
import { makeConversations } from './sft';
import { makeSkillParagraphs } from './skills';

export interface WorldData {
  options: WorldOptions;
  facts: WorldFacts;
  corpus: string;
  /** Training demonstrations, a stated share flawed (meta.flaws). */
  sftTrain: Conversation[];
  /** Held-out references, all clean. */
  sftTest: Conversation[];
  preferencesTrain: PreferencePair[];
  preferencesTest: PreferencePair[];
}

/** Each family's held-out split for a seed. */
export function familyPlans(facts: WorldFacts): Map<string, KeyPlan<Params>> {
  return new Map(FAMILIES.map((f) => [f.name, f.plan(facts, makeRng(facts.seed, `plan:${f.name}`))]));
}

/**
 * The corpus with `skillParagraphs` statements of the algorithmic families
 * shuffled in among its paragraphs (each from its own stream), so that a
 * window of pre-training text holds a mix of both; the corpus as it is when 0.
 */
function withSkills(corpus: string, plans: Map<string, KeyPlan<Params>>, o: WorldOptions): string {
  if (o.skillParagraphs === 0) return corpus;
  const skills = makeSkillParagraphs(plans, o.skillParagraphs, makeRng(o.seed, 'skills'));
  const body = corpus.replace(/\n+$/, ''); // the file's final newline stays at the end
  return makeRng(o.seed, 'skills-mix').shuffle([...body.split('\n\n'), ...skills]).join('\n\n') + corpus.slice(body.length);
}

export function generateWorld(options: WorldOptionsInput = {}): WorldData {
  const o = worldOptions(options);
  const facts = buildFacts(o.seed);
  const plans = familyPlans(facts);
  const conversations = (split: 'train' | 'test', n: number) => FAMILIES.flatMap((f) => {
    const clean = makeConversations(f, plans.get(f.name)!, split, n, makeRng(o.seed, `sft:${split}:${f.name}`), o.systemShare);
    return split === 'train' ? applySftFlaws(clean, f.name, facts, o.sftFlaws) : clean;
  });
  return {
    options: o,
    facts,
    corpus: withSkills(makeCorpus(facts, o.corpusParagraphs), plans, o),
    sftTrain: conversations('train', o.tasksPerFamily),
    sftTest: conversations('test', o.testPerFamily),
    preferencesTrain: makePreferencePairs(facts, plans, 'train', o.preferencePairs, makeRng(o.seed, 'pairs:train'), o.systemShare),
    preferencesTest: makePreferencePairs(facts, plans, 'test', o.preferenceTestPairs, makeRng(o.seed, 'pairs:test'), o.systemShare),
  };
}
