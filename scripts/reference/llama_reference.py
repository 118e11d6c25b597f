#!/usr/bin/python3
"""Independent PyTorch implementation of a Hugging Face LlamaForCausalLM-style
decoder, kept as a parity reference (checkpoint layout, logits, greedy tokens)
and as the speed reference for the benchmark.

Subcommands (all print one JSON document on stdout; errors go to stderr with
exit status 2):

  logits          --checkpoint DIR --ids JSON [--mask JSON]
  generate        --checkpoint DIR --ids JSON [--mask JSON] --new-tokens N
  make-checkpoint --config-json JSON --out DIR --seed N [--init-std S]
  bench           --config S|M|L --threads N --steps K --warmup W
                  [--gradient-checkpointing] [--skip-generate]
  selftest

Everything is computed in float32 on the CPU.
"""

# Only the standard library is imported above the thread-pinning step: numpy
# and torch both load OpenBLAS/OpenMP, which read their thread settings once,
# at load time, so the environment has to be right before either is imported.
import argparse
import json
import math
import os
import resource
import struct
import sys
import tempfile
import time

SCRIPT_PATH = os.path.abspath(__file__)
DEFAULT_BENCH_CONFIGS = os.path.join(os.path.dirname(SCRIPT_PATH), "..", "bench", "configs.json")
EXIT_USAGE = 2
_REEXEC_MARK = "LLAMA_REFERENCE_THREADS_PINNED"


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------

def build_parser():
    p = argparse.ArgumentParser(
        prog="llama_reference.py",
        description="PyTorch reference for Llama-style decoders (HF LlamaForCausalLM layout).",
    )
    sub = p.add_subparsers(dest="cmd", required=True)

    ids_help = ("JSON list of equal-length lists of token ids, e.g. '[[1,2,3],[4,5,6]]'; "
                "'@FILE' reads the JSON from FILE, '-' from stdin")
    mask_help = ("JSON 0/1 attention mask of the same shape as --ids (1 = real token); "
                 "for left-padded rows, positions are cumsum(mask)-1 and padded keys are ignored")

    lg = sub.add_parser("logits", help="float32 logits for every position")
    lg.add_argument("--checkpoint", required=True, help="directory with config.json and model.safetensors")
    lg.add_argument("--ids", required=True, help=ids_help)
    lg.add_argument("--mask", help=mask_help)

    gn = sub.add_parser("generate", help="greedy decoding with a KV cache")
    gn.add_argument("--checkpoint", required=True)
    gn.add_argument("--ids", required=True, help=ids_help)
    gn.add_argument("--mask", help=mask_help)
    gn.add_argument("--new-tokens", type=int, required=True)

    mk = sub.add_parser("make-checkpoint", help="write a randomly initialised checkpoint")
    mk.add_argument("--config-json", required=True,
                    help="JSON object with at least vocab_size, hidden_size, intermediate_size, "
                         "num_hidden_layers, num_attention_heads ('@FILE' reads a file)")
    mk.add_argument("--out", required=True, help="output directory (created if missing)")
    mk.add_argument("--seed", type=int, required=True)
    mk.add_argument("--init-std", type=float, default=0.02,
                    help="std of the normal init of embeddings and projections (default 0.02)")

    bn = sub.add_parser("bench", help="training and generation throughput")
    bn.add_argument("--config", required=True, help="config name in the configs file (S, M, ...)")
    bn.add_argument("--threads", type=int, required=True)
    bn.add_argument("--steps", type=int, required=True, help="timed training steps")
    bn.add_argument("--warmup", type=int, required=True, help="untimed training steps first")
    bn.add_argument("--seed", type=int, default=0)
    bn.add_argument("--configs", default=DEFAULT_BENCH_CONFIGS,
                    help="benchmark configs JSON (default: ../bench/configs.json next to this script)")
    bn.add_argument("--gradient-checkpointing", action="store_true",
                    help="recompute each decoder layer in the backward pass (torch.utils.checkpoint)")
    bn.add_argument("--skip-generate", action="store_true", help="time training only")

    sub.add_parser("selftest", help="internal consistency checks (KV cache, padding, checkpoint I/O)")
    return p


def ensure_thread_env(threads):
    """Re-exec with thread counts pinned in the environment.

    torch.set_num_threads does not bound OpenBLAS's own pool (when OpenBLAS
    is the system BLAS), and with OpenMP's default active spin-waiting, idle
    workers keep burning the cores the busy ones need (the 2-thread figure
    comes out 2-3x too slow); both settings are only honoured when present at
    library load time.
    """
    if threads < 1:
        fail("--threads must be >= 1")
    want = {
        "OMP_NUM_THREADS": str(threads),
        "OPENBLAS_NUM_THREADS": str(threads),
        "MKL_NUM_THREADS": str(threads),
        "OMP_WAIT_POLICY": "PASSIVE",
    }
    if all(os.environ.get(k) == v for k, v in want.items()):
        return
    if os.environ.get(_REEXEC_MARK):
        fail("thread environment did not survive re-exec: "
             + ", ".join(f"{k}={os.environ.get(k)!r}" for k in want))
    env = dict(os.environ)
    env.update(want)
    env[_REEXEC_MARK] = "1"
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, SCRIPT_PATH] + sys.argv[1:], env)


class UsageError(Exception):
    """Bad input or checkpoint; reported on stderr with exit status 2."""


def fail(msg):
    print(f"error: {msg}", file=sys.stderr)
    sys.exit(EXIT_USAGE)


if __name__ == "__main__":
    ARGS = build_parser().parse_args()
    if ARGS.cmd == "bench":
        ensure_thread_env(ARGS.threads)

