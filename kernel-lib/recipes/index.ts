// Recipes that take a workbook run elsewhere: exportTrlRecipe writes an SFT
// run as a folder Hugging Face TRL runs on GPUs (accelerate) or one device.
export { checkBaseModel, checkRecipeRecords, exportTrlRecipe, tokenizedRecord, trlScriptPath } from './trl_recipe';
export type { TrlRecipe, TrlRecipeExport, TrlRecipeOptions } from './trl_recipe';
export { checkRecipeTrainer, mappingNotes, peftLoraConfig, RECIPE_TRAINERS, trlSftConfig, workbookSftSettings } from './trl_settings';
export type { RecipeTrainer, WorkbookSftSettings } from './trl_settings';
export { accelerateYaml, defaultProcesses, recipeReadme } from './trl_folder';
