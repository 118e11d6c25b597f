// The text files of an exported TRL recipe folder that are not data: the
// accelerate config and the folder's README. Pure functions of the recipe, so
// a test can read them without writing a folder.
import type { TrlRecipe } from './trl_recipe';
import type { WorkbookDpoSettings } from './trl_dpo_settings';
import type { WorkbookGrpoSettings } from './trl_grpo_settings';
import type { WorkbookSftSettings } from './trl_settings';

/** The largest process count up to 8 that splits `batchSize` rows evenly: the GPUs accelerate.yaml asks for by default. */
export function defaultProcesses(batchSize: number): number {
  for (let n = Math.min(8, batchSize); n > 1; n--) if (batchSize % n === 0) return n;
  return 1;
}

/**
 * accelerate's config for one machine: data parallel over `processes` GPUs,
 * bf16 autocast (transformers reads it from the environment accelerate sets).
 */
export function accelerateYaml(processes: number, batchSize: number): string {
  return [
    '# accelerate launch --config_file accelerate.yaml train.py',
    '# One machine, data parallel over its GPUs, bf16 autocast (weights stay float32).',
    `# num_processes: the GPUs to use. train.py splits the recipe's batch of ${batchSize} rows`,
    '# across them, so it must divide that number (or pass train.py --per-device-batch N).',
    'compute_environment: LOCAL_MACHINE',
    `distributed_type: ${processes > 1 ? 'MULTI_GPU' : 'NO'}`,
    'num_machines: 1',
    'machine_rank: 0',
    `num_processes: ${processes}`,
    'gpu_ids: all',
    'mixed_precision: bf16',
    'downcast_bf16: "no"',
    'rdzv_backend: static',
    'same_network: true',
    'main_training_function: main',
    'use_cpu: false',
    'debug: false',
    '',
  ].join('\n');
}

function settingLines(recipe: TrlRecipe): string[] {
  const w = recipe.workbook;
  const adapters = w.lora ? `LoRA rank ${w.lora.rank}, alpha ${w.lora.alpha}, dropout ${w.lora.dropout} on ${w.lora.targets.join(', ')}` : 'full fine-tuning';
  const accumulate = w.accumulation > 1 ? ` x ${w.accumulation} micro-batches` : '';
  const optimizer = `- AdamW lr ${w.lr} (betas ${w.beta1}, ${w.beta2}; eps ${w.eps}; weight decay ${w.weightDecay}), ${w.warmupSteps} warm-up steps, cosine to ${w.minLr}; gradients clipped to ${w.clipNorm || 'no limit'}`;
  if (recipe.trainer === 'grpo') {
    const g = w as WorkbookGrpoSettings;
    const rewards = g.rewards.map((r) => `${r.name} (${r.kind === 'oracle' ? 'the world\'s oracle, oracle_reward.js' : `reward model ${r.path}`}) x ${r.weight}`).join(' + ');
    return [
      `- trainer: grpo; ${adapters}${g.beta > 0 ? `; KL to the base model, beta ${g.beta}` : '; no KL term (beta 0), so no reference model'}`,
      `- rollouts: ${g.promptsPerStep} prompts x ${g.groupSize} replies per micro-batch${accumulate}, up to ${g.maxNewTokens} new tokens, temperature ${g.temperature}${g.topK ? `, top-k ${g.topK}` : ''}${g.topP < 1 ? `, top-p ${g.topP}` : ''}; ${g.iterations} optimisation step${g.iterations === 1 ? '' : 's'} per rollout`,
      `- rewards: ${rewards}; advantages scaled by the ${g.scaleRewards === 'none' ? 'nothing (not scaled)' : `${g.scaleRewards}'s standard deviation`}`,
      `- loss: ${g.lossType}, clipped to [1 - ${g.epsilon}, 1 + ${g.epsilonHigh}]; ${w.steps} steps`,
      optimizer,
    ];
  }
  if (recipe.trainer === 'dpo') {
    const d = w as WorkbookDpoSettings;
    const losses = d.lossType.map((t, k) => (d.lossType.length > 1 ? `${d.lossWeights[k]} x ${t}` : t)).join(' + ');
    return [
      `- trainer: dpo; ${adapters}; the reference is the base model${w.lora ? ' (the adapters switched off)' : ''}, its log-probabilities computed once before training`,
      `- loss: ${losses}, beta ${d.beta}${d.labelSmoothing ? `, label smoothing ${d.labelSmoothing}` : ''}`,
      `- ${w.steps} steps of ${w.batchSize} pairs${accumulate}, padded; sequences up to ${d.maxLength ?? 'any number of'} tokens`,
      optimizer,
    ];
  }
  const s = w as WorkbookSftSettings;
  return [
    `- trainer: sft; ${adapters}`,
    `- loss on: ${recipe.data.format === 'conversational' ? (s.assistantOnlyLoss ? 'assistant replies only' : 'every token') : s.completionOnlyLoss ? 'completions only' : 'every token'}`,
    `- ${w.steps} steps of ${w.batchSize} rows${accumulate}, ${s.packing ? `packed into rows of ${s.maxLength}` : 'padded'}`,
    optimizer,
  ];
}