import numpy as np  # noqa: E402  (must follow the thread pinning above)
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402
import torch.utils.checkpoint  # noqa: E402


# ---------------------------------------------------------------------------
# Config
# ---------------------------------------------------------------------------

REQUIRED_KEYS = ("vocab_size", "hidden_size", "intermediate_size",
                 "num_hidden_layers", "num_attention_heads")

# Defaults are Hugging Face LlamaConfig's, so a config.json that omits a key
# means the same thing here as it does there.
HF_DEFAULTS = {
    "num_key_value_heads": None,  # None -> num_attention_heads
    "head_dim": None,  # None -> hidden_size // num_attention_heads
    "max_position_embeddings": 2048,
    "rms_norm_eps": 1e-6,
    "rope_theta": 10000.0,
    "tie_word_embeddings": False,
    "attention_bias": False,
    "mlp_bias": False,
    "hidden_act": "silu",
    "initializer_range": 0.02,
    "rope_scaling": None,
    "attention_dropout": 0.0,
    "pretraining_tp": 1,
    "use_cache": True,
    "bos_token_id": 1,
    "eos_token_id": 2,
    "pad_token_id": None,
}


def resolve_config(raw, strict_keys=False):
    """Validate a config dict and return a complete one with defaults applied."""
    if not isinstance(raw, dict):
        raise UsageError("config must be a JSON object")
    if strict_keys:
        known = set(REQUIRED_KEYS) | set(HF_DEFAULTS) | {"architectures", "model_type", "torch_dtype"}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise UsageError(f"unknown config keys: {unknown}")
    cfg = dict(HF_DEFAULTS)
    cfg.update({k: v for k, v in raw.items()})
    for k in REQUIRED_KEYS:
        if k not in raw:
            raise UsageError(f"config is missing '{k}'")
        if not isinstance(cfg[k], int) or isinstance(cfg[k], bool) or cfg[k] < 1:
            raise UsageError(f"config '{k}' must be a positive integer, got {cfg[k]!r}")

    # Newer transformers releases move rope_theta into rope_parameters.
    if "rope_theta" not in raw and isinstance(raw.get("rope_parameters"), dict):
        rp = raw["rope_parameters"]
        if rp.get("rope_type", "default") != "default":
            raise UsageError(f"unsupported rope_parameters.rope_type {rp.get('rope_type')!r}")
        cfg["rope_theta"] = rp.get("rope_theta", HF_DEFAULTS["rope_theta"])
    rs = cfg.get("rope_scaling")
    if rs is not None and not (isinstance(rs, dict) and rs.get("rope_type", rs.get("type")) == "default"):
        raise UsageError(f"rope_scaling is not supported (got {rs!r})")

    for flag in ("attention_bias", "mlp_bias"):
        if cfg[flag] not in (False, None):
            raise UsageError(f"{flag}=true is not supported (only bias-free projections)")
        cfg[flag] = False
    if cfg["hidden_act"] != "silu":
        raise UsageError(f"hidden_act must be 'silu', got {cfg['hidden_act']!r}")
    if not isinstance(cfg["tie_word_embeddings"], bool):
        raise UsageError("tie_word_embeddings must be true or false")

    if cfg["num_key_value_heads"] is None:
        cfg["num_key_value_heads"] = cfg["num_attention_heads"]
    if cfg["head_dim"] is None:
        if cfg["hidden_size"] % cfg["num_attention_heads"]:
            raise UsageError("hidden_size must be divisible by num_attention_heads when head_dim is not given")
        cfg["head_dim"] = cfg["hidden_size"] // cfg["num_attention_heads"]
    for k in ("num_key_value_heads", "head_dim", "max_position_embeddings"):
        if not isinstance(cfg[k], int) or isinstance(cfg[k], bool) or cfg[k] < 1:
            raise UsageError(f"config '{k}' must be a positive integer, got {cfg[k]!r}")
    if cfg["num_attention_heads"] % cfg["num_key_value_heads"]:
        raise UsageError("num_attention_heads must be a multiple of num_key_value_heads")
    if cfg["head_dim"] % 2:
        raise UsageError("head_dim must be even for rotary embeddings")
    cfg["rms_norm_eps"] = float(cfg["rms_norm_eps"])
    cfg["rope_theta"] = float(cfg["rope_theta"])
    return cfg


def hf_config_json(cfg):
    """The config.json written next to a checkpoint: HF LlamaConfig fields."""
    out = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "torch_dtype": "float32"}
    for k in REQUIRED_KEYS:
        out[k] = cfg[k]
    for k in HF_DEFAULTS:
        out[k] = cfg[k]
    return out


# ---------------------------------------------------------------------------
# Model
# ---------------------------------------------------------------------------

class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        # Statistics in float32 whatever the activation dtype, as HF does.
        xf = x.float()
        xf = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * xf.to(x.dtype)


def rotate_half(x):
    # HF's layout pairs dimension i with i + head_dim/2 (not adjacent pairs as
    # in Meta's original release, whose q/k weights HF permutes on conversion).
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class Rotary(nn.Module):
    def __init__(self, head_dim, theta):
        super().__init__()
        exps = torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim
        self.register_buffer("inv_freq", 1.0 / (theta ** exps), persistent=False)

    def forward(self, positions):
        """positions [B, T] int -> cos, sin [B, 1, T, head_dim] for broadcasting over heads."""
        angles = positions.float()[..., None] * self.inv_freq
        emb = torch.cat((angles, angles), dim=-1)
        return emb.cos()[:, None], emb.sin()[:, None]


