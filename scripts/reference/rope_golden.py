#!/usr/bin/env python3
"""Golden rotary-position fixtures made by transformers itself.

For each rope type the Llama family uses (default, linear, dynamic, llama3)
this saves a tiny LlamaForCausalLM with transformers' own save_pretrained, so
config.json is in the form the installed transformers writes (transformers 5:
one `rope_parameters` object), and writes golden.json beside it with
transformers' inverse frequencies, cos/sin at some positions, and logits.
legacy.json holds the inverse frequencies transformers computes for configs
in the older form (top-level rope_theta, rope_scaling with "rope_type" or
"type"). test/model/rope_scaling.test.ts compares the TypeScript loader
against these files, so CI needs no Python.

    .venv/bin/python scripts/reference/rope_golden.py --out test/fixtures/model/rope

Needs torch and transformers (a venv: see scripts/reference/README.md).
"""
import argparse
import json
import os
import shutil
import sys
import tempfile

import torch
import transformers
from transformers import LlamaConfig, LlamaForCausalLM
from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding

# Small enough to commit (one layer, ~130 KB a checkpoint), with head_dim 16
# so llama3's three frequency bands (kept, smoothed, divided) all occur.
DIMS = dict(
    vocab_size=32, hidden_size=32, intermediate_size=32, num_hidden_layers=1,
    num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=128,
    rms_norm_eps=1e-5, tie_word_embeddings=False,
)

# name -> rope_parameters as a transformers 5 user gives them.
CASES = {
    "default": {"rope_type": "default", "rope_theta": 500000.0},
    "linear": {"rope_type": "linear", "factor": 4.0, "rope_theta": 10000.0},
    "dynamic": {"rope_type": "dynamic", "factor": 2.0, "rope_theta": 10000.0},
    "llama3": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
               "original_max_position_embeddings": 64, "rope_theta": 500000.0},
}

# config.json fragments in transformers 4's form, read by the installed transformers.
LEGACY = [
    {"rope_theta": 500000.0, "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                              "high_freq_factor": 4.0, "original_max_position_embeddings": 64}},
    {"rope_theta": 10000.0, "rope_scaling": {"type": "linear", "factor": 2.0}},
    {"rope_theta": 250000.0, "rope_scaling": None},
    {"rope_scaling": {"type": "dynamic", "factor": 3.0}},
]

POSITIONS = [0, 1, 2, 7, 31, 63, 64, 100, 127]
IDS = [[1, 5, 9, 13, 17, 21, 25, 29, 3, 7, 11, 15, 19, 23, 27, 31, 2, 4, 6, 8]]
# Logits are also taken with positions starting here, where scaled and plain rotations differ most.
OFFSET = 100


def floats(t):
    return [float(v) for v in t.reshape(-1).tolist()]


def make_case(root, name, rope_parameters, seed):
    out = os.path.join(root, name)
    torch.manual_seed(seed)
    config = LlamaConfig(**DIMS, rope_parameters=dict(rope_parameters))
    model = LlamaForCausalLM(config).eval()
    with torch.no_grad():
        # Norm weights away from 1 so the logits depend on every weight, and
        # queries and keys large enough that attention is sharp: with the
        # default 0.02 init every score is ~0, attention is uniform, and the
        # rotation (the thing under test) barely moves the logits.
        for n, p in model.named_parameters():
            if n.endswith("norm.weight"):
                p.add_(torch.rand_like(p) - 0.5)
            elif n.endswith(("q_proj.weight", "k_proj.weight")):
                p.mul_(25.0)
    if os.path.exists(out):
        shutil.rmtree(out)
    model.save_pretrained(out, safe_serialization=True)
    for extra in os.listdir(out):
        if extra not in ("config.json", "model.safetensors"):
            os.remove(os.path.join(out, extra))
    rotary = model.model.rotary_emb
    pos = torch.tensor([POSITIONS])
    x = torch.zeros(1, len(POSITIONS), DIMS["hidden_size"])
    cos, sin = rotary(x, pos)
    ids = torch.tensor(IDS)
    with torch.no_grad():
        logits = model(ids).logits
        shifted = torch.arange(OFFSET, OFFSET + ids.shape[1])[None]
        logits_offset = model(ids, position_ids=shifted).logits
    golden = {
        "made_by": f"scripts/reference/rope_golden.py with transformers {transformers.__version__}, torch {torch.__version__}",
        "rope_parameters": rope_parameters,
        "inv_freq": floats(rotary.inv_freq),
        "attention_scaling": float(rotary.attention_scaling),
        "positions": POSITIONS,
        "cos": floats(cos[0]),
        "sin": floats(sin[0]),
        "ids": IDS,
        "logits": floats(logits),
        "offset": OFFSET,
        "logits_offset": floats(logits_offset),
    }
    with open(os.path.join(out, "golden.json"), "w") as f:
        json.dump(golden, f)
        f.write("\n")


def legacy_inv_freq(fragment):
    with tempfile.TemporaryDirectory() as tmp:
        raw = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", **DIMS, **fragment}
        with open(os.path.join(tmp, "config.json"), "w") as f:
            json.dump(raw, f)
        config = LlamaConfig.from_pretrained(tmp)
        return floats(LlamaRotaryEmbedding(config).inv_freq)


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="folder for one subfolder per rope type, and legacy.json")
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    for seed, (name, params) in enumerate(CASES.items()):
        make_case(args.out, name, params, seed)
    legacy = [{"config": {**DIMS, **fragment}, "inv_freq": legacy_inv_freq(fragment)} for fragment in LEGACY]
    with open(os.path.join(args.out, "legacy.json"), "w") as f:
        json.dump({"made_by": f"transformers {transformers.__version__}", "cases": legacy}, f, indent=1)
        f.write("\n")
    print(json.dumps({"out": args.out, "cases": list(CASES), "legacy": len(legacy)}))


if __name__ == "__main__":
    main(sys.argv[1:])
