"""The rewards of a GRPO recipe exported by the workbook, as TRL's reward functions.

train.py builds them from recipe.json's "rewards", in order; GRPOTrainer
weighs them with grpo_config.reward_weights and logs each as
rewards/<name>/mean, as the workbook does.

  oracle        the world's oracle: oracle_reward.js (the workbook's judge,
                bundled) run once with `node`, sent each reply with the
                world task it answers (the dataset's world_task column).
  reward-model  a reward model folder (a LlamaForSequenceClassification with
                one label, as the workbook's saveRewardModel writes): the
                prompt and reply rendered with the recipe's chat template,
                cut right after the reply's end-of-turn token, and scored
                there, as the workbook's rewardModelReward does.
"""

import json
import os
import shutil
import subprocess
import sys


def fail(message):
    sys.exit(f"train.py: {message}")


def reply_text(completion):
    """A completion's text: TRL hands conversational completions as [{"role": "assistant", "content": ...}]."""
    if isinstance(completion, str):
        return completion
    return "".join(m["content"] for m in completion if m.get("role") == "assistant")


class OracleReward:
    """The world's oracle, one node process for the run; replies are sent one JSON line each."""

    def __init__(self, script, name):
        self.__name__ = name
        node = shutil.which("node")
        if node is None:
            fail(f"reward {name!r}: the world's oracle runs under Node.js (`node oracle_reward.js`), and no `node` is on PATH")
        if not os.path.isfile(script):
            fail(f"reward {name!r}: {script} is missing (exportTrlRecipe writes it beside train.py)")
        self.process = subprocess.Popen([node, script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)

    def score(self, task, reply):
        self.process.stdin.write(json.dumps({"task": task, "reply": reply}) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            fail(f"reward {self.__name__!r}: oracle_reward.js stopped (exit code {self.process.poll()})")
        answer = json.loads(line)
        if "error" in answer:
            fail(f"reward {self.__name__!r}: the oracle refused a reply: {answer['error']}")
        return float(answer["score"])

    def __call__(self, prompts, completions, world_task=None, **kwargs):
        if world_task is None:
            fail(f"reward {self.__name__!r}: the dataset has no world_task column; the oracle judges world tasks only")
        return [self.score(json.loads(task), reply_text(c)) for task, c in zip(world_task, completions, strict=True)]


class RewardModelReward:
    """A reward model scoring each reply at its end-of-turn token, one row at a time (no padding to place)."""

    def __init__(self, folder, tokenizer, end_of_turn, name):
        import torch
        from accelerate import PartialState
        from transformers import AutoModelForSequenceClassification

        self.__name__ = name
        if not os.path.isfile(os.path.join(folder, "config.json")):
            fail(f"reward {name!r}: {folder} has no config.json (a reward model folder was expected)")
        self.device = PartialState().device
        self.model = AutoModelForSequenceClassification.from_pretrained(folder, num_labels=1, dtype=torch.float32).to(self.device).eval()
        self.tokenizer = tokenizer
        self.end_of_turn = end_of_turn

    def ids(self, prompt, completion):
        messages = prompt + [{"role": "assistant", "content": reply_text(completion)}]
        text = self.tokenizer.apply_chat_template(messages, tokenize=False)
        end = text.rfind(self.end_of_turn)
        if end < 0:
            fail(f"reward {self.__name__!r}: the chat template wrote no end-of-turn {self.end_of_turn!r} after the reply")
        return self.tokenizer(text[: end + len(self.end_of_turn)], add_special_tokens=False)["input_ids"]

    def __call__(self, prompts, completions, **kwargs):
        import torch

        scores = []
        with torch.inference_mode():
            for prompt, completion in zip(prompts, completions, strict=True):
                ids = torch.tensor([self.ids(prompt, completion)], device=self.device)
                scores.append(float(self.model(input_ids=ids).logits[0, 0]))
        return scores


def build_rewards(recipe, folder, tokenizer):
    """The reward functions recipe.json names, in its order."""
    rewards = []
    for reward in recipe.get("rewards") or []:
        if reward["kind"] == "oracle":
            rewards.append(OracleReward(os.path.join(folder, recipe.get("oracle") or "oracle_reward.js"), reward["name"]))
        elif reward["kind"] == "reward-model":
            rewards.append(RewardModelReward(reward["path"], tokenizer, recipe["tokenizer"]["end_of_turn"], reward["name"]))
        else:
            fail(f"recipe.json: reward {reward.get('name')!r} has kind {reward.get('kind')!r}; 'oracle' or 'reward-model' was expected")
    if not rewards:
        fail("recipe.json: a GRPO recipe lists no rewards")
    return rewards