def apply_rotary(x, cos, sin):
    return x * cos + rotate_half(x) * sin


class KVCache:
    """Preallocated per-layer key/value buffers, holding the un-repeated kv heads."""

    def __init__(self, n_layers, batch, n_kv_heads, capacity, head_dim, dtype=torch.float32):
        shape = (batch, n_kv_heads, capacity, head_dim)
        self.k = [torch.zeros(shape, dtype=dtype) for _ in range(n_layers)]
        self.v = [torch.zeros(shape, dtype=dtype) for _ in range(n_layers)]
        self.capacity = capacity
        self.length = 0


class Attention(nn.Module):
    def __init__(self, cfg, layer_idx):
        super().__init__()
        self.layer_idx = layer_idx
        self.n_heads = cfg["num_attention_heads"]
        self.n_kv = cfg["num_key_value_heads"]
        self.hd = cfg["head_dim"]
        d = cfg["hidden_size"]
        self.q_proj = nn.Linear(d, self.n_heads * self.hd, bias=False)
        self.k_proj = nn.Linear(d, self.n_kv * self.hd, bias=False)
        self.v_proj = nn.Linear(d, self.n_kv * self.hd, bias=False)
        self.o_proj = nn.Linear(self.n_heads * self.hd, d, bias=False)
        self.scale = 1.0 / math.sqrt(self.hd)

    def forward(self, x, cos, sin, allowed, cache):
        b, t, _ = x.shape
        q = self.q_proj(x).view(b, t, self.n_heads, self.hd).transpose(1, 2)
        k = self.k_proj(x).view(b, t, self.n_kv, self.hd).transpose(1, 2)
        v = self.v_proj(x).view(b, t, self.n_kv, self.hd).transpose(1, 2)
        q = apply_rotary(q, cos, sin)
        k = apply_rotary(k, cos, sin)
        if cache is not None:
            start, end = cache.length, cache.length + t
            cache.k[self.layer_idx][:, :, start:end] = k
            cache.v[self.layer_idx][:, :, start:end] = v
            k = cache.k[self.layer_idx][:, :, :end]
            v = cache.v[self.layer_idx][:, :, :end]
        if self.n_kv != self.n_heads:
            # Query head h reads kv head h // group, matching HF's repeat_kv.
            group = self.n_heads // self.n_kv
            k = k.repeat_interleave(group, dim=1)
            v = v.repeat_interleave(group, dim=1)
        scores = torch.matmul(q, k.transpose(-1, -2)) * self.scale
        if allowed is not None:
            scores = scores.masked_fill(~allowed, float("-inf"))
        probs = torch.softmax(scores.float(), dim=-1).to(q.dtype)
        out = torch.matmul(probs, v).transpose(1, 2).reshape(b, t, self.n_heads * self.hd)
        return self.o_proj(out)


