"""A model folder as Hugging Face publishes one, made by transformers itself.

No weights can be downloaded where the tests run, so they build folders at a
real model's configuration (random weights) with save_pretrained, beside a
real tokenizer.json / tokenizer_config.json, and ask transformers for the
logits to compare with.

  python make_pretrained.py make --arch llama --config '{"hidden_size": 64, ...}' \
      --tokenizer-dir DIR --out DIR [--dtype bfloat16] [--max-shard-size 2MB] [--seed 0]
  python make_pretrained.py logits --model DIR --ids '[[1, 2, 3]]'

Each command prints one JSON line last.
"""
import argparse
import json
import os
import shutil
import sys

import torch
import transformers

ARCHS = {
    "llama": ("LlamaConfig", "LlamaForCausalLM"),
    "qwen2": ("Qwen2Config", "Qwen2ForCausalLM"),
    "qwen3": ("Qwen3Config", "Qwen3ForCausalLM"),
    "mistral": ("MistralConfig", "MistralForCausalLM"),
}
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja")


def make(args):
    config_cls, model_cls = (getattr(transformers, n) for n in ARCHS[args.arch])
    config = config_cls(**json.loads(args.config))
    torch.manual_seed(args.seed)
    model = model_cls(config).eval()
    dtype = getattr(torch, args.dtype)
    model = model.to(dtype)
    os.makedirs(args.out, exist_ok=True)
    kwargs = {"safe_serialization": True}
    if args.max_shard_size:
        kwargs["max_shard_size"] = args.max_shard_size
    model.save_pretrained(args.out, **kwargs)
    if args.tokenizer_dir:
        for name in TOKENIZER_FILES:
            src = os.path.join(args.tokenizer_dir, name)
            if os.path.exists(src):
                shutil.copy(src, os.path.join(args.out, name))
    files = sorted(os.listdir(args.out))
    params = sum(p.numel() for p in model.parameters())
    print(json.dumps({"files": files, "parameters": params, "transformers": transformers.__version__}))


def logits(args):
    model = transformers.AutoModelForCausalLM.from_pretrained(args.model, torch_dtype=torch.float32).eval()
    ids = torch.tensor(json.loads(args.ids))
    with torch.no_grad():
        out = model(ids).logits
    print(json.dumps({"logits": out.reshape(-1).tolist(), "shape": list(out.shape)}))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    mk = sub.add_parser("make")
    mk.add_argument("--arch", choices=sorted(ARCHS), default="llama")
    mk.add_argument("--config", required=True, help="config fields as JSON")
    mk.add_argument("--tokenizer-dir", help="folder whose tokenizer files are copied in")
    mk.add_argument("--out", required=True)
    mk.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    mk.add_argument("--max-shard-size", help="e.g. 2MB: save in shards with an index")
    mk.add_argument("--seed", type=int, default=0)
    lg = sub.add_parser("logits")
    lg.add_argument("--model", required=True)
    lg.add_argument("--ids", required=True, help="token ids as a JSON list of rows")
    args = p.parse_args()
    {"make": make, "logits": logits}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