/** The lines of the README that depend on the trainer: what the data files hold, and what --from-messages changes. */
function dataLines(recipe: TrlRecipe): { files: string[]; fromMessages: string; logs: string } {
  if (recipe.trainer === 'grpo') {
    const oracle = recipe.oracle !== undefined;
    return {
      files: [
        `- \`data/train.jsonl\`: the ${recipe.data.records} prompts, in TRL's conversational prompt-only format (\`prompt\`, a list of messages)${oracle ? ', with `world_task`: the world record the oracle judges a reply by (JSON)' : ''}.`,
        ...(oracle ? ['- `oracle_reward.js`: the world\'s oracle, bundled into one file; train.py runs it with `node` (needed on the machine) and sends it each reply. The same rules score replies here and in the workbook.'] : []),
      ],
      fromMessages: '- GRPO has no `--from-messages`: TRL always renders the prompts with chat_template.jinja to sample, and the replies it samples end at the end-of-turn token, as ours do (train.py makes it the tokenizer\'s EOS for generation).',
      logs: '`step`, `loss`, `learning_rate`, `grad_norm`, `reward`, `reward_std`, `frac_reward_zero_std`, `rewards/<name>/mean`, `rewards/<name>/std`, `completions/mean_length`, `clip_ratio/region_mean`, `entropy`, `kl` (with beta > 0), `num_tokens`',
    };
  }
  if (recipe.trainer === 'dpo') {
    return {
      files: [
        `- \`data/train.jsonl\`: the ${recipe.data.records} pairs, in TRL's conversational preference format (\`prompt\`, \`chosen\`, \`rejected\`, each a list of messages), in the order the run was given them${recipe.data.dropped?.length ? ` (${recipe.data.dropped.length} pairs over the length limit left out, as the workbook's run leaves them out: \`data.dropped\` in recipe.json)` : ''}.`,
        '- `data/train.tokenized.jsonl`: the same pairs as the workbook tokenized them: `prompt_ids` (the prompt with the assistant\'s generation prompt), `chosen_ids` and `rejected_ids` (each reply up to and including its end-of-turn token). train.py trains on these by default, so TRL sees exactly the workbook\'s tokens.',
      ],
      fromMessages: '- `--from-messages`: TRL renders each side of a pair as a whole conversation, so a reply\'s tokens run to the end of the rendering (ChatML\'s newline after `<|im_end|>` included), where the workbook\'s stop at the end-of-turn token.',
      logs: '`step`, `loss`, `learning_rate`, `grad_norm`, `rewards/chosen`, `rewards/rejected`, `rewards/accuracies`, `rewards/margins`, `logps/chosen`, `logps/rejected`, `logits/chosen`, `logits/rejected`, `entropy`, `num_tokens`',
    };
  }
  return {
    files: [
      '- `data/train.jsonl`: the records, in TRL\'s format (`messages`, or `prompt` / `completion`), in the order the run was given them.',
      '- `data/train.tokenized.jsonl`: the same records as the workbook tokenized them: `input_ids`, and `labels` with -100 where its loss mask leaves a target out. train.py trains on these by default, so TRL sees exactly the workbook\'s tokens and masks.',
    ],
    fromMessages: '- `--from-messages`: TRL renders and tokenizes the records itself; assistant-only loss then needs `{% generation %}` markers in the chat template (TRL adds them only for the templates it knows), and its masks may differ from ours at the edges of a reply (a prompt-completion record\'s completion is everything after the prompt, the newline after the end-of-turn marker included).',
    logs: '`step`, `loss`, `learning_rate`, `grad_norm`, `entropy`, `num_tokens`, `mean_token_accuracy`',
  };
}

/** The folder's README: the command, what the files are, and where TRL's run differs from ours. */
export function recipeReadme(recipe: TrlRecipe, processes: number): string {
  const model = recipe.model.copied ? 'model/ (a copy)' : `\`${recipe.model.path}\` (by path; pass --model to point elsewhere)`;
  const data = dataLines(recipe);
  const what = recipe.trainer === 'grpo' ? `${recipe.data.records} prompts`
    : recipe.trainer === 'dpo' ? `${recipe.data.records} preference pairs`
      : `${recipe.data.records} ${recipe.data.format === 'conversational' ? 'conversations' : 'prompt-completion records'}`;
  const trainerClass = { sft: 'SFTTrainer', dpo: 'DPOTrainer', grpo: 'GRPOTrainer' }[recipe.trainer];
  return [
    `# ${recipe.trainer.toUpperCase()} recipe for Hugging Face TRL`,
    '',
    `Exported by the workbook's \`exportTrlRecipe\` from a run on ${what}; TRL's \`${trainerClass}\` runs it.`,
    '',
    '## Run it',
    '',
    '```sh',
    `accelerate launch --config_file accelerate.yaml train.py   # ${processes} GPU(s) of this machine, bf16 autocast`,
    'python train.py                                            # one device: a GPU if there is one, else the CPU',
    '```',
    '',
    'Needs `torch`, `transformers`, `trl`, `datasets`, `accelerate` (and `peft` for LoRA); written against TRL 1.13 and transformers 5.',
    `train.py prints one JSON line per step (${data.logs}) and a summary line; the trained model (or adapters) goes to \`output/\`.`,
    'Options: `--max-steps N` (stop after N steps, schedule unchanged), `--output-dir DIR`, `--sequential` (keep the data order), `--init-adapters DIR` (start LoRA from these PEFT adapters), `--from-messages` (let TRL tokenize data/train.jsonl with chat_template.jinja), `--model DIR`, `--per-device-batch N`.',
    '',
    '## What is here',
    '',
    `- \`recipe.json\`: every setting, as the workbook ran it (\`workbook\`) and as TRL takes it (\`${recipe.trainer}_config\`, \`peft\`).`,
    ...data.files,
    '- `chat_template.jinja`, `tokenizer.json`, `tokenizer_config.json`, `special_tokens_map.json`: the tokenizer and chat template.',
    `- the base model: ${model}.`,
    '- `train.py`, `accelerate.yaml`: the script and the launcher\'s config.',
    '',
    '## Settings',
    '',
    ...settingLines(recipe),
    '',
    '## Where a TRL run differs from the workbook\'s',
    '',
    ...recipe.notes.map((n) => `- ${n}`),
    data.fromMessages,
    '',
  ].join('\n');
}
