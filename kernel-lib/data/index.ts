// Instruction and preference data: the canonical records, exploration,
// splits and export (loaders for the published formats and the synthetic
// task world live beside them).
export { DataError, describeLocation, replyText } from './records';
export type { Conversation, DataLocation, DataRecord, Message, PreferencePair, Role } from './records';
export { countBy, findDuplicates, findNearEmpty, isConversation, isPreference, preferenceStats, recordStats, summarise } from './explore';
export type { LengthTokenizer, PreferenceStats, RecordStats, Summary } from './explore';
export { recordsBundle, sampleRecords, showSample, statsFrame } from './explore_view';
export { rowsToArrow, writeRows } from './export_rows';
export type { FlatRow } from './export_rows';
export { splitRecords } from './split';
export type { SplitOptions } from './split';
export {
  generateWorld, DEFAULT_WORLD_OPTIONS, FULL_WORLD_OPTIONS, DEFAULT_WORLD_SEED, worldOptions, buildFacts, makeCorpus,
  WORLD_FAMILIES, familyNamed, isWorldFamily, checkReply, parsePrompt, REFUSAL, isRefusal,
  PREFERENCE_RULES, createJudge, oracleJudge, writeWorld, loadWorld, verifyWorld,
  stripFillers, replyFlaws, replyFormat, recordFlaws, SFT_FLAWS, DEFAULT_SFT_FLAWS,
} from './world';
export type {
  WorldData, WorldOptions, WorldFacts, WorldFamily, WorldTask, PreferenceRule, WorldJudge, Judgement, LoadedWorld, WorldManifest,
  ReplyFlaws, SftFlaw, SftFlawShares,
} from './world';
export { DatasetStream, loadDataset, streamDataset } from './load';
export type { LoadOptions, LoadReport } from './load';
export { SCHEMAS, checkMapping, describeSchemas, detectSchema, isSchemaName } from './schema';
export type { ConversationMapping, PreferenceMapping, SchemaInfo, SchemaMapping, SchemaName } from './schema';
export { normaliseRow } from './schema_rows';
export { parseHhTranscript, splitHhPair } from './schema_hh';
export type { HhPair, HhProblem, HhTurn } from './schema_hh';
export { FILE_EXTENSIONS, fileFormatOf, readDataRows } from './read_rows';
export type { FileFormat, RawRow } from './read_rows';