class MLP(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d, f = cfg["hidden_size"], cfg["intermediate_size"]
        self.gate_proj = nn.Linear(d, f, bias=False)
        self.up_proj = nn.Linear(d, f, bias=False)
        self.down_proj = nn.Linear(f, d, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Block(nn.Module):
    def __init__(self, cfg, layer_idx):
        super().__init__()
        self.input_layernorm = RMSNorm(cfg["hidden_size"], cfg["rms_norm_eps"])
        self.self_attn = Attention(cfg, layer_idx)
        self.post_attention_layernorm = RMSNorm(cfg["hidden_size"], cfg["rms_norm_eps"])
        self.mlp = MLP(cfg)

    def forward(self, x, cos, sin, allowed, cache):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, allowed, cache)
        return x + self.mlp(self.post_attention_layernorm(x))


class Decoder(nn.Module):
    """The `model.` prefix of the HF state dict."""

    def __init__(self, cfg):
        super().__init__()
        self.embed_tokens = nn.Embedding(cfg["vocab_size"], cfg["hidden_size"])
        self.layers = nn.ModuleList(Block(cfg, i) for i in range(cfg["num_hidden_layers"]))
        self.norm = RMSNorm(cfg["hidden_size"], cfg["rms_norm_eps"])


class Llama(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.model = Decoder(cfg)
        self.rotary = Rotary(cfg["head_dim"], cfg["rope_theta"])
        self.lm_head = nn.Linear(cfg["hidden_size"], cfg["vocab_size"], bias=False)
        self.gradient_checkpointing = False
        if cfg["tie_word_embeddings"]:
            # One shared Parameter, so the optimiser sees (and decays) it once.
            self.lm_head.weight = self.model.embed_tokens.weight

    def new_cache(self, batch, capacity):
        c = self.cfg
        return KVCache(c["num_hidden_layers"], batch, c["num_key_value_heads"], capacity, c["head_dim"])

    def forward(self, ids, attention_mask=None, cache=None, last_only=False):
        """ids [B, T] -> logits [B, T, V] (or [B, 1, V] with last_only).

        attention_mask [B, past+T] (1 = real token) covers the cached tokens
        too, as in HF generate. With a cache, the new keys/values are appended
        and cache.length advances by T.
        """
        b, t = ids.shape
        past = cache.length if cache is not None else 0
        if cache is not None and past + t > cache.capacity:
            raise UsageError(f"KV cache overflow: {past + t} > capacity {cache.capacity}")

        q_idx = torch.arange(past, past + t)
        if attention_mask is None:
            positions = q_idx.expand(b, t)
            key_ok = None
        else:
            if tuple(attention_mask.shape) != (b, past + t):
                raise UsageError(f"attention mask shape {tuple(attention_mask.shape)} != {(b, past + t)}")
            mask = attention_mask.long()
            # Left padding: each row's first real token gets position 0.
            positions = (mask.cumsum(-1) - 1).clamp(min=0)[:, past:]
            key_ok = mask.bool()

        if key_ok is None and t == 1:
            allowed = None  # a single new token may see every cached key
        else:
            k_idx = torch.arange(past + t)
            causal = k_idx[None, :] <= q_idx[:, None]  # [T, S]
            allowed = causal[None, None]
            if key_ok is not None:
                allowed = allowed & key_ok[:, None, None, :]
                # A padded query has no real key before it; letting it see
                # itself keeps its softmax finite. Real queries always see
                # themselves, so their rows are unchanged.
                allowed = allowed | (k_idx[None, :] == q_idx[:, None])[None, None]

        cos, sin = self.rotary(positions)
        x = self.model.embed_tokens(ids)
        recompute = self.gradient_checkpointing and self.training and cache is None and torch.is_grad_enabled()
        for layer in self.model.layers:
            if recompute:
                # Keeps each layer's input only; the backward pass runs the
                # layer again. Non-reentrant, so adapters of a layer whose
                # input needs no gradient (the frozen embedding's) get theirs.
                x = torch.utils.checkpoint.checkpoint(layer, x, cos, sin, allowed, None, use_reentrant=False)
            else:
                x = layer(x, cos, sin, allowed, cache)
        if cache is not None:
            cache.length += t
        if last_only:
            x = x[:, -1:]
        return self.lm_head(self.model.norm(x))


class LoraLinear(nn.Module):
    """A frozen projection plus a trainable low-rank update, as PEFT's
    LoRA layer computes it: base(x) + (alpha / r) * B(A(x)), with A [r, in]
    drawn uniform in +-1/sqrt(in) and B [out, r] zero (PEFT's defaults)."""

    def __init__(self, base, rank, alpha, generator):
        super().__init__()
        self.base = base
        self.base.weight.requires_grad_(False)
        bound = 1.0 / math.sqrt(base.in_features)
        self.lora_A = nn.Parameter((torch.rand(rank, base.in_features, generator=generator) * 2 - 1) * bound)
        self.lora_B = nn.Parameter(torch.zeros(base.out_features, rank))
        self.scaling = alpha / rank

    def forward(self, x):
        return self.base(x) + F.linear(F.linear(x, self.lora_A), self.lora_B) * self.scaling


def add_lora(model, lora, seed):
    """Freezes every weight and wraps the targeted projections of each layer
    in LoraLinear; returns the adapter parameters (the only trainable ones)."""
    for p in model.parameters():
        p.requires_grad_(False)
    g = torch.Generator().manual_seed(seed)
    targets = set(lora["targets"])
    for layer in model.model.layers:
        for parent in (layer.self_attn, layer.mlp):
            for name, child in list(parent.named_children()):
                if name in targets and isinstance(child, nn.Linear):
                    setattr(parent, name, LoraLinear(child, lora["rank"], lora["alpha"], g))
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise UsageError(f"LoRA targets {sorted(targets)} match no projection")
    return params


@torch.no_grad()
def greedy_generate(model, prompt, new_tokens, attention_mask=None):
    """Greedy decoding with a KV cache; returns the new tokens [B, new_tokens]."""
    b, p = prompt.shape
    if new_tokens < 1:
        return torch.zeros(b, 0, dtype=torch.long)
    cache = model.new_cache(b, p + new_tokens)
    mask = attention_mask
    nxt = model(prompt, attention_mask=mask, cache=cache, last_only=True)[:, -1].argmax(-1)
    out = [nxt]
    for _ in range(new_tokens - 1):
        if mask is not None:
            mask = torch.cat((mask, torch.ones(b, 1, dtype=mask.dtype)), dim=1)
        nxt = model(nxt[:, None], attention_mask=mask, cache=cache, last_only=True)[:, -1].argmax(-1)
        out.append(nxt)
    return torch.stack(out, dim=1)


def init_weights(model, seed, std=0.02, norm_noise=0.05):
    """Normal(0, std) matrices; norm weights 1 + noise so a layout mix-up of
    norm weights cannot hide behind all-ones values."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in sorted(model.named_parameters()):
            if name.endswith("layernorm.weight") or name == "model.norm.weight":
                p.copy_(1.0 + norm_noise * torch.randn(p.shape, generator=g))
            else:
                p.copy_(std * torch.randn(p.shape, generator=g))


# ---------------------------------------------------------------------------
# safetensors
# ---------------------------------------------------------------------------

_ST_ITEMSIZE = {"F32": 4, "F16": 2, "BF16": 2}


def _bf16_bits_to_f32(bits):
    return (bits.astype(np.uint32) << 16).view(np.float32)


def _f32_to_bf16_bits(a):
    # Round to nearest even on the dropped 16 bits; NaNs stay NaN.
    u = np.ascontiguousarray(a, dtype=np.float32).view(np.uint32)
    rounded = ((u + np.uint32(0x7FFF) + ((u >> 16) & np.uint32(1))) >> 16).astype(np.uint16)
    nan = np.isnan(a)
    rounded[nan] = ((u[nan] >> 16) | np.uint32(0x40)).astype(np.uint16)
    return rounded


def read_safetensors(path):
    """Returns ({name: float32 tensor}, metadata dict)."""
    try:
        with open(path, "rb") as f:
            blob = f.read()
    except OSError as e:
        raise UsageError(f"cannot read {path}: {e.strerror}")
    if len(blob) < 8:
        raise UsageError(f"{path}: too short to be a safetensors file")
    (hlen,) = struct.unpack("<Q", blob[:8])
    if hlen > len(blob) - 8:
        raise UsageError(f"{path}: header length {hlen} exceeds file size {len(blob)}")
    try:
        header = json.loads(blob[8:8 + hlen].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise UsageError(f"{path}: header is not valid JSON ({e})")
    if not isinstance(header, dict):
        raise UsageError(f"{path}: header is not a JSON object")
    metadata = header.pop("__metadata__", None) or {}
    data_start = 8 + hlen
    data_len = len(blob) - data_start
    tensors = {}
    for name, info in header.items():
        try:
            dtype, shape, (begin, end) = info["dtype"], list(info["shape"]), info["data_offsets"]
        except (KeyError, TypeError, ValueError):
            raise UsageError(f"{path}: tensor '{name}' has a malformed header entry")
        if dtype not in _ST_ITEMSIZE:
            raise UsageError(f"{path}: tensor '{name}' has unsupported dtype {dtype} (F32, F16, BF16 are read)")
        numel = int(np.prod(shape, dtype=np.int64)) if shape else 1
        if not (0 <= begin <= end <= data_len) or end - begin != numel * _ST_ITEMSIZE[dtype]:
            raise UsageError(f"{path}: tensor '{name}' data_offsets {[begin, end]} do not fit "
                             f"shape {shape} {dtype} in a {data_len}-byte data section")
        off = data_start + begin
        if dtype == "F32":
            a = np.frombuffer(blob, dtype="<f4", count=numel, offset=off).astype(np.float32)
        elif dtype == "F16":
            a = np.frombuffer(blob, dtype="<f2", count=numel, offset=off).astype(np.float32)
        else:
            a = _bf16_bits_to_f32(np.frombuffer(blob, dtype="<u2", count=numel, offset=off))
        tensors[name] = torch.from_numpy(a.reshape(shape))
    return tensors, metadata


def write_safetensors(path, tensors, metadata=None, dtype="F32"):
    """Atomic write; dtype F32 is the normal case, F16/BF16 exist for tests of the reader."""
    header, chunks, offset = {}, [], 0
    for name in sorted(tensors):
        a = tensors[name].detach().cpu().float().contiguous().numpy()
        if dtype == "F32":
            raw = a.astype("<f4").tobytes()
        elif dtype == "F16":
            raw = a.astype("<f2").tobytes()
        elif dtype == "BF16":
            raw = _f32_to_bf16_bits(a).astype("<u2").tobytes()
        else:
            raise ValueError(dtype)
        header[name] = {"dtype": dtype, "shape": list(a.shape), "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    hbytes = json.dumps(header, separators=(",", ":")).encode("utf-8")
    # Space padding keeps the data section 8-byte aligned, as the reference
    # writer does, so readers may map it without copying.
    hbytes += b" " * (-(8 + len(hbytes)) % 8)
    parts = [struct.pack("<Q", len(hbytes)), hbytes] + chunks
    atomic_write(path, b"".join(parts))


def atomic_write(path, data):
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=d)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        # mkstemp creates 0600; give the file the mode a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


# ---------------------------------------------------------------------------
# Checkpoints
# ---------------------------------------------------------------------------

# Tensors some exporters add that carry nothing this model needs.
_IGNORABLE_SUFFIXES = (".rotary_emb.inv_freq",)


def expected_shapes(cfg):
    """HF tensor name -> shape, without lm_head when embeddings are tied."""
    shapes = {k: tuple(v.shape) for k, v in Llama(cfg).state_dict().items()}
    if cfg["tie_word_embeddings"]:
        shapes.pop("lm_head.weight")
    return shapes


def read_checkpoint_tensors(ckpt_dir):
    single = os.path.join(ckpt_dir, "model.safetensors")
    index = os.path.join(ckpt_dir, "model.safetensors.index.json")
    if os.path.exists(single):
        return read_safetensors(single)[0]
    if not os.path.exists(index):
        raise UsageError(f"{ckpt_dir}: neither model.safetensors nor model.safetensors.index.json exists")
    try:
        with open(index) as f:
            weight_map = json.load(f)["weight_map"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise UsageError(f"{index}: cannot read weight_map ({e})")
    tensors = {}
    for shard in sorted(set(weight_map.values())):
        part, _ = read_safetensors(os.path.join(ckpt_dir, shard))
        for name, t in part.items():
            if weight_map.get(name) == shard:
                tensors[name] = t
    for name, shard in weight_map.items():
        if name not in tensors:
            raise UsageError(f"tensor '{name}' is listed in the index under {shard} but that shard lacks it")
    return tensors


def load_config(ckpt_dir):
    path = os.path.join(ckpt_dir, "config.json")
    try:
        with open(path) as f:
            raw = json.load(f)
    except OSError as e:
        raise UsageError(f"cannot read {path}: {e.strerror}")
    except json.JSONDecodeError as e:
        raise UsageError(f"{path}: invalid JSON ({e})")
    return resolve_config(raw)


def load_checkpoint(ckpt_dir):
    cfg = load_config(ckpt_dir)
    tensors = read_checkpoint_tensors(ckpt_dir)
    want = expected_shapes(cfg)
    for name, shape in want.items():
        if name not in tensors:
            raise UsageError(f"missing tensor '{name}' (expected shape {list(shape)})")
        if tuple(tensors[name].shape) != shape:
            raise UsageError(f"tensor '{name}' has shape {list(tensors[name].shape)}, expected {list(shape)}")
    extra = sorted(n for n in tensors if n not in want
                   and not (n == "lm_head.weight" and cfg["tie_word_embeddings"])
                   and not n.endswith(_IGNORABLE_SUFFIXES))
    if extra:
        raise UsageError(f"unexpected tensor '{extra[0]}'" + (f" (and {len(extra) - 1} more)" if len(extra) > 1 else ""))
    model = Llama(cfg)
    state = {n: tensors[n] for n in want}
    if cfg["tie_word_embeddings"]:
        state["lm_head.weight"] = tensors["model.embed_tokens.weight"]
    model.load_state_dict(state, strict=True)
    model.eval()
    return model


def save_checkpoint(model, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    state = model.state_dict()
    if model.cfg["tie_word_embeddings"]:
        state.pop("lm_head.weight")
    write_safetensors(os.path.join(out_dir, "model.safetensors"), state, metadata={"format": "pt"})
    atomic_write(os.path.join(out_dir, "config.json"),
                 (json.dumps(hf_config_json(model.cfg), indent=2) + "\n").encode("utf-8"))


# ---------------------------------------------------------------------------
# Subcommands
# ---------------------------------------------------------------------------

def read_json_arg(text, what):
    if text == "-":
        text = sys.stdin.read()
    elif text.startswith("@"):
        try:
            with open(text[1:]) as f:
                text = f.read()
        except OSError as e:
            raise UsageError(f"{what}: cannot read {text[1:]}: {e.strerror}")
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise UsageError(f"{what}: invalid JSON ({e})")


def parse_ids(text, mask_text, vocab_size):
    ids = read_json_arg(text, "--ids")
    if (not isinstance(ids, list) or not ids or not all(isinstance(r, list) for r in ids)
            or len({len(r) for r in ids}) != 1 or not ids[0]):
        raise UsageError("--ids must be a non-empty list of equal-length non-empty lists")
    for r in ids:
        for v in r:
            if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v < vocab_size:
                raise UsageError(f"--ids: token {v!r} is not an integer in [0, {vocab_size})")
    mask = None
    if mask_text is not None:
        m = read_json_arg(mask_text, "--mask")
        if (not isinstance(m, list) or len(m) != len(ids)
                or any(not isinstance(r, list) or len(r) != len(ids[0]) for r in m)):
            raise UsageError("--mask must have the same shape as --ids")
        if any(v not in (0, 1) or isinstance(v, float) for r in m for v in r):
            raise UsageError("--mask values must be 0 or 1")
        mask = torch.tensor(m, dtype=torch.long)
    return torch.tensor(ids, dtype=torch.long), mask


def cmd_logits(args):
    model = load_checkpoint(args.checkpoint)
    ids, mask = parse_ids(args.ids, args.mask, model.cfg["vocab_size"])
    with torch.no_grad():
        logits = model(ids, attention_mask=mask)
    # float32 -> Python float is exact, and json writes the shortest
    # repr that round-trips, so no precision is lost on the way out.
    return {"logits": logits.float().tolist()}


def cmd_generate(args):
    model = load_checkpoint(args.checkpoint)
    ids, mask = parse_ids(args.ids, args.mask, model.cfg["vocab_size"])
    if args.new_tokens < 0:
        raise UsageError("--new-tokens must be >= 0")
    return {"tokens": greedy_generate(model, ids, args.new_tokens, attention_mask=mask).tolist()}


def cmd_make_checkpoint(args):
    cfg = resolve_config(read_json_arg(args.config_json, "--config-json"), strict_keys=True)
    torch.manual_seed(args.seed)
    model = Llama(cfg)
    init_weights(model, args.seed, std=args.init_std)
    save_checkpoint(model, args.out)
    return {"out": os.path.abspath(args.out), "config": hf_config_json(cfg),
            "tensors": {k: list(v) for k, v in sorted(expected_shapes(cfg).items())}}


def blas_info():
    """Which BLAS the process actually mapped, and what sgemm speed it gives.

    Debian's torch is built against the generic libblas.so.3, so the library
    behind it is whatever the system's alternatives (or LD_LIBRARY_PATH) pick:
    the netlib reference BLAS is roughly 20x slower than OpenBLAS, which
    changes what the throughput figures mean.
    """
    libs = set()
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                path = line.split()[-1] if len(line.split()) >= 6 else ""
                base = os.path.basename(path).lower()
                if any(s in base for s in ("blas", "mkl", "blis", "lapack")):
                    libs.add(os.path.realpath(path))
    except OSError:
        pass
    names = " ".join(sorted(libs)).lower()
    if "openblas" in names:
        kind = "openblas"
    elif "mkl" in names:
        kind = "mkl"
    elif "blis" in names:
        kind = "blis"
    elif "/blas/libblas.so" in names:
        kind = "reference (netlib)"
    else:
        kind = "unknown"
    a, b = torch.randn(1024, 256), torch.randn(256, 512)
    a @ b
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < 0.2:
        a @ b
        n += 1
    gflops = 2 * 1024 * 256 * 512 * n / (time.perf_counter() - t0) / 1e9
    return {"kind": kind, "libraries": sorted(libs), "sgemm_gflops": round(gflops, 2)}


def cmd_bench(args):
    try:
        with open(args.configs) as f:
            all_cfgs = json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        raise UsageError(f"cannot read bench configs {args.configs}: {e}")
    if args.config not in all_cfgs:
        raise UsageError(f"config {args.config!r} not in {args.configs} (have {sorted(all_cfgs)})")
    if args.steps < 1 or args.warmup < 0:
        raise UsageError("--steps must be >= 1 and --warmup >= 0")
    bc = all_cfgs[args.config]
    cfg = resolve_config(bc["model"])
    tr, gen = bc["train"], bc["generate"]
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    model = Llama(cfg)
    init_weights(model, args.seed)
    # A LoRA config ("lora": rank, alpha, targets) trains adapters only: the
    # base weights are frozen, and AdamW sees the adapters alone.
    lora = bc.get("lora")
    trainable = add_lora(model, lora, args.seed) if lora else list(model.parameters())
    model.gradient_checkpointing = args.gradient_checkpointing
    model.train()
    opt = torch.optim.AdamW(trainable, lr=tr["lr"], betas=(0.9, 0.95), eps=1e-8,
                            weight_decay=tr["weight_decay"])
    bsz, seq, vocab = tr["batch_size"], tr["seq_len"], cfg["vocab_size"]
    # An update may be taken as several micro-batches of micro_batch rows
    # (gradients summed), as the wasm side does to bound its heap.
    micro = tr.get("micro_batch", bsz)
    if micro < 1 or bsz % micro:
        raise UsageError(f"micro_batch {micro} must divide batch_size {bsz}")
    g = torch.Generator().manual_seed(args.seed)
    # Batches are drawn up front so the timed loop holds only the training step.
    batches = [torch.randint(0, vocab, (bsz, seq + 1), generator=g) for _ in range(args.warmup + args.steps)]

    def step(batch):
        opt.zero_grad(set_to_none=True)
        total = 0.0
        for part in batch.split(micro):
            logits = model(part[:, :-1])
            # Summed, then divided by the whole batch's tokens: the mean over the update.
            loss = F.cross_entropy(logits.reshape(-1, vocab), part[:, 1:].reshape(-1), reduction="sum") / (bsz * seq)
            loss.backward()
            total += loss.item()
            del logits, loss
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        opt.step()
        return total

    losses = [step(b) for b in batches[:args.warmup]]
    t0 = time.perf_counter()
    for b in batches[args.warmup:]:
        losses.append(step(b))
    train_s = time.perf_counter() - t0
    train_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0

    model.eval()
    gen_rates = {}
    for gb in ([] if args.skip_generate else gen["batch_sizes"]):
        prompt = torch.randint(0, vocab, (gb, gen["prompt_len"]), generator=g)
        greedy_generate(model, prompt, gen["new_tokens"])  # untimed warmup of this shape
        t0 = time.perf_counter()
        greedy_generate(model, prompt, gen["new_tokens"])
        gen_s = time.perf_counter() - t0
        gen_rates[str(gb)] = gb * gen["new_tokens"] / gen_s

    return {
        "config": args.config,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "blas": blas_info(),
        "train_tokens_per_s": bsz * seq * args.steps / train_s,
        "step_ms": 1000.0 * train_s / args.steps,
        "steps": args.steps,
        "warmup": args.warmup,
        "loss_first": losses[0],
        "loss_last": losses[-1],
        "gen": gen_rates,
        "gen_settings": {"prompt_len": gen["prompt_len"], "new_tokens": gen["new_tokens"]},
        "params": sum(p.numel() for p in model.parameters()),
        "trainable_params": sum(p.numel() for p in trainable),
        "lora": lora,
        "gradient_checkpointing": args.gradient_checkpointing,
        "micro_batch": micro,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "train_peak_rss_mb": train_rss_mb,
        "env": {k: os.environ.get(k) for k in
                ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_WAIT_POLICY")},
    }


def cmd_selftest(_args):
    """Checks the properties the parity tests rely on; non-zero exit on failure."""
    results = {}

    def check(name, ok, **info):
        results[name] = dict(ok=bool(ok), **info)

    base = {"vocab_size": 97, "hidden_size": 48, "intermediate_size": 80, "num_hidden_layers": 2,
            "num_attention_heads": 6, "num_key_value_heads": 2, "max_position_embeddings": 64,
            "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "tie_word_embeddings": False}
    g = torch.Generator().manual_seed(1)
    with tempfile.TemporaryDirectory() as tmp, torch.no_grad():
        # Checkpoint round trip: GQA, untied, then tied, then head_dim != hidden/heads.
        variants = {"gqa_untied": base,
                    "tied": dict(base, tie_word_embeddings=True, num_key_value_heads=6),
                    "head_dim_16": dict(base, head_dim=16, num_key_value_heads=3)}
        models = {}
        for vname, raw in variants.items():
            cfg = resolve_config(raw)
            m = Llama(cfg)
            init_weights(m, 7, std=0.2)
            m.eval()
            d = os.path.join(tmp, vname)
            save_checkpoint(m, d)
            loaded = load_checkpoint(d)
            ids = torch.randint(0, cfg["vocab_size"], (2, 9), generator=g)
            diff = (m(ids) - loaded(ids)).abs().max().item()
            names = sorted(read_safetensors(os.path.join(d, "model.safetensors"))[0])
            check(f"roundtrip_{vname}", diff == 0.0, max_abs_diff=diff,
                  has_lm_head="lm_head.weight" in names)
            models[vname] = (m, d)

        m, d = models["gqa_untied"]
        cfg = m.cfg

        # Left padding must not change the logits at real positions.
        rows = [torch.randint(0, cfg["vocab_size"], (n,), generator=g) for n in (11, 6, 3)]
        width = max(len(r) for r in rows)
        ids = torch.zeros(len(rows), width, dtype=torch.long)
        mask = torch.zeros(len(rows), width, dtype=torch.long)
        for i, r in enumerate(rows):
            ids[i, width - len(r):] = r
            ids[i, :width - len(r)] = 5  # arbitrary pad id; masked out anyway
            mask[i, width - len(r):] = 1
        padded = m(ids, attention_mask=mask)
        diff = max((padded[i, width - len(r):] - m(r[None])[0]).abs().max().item() for i, r in enumerate(rows))
        check("left_padding_vs_alone", diff <= 1e-5 and torch.isfinite(padded).all(), max_abs_diff=diff)

        # An all-ones mask is the same as no mask.
        diff = (m(ids, attention_mask=torch.ones_like(ids)) - m(ids)).abs().max().item()
        check("all_ones_mask_equals_none", diff <= 1e-6, max_abs_diff=diff)

        # KV-cache greedy decoding equals argmax over repeated full forwards.
        def naive_greedy(prompt, n, msk=None):
            seq, out = prompt.clone(), []
            for _ in range(n):
                nxt = m(seq, attention_mask=msk)[:, -1].argmax(-1)
                out.append(nxt)
                seq = torch.cat((seq, nxt[:, None]), 1)
                if msk is not None:
                    msk = torch.cat((msk, torch.ones_like(msk[:, :1])), 1)
            return torch.stack(out, 1)

        prompt = torch.randint(0, cfg["vocab_size"], (3, 5), generator=g)
        kv = greedy_generate(m, prompt, 20)
        check("kv_cache_greedy_equals_full_forward", torch.equal(kv, naive_greedy(prompt, 20)),
              tokens=kv[0].tolist())
        kvp = greedy_generate(m, ids, 12, attention_mask=mask)
        alone = [greedy_generate(m, r[None], 12)[0] for r in rows]
        check("kv_cache_greedy_left_padded",
              torch.equal(kvp, naive_greedy(ids, 12, mask)) and all(torch.equal(kvp[i], a) for i, a in enumerate(alone)))

        # The cache path's logits track the full forward's.
        cache = m.new_cache(3, 5 + 4)
        step_logits = [m(prompt, cache=cache)]
        ext = prompt
        for _ in range(4):
            nxt = torch.randint(0, cfg["vocab_size"], (3, 1), generator=g)
            step_logits.append(m(nxt, cache=cache))
            ext = torch.cat((ext, nxt), 1)
        diff = (torch.cat(step_logits, 1) - m(ext)).abs().max().item()
        check("kv_cache_logits_equal_full_forward", diff <= 1e-5, max_abs_diff=diff)

        # F16/BF16 reading, against torch's own conversions.
        src = {"a": torch.randn(3, 5, generator=g) * 10, "b": torch.randn(7, generator=g)}
        for dt, tdt in (("F16", torch.float16), ("BF16", torch.bfloat16)):
            p = os.path.join(tmp, f"x_{dt}.safetensors")
            write_safetensors(p, src, dtype=dt, metadata={"k": "v"})
            back, meta = read_safetensors(p)
            ok = all(torch.equal(back[k], src[k].to(tdt).float()) for k in src) and meta == {"k": "v"}
            check(f"read_{dt.lower()}", ok)

        # Sharded checkpoint via index.json.
        sd = os.path.join(tmp, "sharded")
        os.makedirs(sd)
        with open(os.path.join(d, "config.json")) as f:
            atomic_write(os.path.join(sd, "config.json"), f.read().encode())
        state = m.state_dict()
        names = sorted(state)
        shards = {"model-00001-of-00002.safetensors": names[: len(names) // 2],
                  "model-00002-of-00002.safetensors": names[len(names) // 2:]}
        weight_map = {}
        for fname, part in shards.items():
            write_safetensors(os.path.join(sd, fname), {n: state[n] for n in part})
            weight_map.update({n: fname for n in part})
        atomic_write(os.path.join(sd, "model.safetensors.index.json"),
                     json.dumps({"metadata": {}, "weight_map": weight_map}).encode())
        diff = (load_checkpoint(sd)(ids) - m(ids)).abs().max().item()
        check("sharded_index", diff == 0.0, max_abs_diff=diff)

        # Tied checkpoint carrying a stray lm_head: it is ignored.
        tm, td = models["tied"]
        st = tm.state_dict()
        st["lm_head.weight"] = torch.randn(st["lm_head.weight"].shape, generator=g)
        write_safetensors(os.path.join(td, "model.safetensors"), st)
        tids = torch.randint(0, tm.cfg["vocab_size"], (1, 6), generator=g)
        check("tied_ignores_lm_head", torch.equal(load_checkpoint(td)(tids), tm(tids)))

        # Missing and mis-shaped tensors are reported by name.
        st = m.state_dict()
        def load_error(tensors):
            write_safetensors(os.path.join(d, "model.safetensors"), tensors)
            try:
                load_checkpoint(d)
                return None
            except UsageError as e:
                return str(e)

        bad = dict(st)
        del bad["model.layers.1.mlp.up_proj.weight"]
        msg = load_error(bad)
        check("missing_tensor_named", msg is not None and "model.layers.1.mlp.up_proj.weight" in msg, error=msg)
        bad = dict(st)
        bad["model.layers.0.self_attn.k_proj.weight"] = torch.zeros(48, 48)
        msg = load_error(bad)
        check("bad_shape_named", msg is not None and "model.layers.0.self_attn.k_proj.weight" in msg, error=msg)

    return {"ok": all(r["ok"] for r in results.values()), "checks": results}


def main(args):
    handlers = {"logits": cmd_logits, "generate": cmd_generate, "make-checkpoint": cmd_make_checkpoint,
                "bench": cmd_bench, "selftest": cmd_selftest}
    try:
        result = handlers[args.cmd](args)
    except UsageError as e:
        fail(str(e))
    json.dump(result, sys.stdout, separators=(",", ":") if args.cmd == "logits" else None)
    sys.stdout.write("\n")
    if args.cmd == "selftest" and not result["ok"]:
        sys.exit(1)


if __name__ == "__main__":
    main(ARGS)
