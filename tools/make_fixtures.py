#!/usr/bin/env python3
"""Generate RNNKit's test fixtures from PyTorch (the reference implementation).

Regenerate (from the repository root):

    pip install torch h5py numpy safetensors && python3 tools/make_fixtures.py

Optionally name the groups to rebuild: `python3 tools/make_fixtures.py float quant`
(groups: float, quant, checkpoints, hostile; default: all). `fixtures/index.json` is rebuilt
from what is on disk after every run.

Properties:
- Deterministic: every case seeds torch and numpy from a CRC32 of its name, so reruns write
  byte-identical files (torch.save, h5py, numpy and safetensors outputs are all reproducible).
- Idempotent: each group wipes the fixtures/ subfolder it owns (fixtures/float, fixtures/quant,
  fixtures/checkpoints, fixtures/hostile/pickle) and rewrites it; nothing else is touched.
- Tiny: total fixtures/ stays well under 5 MB (checked at the end of every run).

The layout is the contract in fixtures/README.md (expected values come ONLY from PyTorch).
The script also asserts a few facts the Swift side relies on (int8 weight rule of
quantize_dynamic, non-contiguous saved views really being non-contiguous, ...).
"""

from __future__ import annotations

import copy
import io
import json
import os
import pickle
import shutil
import struct
import subprocess
import sys
import warnings
import zipfile
import zlib
from pathlib import Path

# Pin ATen's kernel dispatch to AVX2 (RNNKit's target) before torch loads: AVX512 and AVX2
# kernels differ by an ulp or so (e.g. unbatched GRU outputs, quantized outputs), and pinning
# keeps regenerated files identical on AVX2 and AVX512 machines.
os.environ.setdefault("ATEN_CPU_CAPABILITY", "avx2")

import h5py
import numpy as np
import safetensors.torch
import torch
import torch.nn as nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

warnings.filterwarnings("ignore")  # torch.ao.quantization deprecation chatter

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "fixtures"
SIZE_LIMIT = 5 * 1024 * 1024

T = 6  # sequence length of every sequence call
B = 3  # batch of the plain batched calls
PACKED_LENGTHS = [3, 6, 1, 5]  # unsorted; includes T and shorter ones (B = 4 for packed calls)
V = 2  # size of the leading (vmap) dimension of sequence "leading" calls
CELL_LEADING = (2, 3)  # leading dims of cell "leading" calls

SEQ_KINDS = {"GRU": nn.GRU, "LSTM": nn.LSTM, "RNN": nn.RNN}
CELL_KINDS = {"GRUCell": nn.GRUCell, "LSTMCell": nn.LSTMCell, "RNNCell": nn.RNNCell}
DTYPES = {"float16": torch.float16, "float32": torch.float32, "float64": torch.float64,
          "bfloat16": torch.bfloat16}


# ----------------------------------------------------------------------------------------------
# Small helpers


def seed_for(name: str) -> int:
    return zlib.crc32(name.encode()) & 0x7FFFFFFF


def seed_all(name: str) -> torch.Generator:
    seed = seed_for(name)
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    return gen


def fresh_dir(path: Path) -> Path:
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


def write_json(path: Path, obj) -> None:
    path.write_text(json.dumps(obj, indent=1) + "\n")


def save_npy(directory: Path, name: str, tensor, dtype=np.float32) -> str:
    arr = tensor.detach().numpy() if isinstance(tensor, torch.Tensor) else np.asarray(tensor)
    np.save(directory / name, np.ascontiguousarray(arr.astype(dtype)))
    return name


def module_config(kind: str, mod: nn.Module) -> dict:
    if kind in CELL_KINDS:
        return {"input_size": mod.input_size, "hidden_size": mod.hidden_size, "num_layers": 1,
                "bias": mod.bias, "batch_first": False, "dropout": 0.0,
                "bidirectional": False, "proj_size": 0,
                "nonlinearity": getattr(mod, "nonlinearity", "tanh")}
    return {"input_size": mod.input_size, "hidden_size": mod.hidden_size,
            "num_layers": mod.num_layers, "bias": mod.bias, "batch_first": mod.batch_first,
            "dropout": float(mod.dropout), "bidirectional": mod.bidirectional,
            "proj_size": getattr(mod, "proj_size", 0),
            "nonlinearity": getattr(mod, "nonlinearity", "tanh")}


def make_module(kind: str, cfg: dict) -> nn.Module:
    if kind in CELL_KINDS:
        args = dict(input_size=cfg["input_size"], hidden_size=cfg["hidden_size"],
                    bias=cfg.get("bias", True))
        if kind == "RNNCell":
            args["nonlinearity"] = cfg.get("nonlinearity", "tanh")
        return CELL_KINDS[kind](**args)
    args = dict(input_size=cfg["input_size"], hidden_size=cfg["hidden_size"],
                num_layers=cfg.get("num_layers", 1), bias=cfg.get("bias", True),
                batch_first=cfg.get("batch_first", False), dropout=cfg.get("dropout", 0.0),
                bidirectional=cfg.get("bidirectional", False))
    if kind == "LSTM":
        args["proj_size"] = cfg.get("proj_size", 0)
    if kind == "RNN":
        args["nonlinearity"] = cfg.get("nonlinearity", "tanh")
    return SEQ_KINDS[kind](**args)


def out_size(cfg: dict) -> int:
    return cfg["proj_size"] if cfg["proj_size"] > 0 else cfg["hidden_size"]


