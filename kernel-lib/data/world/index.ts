// The synthetic task world, the workbook's embedded default data: a seeded set
// of facts, a plain-text corpus that states them, instruction tasks from ten
// families with exact checkers and held-out splits, rule-based preference
// pairs, and an oracle judge that applies the same rules to any reply. A
// stated share of the SFT training demonstrations is flawed (padded, made up,
// wrong format), as real labelling pools are; the pairs reject those flaws.
export { generateWorld, familyPlans } from './generate';
export type { WorldData } from './generate';
export { DEFAULT_SFT_FLAWS, DEFAULT_WORLD_OPTIONS, FULL_WORLD_OPTIONS, DEFAULT_WORLD_SEED, SYSTEM_PROMPTS, worldOptions } from './options';
export type { SftFlawShares, WorldOptions, WorldOptionsInput } from './options';
export { buildFacts, findAnimal, findPerson, ANIMALS, COLOURS, PEOPLE, PLACES, THINGS, TOWNS, UNKNOWN_ANIMALS, UNKNOWN_PEOPLE } from './facts';
export type { Animal, Person, WorldFacts } from './facts';
export { makeCorpus } from './corpus';
export { FAMILIES, WORLD_FAMILIES, familyNamed, isWorldFamily } from './families';
export type { WorldFamily } from './families';
export type { Check, Params, Split, TaskFamily } from './family';
export { parsePrompt } from './task';
export type { TaskMeta, WorldTask } from './task';
export { checkReply } from './check';
export type { CheckableTask } from './check';
export { REFUSAL, isRefusal } from './tasks/refusal';
export { PREFERENCE_RULES } from './preferences';
export { CHATTY_CLOSER, CHATTY_OPENER, FLAW_PLAN, SFT_FLAWS, applySftFlaws, pad, padChatty, recordFlaws } from './flaws';
export type { SftFlaw } from './flaws';
export type { PreferenceRule } from './preferences';
export { FILLERS, SCORES, createJudge, judgeTask, oracleJudge, oracleScore, replyFlaws, replyFormat, stripFillers, taskParams } from './judge';
export type { JudgePrompt, JudgeReply, Judgement, ReplyFlaws, ReplyFormat, Verdict, WorldJudge } from './judge';
export { WORLD_FILES, conversationLine, preferenceLine, worldFiles, writeWorld } from './write';
export type { WorldManifest } from './write';
export { loadWorld, parseWorldJsonl, verifyWorld } from './load';
export type { LoadWorldOptions, LoadedWorld } from './load';
export { conversationsFromArrow, conversationsToArrow, preferencesFromArrow, preferencesToArrow } from './arrow';
export { SKILL_FAMILIES, makeSkillParagraphs } from './skills';
