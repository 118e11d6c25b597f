"""Runs a recipe exported by the workbook (kernel-lib's exportTrlRecipe) with Hugging Face TRL.

The folder this script sits in holds recipe.json (the trainer, SFT, DPO or
GRPO, and every setting), data/ (the records, and the workbook's own tokens
for them), the tokenizer and chat_template.jinja, and names the base model;
a GRPO recipe also holds its rewards (rewards.py, and oracle_reward.js for
the world's oracle).

  accelerate launch --config_file accelerate.yaml train.py   # the GPUs of this machine
  python train.py                                            # one device: a GPU if any, else the CPU

By default the trainer takes data/train.tokenized.jsonl as it is, so the run
sees exactly the workbook's tokens: for SFT `input_ids` and `labels` (-100
where the workbook's mask leaves a target out), for DPO `prompt_ids`,
`chosen_ids` and `rejected_ids`. With --from-messages TRL renders
data/train.jsonl with chat_template.jinja and tokenizes it itself; SFT's
assistant-only loss then needs {% generation %} markers in the template (TRL
adds them only to the templates it knows).

Prints one JSON object per logged step (TRL's names: step, loss,
learning_rate, grad_norm, then SFTTrainer's entropy, num_tokens,
mean_token_accuracy, DPOTrainer's rewards/*, logps/*, logits/*, or
GRPOTrainer's reward, reward_std, rewards/<name>/mean, completions/*) and a
summary line last, on the main process only.
"""

import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TRAINERS = ("sft", "dpo", "grpo")
# The columns each trainer takes ready-made: the workbook's tokens.
TOKENIZED = {"sft": ("input_ids", "labels"), "dpo": ("prompt_ids", "chosen_ids", "rejected_ids")}


def fail(message):
    sys.exit(f"train.py: {message}")