def build_parent(modules: list[tuple[str, nn.Module]], extras: bool) -> tuple[nn.Module, list[str]]:
    """The model whose state_dict is saved. `modules` are (prefix, rnn) pairs.

    A single module with prefix "" IS the model. Otherwise the RNNs sit at their dotted
    prefixes; with `extras`, an nn.Embedding is registered next to (before) the first RNN and
    an nn.Linear head at the root, so the checkpoint carries non-RNN tensors too.
    Returns the model and the extra (non-RNN) state_dict keys.
    """
    if len(modules) == 1 and modules[0][0] == "":
        assert not extras, "a root module cannot carry extra tensors"
        return modules[0][1], []
    root = nn.Module()

    def node_at(path: list[str]) -> nn.Module:
        node = root
        for part in path:
            if not hasattr(node, part):
                node.add_module(part, nn.Module())
            node = getattr(node, part)
        return node

    first_prefix, first_mod = modules[0]
    if extras:
        parent_path = first_prefix.split(".")[:-1]
        node_at(parent_path).add_module("embed", nn.Embedding(11, first_mod.input_size))
    for prefix, mod in modules:
        parts = prefix.split(".")
        node_at(parts[:-1]).add_module(parts[-1], mod)
    if extras:
        last = modules[-1][1]
        width = last.hidden_size
        if not isinstance(last, (nn.RNNCellBase,)):
            width = (2 if last.bidirectional else 1) * (getattr(last, "proj_size", 0) or last.hidden_size)
        root.add_module("head", nn.Linear(width, 4))
    rnn_prefixes = [p + "." for p, _ in modules]
    extra_keys = [k for k in root.state_dict() if not any(k.startswith(p) for p in rnn_prefixes)]
    return root, extra_keys


def h5_path(key: str) -> str:
    return "/" + key.replace(".", "/")


def write_dump(path: Path, state: dict, np_dtype) -> None:
    """Bare h5py dump of a state_dict: key a.b.c -> dataset /a/b/c, no attributes."""
    with h5py.File(path, "w") as f:
        for key, tensor in state.items():
            f.create_dataset(h5_path(key), data=tensor.detach().float().numpy().astype(np_dtype))


def write_attrs(path: Path, state: dict, modules: list[tuple[str, str, dict]], np_dtype) -> None:
    """Datasets of the RNN modules only, plus the RNNKit spec attributes.

    `modules` are (prefix, kind, config); a module with prefix "" puts its attributes on "/".
    """
    with h5py.File(path, "w") as f:
        f.attrs["format"] = "rnnkit"
        f.attrs["format_version"] = "1.0"
        f.attrs["producer"] = "make_fixtures.py"
        for prefix, kind, cfg in modules:
            group = f.require_group(h5_path(prefix)) if prefix else f
            group.attrs["module"] = kind
            group.attrs["input_size"] = np.int64(cfg["input_size"])
            group.attrs["hidden_size"] = np.int64(cfg["hidden_size"])
            group.attrs["num_layers"] = np.int64(cfg["num_layers"])
            group.attrs["proj_size"] = np.int64(cfg["proj_size"])
            group.attrs["bias"] = np.int8(cfg["bias"])
            group.attrs["batch_first"] = np.int8(cfg["batch_first"])
            group.attrs["bidirectional"] = np.int8(cfg["bidirectional"])
            group.attrs["dropout"] = np.float64(cfg["dropout"])
            group.attrs["nonlinearity"] = cfg["nonlinearity"]
            p = prefix + "." if prefix else ""
            for key, tensor in state.items():
                if key.startswith(p) and "." not in key[len(p):]:
                    f.create_dataset(h5_path(key),
                                     data=tensor.detach().float().numpy().astype(np_dtype))


def round_weights(mod: nn.Module, dtype: torch.dtype) -> None:
    """Round every parameter to `dtype` and back, so float32 runs use the stored values."""
    with torch.no_grad():
        for p in mod.parameters():
            p.copy_(p.to(dtype).float())


def train_dict(parent: nn.Module, state: dict) -> dict:
    """{"epoch", "model", "optimizer"} as a training loop would save it (SGD with momentum)."""
    shadow = copy.deepcopy(parent).float()
    opt = torch.optim.SGD(shadow.parameters(), lr=0.01, momentum=0.9)
    loss = sum((p * p).sum() for p in shadow.parameters())
    loss.backward()
    opt.step()
    return {"epoch": 7, "model": state, "optimizer": opt.state_dict()}


# ----------------------------------------------------------------------------------------------
# Calls: inputs and PyTorch's outputs


def randn(gen: torch.Generator, *shape, scale=1.0) -> torch.Tensor:
    return torch.randn(*shape, generator=gen) * scale


def forward(mod: nn.Module, kind: str, cfg: dict, x, h0=None, c0=None, lengths=None,
            leading: int = 0):
    """PyTorch's result (output, h_n, c_n) of one call; output is None for cells.

    `leading` extra dims in front of every array are handled as a stack of independent calls.
    """
    if leading > 0:
        res = [forward(mod, kind, cfg, x[i], None if h0 is None else h0[i],
                       None if c0 is None else c0[i], lengths, leading - 1)
               for i in range(x.shape[0])]
        stack = lambda j: None if res[0][j] is None else torch.stack([r[j] for r in res])
        return stack(0), stack(1), stack(2)
    is_lstm = kind in ("LSTM", "LSTMCell")
    with torch.no_grad():
        if kind in CELL_KINDS:
            if is_lstm:
                h1, c1 = mod(x, None if h0 is None else (h0, c0))
                return None, h1, c1
            return None, mod(x, h0), None
        state = None if h0 is None else ((h0, c0) if is_lstm else h0)
        bf = cfg["batch_first"]
        if lengths is not None:
            packed = pack_padded_sequence(x, lengths, batch_first=bf, enforce_sorted=False)
            out, hn = mod(packed, state)
            out, _ = pad_packed_sequence(out, batch_first=bf,
                                         total_length=x.shape[1 if bf else 0])
        else:
            out, hn = mod(x, state)
    if is_lstm:
        return out, hn[0], hn[1]
    return out, hn, None


