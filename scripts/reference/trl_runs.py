"""The reference runs for notebooks 04 and 05: Hugging Face TRL on the same world.

TRL's own trainers, started from the same checkpoint as our notebooks, trained
on the world's files as published in data/world, then saved as Hugging Face
folders that kernel-lib opens and scores with the same evaluator as its own
runs (scripts/reference/evaluate-checkpoints.ts). That way the comparison in the
README's results table differs only in the trainer.

  sft:    SFTTrainer on sft-train.jsonl (conversations, assistant-only loss,
          no packing), from a causal LM folder (notebook 03's base checkpoint):
            python trl_runs.py sft --base out/checkpoints/03-base-model --out out/reference/trl-sft
  reward: RewardTrainer on preferences-train.jsonl (explicit prompt), from a
          causal LM folder (the SFT model), one-label sequence classifier:
            python trl_runs.py reward --base out/reference/trl-sft --out out/reference/trl-reward

Both pin torch to --threads threads (2, as the workbook's two workers) and
print TRL's logged metrics, one JSON object a line, then a summary line.
"""

import argparse
import json
import os
import sys
import time

# ChatML as the workbook writes it (kernel-lib/text/chat_templates.ts), with
# TRL's {% generation %} markers around each assistant reply *and* its
# <|im_end|>, so that the end-of-turn token is a target, as in our masks.
CHATML_TRAINING = (
    "{%- for message in messages %}"
    "{%- if message['role'] == 'assistant' %}"
    "{{- '<|im_start|>assistant\\n' }}"
    "{%- generation %}{{- message['content'] + '<|im_end|>' }}{%- endgeneration %}"
    "{{- '\\n' }}"
    "{%- else %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)

# For the reward model: ChatML without the newline after the last message, so
# that the last token of a rendered pair side is the reply's <|im_end|>. TRL
# reads the score at the last token; the workbook reads it at the reply's
# end-of-turn token (kernel-lib/train/preference_batch.ts, encodeReply).
CHATML_REWARD = (
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' }}"
    "{%- if not loop.last %}{{- '\n' }}{%- endif %}"
    "{%- endfor %}"
)


def read_jsonl(path):
    rows = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:
                sys.exit(f"{path}:{n}: not JSON ({e})")
    return rows


def tokenizer_for(folder, template=CHATML_TRAINING):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(folder)
    tok.chat_template = template
    tok.pad_token = "<|pad|>"
    return tok


class JsonLogs:
    """A TrainerCallback that prints each log as one JSON line, with the wall
    clock (`time`, seconds) for throughput measured outside."""

    def __new__(cls):
        from transformers import TrainerCallback

        class _Logs(TrainerCallback):
            def on_log(self, args, state, control, logs=None, **kwargs):
                if logs:
                    print(json.dumps({"step": state.global_step, "time": time.time(), **logs}), flush=True)

        return _Logs()


def common_args(args):
    return dict(
        output_dir=os.path.join(args.out, "trainer"),
        max_steps=args.steps,
        per_device_train_batch_size=args.batch,
        learning_rate=args.lr,
        seed=args.seed,
        logging_steps=args.log_every,
        save_strategy="no",
        report_to=[],
        use_cpu=True,
        bf16=False,
        fp16=False,
        dataloader_num_workers=0,
        disable_tqdm=True,
    )


def run_sft(args):
    from datasets import Dataset
    from transformers import AutoModelForCausalLM
    from trl import SFTConfig, SFTTrainer

    records = read_jsonl(os.path.join(args.world, "sft-train.jsonl"))
    data = Dataset.from_list([{"messages": r["messages"]} for r in records])
    tok = tokenizer_for(args.base)
    model = AutoModelForCausalLM.from_pretrained(args.base, dtype="float32")
    config = SFTConfig(
        **common_args(args),
        assistant_only_loss=True,
        packing=False,
        max_length=args.max_length,
        eos_token="<|im_end|>",
    )
    trainer = SFTTrainer(model=model, args=config, train_dataset=data, processing_class=tok, callbacks=[JsonLogs()])
    train_and_save(trainer, tok, args, {"summary": "sft", "conversations": len(records)})


def run_reward(args):
    from datasets import Dataset
    from transformers import AutoModelForSequenceClassification
    from trl import RewardConfig, RewardTrainer

    records = read_jsonl(os.path.join(args.world, "preferences-train.jsonl"))
    data = Dataset.from_list([{"prompt": r["prompt"], "chosen": r["chosen"], "rejected": r["rejected"]} for r in records])
    tok = tokenizer_for(args.base, CHATML_REWARD)
    model = AutoModelForSequenceClassification.from_pretrained(args.base, num_labels=1, dtype="float32")
    model.config.pad_token_id = tok.pad_token_id
    config = RewardConfig(
        **common_args(args),
        max_length=args.max_length,
        center_rewards_coefficient=args.center,
    )
    trainer = RewardTrainer(model=model, args=config, train_dataset=data, processing_class=tok, callbacks=[JsonLogs()])
    train_and_save(trainer, tok, args, {"summary": "reward", "pairs": len(records)})


def train_and_save(trainer, tok, args, summary):
    """Trains, saves the model where the workbook opens it, and prints the summary line."""
    started = time.time()
    trainer.train()
    seconds = time.time() - started
    save(trainer.model, tok, args.out)
    print(json.dumps({**summary, "steps": args.steps, "seconds": round(seconds, 1), "out": args.out}))


def save(model, tok, out):
    model.save_pretrained(out)
    # The saved template is the plain ChatML the workbook evaluates with; the
    # generation markers were only for TRL's masks.
    tok.save_pretrained(out)
    with open(os.path.join(out, "tokenizer_config.json"), encoding="utf-8") as f:
        config = json.load(f)
    config["chat_template"] = CHATML_TRAINING.replace("{%- generation %}", "").replace("{%- endgeneration %}", "")
    with open(os.path.join(out, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f, indent=2)
    template_file = os.path.join(out, "chat_template.jinja")
    if os.path.exists(template_file):
        os.remove(template_file)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stage", choices=["sft", "reward"])
    parser.add_argument("--base", required=True, help="the starting Hugging Face folder")
    parser.add_argument("--out", required=True, help="where the trained model is saved")
    parser.add_argument("--world", default="data/world")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--lr", type=float, default=None, help="default: 1e-3 for sft, TRL's 1e-4 for reward")
    parser.add_argument("--center", type=float, default=None, help="reward: center_rewards_coefficient")
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--log-every", type=int, default=25)
    args = parser.parse_args()
    if args.lr is None:
        args.lr = 1e-3 if args.stage == "sft" else 1e-4

    import torch

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    (run_sft if args.stage == "sft" else run_reward)(args)


if __name__ == "__main__":
    main()
