// Recipes that take a workbook run elsewhere: exportTrlRecipe writes an SFT,
// DPO or GRPO run as a folder Hugging Face TRL runs on GPUs (accelerate) or one device.
export { checkBaseModel, exportTrlRecipe, trlScriptPath } from './trl_recipe';
export type { DpoRecipeOptions, GrpoPrompt, GrpoRecipeOptions, SftRecipeOptions, TrlRecipe, TrlRecipeExport, TrlRecipeOptions } from './trl_recipe';
export { checkPreferenceRecords, checkPromptRecords, checkRecipeRecords, tokenizedPair, tokenizedRecord } from './trl_data';
export { bundleOracle } from './oracle_bundle';
export { checkRecipeTrainer, mappingNotes, peftLoraConfig, RECIPE_TRAINERS, trainingArguments, trlSftConfig, workbookSftSettings, workbookTrainSettings } from './trl_settings';
export type { RecipeTrainer, WorkbookSftSettings, WorkbookTrainSettings } from './trl_settings';
export { dpoMappingNotes, trlDpoConfig, workbookDpoSettings } from './trl_dpo_settings';
export type { DpoRecipeConfig, WorkbookDpoSettings } from './trl_dpo_settings';
export { accelerateYaml, defaultProcesses, recipeReadme } from './trl_folder';
export { grpoMappingNotes, trlGrpoConfig, workbookGrpoSettings } from './trl_grpo_settings';
export type { GrpoRecipeConfig, RecipeReward, RecipeRewardSettings, WorkbookGrpoSettings } from './trl_grpo_settings';