def record_call(calls: list, directory: Path, file_prefix: str, name: str, mod, kind, cfg,
                x, h0=None, c0=None, lengths=None, leading=0, same_input_as=None) -> None:
    """Run one call through PyTorch, save its arrays and append its case.json entry.

    With `same_input_as` (an earlier call's name), `x` and `lengths` are that call's and its
    files are referenced instead of written again (fewer tiny files; see fixtures/README.md).
    """
    f = lambda suffix: f"{file_prefix}{name}.{suffix}.npy"
    opt = lambda t, suffix, dt=np.float32: None if t is None else save_npy(directory, f(suffix), t, dt)
    if same_input_as is not None:
        source = next(c for c in calls if c["name"] == same_input_as)
        x = torch.from_numpy(np.load(directory / source["input"]))
        lengths = None if source["lengths"] is None else \
            torch.from_numpy(np.load(directory / source["lengths"]))
        input_file, lengths_file = source["input"], source["lengths"]
    else:
        input_file = save_npy(directory, f("input"), x)
        lengths_file = opt(lengths, "lengths", np.int64)
    out, hn, cn = forward(mod, kind, cfg, x, h0, c0, lengths, leading)
    calls.append({
        "name": name,
        "input": input_file,
        "h0": opt(h0, "h0"),
        "c0": opt(c0, "c0"),
        "lengths": lengths_file,
        "leading": leading,
        "output": opt(out, "output"),
        "h_n": save_npy(directory, f("h_n"), hn),
        "c_n": opt(cn, "c_n"),
    })


def seq_calls(mod: nn.Module, kind: str, cfg: dict, directory: Path, gen: torch.Generator,
              file_prefix: str = "", include_unbatched: bool = True,
              minimal: bool = False) -> list[dict]:
    """Run the standard suite of calls of a sequence module and save inputs and outputs.

    `minimal` keeps only "batched" and "h0" (enough to validate a checkpoint's weights).
    """
    I, H = cfg["input_size"], cfg["hidden_size"]
    Ho, D, L = out_size(cfg), (2 if cfg["bidirectional"] else 1), cfg["num_layers"]
    bf = cfg["batch_first"]
    is_lstm = kind == "LSTM"
    calls: list[dict] = []
    rec = lambda name, *args, **kw: record_call(calls, directory, file_prefix, name, mod, kind,
                                                cfg, *args, **kw)

    def seq_input(batch):
        return randn(gen, batch, T, I) if bf else randn(gen, T, batch, I)

    def state(*shape):
        h0 = randn(gen, *shape[:-1], L * D, shape[-1], Ho) if shape else randn(gen, L * D, Ho)
        if not is_lstm:
            return h0, None
        c0 = randn(gen, *shape[:-1], L * D, shape[-1], H) if shape else randn(gen, L * D, H)
        return h0, c0

    rec("batched", seq_input(B))
    rec("h0", None, *state(B), same_input_as="batched")
    if minimal:
        return calls
    if include_unbatched:
        rec("unbatched", randn(gen, T, I))
        rec("unbatched_h0", None, *state(), same_input_as="unbatched")
    nb = len(PACKED_LENGTHS)
    lengths = torch.tensor(PACKED_LENGTHS, dtype=torch.int64)
    # Padding holds random values on purpose: a reader must ignore everything past each length.
    rec("packed", seq_input(nb), lengths=lengths)
    rec("packed_h0", None, *state(nb), same_input_as="packed")
    rec("leading", torch.stack([seq_input(B) for _ in range(V)]), *state(V, B), leading=1)
    return calls


def cell_calls(mod: nn.Module, kind: str, cfg: dict, directory: Path, gen: torch.Generator,
               file_prefix: str = "", include_unbatched: bool = True,
               minimal: bool = False) -> list[dict]:
    """Run the standard suite of calls of a cell; `output` is null, h_n/c_n hold h'/c'."""
    I, H = cfg["input_size"], cfg["hidden_size"]
    is_lstm = kind == "LSTMCell"
    calls: list[dict] = []
    rec = lambda name, *args, **kw: record_call(calls, directory, file_prefix, name, mod, kind,
                                                cfg, *args, **kw)

    def state(*shape):
        return randn(gen, *shape, H), (randn(gen, *shape, H) if is_lstm else None)

    rec("batched", randn(gen, B, I))
    rec("batched_state", None, *state(B), same_input_as="batched")
    if minimal:
        return calls
    if include_unbatched:
        rec("unbatched", randn(gen, I))
        rec("unbatched_state", None, *state(), same_input_as="unbatched")
    n = len(CELL_LEADING)
    rec("leading", randn(gen, *CELL_LEADING, B, I), leading=n)
    rec("leading_state", None, *state(*CELL_LEADING, B), leading=n, same_input_as="leading")
    return calls


def run_calls(mod, kind, cfg, directory, gen, file_prefix="", include_unbatched=True,
              minimal=False):
    fn = cell_calls if kind in CELL_KINDS else seq_calls
    return fn(mod, kind, cfg, directory, gen, file_prefix, include_unbatched, minimal)


# ----------------------------------------------------------------------------------------------
# Float cases

