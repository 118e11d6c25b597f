"""Reward-model scores from transformers (and PEFT), to check kernel-lib's.

Two uses:

  score: open a folder this library saved and print the scores
    transformers gives for some token rows (JSON on the last line):
      python reward_scores.py score --model DIR --rows ROWS.json
      python reward_scores.py score --base DIR --adapter DIR --pad-id N --rows ROWS.json
    ROWS.json is {"ids": [[...], ...], "lengths": [...]}: rows padded on the
    right. The first form loads DIR as LlamaForSequenceClassification; the
    second loads a LlamaForCausalLM folder as one (with one label and pad
    token N) and puts PEFT adapters on it, whose file carries the score head
    (modules_to_save).

  golden: write a small LlamaForSequenceClassification made by transformers
    (save_pretrained) and the scores it gives, for a test that needs no Python:
      python reward_scores.py golden --out test/fixtures/model/reward

transformers finds each row's last token as the rightmost token that is not
pad_token_id, while kernel-lib reads it from the row's length: the rows given
must not contain the pad id, so that both pick the same token.
"""

import argparse
import json
import os

import torch


def scores(model, ids, lengths):
    input_ids = torch.tensor(ids, dtype=torch.long)
    mask = torch.zeros_like(input_ids)
    for i, n in enumerate(lengths):
        mask[i, :n] = 1
    with torch.no_grad():
        out = model(input_ids=input_ids, attention_mask=mask)
    return out.logits[:, 0].tolist()


def score(args):
    from transformers import LlamaForSequenceClassification

    rows = json.load(open(args.rows))
    if args.adapter:
        from peft import PeftModel

        model = LlamaForSequenceClassification.from_pretrained(
            args.base, num_labels=1, pad_token_id=args.pad_id, dtype=torch.float32
        )
        model = PeftModel.from_pretrained(model, args.adapter)
    else:
        model = LlamaForSequenceClassification.from_pretrained(args.model, dtype=torch.float32)
    model.eval()
    result = {
        "scores": scores(model, rows["ids"], rows["lengths"]),
        "architecture": type(model.base_model.model if args.adapter else model).__name__,
        "num_labels": model.config.num_labels,
        "pad_token_id": model.config.pad_token_id,
    }
    print(json.dumps(result))


def golden(args):
    from transformers import LlamaConfig, LlamaForSequenceClassification

    torch.manual_seed(0)
    vocab = 61
    pad = vocab - 1
    config = LlamaConfig(
        vocab_size=vocab,
        hidden_size=32,
        intermediate_size=48,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=48,
        tie_word_embeddings=False,
        num_labels=1,
        pad_token_id=pad,
    )
    model = LlamaForSequenceClassification(config).eval()
    # A larger head than the 0.02 init, so that the scores are far from 0 and
    # a wrong token or layout shows.
    with torch.no_grad():
        model.score.weight.normal_(0, 1.0)
    gen = torch.Generator().manual_seed(1)
    lengths = [9, 5, 12, 1]
    width = max(lengths)
    ids = []
    for n in lengths:
        real = torch.randint(0, pad, (n,), generator=gen).tolist()  # never the pad id
        ids.append(real + [pad] * (width - n))
    os.makedirs(args.out, exist_ok=True)
    model.save_pretrained(args.out)
    with open(os.path.join(args.out, "golden.json"), "w") as f:
        json.dump({"ids": ids, "lengths": lengths, "scores": scores(model, ids, lengths)}, f, indent=1)
        f.write("\n")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("score")
    s.add_argument("--model")
    s.add_argument("--base")
    s.add_argument("--adapter")
    s.add_argument("--pad-id", type=int)
    s.add_argument("--rows", required=True)
    g = sub.add_parser("golden")
    g.add_argument("--out", required=True)
    args = p.parse_args()
    if args.cmd == "score":
        if not args.model and not (args.base and args.adapter and args.pad_id is not None):
            p.error("score needs --model, or --base, --adapter and --pad-id")
        score(args)
    else:
        golden(args)


if __name__ == "__main__":
    main()