def read_jsonl(path):
    rows = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:
                fail(f"{path}:{n}: not JSON ({e})")
    if not rows:
        fail(f"{path}: no records")
    return rows


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--recipe", default=HERE, help="the recipe folder (default: this script's folder)")
    p.add_argument("--max-steps", type=int, default=None, help="stop after N of the recipe's steps; the learning-rate schedule stays the recipe's")
    p.add_argument("--output-dir", default=None, help="where the trained model or adapters go (default: <recipe>/output)")
    p.add_argument("--sequential", action="store_true", help="take the data in the file's order instead of shuffling")
    p.add_argument("--init-adapters", default=None, help="LoRA: start from these PEFT adapters instead of a fresh init")
    p.add_argument("--from-messages", action="store_true", help="let TRL tokenize data/train.jsonl with chat_template.jinja")
    p.add_argument("--model", default=None, help="the base model folder (default: the one recipe.json names)")
    p.add_argument("--per-device-batch", type=int, default=None, help="rows per process and micro-batch (default: the recipe's batch split over the processes)")
    return p.parse_args()


def load_recipe(folder):
    path = os.path.join(folder, "recipe.json")
    try:
        with open(path, encoding="utf-8") as f:
            recipe = json.load(f)
    except OSError as e:
        fail(f"{path}: cannot read it ({e.strerror})")
    except json.JSONDecodeError as e:
        fail(f"{path}: not JSON ({e})")
    if recipe.get("format") != "workbook-trl-recipe" or recipe.get("version") != 1:
        fail(f"{path}: not a version 1 workbook TRL recipe (format {recipe.get('format')!r}, version {recipe.get('version')!r})")
    if recipe.get("trainer") not in TRAINERS:
        fail(f"{path}: trainer {recipe.get('trainer')!r}; this script runs {', '.join(repr(t) for t in TRAINERS)} recipes")
    if not isinstance(recipe.get(f"{recipe['trainer']}_config"), dict):
        fail(f"{path}: no {recipe['trainer']}_config (the trainer's settings)")
    return recipe


def model_folder(args, recipe):
    folder = args.model or recipe["model"]["path"]
    if not os.path.isabs(folder):
        folder = os.path.join(args.recipe, folder)
    if not os.path.isfile(os.path.join(folder, "config.json")):
        fail(f"base model {folder}: no config.json there (pass --model DIR where the model folder is)")
    return folder


def dataset(args, recipe):
    """The training rows: the workbook's tokens, or TRL's record format (--from-messages)."""
    from datasets import Dataset

    data = recipe["data"]
    if recipe["trainer"] == "grpo":
        if args.from_messages:
            fail("--from-messages: a GRPO recipe's prompts are always rendered by TRL (there are no workbook tokens to train on)")
        return Dataset.from_list(read_jsonl(os.path.join(args.recipe, data["file"])))
    if not args.from_messages:
        columns = TOKENIZED[recipe["trainer"]]
        rows = read_jsonl(os.path.join(args.recipe, data["tokenized"]))
        for n, row in enumerate(rows, 1):
            missing = [c for c in columns if not isinstance(row.get(c), list)]
            if missing:
                fail(f"{data['tokenized']}:{n}: no {', '.join(missing)} (lists of token ids were expected)")
            if recipe["trainer"] == "sft" and len(row["input_ids"]) != len(row["labels"]):
                fail(f"{data['tokenized']}:{n}: input_ids and labels differ in length")
        return Dataset.from_list([{c: r[c] for c in columns} for r in rows])
    rows = read_jsonl(os.path.join(args.recipe, data["file"]))
    return Dataset.from_list(rows)


def trainer_config(args, recipe, world_size, output_dir):
    """SFTConfig or DPOConfig: the recipe's settings, with what depends on this machine and these options."""
    import torch
    from trl import DPOConfig, GRPOConfig, SFTConfig

    settings = dict(recipe[f"{recipe['trainer']}_config"])
    if recipe["trainer"] == "sft" and not args.from_messages:
        # The labels already say which tokens train; TRL's own masking options
        # would look for a conversational dataset and find token ids.
        settings["assistant_only_loss"] = False
        settings["completion_only_loss"] = None
    elif recipe["trainer"] == "sft" and settings.get("assistant_only_loss") and recipe["data"]["format"] == "conversational":
        print(
            "train.py: --from-messages with assistant-only loss: TRL masks the replies through {% generation %} "
            "markers in chat_template.jinja; it adds them itself only to the templates it knows, and fails otherwise.",
            file=sys.stderr,
        )
    batch = recipe["batch_size"]
    if args.per_device_batch is not None:
        per_device = args.per_device_batch
    elif batch % world_size == 0:
        per_device = batch // world_size
    else:
        fail(
            f"the recipe's batch of {batch} rows does not split over {world_size} processes; "
            f"launch a number of processes that divides {batch}, or pass --per-device-batch N "
            f"(a batch of N x {world_size} rows per micro-batch)"
        )
    # bf16 autocast where the GPU has it: under accelerate launch transformers
    # takes the config's mixed precision from the environment; a plain run on
    # a GPU asks for it here. Elsewhere (CPU, MPS) training is float32.
    bf16 = recipe.get("mixed_precision") == "bf16" and torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    config_class = {"sft": SFTConfig, "dpo": DPOConfig, "grpo": GRPOConfig}[recipe["trainer"]]
    if recipe["trainer"] == "grpo":
        # GRPO samples prompts through its own sampler, shuffled unless asked.
        settings["shuffle_dataset"] = not args.sequential
    return config_class(
        **settings,
        output_dir=output_dir,
        per_device_train_batch_size=per_device,
        bf16=bf16,
        train_sampling_strategy="sequential" if args.sequential else "random",
        dataloader_num_workers=0,
        disable_tqdm=True,
    )


def model_and_peft(args, recipe, folder):
    """The base model in float32, and either a peft LoraConfig for the trainer or a PeftModel from --init-adapters."""
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(folder, dtype=getattr(torch, recipe["model"]["dtype"]))
    lora = recipe.get("peft")
    if lora is None:
        if args.init_adapters:
            fail("--init-adapters: the recipe is full fine-tuning (recipe.json has no peft settings)")
        return model, None
    from peft import LoraConfig, PeftModel

    if not args.init_adapters:
        return model, LoraConfig(**lora)
    config_file = os.path.join(args.init_adapters, "adapter_config.json")
    try:
        with open(config_file, encoding="utf-8") as f:
            saved = json.load(f)
    except OSError as e:
        fail(f"--init-adapters: {config_file}: cannot read it ({e.strerror})")
    for key in ("r", "lora_alpha", "target_modules"):
        ours, theirs = lora[key], saved.get(key)
        if key == "target_modules":
            ours, theirs = sorted(ours), sorted(theirs or [])
        if ours != theirs:
            fail(f"--init-adapters: {config_file} has {key} {theirs!r}, the recipe {ours!r}")
    # The recipe's config (dropout included) with the saved weights: saved
    # adapters may have been written for inference.
    model = PeftModel.from_pretrained(model, args.init_adapters, is_trainable=True, config=LoraConfig(**lora))
    return model, None


def json_logs(stop_at):
    """A callback that prints each step's log as one JSON line, and stops the run after `stop_at` steps."""
    from transformers import TrainerCallback

    class JsonLogs(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and "loss" in logs and state.is_world_process_zero:
                print(json.dumps({"step": state.global_step, **logs}), flush=True)

        def on_step_end(self, args, state, control, **kwargs):
            if stop_at is not None and state.global_step >= stop_at:
                control.should_training_stop = True
            return control

    return JsonLogs()


def trainer_class(recipe, from_messages):
    """SFTTrainer, DPOTrainer or GRPOTrainer; for DPO on the workbook's tokens, one that takes them as they are."""
    from trl import DPOTrainer, GRPOTrainer, SFTTrainer

    if recipe["trainer"] == "sft":
        return SFTTrainer  # it keeps a dataset that already has input_ids
    if recipe["trainer"] == "grpo":
        return GRPOTrainer
    if from_messages:
        return DPOTrainer

    class TokenizedDPOTrainer(DPOTrainer):
        # DPOTrainer renders and tokenizes prompt / chosen / rejected itself;
        # the rows here already hold its tokenized columns (prompt_ids,
        # chosen_ids, rejected_ids), which its collator reads as they are.
        def _prepare_dataset(self, dataset, processing_class, args, dataset_name):
            return dataset

    return TokenizedDPOTrainer


def main():
    args = parse_args()
    args.recipe = os.path.abspath(args.recipe)
    recipe = load_recipe(args.recipe)
    steps = recipe[f"{recipe['trainer']}_config"]["max_steps"]
    if args.max_steps is not None and not 1 <= args.max_steps <= steps:
        fail(f"--max-steps must be between 1 and the recipe's {steps} steps, got {args.max_steps}")
    folder = model_folder(args, recipe)
    output_dir = os.path.abspath(args.output_dir or os.path.join(args.recipe, "output"))
    world_size = int(os.environ.get("WORLD_SIZE", "1"))

    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(os.path.join(args.recipe, recipe["tokenizer"]["path"]))
    if recipe["tokenizer"]["pad_token"]:
        tok.pad_token = recipe["tokenizer"]["pad_token"]
    extra = {}
    if recipe["trainer"] == "grpo":
        # GRPOTrainer stops a reply at the tokenizer's EOS; the workbook stops
        # it at the template's end-of-turn token, so that is the EOS here.
        tok.eos_token = recipe["tokenizer"]["end_of_turn"]
        from rewards import build_rewards

        extra["reward_funcs"] = build_rewards(recipe, args.recipe, tok)
    config = trainer_config(args, recipe, world_size, output_dir)
    model, peft_config = model_and_peft(args, recipe, folder)
    train = dataset(args, recipe)
    # --max-steps stops the run early through the callback, so the schedule
    # (which transformers spreads over max_steps) stays the recipe's.
    trainer = trainer_class(recipe, args.from_messages)(
        model=model,
        args=config,
        train_dataset=train,
        processing_class=tok,
        peft_config=peft_config,
        callbacks=[json_logs(args.max_steps)],
        **extra,
    )
    started = time.time()
    result = trainer.train()
    seconds = time.time() - started
    trainer.save_model(output_dir)
    if trainer.is_world_process_zero():
        tok.save_pretrained(output_dir)
        summary = {
            "summary": recipe["trainer"],
            "steps": trainer.state.global_step,
            "train_loss": result.training_loss,
            "seconds": round(seconds, 2),
            "data": "messages" if args.from_messages else "tokenized",
            "records": len(train),
            "processes": world_size,
            "output_dir": output_dir,
        }
        print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