FLOAT_CASES = [
    # name, kind, prefix, extras, config overrides, dtype
    ("gru", "GRU", "", False, dict(input_size=5, hidden_size=7), "float32"),
    ("gru_bi_2l", "GRU", "model.encoder", True,
     dict(input_size=5, hidden_size=7, num_layers=2, bidirectional=True), "float32"),
    ("gru_batch_first", "GRU", "rnn", False,
     dict(input_size=5, hidden_size=7, batch_first=True), "float32"),
    ("gru_nobias", "GRU", "", False, dict(input_size=5, hidden_size=7, bias=False), "float32"),
    ("gru_f16", "GRU", "rnn", True, dict(input_size=5, hidden_size=7), "float16"),
    ("gru_f64", "GRU", "", False, dict(input_size=5, hidden_size=7), "float64"),
    ("lstm", "LSTM", "", False, dict(input_size=5, hidden_size=7), "float32"),
    ("lstm_proj", "LSTM", "rnn", True, dict(input_size=5, hidden_size=6, proj_size=3), "float32"),
    ("lstm_proj_bi_2l", "LSTM", "model.encoder", True,
     dict(input_size=5, hidden_size=6, proj_size=3, num_layers=2, bidirectional=True,
          dropout=0.25), "float32"),
    ("lstm_batch_first", "LSTM", "rnn", False,
     dict(input_size=5, hidden_size=7, batch_first=True), "float32"),
    ("rnn_tanh", "RNN", "", False, dict(input_size=5, hidden_size=7), "float32"),
    ("rnn_relu_bi_2l", "RNN", "model.encoder", True,
     dict(input_size=5, hidden_size=7, num_layers=2, bidirectional=True, nonlinearity="relu"),
     "float32"),
    ("gru_cell", "GRUCell", "", False, dict(input_size=5, hidden_size=7), "float32"),
    ("lstm_cell", "LSTMCell", "rnn", False, dict(input_size=5, hidden_size=7), "float32"),
    ("rnn_cell_tanh", "RNNCell", "", False, dict(input_size=5, hidden_size=7), "float32"),
    ("rnn_cell_relu", "RNNCell", "model.encoder", True,
     dict(input_size=5, hidden_size=7, nonlinearity="relu"), "float32"),
    ("lstm_cell_nobias", "LSTMCell", "", False,
     dict(input_size=5, hidden_size=7, bias=False), "float32"),
]

RELU_NOTE = ("dump.h5 carries no attributes: a reader of the bare dump must be told "
             "nonlinearity=relu (config.nonlinearity); attrs.h5 carries it.")


def save_model_files(directory: Path, parent: nn.Module, dtype_name: str,
                     modules: list[tuple[str, str, dict]]) -> dict:
    """dump.h5, attrs.h5, model.pt, train.pt, model.safetensors of `parent` in `dtype_name`."""
    dtype = DTYPES[dtype_name]
    state = {k: v.detach().to(dtype).clone() for k, v in parent.state_dict().items()}
    np_dtype = np.dtype(dtype_name)
    write_dump(directory / "dump.h5", state, np_dtype)
    write_attrs(directory / "attrs.h5", state, modules, np_dtype)
    torch.save(state, directory / "model.pt")
    torch.save(train_dict(parent, state), directory / "train.pt")
    safetensors.torch.save_file(state, str(directory / "model.safetensors"))
    os.chmod(directory / "model.safetensors", 0o644)  # safetensors creates it 0600
    return {"dump": "dump.h5", "attrs": "attrs.h5", "pt": "model.pt", "train_pt": "train.pt",
            "safetensors": "model.safetensors"}


def gen_float_case(name, kind, prefix, extras, overrides, dtype_name) -> None:
    directory = fresh_dir(FIXTURES / "float" / name)
    gen = seed_all(name)
    mod = make_module(kind, overrides)
    parent, extra_keys = build_parent([(prefix, mod)], extras)
    parent.eval()
    round_weights(parent, DTYPES[dtype_name])
    cfg = module_config(kind, mod)
    files = save_model_files(directory, parent, dtype_name, [(prefix, kind, cfg)])
    case = {"name": name, "module": kind, "prefix": prefix, "config": cfg, "dtype": dtype_name,
            "files": files, "extra_keys": extra_keys,
            "calls": run_calls(mod, kind, cfg, directory, gen)}
    if cfg["nonlinearity"] == "relu":
        case["notes"] = RELU_NOTE
    if cfg["dropout"] > 0:
        case["notes"] = "dropout is stored but inactive: expected outputs are from eval mode."
    write_json(directory / "case.json", case)


def gen_two_modules() -> None:
    """Parent with embed (Embedding), encoder (GRU), decoder (LSTM) and head (Linear)."""
    name = "two_modules"
    directory = fresh_dir(FIXTURES / "float" / name)
    gen = seed_all(name)
    enc = make_module("GRU", dict(input_size=5, hidden_size=7))
    dec = make_module("LSTM", dict(input_size=7, hidden_size=6))
    parent, extra_keys = build_parent([("encoder", enc), ("decoder", dec)], extras=True)
    parent.eval()
    specs = [("encoder", "GRU", module_config("GRU", enc)),
             ("decoder", "LSTM", module_config("LSTM", dec))]
    files = save_model_files(directory, parent, "float32", specs)
    modules = []
    for (prefix, kind, cfg), mod in zip(specs, [enc, dec]):
        calls = run_calls(mod, kind, cfg, directory, gen, file_prefix=prefix + ".")
        modules.append({"prefix": prefix, "module": kind, "config": cfg, "calls": calls})
    first = modules[0]
    case = {"name": name, "module": first["module"], "prefix": first["prefix"],
            "config": first["config"], "dtype": "float32", "files": files,
            "extra_keys": extra_keys, "calls": first["calls"], "modules": modules,
            "notes": "Top-level module/prefix/config/calls describe modules[0] (the encoder) "
                     "for readers that know one module only; `modules` lists every RNN module "
                     "of the parent with its own calls (files prefixed '<prefix>.')."}
    write_json(directory / "case.json", case)


