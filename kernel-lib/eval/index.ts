// Evaluation: replies generated through the chat template, exact-match
// accuracy per task family with the world's checkers, generations side by
// side, and one `compare` of several checkpoints (accuracy, oracle win rate,
// KL from a reference, reward score, reply length).
export { EvalError } from './errors';
export { encodePrompts, endOfTurnId, generateReplies, progressLines, promptMessages } from './replies';
export type { ChatTokenizer, GeneratedReply, GenerateRepliesOptions, PromptSource, ReplyFinish, ReplyProgress } from './replies';
export { accuracyRow, evaluateTasks, familyOrder, oracleScore, scoreReply, selectTasks, taskAccuracy } from './accuracy';
export type { AccuracyReport, AccuracyRow, Evaluation, EvaluateOptions, ReplyLike, ScoredReply, TaskSelection, TaskSource } from './accuracy';
export { replyMark, sideBySide } from './side_by_side';
export type { ReplyRun, SideBySideOptions } from './side_by_side';
export { replyDivergences } from './kl';
export type { ReplyDivergence, ReplySequence } from './kl';
export { oraclePairJudge, winRates, winRow } from './wins';
export type { PairJudge, WinRow } from './wins';
export { onPolicyPairs } from './onpolicy_pairs';
export type { OnPolicyPairs, OnPolicyPairsOptions } from './onpolicy_pairs';
export { compare, compareChart } from './compare';
export type { CompareEntry, CompareMetric, CompareOptions, CompareResult, CompareRow, ReplyScorer } from './compare';
export { lengthBias, rewardModelReport } from './reward';
export type { LengthBias, RewardReport, RewardRow, ScoredPair } from './reward';