def gen_float() -> None:
    fresh_dir(FIXTURES / "float")
    for spec in FLOAT_CASES:
        gen_float_case(*spec)
    gen_two_modules()
    for directory in sorted((FIXTURES / "float").iterdir()):
        verify_float_case(directory)


# ----------------------------------------------------------------------------------------------
# Quantized cases (dynamic int8, fbgemm)

QUANT_TYPES = {nn.GRU, nn.LSTM, nn.GRUCell, nn.LSTMCell}

QUANT_CASES = [
    # name, kind, prefix, extras, config overrides
    ("qgru", "GRU", "", False, dict(input_size=8, hidden_size=16)),
    ("qgru_bi_2l", "GRU", "model.encoder", True,
     dict(input_size=8, hidden_size=16, num_layers=2, bidirectional=True)),
    ("qgru_packed", "GRU", "rnn", False, dict(input_size=8, hidden_size=16, batch_first=True)),
    ("qgru_cell", "GRUCell", "", False, dict(input_size=8, hidden_size=16)),
    ("qlstm", "LSTM", "rnn", False, dict(input_size=8, hidden_size=16)),
    ("qlstm_bi", "LSTM", "model.encoder", True,
     dict(input_size=8, hidden_size=16, bidirectional=True)),
    ("qlstm_cell", "LSTMCell", "rnn", False, dict(input_size=8, hidden_size=16)),
]

# Extra packed calls of qgru_packed: duplicates, all full (packed path, no padding), all short.
EXTRA_PACKED = {"packed_dup": [6, 2, 6, 4], "packed_full": [6, 6, 6, 6], "packed_short": [1, 3, 1, 2]}

QUANT_NOTES = ("Expected outputs come from the quantized PyTorch module (fbgemm). PyTorch's "
               "dynamic quantized RNN modules reject unbatched input (GRU/LSTM: 'input must have "
               "3 dimensions, got 2'; GRUCell/LSTMCell: 'Dimension out of range'), so quant cases "
               "have no unbatched calls.")


def quantize(model: nn.Module) -> nn.Module:
    """quantize_dynamic; it swaps submodules only, so a bare RNN is wrapped and unwrapped."""
    torch.backends.quantized.engine = "fbgemm"
    if type(model) in QUANT_TYPES:
        wrapped = nn.Sequential(model)
        return torch.ao.quantization.quantize_dynamic(wrapped, QUANT_TYPES, dtype=torch.qint8)[0]
    return torch.ao.quantization.quantize_dynamic(model, QUANT_TYPES, dtype=torch.qint8)


def numpy_weight_rule(w: np.ndarray) -> tuple[np.float32, np.ndarray]:
    """The int8 weight rule of shared/notes/pytorch-int8-dynamic.md, in numpy (a check of the note)."""
    w = w.astype(np.float32)
    amax = np.float32(max(abs(min(float(w.min()), 0.0)), max(float(w.max()), 0.0)))
    scale = np.float32(amax / np.float32(127.5))
    scale = max(scale, np.float32(1.1920929e-07))
    inv = np.float32(np.float32(1.0) / scale)
    q = np.clip(np.rint(w * inv), -128, 127).astype(np.int8)
    return scale, q


def quant_weights(qmod: nn.Module, fmod: nn.Module, directory: Path, what: str) -> dict:
    """Save PyTorch's int8 weights as q.<name>.npy; check them against the float weights and
    against the numpy rule of the note."""
    weights = {}
    wb = qmod._weight_bias()
    for name, qw in wb["weight"].items():
        assert qw.dtype == torch.qint8 and qw.qscheme() == torch.per_tensor_affine, (what, name)
        ints = qw.int_repr().numpy()
        scale, zero_point = qw.q_scale(), qw.q_zero_point()
        assert zero_point == 0, (what, name, zero_point)
        assert float(np.float32(scale)) == scale, f"{what}: {name} scale is not a float32 value"
        w = getattr(fmod, name).detach().numpy()
        err = np.abs(ints.astype(np.float32) * np.float32(scale) - w).max()
        assert err <= scale * (0.5 + 1e-4), f"{what}: {name} dequantization error {err}"
        note_scale, note_q = numpy_weight_rule(w)
        assert note_scale == np.float32(scale), f"{what}: {name} note scale {note_scale} != {scale}"
        assert np.array_equal(note_q, ints), f"{what}: {name} note rule differs from PyTorch"
        file = save_npy(directory, f"q.{name}.npy", ints, np.int8)
        weights[name] = {"file": file, "scale": float(np.float32(scale)), "zero_point": zero_point}
    for name, b in wb["bias"].items():
        assert torch.equal(b, getattr(fmod, name)), f"{what}: bias {name} changed by quantization"
    return weights


def gen_quant_case(name, kind, prefix, extras, overrides) -> None:
    directory = fresh_dir(FIXTURES / "quant" / name)
    gen = seed_all(name)
    fmod = make_module(kind, overrides)
    parent, extra_keys = build_parent([(prefix, fmod)], extras)
    parent.eval()
    cfg = module_config(kind, fmod)
    state = {k: v.detach().clone() for k, v in parent.state_dict().items()}
    write_dump(directory / "dump.h5", state, np.float32)
    write_attrs(directory / "attrs.h5", state, [(prefix, kind, cfg)], np.float32)
    torch.save(state, directory / "model.pt")
    safetensors.torch.save_file(state, str(directory / "model.safetensors"))
    os.chmod(directory / "model.safetensors", 0o644)
    qparent = quantize(parent).eval()
    qmod = qparent if prefix == "" else qparent.get_submodule(prefix)
    assert type(qmod).__module__.startswith("torch.ao.nn.quantized.dynamic"), type(qmod)
    torch.save(qparent.state_dict(), directory / "qmodel.pt")
    weights = quant_weights(qmod, fmod, directory, name)
    calls = run_calls(qmod, kind, cfg, directory, gen, include_unbatched=False)
    if name == "qgru_packed":
        for call_name, lengths in EXTRA_PACKED.items():
            x = randn(gen, len(lengths), T, cfg["input_size"])
            record_call(calls, directory, "", call_name, qmod, kind, cfg, x,
                        lengths=torch.tensor(lengths, dtype=torch.int64))
    case = {"name": name, "module": kind, "prefix": prefix, "config": cfg, "dtype": "float32",
            "files": {"dump": "dump.h5", "attrs": "attrs.h5", "pt": "model.pt",
                      "safetensors": "model.safetensors"},
            "extra_keys": extra_keys, "calls": calls,
            "quant": {"engine": "fbgemm", "qmodel_pt": "qmodel.pt", "weights": weights,
                      "cpu_capability": torch.backends.cpu.get_cpu_capability()},
            "notes": QUANT_NOTES}
    write_json(directory / "case.json", case)


def verify_quant_case(directory: Path) -> None:
    """Rebuild the quantized module from qmodel.pt and rerun every call (bit-identical), and
    rebuild it from dump.h5 through quantize_dynamic (same int8 weights, same outputs)."""
    case = json.loads((directory / "case.json").read_text())
    kind, prefix, cfg = case["module"], case["prefix"], case["config"]
    qstate = torch.load(directory / "qmodel.pt", weights_only=False)
    fresh = quantize(make_module(kind, cfg)).eval()
    p = prefix + "." if prefix else ""
    fresh.load_state_dict({k[len(p):]: v for k, v in qstate.items() if k.startswith(p)})
    check_calls(fresh, kind, cfg, directory, case["calls"], f"{directory.name}/qmodel.pt")
    with h5py.File(directory / case["files"]["dump"]) as f:
        group = f[h5_path(prefix)] if prefix else f
        fstate = {k: torch.from_numpy(v[()]) for k, v in group.items() if isinstance(v, h5py.Dataset)}
    fmod = make_module(kind, cfg).eval()
    fmod.load_state_dict(fstate)
    requant = quantize(fmod).eval()
    for name, entry in case["quant"]["weights"].items():
        qw = requant._weight_bias()["weight"][name]
        assert np.array_equal(qw.int_repr().numpy(), np.load(directory / entry["file"])), name
        assert qw.q_scale() == entry["scale"], name
    check_calls(requant, kind, cfg, directory, case["calls"], f"{directory.name}/requantized")


def gen_quant() -> None:
    fresh_dir(FIXTURES / "quant")
    for spec in QUANT_CASES:
        gen_quant_case(*spec)
    for directory in sorted((FIXTURES / "quant").iterdir()):
        verify_quant_case(directory)


# ----------------------------------------------------------------------------------------------
# Checkpoint-only cases


def checkpoint_case(name: str, kind: str, prefix: str, mod: nn.Module, extra_keys: list[str],
                    dtype_name: str, files: dict, note: str) -> dict:
    """case.json (contract format, no h5 files) whose calls validate the checkpoints of `name`."""
    directory = FIXTURES / "checkpoints" / name
    gen = seed_all("checkpoints/" + name)
    cfg = module_config(kind, mod)
    case = {"name": name, "module": kind, "prefix": prefix, "config": cfg, "dtype": dtype_name,
            "files": files, "extra_keys": extra_keys,
            "calls": run_calls(mod, kind, cfg, directory, gen, minimal=True), "notes": note}
    write_json(directory / "case.json", case)
    return case


def entry(name, file, fmt, dtype, modules, extra_keys, validate_with, state_dict_path=(),
          notes=None) -> dict:
    e = {"name": name, "file": file, "format": fmt, "dtype": dtype,
         "state_dict_path": list(state_dict_path),
         "modules": [{"prefix": p, "module": k, "config": c} for p, k, c in modules],
         "extra_keys": extra_keys, "validate_with": validate_with}
    if notes:
        e["notes"] = notes
    return e


def gen_dtype_checkpoints() -> list[dict]:
    """LSTM (proj, 2 layers, bidirectional) under model.encoder + extras, saved as float16,
    bfloat16 and float64 state_dicts (.pt and .safetensors); calls use the rounded weights."""
    entries = []
    for dtype_name in ("float16", "bfloat16", "float64"):
        name = f"lstm_proj_bi_2l_{dtype_name}"
        directory = fresh_dir(FIXTURES / "checkpoints" / name)
        seed_all(name)
        mod = make_module("LSTM", dict(input_size=5, hidden_size=6, proj_size=3, num_layers=2,
                                       bidirectional=True))
        parent, extra_keys = build_parent([("model.encoder", mod)], extras=True)
        parent.eval()
        dtype = DTYPES[dtype_name]
        round_weights(parent, dtype)
        shadow = copy.deepcopy(parent)
        {"float16": shadow.half, "bfloat16": shadow.bfloat16, "float64": shadow.double}[dtype_name]()
        state = shadow.state_dict()
        assert all(v.dtype == dtype for v in state.values())
        torch.save(state, directory / "model.pt")
        safetensors.torch.save_file(state, str(directory / "model.safetensors"))
        os.chmod(directory / "model.safetensors", 0o644)
        case = checkpoint_case(name, "LSTM", "model.encoder", mod, extra_keys, dtype_name,
                               {"pt": "model.pt", "safetensors": "model.safetensors"},
                               f"state_dict after model.half()/bfloat16()/double() "
                               f"({dtype_name}); expected outputs computed "
                               "in float32 from the rounded weights.")
        modules = [("model.encoder", "LSTM", case["config"])]
        entries.append(entry(name + "_pt", f"{name}/model.pt", "torch-zip", dtype_name, modules,
                             extra_keys, f"checkpoints/{name}"))
        entries.append(entry(name + "_safetensors", f"{name}/model.safetensors", "safetensors",
                             dtype_name, modules, extra_keys, f"checkpoints/{name}"))
    return entries


def gen_noncontiguous_checkpoint() -> list[dict]:
    """LSTM under "rnn" whose saved tensors are strided/offset views of larger storages."""
    name = "lstm_noncontiguous"
    directory = fresh_dir(FIXTURES / "checkpoints" / name)
    seed_all(name)
    I, H = 5, 7
    mod = make_module("LSTM", dict(input_size=I, hidden_size=H))
    parent, extra_keys = build_parent([("rnn", mod)], extras=False)
    parent.eval()
    bound = 1 / H ** 0.5
    uniform = lambda *shape: (torch.rand(*shape) * 2 - 1) * bound
    big_hh = uniform(H, 70)                 # weight_hh_l0 = transposed slice: stride (1, 70)
    big_ih = uniform(4 * H, 2 * I + 1)      # weight_ih_l0 = every other column: stride (11, 2)
    big_b = uniform(70)                     # both biases share one storage at offsets 3 and 40
    state = {
        "rnn.weight_ih_l0": big_ih[:, ::2][:, :I],
        "rnn.weight_hh_l0": big_hh.t()[2:2 + 4 * H],
        "rnn.bias_ih_l0": big_b[3:3 + 4 * H],
        "rnn.bias_hh_l0": big_b[40:40 + 4 * H],
    }
    assert set(state) == set(parent.state_dict())
    path = directory / "model.pt"
    torch.save(state, path)  # deliberately NOT .contiguous()
    loaded = torch.load(path, weights_only=True)
    for key in ("rnn.weight_ih_l0", "rnn.weight_hh_l0"):
        t = loaded[key]
        assert not t.is_contiguous(), f"{key} was saved contiguous"
        assert t.untyped_storage().nbytes() > t.numel() * t.element_size(), key
    assert loaded["rnn.weight_hh_l0"].storage_offset() > 0
    assert loaded["rnn.bias_hh_l0"].storage_offset() == 40
    assert (loaded["rnn.bias_ih_l0"].untyped_storage().data_ptr()
            == loaded["rnn.bias_hh_l0"].untyped_storage().data_ptr()), "biases must share storage"
    with torch.no_grad():
        mod.load_state_dict({k[len("rnn."):]: v for k, v in state.items()})
    case = checkpoint_case(name, "LSTM", "rnn", mod, extra_keys, "float32", {"pt": "model.pt"},
                           "model.pt holds views: weight_ih_l0 stride (11, 2) of a (28, 11) "
                           "storage; weight_hh_l0 = transpose slice, stride (1, 70), offset 2; "
                           "bias_ih_l0/bias_hh_l0 share one 70-element storage at offsets 3/40.")
    return [entry(name, f"{name}/model.pt", "torch-zip", "float32",
                  [("rnn", "LSTM", case["config"])], extra_keys, f"checkpoints/{name}",
                  notes=case["notes"])]


def float_case_state(case_name: str) -> tuple[dict, dict]:
    directory = FIXTURES / "float" / case_name
    assert (directory / "case.json").exists(), f"run the float group before checkpoints"
    case = json.loads((directory / "case.json").read_text())
    return case, torch.load(directory / case["files"]["pt"], weights_only=True)


def case_modules(case: dict) -> list[tuple[str, str, dict]]:
    return [(m["prefix"], m["module"], m["config"]) for m in case.get("modules", [case])]


def gen_reused_checkpoints() -> list[dict]:
    """Checkpoints of float cases' weights in other containers (validated by those cases)."""
    root = FIXTURES / "checkpoints"
    entries = []
    case, state = float_case_state("two_modules")
    nested = {"meta": {"epoch": 12, "step": 3400, "lr": 0.001, "tags": ["seq2seq", "demo"],
                       "best": None, "finished": True, "shape": (2, 3)},
              "state": {"model": state, "ema": None}}
    torch.save(nested, root / "two_modules_nested.pt")
    entries.append(entry("two_modules_nested", "two_modules_nested.pt", "torch-zip", "float32",
                         case_modules(case), case["extra_keys"], "float/two_modules",
                         state_dict_path=["state", "model"],
                         notes="state_dict two levels down: obj['state']['model']; two RNN "
                               "modules (encoder GRU, decoder LSTM) plus embed and head."))
    case, state = float_case_state("gru_bi_2l")
    torch.save(state, root / "gru_bi_2l_legacy.pt", _use_new_zipfile_serialization=False)
    assert not zipfile.is_zipfile(root / "gru_bi_2l_legacy.pt")
    entries.append(entry("gru_bi_2l_legacy", "gru_bi_2l_legacy.pt", "torch-legacy", "float32",
                         case_modules(case), case["extra_keys"], "float/gru_bi_2l",
                         notes="legacy (pre-1.6, non-zip) torch.save format"))
    return entries


def verify_checkpoint(e: dict) -> None:
    path = FIXTURES / "checkpoints" / e["file"]
    if e["format"] == "safetensors":
        obj = safetensors.torch.load_file(str(path))
    else:
        obj = torch.load(path, weights_only=True)
    for key in e["state_dict_path"]:
        obj = obj[key]
    for key in e["extra_keys"]:
        assert key in obj, f"{e['name']}: extra key {key} missing"
    case_dir = FIXTURES / e["validate_with"]
    case = json.loads((case_dir / "case.json").read_text())
    by_prefix = {m["prefix"]: m for m in case.get("modules", [case])}
    for m in e["modules"]:
        assert all(v.dtype == DTYPES[e["dtype"]] for k, v in obj.items()), e["name"]
        mod = make_module(m["module"], m["config"]).eval()
        mod.load_state_dict(module_state(obj, m["prefix"]))
        calls = by_prefix[m["prefix"]]["calls"]
        check_calls(mod, m["module"], m["config"], case_dir, calls, e["name"])


def gen_checkpoints() -> None:
    root = fresh_dir(FIXTURES / "checkpoints")
    entries = gen_dtype_checkpoints() + gen_noncontiguous_checkpoint() + gen_reused_checkpoints()
    write_json(root / "index.json", {"version": 1, "checkpoints": entries})
    for e in entries:
        verify_checkpoint(e)


# ----------------------------------------------------------------------------------------------
# Self-check: reload what was written, rerun every call, compare with the saved expectations


def load_call(directory: Path, call: dict) -> dict:
    get = lambda key: None if call[key] is None else torch.from_numpy(np.load(directory / call[key]))
    return {key: get(key) for key in ("input", "h0", "c0", "lengths", "output", "h_n", "c_n")}


def module_state(state: dict, prefix: str) -> dict:
    p = prefix + "." if prefix else ""
    return {k[len(p):]: v.float() for k, v in state.items()
            if k.startswith(p) and "." not in k[len(p):]}


def check_calls(mod, kind, cfg, directory: Path, calls: list[dict], what: str) -> None:
    for call in calls:
        a = load_call(directory, call)
        got = forward(mod, kind, cfg, a["input"], a["h0"], a["c0"], a["lengths"], call["leading"])
        for key, value in zip(("output", "h_n", "c_n"), got):
            want = a[key]
            assert (value is None) == (want is None), f"{what} {call['name']} {key} presence"
            if want is not None:
                assert value.shape == want.shape, f"{what} {call['name']} {key} shape"
                assert torch.equal(value, want), \
                    f"{what} {call['name']} {key} differs by {(value - want).abs().max()}"


def verify_float_case(directory: Path) -> None:
    """Rebuild each module from dump.h5, model.pt, train.pt and the safetensors file; rerun."""
    case = json.loads((directory / "case.json").read_text())
    files = case["files"]
    with h5py.File(directory / files["dump"]) as f:
        dump = {}
        f.visititems(lambda n, o: dump.__setitem__(n.replace("/", "."), torch.from_numpy(o[()]))
                     if isinstance(o, h5py.Dataset) else None)
    sources = {
        "dump": dump,
        "pt": torch.load(directory / files["pt"], weights_only=True),
        "train_pt": torch.load(directory / files["train_pt"], weights_only=True)["model"],
        "safetensors": safetensors.torch.load_file(str(directory / files["safetensors"])),
    }
    for what, state in sources.items():
        assert set(state) == set(sources["dump"]), f"{directory.name}: {what} keys differ"
        for key in case["extra_keys"]:
            assert key in state, f"{directory.name}: extra key {key} missing from {what}"
    for m in case.get("modules", [case]):
        for what, state in sources.items():
            mod = make_module(m["module"], m["config"]).eval()
            mod.load_state_dict(module_state(state, m["prefix"]))
            check_calls(mod, m["module"], m["config"], directory, m["calls"],
                        f"{directory.name}/{m['prefix']}/{what}")


# ----------------------------------------------------------------------------------------------
# Index and main

GROUPS = {"float": gen_float, "quant": gen_quant, "checkpoints": gen_checkpoints}


def write_index() -> None:
    index = {"version": 1,
             "generator": {"script": "tools/make_fixtures.py", "torch": torch.__version__,
                           "cpu_capability": torch.backends.cpu.get_cpu_capability()}}
    for group in ("float", "quant"):
        root = FIXTURES / group
        index[group] = sorted(f"{group}/{p.name}" for p in root.iterdir()
                              if (p / "case.json").exists()) if root.exists() else []
    for key, rel in (("checkpoints", "checkpoints/index.json"),
                     ("hostile_pickle", "hostile/pickle/index.json")):
        index[key] = rel if (FIXTURES / rel).exists() else None
    write_json(FIXTURES / "index.json", index)


def total_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main(argv: list[str]) -> None:
    groups = argv or list(GROUPS)
    unknown = [g for g in groups if g not in GROUPS]
    if unknown:
        sys.exit(f"unknown group(s) {unknown}; known: {list(GROUPS)}")
    torch.set_num_threads(1)
    FIXTURES.mkdir(exist_ok=True)
    for group in groups:
        GROUPS[group]()
        print(f"{group}: done")
    write_index()
    size = total_size(FIXTURES)
    print(f"fixtures/: {size} bytes")
    assert size < SIZE_LIMIT, f"fixtures/ is {size} bytes, over the {SIZE_LIMIT} limit"


if __name__ == "__main__":
    main(sys.argv[1:])
