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
- Small: fixtures/ stays under 12 MiB as `du` counts it (allocated blocks; most files are
  smaller than one block) and checked at the end of every run.
- Safe: nothing here unpickles a hostile file with a real unpickler (see gen_hostile).

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
import pickletools
import shutil
import struct
import sys
import warnings
import zipfile
import zlib
from pathlib import Path

# Pin ATen's kernel dispatch to AVX2 (RNNKit's target) before torch loads: the quantized
# outputs differ by up to 3e-8 between the AVX2 and AVX512 kernels, and pinning keeps the
# regenerated files identical on AVX2 and AVX512 machines. (Float outputs do not depend on it;
# they depend on the thread count instead, hence torch.set_num_threads(1) in main.)
os.environ.setdefault("ATEN_CPU_CAPABILITY", "avx2")
# torch.jit.script writes a class's constants in set order, which depends on Python's string
# hashing: run under a fixed hash seed so that TorchScript archives are reproducible.
if os.environ.get("PYTHONHASHSEED") != "0":
    os.environ["PYTHONHASHSEED"] = "0"
    os.execv(sys.executable, [sys.executable] + sys.argv)

import h5py
import numpy as np
import safetensors.torch
import torch
import torch.nn as nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

warnings.filterwarnings("ignore")  # torch.ao.quantization deprecation chatter

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "fixtures"
SIZE_LIMIT = 12 * 1024 * 1024  # with the hostile corpora (tools/make_hostile_hdf5.py) and fixtures/hdf5

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
    # A real state_dict (OrderedDict with _metadata: its pickle ends with a BUILD opcode).
    state = copy.deepcopy(parent).to(DTYPES[dtype_name]).state_dict()
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
    state = parent.state_dict()
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
    # Our own file, just written; weights_only=True refuses torch.ScriptObject (packed params).
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


def canonicalize_legacy(path: Path) -> None:
    """Legacy torch.save names storages by memory address (str(storage._cdata)) and orders
    them by that name, so two runs differ. Rename them "0", "1", ... in order of first use
    and reorder the storage blocks to match: the file a fresh torch.save would write if the
    addresses happened to sort that way."""
    data = path.read_bytes()
    stream = io.BytesIO(data)
    for _ in range(3):  # magic number, protocol version, sys_info: plain literals
        pickle.load(stream)
    start = stream.tell()
    ops = list(pickletools.genops(stream))
    main = data[start:stream.tell()]
    keys = pickle.load(stream)  # list of str, written by torch
    assert isinstance(keys, list) and all(isinstance(k, str) and k.isdigit() for k in keys)
    # Each storage follows as int64 numel + raw bytes; the itemsize comes from the storage
    # type named just before the key in its persistent id.
    itemsize = {"FloatStorage": 4, "HalfStorage": 2, "DoubleStorage": 8, "BFloat16Storage": 2}
    order, types = [], {}
    strings = [(arg, pos) for op, arg, pos in ops if op.name == "BINUNICODE"]
    globals_ = [(arg, pos) for op, arg, pos in ops if op.name == "GLOBAL"]
    for key in keys:
        assert sum(1 for s, _ in strings if s == key) == 1, "storage key must be unique"
    for s, pos in strings:
        if s in keys and s not in order:
            order.append(s)
            before = [g for g, p in globals_ if p < pos and g.startswith("torch ")]
            types[s] = before[-1].split(" ")[1]
    assert set(order) == set(keys)
    raw = {}
    for key in keys:
        numel = struct.unpack("<q", stream.read(8))[0]
        raw[key] = struct.pack("<q", numel) + stream.read(numel * itemsize[types[key]])
    assert stream.read() == b"", "unexpected trailing bytes in legacy checkpoint"
    rename = {old: str(i) for i, old in enumerate(order)}
    for old, new in rename.items():
        enc_old, enc_new = old.encode(), new.encode()
        main = main.replace(b"X" + struct.pack("<I", len(enc_old)) + enc_old,
                            b"X" + struct.pack("<I", len(enc_new)) + enc_new)
    new_keys = sorted(rename.values())
    inverse = {v: k for k, v in rename.items()}
    out = bytearray(data[:start]) + main + pickle.dumps(new_keys, protocol=2)
    for key in new_keys:
        out += raw[inverse[key]]
    before = torch.load(path, weights_only=True)
    path.write_bytes(bytes(out))
    after = torch.load(path, weights_only=True)
    assert list(before) == list(after) and all(torch.equal(before[k], after[k]) for k in before)


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
    canonicalize_legacy(root / "gru_bi_2l_legacy.pt")
    entries.append(entry("gru_bi_2l_legacy", "gru_bi_2l_legacy.pt", "torch-legacy", "float32",
                         case_modules(case), case["extra_keys"], "float/gru_bi_2l",
                         notes="legacy (pre-1.6, non-zip) torch.save format"))
    return entries


class Traceable(nn.Module):
    """A float case's model (`build_parent`) with a forward that runs one of its RNNs, so that
    torch.jit.trace can record it; its children, hence its state_dict keys, are the model's."""

    def __init__(self, root: nn.Module, rnn_path: str):
        super().__init__()
        for name, child in root.named_children():
            self.add_module(name, child)
        self.rnn_path = rnn_path

    def forward(self, x):
        module = self
        for part in self.rnn_path.split("."):
            module = getattr(module, part)
        return module(x)[0]


class TwoModels(nn.Module):
    """An archive wrapping several models, as published TorchScript files often do."""

    def __init__(self, first: nn.Module, second: nn.Module):
        super().__init__()
        self._model = first
        self.aux = second


def case_parent(case_name: str) -> tuple[dict, nn.Module]:
    case, state = float_case_state(case_name)
    mods = [(p, make_module(k, c)) for p, k, c in case_modules(case)]
    parent, _ = build_parent(mods, extras=bool(case["extra_keys"]))
    parent.load_state_dict(state)
    return case, parent.eval()


def canonicalize_torchscript(path: Path) -> None:
    """torch.jit.save records a random `.data/serialization_id` (40 decimal digits): set it to
    zeros in place, with its CRC in the local header and the central directory, so that two runs
    write the same bytes (and the archive's 64-byte alignment stays as torch wrote it)."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as z:
        info = next(i for i in z.infolist() if i.filename.endswith("/.data/serialization_id"))
    assert info.compress_type == zipfile.ZIP_STORED
    name_len, extra_len = struct.unpack_from("<HH", data, info.header_offset + 26)
    start = info.header_offset + 30 + name_len + extra_len
    new = b"0" * info.file_size
    data[start:start + info.file_size] = new
    crc = zlib.crc32(new)
    struct.pack_into("<I", data, info.header_offset + 14, crc)
    central = data.rfind(b"PK\x01\x02" + data[info.header_offset + 4:info.header_offset + 6])
    while central >= 0:
        if data[central + 46:central + 46 + len(info.filename)] == info.filename.encode():
            struct.pack_into("<I", data, central + 16, crc)
            break
        central = data.rfind(b"PK\x01\x02", 0, central)
    assert central >= 0, "central directory entry of the serialization id not found"
    path.write_bytes(bytes(data))


def save_torchscript(module, path: Path) -> None:
    torch.jit.save(module, path)
    canonicalize_torchscript(path)


def gen_torchscript_checkpoints() -> list[dict]:
    """TorchScript archives (torch.jit.save) of float cases' models, scripted and traced, and one
    archive wrapping two models (validated by the cases; the wrapper by tests/TorchScript)."""
    root = FIXTURES / "checkpoints"
    entries = []
    for case_name in ("gru_bi_2l", "lstm_proj_bi_2l", "two_modules"):
        case, parent = case_parent(case_name)
        name = f"{case_name}_scripted"
        save_torchscript(torch.jit.script(parent), root / f"{name}.pt")
        entries.append(entry(name, f"{name}.pt", "torchscript", "float32", case_modules(case), case["extra_keys"],
                             f"float/{case_name}", notes="torch.jit.script of the case's model, torch.jit.save"))
    case, parent = case_parent("gru_bi_2l")
    prefix = case_modules(case)[0][0]
    config = case_modules(case)[0][2]
    traced = torch.jit.trace(Traceable(parent, prefix), torch.zeros(T, 1, config["input_size"]))
    save_torchscript(traced, root / "gru_bi_2l_traced.pt")
    entries.append(entry("gru_bi_2l_traced", "gru_bi_2l_traced.pt", "torchscript", "float32", case_modules(case),
                         case["extra_keys"], "float/gru_bi_2l", notes="torch.jit.trace of the case's model (constants.pkl, traced_inputs)"))
    _, two = case_parent("two_modules")
    _, gru = case_parent("gru_bi_2l")
    save_torchscript(torch.jit.script(TwoModels(two, gru)), root / "two_models_wrapped.pt")
    return entries


def verify_checkpoint(e: dict) -> None:
    path = FIXTURES / "checkpoints" / e["file"]
    if e["format"] == "safetensors":
        obj = safetensors.torch.load_file(str(path))
    elif e["format"] == "torchscript":
        obj = torch.jit.load(str(path)).state_dict()
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
    entries = (gen_dtype_checkpoints() + gen_noncontiguous_checkpoint() + gen_reused_checkpoints()
               + gen_torchscript_checkpoints())
    write_json(root / "index.json", {"version": 1, "checkpoints": entries})
    for e in entries:
        verify_checkpoint(e)


# ----------------------------------------------------------------------------------------------
# Hostile pickles: hand-written opcodes (nothing here pickles a real object)

CANARY = "/tmp/rnnkit_pickle_was_executed"
TOUCH = f"touch {CANARY}"


class PickleWriter:
    """Writes pickle protocol 2 opcodes by hand."""

    def __init__(self) -> None:
        self.data = bytearray(b"\x80\x02")  # PROTO 2

    def raw(self, b: bytes) -> "PickleWriter":
        self.data += b
        return self

    def glob(self, module: str, name: str) -> "PickleWriter":
        return self.raw(b"c" + f"{module}\n{name}\n".encode())  # GLOBAL

    def str(self, s: str) -> "PickleWriter":
        e = s.encode()
        return self.raw(b"X" + struct.pack("<I", len(e)) + e)  # BINUNICODE

    def bytes(self, b: bytes) -> "PickleWriter":
        assert len(b) < 256
        return self.raw(b"C" + bytes([len(b)]) + b)  # SHORT_BINBYTES

    def int(self, n: int) -> "PickleWriter":
        if 0 <= n < 256:
            return self.raw(b"K" + bytes([n]))  # BININT1
        if 0 <= n < 65536:
            return self.raw(b"M" + struct.pack("<H", n))  # BININT2
        return self.raw(b"J" + struct.pack("<i", n))  # BININT

    def mark(self) -> "PickleWriter":
        return self.raw(b"(")

    def tuple(self) -> "PickleWriter":
        return self.raw(b"t")  # TUPLE (to the last MARK)

    def ints(self, values) -> "PickleWriter":
        self.mark()
        for v in values:
            self.int(v)
        return self.tuple()

    def reduce(self) -> "PickleWriter":
        return self.raw(b"R")

    def call(self, module: str, name: str, *args) -> "PickleWriter":
        """GLOBAL module.name, a tuple of string args, REDUCE."""
        self.glob(module, name).mark()
        for a in args:
            self.str(a)
        return self.tuple().reduce()

    def ordered_dict(self) -> "PickleWriter":
        return self.glob("collections", "OrderedDict").raw(b")").reduce()

    def tensor(self, key: str, numel: int, offset: int, size, stride,
               storage: str = "FloatStorage", tag: str = "storage",
               legacy: bool = False) -> "PickleWriter":
        """torch._utils._rebuild_tensor_v2(persistent_id(...), offset, size, stride, False, OrderedDict()).

        Legacy (non-zip) persistent ids carry a sixth element, view_metadata (None)."""
        self.glob("torch._utils", "_rebuild_tensor_v2").mark()
        self.mark().str(tag).glob("torch", storage).str(key).str("cpu").int(numel)
        if legacy:
            self.raw(b"N")
        self.tuple()
        self.raw(b"Q")  # BINPERSID
        self.int(offset).ints(size).ints(stride).raw(b"\x89")  # NEWFALSE (requires_grad)
        self.ordered_dict()
        return self.tuple().reduce()

    def stop(self) -> bytes:
        return bytes(self.data + b".")


def state_dict_pickle(*values, legacy: bool = False) -> PickleWriter:
    """OrderedDict([("good", float tensor of 4 from data/0), (name, <value>)...]) minus STOP.

    Each value is a function writing one pickled value; a valid tensor comes first so a reader
    has done real work before it meets the hostile part."""
    p = PickleWriter().ordered_dict().mark()
    p.str("good").tensor("0", 4, 0, (2, 2), (2, 1), legacy=legacy)
    for i, write in enumerate(values):
        p.str(f"evil{i}")
        write(p)
    return p.raw(b"u")  # SETITEMS


GOOD_STORAGE = {"0": np.arange(4, dtype=np.float32).tobytes()}


def write_torch_zip(path: Path, pickle_bytes: bytes, storages: dict | None = None,
                    include_pickle: bool = True) -> None:
    """A zip in torch.save's layout (written by torch's own PyTorchFileWriter)."""
    storages = GOOD_STORAGE if storages is None else storages
    writer = torch._C.PyTorchFileWriter(str(path))
    writer.write_record(".format_version", b"1", 1)
    writer.write_record(".storage_alignment", b"64", 2)
    writer.write_record("byteorder", b"little", 6)
    if include_pickle:
        writer.write_record("data.pkl", pickle_bytes, len(pickle_bytes))
    for key, data in storages.items():
        writer.write_record(f"data/{key}", data, len(data))
    writer.write_end_of_file()


def write_legacy(path: Path, pickle_bytes: bytes, storages: dict) -> None:
    """Legacy (non-zip) torch.save stream: magic, protocol, sys_info, the object, storage keys,
    then each storage as int64 numel + raw bytes. The header pickles are of plain literals."""
    out = bytearray()
    out += pickle.dumps(0x1950A86A20F9469CFC6C, protocol=2)
    out += pickle.dumps(1001, protocol=2)
    out += pickle.dumps({"protocol_version": 1001, "little_endian": True,
                         "type_sizes": {"short": 2, "int": 4, "long": 4}}, protocol=2)
    out += pickle_bytes
    out += pickle.dumps(list(storages), protocol=2)
    for data in storages.values():
        out += struct.pack("<q", len(data) // 4) + data
    path.write_bytes(out)


def hostile_cases() -> list[dict]:
    """(file, what, expect, writer) for every hostile pickle; see fixtures/README.md."""
    cases = []

    def add(file, what, expect, pickle_bytes=None, creates=False, well_formed=True, **kw):
        cases.append({"file": file, "what": what, "expect": expect, "pickle": pickle_bytes,
                      "creates": creates, "well_formed": well_formed, **kw})

    refuse = lambda g: f"refusing pickle global '{g}'"
    # Code-execution globals (each would run if unpickled by Python's pickle).
    add("global_os_system.pt", "os.system('touch ...') via GLOBAL+REDUCE", refuse("os.system"),
        state_dict_pickle(lambda p: p.call("os", "system", TOUCH)).stop(), creates=True)
    add("global_posix_system.pt", "posix.system('touch ...') via GLOBAL+REDUCE",
        refuse("posix.system"),
        state_dict_pickle(lambda p: p.call("posix", "system", TOUCH)).stop(), creates=True)
    add("global_nt_system.pt", "nt.system (Windows os.system) via GLOBAL+REDUCE",
        refuse("nt.system"), state_dict_pickle(lambda p: p.call("nt", "system", TOUCH)).stop())

    def popen(p):
        p.glob("subprocess", "Popen").raw(b"]").mark().str("touch").str(CANARY).raw(b"e")
        p.raw(b"\x85").reduce()  # TUPLE1, REDUCE
    add("global_subprocess_popen.pt", "subprocess.Popen(['touch', ...])",
        refuse("subprocess.Popen"), state_dict_pickle(popen).stop(), creates=True)
    code = f"__import__('os').system('{TOUCH}')"
    add("global_builtins_eval.pt", "builtins.eval(code)", refuse("builtins.eval"),
        state_dict_pickle(lambda p: p.call("builtins", "eval", code)).stop(), creates=True)
    add("global_builtins_exec.pt", "builtins.exec(code)", refuse("builtins.exec"),
        state_dict_pickle(lambda p: p.call("builtins", "exec", code)).stop(), creates=True)

    def getattr_(p):
        p.glob("builtins", "getattr").mark().glob("collections", "OrderedDict")
        p.str("__init_subclass__").tuple().reduce()
    add("global_builtins_getattr.pt", "builtins.getattr(collections.OrderedDict, ...)",
        refuse("builtins.getattr"), state_dict_pickle(getattr_).stop())
    add("global_builtins_open.pt", "builtins.open(canary, 'w') creates the canary file",
        refuse("builtins.open"),
        state_dict_pickle(lambda p: p.call("builtins", "open", CANARY, "w")).stop(), creates=True)

    def nested_import(p):
        p.glob("torch._utils", "_rebuild_tensor_v2").mark()
        p.call("builtins", "__import__", "os")  # in place of the storage
        p.int(0).ints((2,)).ints((1,)).raw(b"\x89").ordered_dict().tuple().reduce()
    add("reduce_nested_import.pt", "allowed _rebuild_tensor_v2 called with a nested "
        "builtins.__import__('os') as its storage argument", refuse("builtins.__import__"),
        state_dict_pickle(nested_import).stop())

    inner = state_dict_pickle(lambda p: p.call("posix", "system", TOUCH)).stop()

    def load_from_bytes(p):
        p.glob("torch.storage", "_load_from_bytes").mark()
        p.raw(b"B" + struct.pack("<I", len(inner)) + inner)  # BINBYTES
        p.tuple().reduce()
    add("global_torch_load_from_bytes.pt", "torch.storage._load_from_bytes: a real torch "
        "global that unpickles nested bytes with the full unpickler (nested posix.system)",
        refuse("torch.storage._load_from_bytes"), state_dict_pickle(load_from_bytes).stop(),
        creates=True)
    add("global_torch_nn_module.pt", "torch.nn.modules.module.Module() inside an OrderedDict "
        "(OrderedDict itself is fine)", refuse("torch.nn.modules.module.Module"),
        state_dict_pickle(lambda p: p.call("torch.nn.modules.module", "Module")).stop())
    add("global_main_evil.pt", "__main__.Evil() inside an OrderedDict", refuse("__main__.Evil"),
        state_dict_pickle(lambda p: p.call("__main__", "Evil")).stop())

    # Object-building opcodes (refused whatever the class; OrderedDict is otherwise allowed).
    add("opcode_inst.pt", "INST collections.OrderedDict (class named inline, no GLOBAL)",
        "INST", state_dict_pickle(lambda p: p.mark().raw(b"icollections\nOrderedDict\n")).stop())
    add("opcode_obj.pt", "OBJ with class collections.OrderedDict", "OBJ",
        state_dict_pickle(lambda p: p.mark().glob("collections", "OrderedDict").raw(b"o")).stop())
    add("opcode_newobj.pt", "NEWOBJ with class collections.OrderedDict", "NEWOBJ",
        state_dict_pickle(lambda p: p.glob("collections", "OrderedDict").raw(b")\x81")).stop())

    def build_on_class(p):
        p.glob("collections", "OrderedDict").raw(b"}").str("__module__").str("pwned")
        p.raw(b"s").raw(b"b")  # SETITEM, BUILD on the class object itself
    add("opcode_build_on_class.pt", "BUILD applied to the class collections.OrderedDict itself "
        "(would set class attributes); torch's own BUILD targets an OrderedDict instance",
        "BUILD", state_dict_pickle(build_on_class).stop())

    # Resource exhaustion: nesting depth 100000.
    depth = 100_000
    p = PickleWriter().raw(b"]" * depth).raw(b"a" * (depth - 1))
    add("deep_nested_lists.pt", f"{depth} nested lists (EMPTY_LIST x N, APPEND x N-1)",
        "too deep", p.stop())
    marks = 20_000  # smaller: 2 bytes per level, and any depth cap far below it refuses it
    p = PickleWriter().raw(b"(" * marks).raw(b"t" * marks)
    add("deep_nested_marks.pt", f"{marks} MARKs closed by {marks} TUPLEs (nested tuples, "
        "deep MARK stack)", "too deep", p.stop())

    # Tensor / storage consistency.
    add("tensor_size_exceeds_storage.pt", "size (3, 3) stride (3, 1) over a storage of 4 floats",
        "exceeds storage",
        state_dict_pickle(lambda p: p.tensor("0", 4, 0, (3, 3), (3, 1))).stop())
    add("tensor_offset_exceeds_storage.pt", "offset 3 + size (2,) over a storage of 4 floats",
        "exceeds storage", state_dict_pickle(lambda p: p.tensor("0", 4, 3, (2,), (1,))).stop())
    add("storage_member_missing.pt", "persistent id names storage '7'; no data/7 in the zip",
        "data/7", state_dict_pickle(lambda p: p.tensor("7", 4, 0, (4,), (1,))).stop())
    add("storage_bytes_short.pt", "persistent id declares 8 floats for data/1; it holds 16 bytes",
        "data/1", state_dict_pickle(lambda p: p.tensor("1", 8, 0, (8,), (1,))).stop(),
        storages={**GOOD_STORAGE, "1": bytes(16)})
    add("storage_dtype_unsupported.pt", "storage type torch.ComplexFloatStorage",
        "ComplexFloatStorage",
        state_dict_pickle(lambda p: p.tensor("1", 2, 0, (2,), (1,), "ComplexFloatStorage")).stop(),
        storages={**GOOD_STORAGE, "1": bytes(16)})
    add("persistent_id_bad_tag.pt", "persistent id tuple tagged 'module' instead of 'storage'",
        "persistent id",
        state_dict_pickle(lambda p: p.tensor("0", 4, 0, (4,), (1,), tag="module")).stop())

    # Malformed pickle streams.
    good = state_dict_pickle().stop()
    add("pickle_truncated.pt", "data.pkl cut in the middle (no STOP)", "truncated",
        good[: len(good) // 2], well_formed=False)
    add("pickle_memo_missing.pt", "BINGET of a memo slot never written", "memo",
        PickleWriter().raw(b"h\x09").stop(), well_formed=False)
    add("pickle_stack_underflow.pt", "REDUCE on an empty stack", "stack",
        PickleWriter().raw(b"R").stop(), well_formed=False)
    add("zip_without_data_pkl.pt", "torch zip layout with storages but no data.pkl", "data.pkl",
        None, include_pickle=False)

    # Container-level damage.
    add("zip_corrupt_central_directory.pt", "valid checkpoint whose zip central directory "
        "bytes were overwritten", "central directory", good, corrupt_cd=True)
    add("random_bytes.pt", "4096 random bytes with a .pt extension", "unrecognized", None,
        random=True)
    add("legacy_posix_system.pt", "legacy (non-zip) checkpoint whose object pickle calls "
        "posix.system('touch ...')", refuse("posix.system"),
        state_dict_pickle(lambda p: p.call("posix", "system", TOUCH), legacy=True).stop(),
        creates=True, legacy=True)
    return cases


def corrupt_central_directory(path: Path, gen: np.random.Generator) -> None:
    data = bytearray(path.read_bytes())
    eocd = data.rfind(b"PK\x05\x06")
    assert eocd >= 0
    cd_size, cd_offset = struct.unpack("<II", data[eocd + 12:eocd + 20])
    assert cd_offset != 0xFFFFFFFF, "zip64 central directory: adjust the corruption"
    data[cd_offset:cd_offset + cd_size] = gen.bytes(cd_size)
    path.write_bytes(bytes(data))


class DryRunUnpickler(pickle.Unpickler):
    """Unpickles WITHOUT resolving any global: every global becomes a recorder, so we can see
    which calls a real unpickler would make (proves the payload is live, runs nothing)."""

    def __init__(self, data: bytes) -> None:
        super().__init__(io.BytesIO(data))
        self.calls: list[tuple[str, tuple]] = []

    def find_class(self, module, name):
        calls = self.calls

        class Recorder(dict):
            def __init__(self, *args, **kwargs):
                calls.append((f"{module}.{name}", args))

            def __setstate__(self, state):
                pass
        return Recorder

    def persistent_load(self, pid):
        return ("persistent", pid)


def gen_hostile() -> None:
    root = fresh_dir(FIXTURES / "hostile" / "pickle")
    gen = np.random.default_rng(seed_for("hostile"))
    canary_before = os.path.exists(CANARY)
    index = []
    for c in hostile_cases():
        path = root / c["file"]
        storages = c.get("storages")
        if c.get("random"):
            data = gen.bytes(4096)
            data = b"\x13" + data[1:]  # neither a pickle (0x80) nor a zip (PK)
            path.write_bytes(data)
        elif c.get("legacy"):
            write_legacy(path, c["pickle"], GOOD_STORAGE)
        else:
            write_torch_zip(path, c["pickle"], storages, c.get("include_pickle", True))
            if c.get("corrupt_cd"):
                corrupt_central_directory(path, gen)
        # Self-checks: well-formed pickles parse (pickletools runs nothing); malformed do not.
        if c["pickle"] is not None:
            try:
                pickletools.dis(c["pickle"], out=io.StringIO(), indentlevel=0)
                parsed = True
            except Exception:
                parsed = False
            assert parsed == c["well_formed"], f"{c['file']}: pickletools parsed={parsed}"
        if c["creates"]:
            runner = DryRunUnpickler(c["pickle"])
            runner.load()
            targets = [args for g, args in runner.calls
                       if g in ("os.system", "posix.system", "builtins.eval", "builtins.exec",
                                "builtins.open", "subprocess.Popen",
                                "torch.storage._load_from_bytes")]
            assert targets and any(CANARY in repr(a) or
                                   (isinstance(a[0], bytes) and CANARY.encode() in a[0])
                                   for a in targets), f"{c['file']}: payload not live"
        try:
            torch.load(path, weights_only=True)
            torch_refuses = False
        except Exception:
            torch_refuses = True
        entry = {"file": c["file"], "what": c["what"], "expect": c["expect"],
                 "torch_weights_only_refuses": torch_refuses}
        if c["creates"]:
            entry["creates_if_executed"] = CANARY
        index.append(entry)
    assert os.path.exists(CANARY) == canary_before, "a hostile pickle was executed!"
    write_json(root / "index.json", index)
    # Controls: the same scaffolding with only the good tensor; readers must accept these, which
    # shows each hostile file is refused for its hostile part.
    control = fresh_dir(root / "control")
    write_torch_zip(control / "valid.pt", state_dict_pickle().stop())
    write_legacy(control / "valid_legacy.pt", state_dict_pickle(legacy=True).stop(), GOOD_STORAGE)
    expected = torch.arange(4, dtype=torch.float32).reshape(2, 2)
    for name in ("valid.pt", "valid_legacy.pt"):
        loaded = torch.load(control / name, weights_only=True)
        assert list(loaded) == ["good"] and torch.equal(loaded["good"], expected), name


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
# HDF5 storage variants: what RNNKit's own HDF5 reader must read as libhdf5 reads it

# Case -> (prefix, variants); the LSTM (24 tensors, 10 attributes) for dense storage.
HDF5_MODELS = {"gru_bi_2l": ("model.encoder", None),
               "lstm_proj_bi_2l": ("model.encoder", ["earliest", "latest", "gzip_latest", "track_order"])}


def h5_dataset(group, name: str, data: np.ndarray, *, chunks=None, maxshape=None, layout=None,
               alloc_early=False, gzip=False, shuffle=False, fletcher32=False, fill=None):
    """A dataset through h5py's low-level API, which reaches the layouts the high-level one does
    not (compact storage, early allocation: the implicit chunk index)."""
    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    if layout == "compact":
        dcpl.set_layout(h5py.h5d.COMPACT)
    if chunks is not None:
        dcpl.set_chunk(tuple(chunks))
        if shuffle:
            dcpl.set_shuffle()
        if gzip:
            dcpl.set_deflate(4)
        if fletcher32:
            dcpl.set_fletcher32()
    if alloc_early:
        dcpl.set_alloc_time(h5py.h5d.ALLOC_TIME_EARLY)
    if fill is not None:
        dcpl.set_fill_value(np.array(fill, dtype=data.dtype))
    maxshape = tuple(h5py.h5s.UNLIMITED if m is None else m for m in (maxshape or data.shape))
    space = h5py.h5s.create_simple(data.shape, maxshape)
    tid = h5py.h5t.py_create(data.dtype, logical=1)
    dsid = h5py.h5d.create(group.id, name.encode(), tid, space, dcpl=dcpl)
    if data.size:
        dsid.write(h5py.h5s.ALL, h5py.h5s.ALL, np.ascontiguousarray(data))
    return dsid


# name -> (h5py.File keyword arguments, dataset options, what it covers); a callable option
# gives the options per tensor shape.
HDF5_VARIANTS = {
    "earliest": ({}, {}, "h5py defaults: superblock 0, object header 1, symbol tables, contiguous"),
    "latest": ({"libver": "latest"}, {}, "superblock 3, object header 2, dense links and attributes"),
    "track_order": ({"track_order": True}, {}, "creation order tracked and indexed"),
    "compact": ({}, {"layout": "compact"}, "compact datasets"),
    "gzip": ({}, {"chunks": "auto", "gzip": True, "shuffle": True, "fletcher32": True},
             "chunked: gzip, shuffle, fletcher32, B-tree 1 chunk index"),
    "small_chunks": ({}, {"chunks": (1, 2), "gzip": True}, "many edge chunks, a multi-level chunk B-tree"),
    "gzip_latest": ({"libver": "latest"}, {"chunks": "auto", "gzip": True, "shuffle": True, "fletcher32": True},
                    "layout 4, single chunk index with filters"),
    "single_latest": ({"libver": "latest"}, {"chunks": "whole"}, "layout 4, single chunk index"),
    "implicit_latest": ({"libver": "latest"}, {"chunks": (4, 3), "alloc_early": True}, "layout 4, implicit index"),
    "fixed_latest": ({"libver": "latest"}, {"chunks": (2, 2)}, "layout 4, fixed array index"),
    "fixed_gzip_latest": ({"libver": "latest"}, {"chunks": (2, 2), "gzip": True, "fletcher32": True},
                          "layout 4, fixed array of filtered chunks"),
    "extensible_latest": ({"libver": "latest"}, {"chunks": (1, 2), "maxshape": "rows"},
                          "layout 4, extensible array index (one unlimited dimension)"),
    "extensible_gzip_latest": ({"libver": "latest"}, {"chunks": (1, 2), "maxshape": "rows", "gzip": True, "shuffle": True},
                               "layout 4, extensible array of filtered chunks"),
    "btree2_latest": ({"libver": "latest"}, {"chunks": (2, 2), "maxshape": "both"}, "layout 4, B-tree 2 index"),
    "btree2_gzip_latest": ({"libver": "latest"}, {"chunks": (2, 2), "maxshape": "both", "gzip": True},
                           "layout 4, B-tree 2 index of filtered chunks"),
    "userblock": ({"userblock_size": 512}, {}, "a 512-byte user block before the superblock"),
    "big_endian": ({}, {"dtype": ">f4"}, "big-endian float32"),
    "float64": ({}, {"dtype": "<f8"}, "float64 (narrowed to float32 on reading)"),
}


def h5_file(path: Path, file_options: dict):
    return h5py.File(path, "w", **file_options)


def tensor_options(options: dict, shape: tuple) -> dict:
    out = {k: v for k, v in options.items() if k != "dtype"}
    chunks = out.get("chunks")
    if chunks == "auto":
        out["chunks"] = tuple(max(1, (d + 1) // 2) for d in shape)
    elif chunks == "whole":
        out["chunks"] = shape
    elif chunks is not None:
        chunks = tuple(chunks[-len(shape):]) if len(shape) < len(chunks) else tuple(chunks)
        out["chunks"] = chunks if out.get("maxshape") else tuple(min(c, d) for c, d in zip(chunks, shape))
    if out.get("maxshape") == "rows":
        out["maxshape"] = (None,) + shape[1:]
    elif out.get("maxshape") == "both":
        out["maxshape"] = (None,) * len(shape)
    return out


def gen_hdf5() -> None:
    """fixtures/hdf5/: the float cases' models stored by h5py in every way RNNKit's reader covers
    (attrs.h5's layout: module groups with attributes), plus files of attributes and datasets
    of every kind the profile reads. Expected values: PyTorch's outputs in fixtures/float, and
    for every byte, what libhdf5 itself reads (tools/hdf5_oracle.py, at test time)."""
    out = fresh_dir(FIXTURES / "hdf5")
    index = {"models": [], "files": []}
    for case_name, (prefix, variants) in HDF5_MODELS.items():
        case, state = float_case_state(case_name)
        cfg = case["config"]
        p = prefix + "."
        for variant, (file_options, options, covers) in HDF5_VARIANTS.items():
            if variants is not None and variant not in variants:
                continue
            name = f"{case_name}.{variant}.h5"
            with h5_file(out / name, file_options) as f:
                f.attrs["format"] = "rnnkit"
                f.attrs["format_version"] = "1.0"
                f.attrs["producer"] = "make_fixtures.py"
                group = f.require_group(h5_path(prefix))
                group.attrs["module"] = case["module"]
                for key in ("input_size", "hidden_size", "num_layers", "proj_size"):
                    group.attrs[key] = np.int64(cfg[key])
                for key in ("bias", "batch_first", "bidirectional"):
                    group.attrs[key] = np.bool_(cfg[key])
                group.attrs["dropout"] = np.float64(cfg["dropout"])
                group.attrs["nonlinearity"] = cfg["nonlinearity"]
                for key, tensor in state.items():
                    if key.startswith(p) and "." not in key[len(p):]:
                        data = tensor.detach().float().numpy().astype(options.get("dtype", "<f4"))
                        h5_dataset(group, key[len(p):], data, **tensor_options(options, data.shape))
            index["models"].append({"file": f"hdf5/{name}", "case": f"float/{case_name}", "prefix": prefix,
                                    "variant": variant, "covers": covers})

    def attribute_zoo(f):
        for obj in (f, f.require_group("group")):
            obj.attrs["vlen_string"] = "variable-length UTF-8 ✓"
            obj.attrs["empty_string"] = ""
            obj.attrs["fixed_ascii"] = np.bytes_(b"fixed")
            obj.attrs["fixed_array"] = np.array([b"a", b"bc", b"def"], dtype="S3")
            obj.attrs.create("vlen_array", ["x", "yz", ""], dtype=h5py.string_dtype())
            obj.attrs["bool"] = np.bool_(True)
            obj.attrs["bools"] = np.array([True, False, True])
            obj.attrs.create("enum", np.int16(2), dtype=h5py.enum_dtype({"RED": 0, "GREEN": 1, "BLUE": 2}, basetype="i2"))
            for t in ("i1", "u1", "<i2", ">u2", "<i4", ">i4", "<u4", "<i8", ">i8", "<u8"):
                values = [1, -1, 127] if "i" in t else [1, 2, 255]
                obj.attrs["int_" + t.strip("<>") + ("_be" if t.startswith(">") else "")] = np.array(values, dtype=t)
            for t in ("<f2", "<f4", ">f4", "<f8", ">f8"):
                obj.attrs["float_" + t[1:] + ("_be" if t.startswith(">") else "")] = np.array([0.5, -2.25, 1e-3, np.inf, -np.inf], dtype=t)
            obj.attrs["scalar_int"] = np.int64(-7)
            obj.attrs["one_element"] = np.array([3.5])
            obj.attrs["matrix"] = np.arange(6, dtype="<i4").reshape(2, 3)
        f.create_dataset("with_attributes", data=np.arange(4, dtype="<f4")).attrs["note"] = "on a dataset"

    def dataset_zoo(f):
        rng = np.random.default_rng(seed_for("hdf5 datasets"))
        for t in ("i1", "u1", "<i2", ">i2", "<u2", "<i4", ">u4", "<i8", "<u8", "<f2", ">f2", "<f4", "<f8", ">f8"):
            data = (rng.standard_normal((3, 5)) * 50).astype(t)
            f.create_dataset("type_" + t.replace("<", "le_").replace(">", "be_"), data=data)
        f.create_dataset("scalar", data=np.float32(2.5))
        f.create_dataset("empty", data=np.zeros((0, 3), dtype="<f4"))
        f.create_dataset("rank8", data=rng.standard_normal((2,) * 8).astype("<f4"))
        h5_dataset(f, "fill_missing_chunks", np.zeros((6, 6), dtype="<f4"), chunks=(2, 2), fill=7.0)
        ds = f["fill_missing_chunks"]
        ds[0:2, 0:2] = 1.0  # one chunk written; the others read as the fill value
        h5_dataset(f, "paged_fixed_array", np.arange(1500, dtype="<f4"), chunks=(1,))
        h5_dataset(f, "extensible_many", np.arange(600, dtype="<f4"), chunks=(1,), maxshape=(None,))
        h5_dataset(f, "extensible_swizzled", np.arange(60, dtype="<f4").reshape(3, 20), chunks=(2, 3), maxshape=(3, None))
        h5_dataset(f, "btree2_filtered", rng.standard_normal((9, 7)).astype("<f4"), chunks=(2, 3), maxshape=(None, None),
                   gzip=True, shuffle=True, fletcher32=True)
        h5_dataset(f, "deep_chunk_btree", np.arange(1000, dtype="<f4"), chunks=(1,))
        nested = f
        for level in range(12):
            nested = nested.require_group(f"level{level}")
        nested.create_dataset("deep", data=np.ones(2, dtype="<f4"))
        many = f.require_group("many_links")
        for i in range(40):
            many.create_dataset(f"d{i:02}", data=np.full(1, i, dtype="<i2"))
        for i in range(20):
            many.attrs[f"a{i:02}"] = np.int32(i)

    for name, options, fill, covers in (
        ("attributes.h5", {}, attribute_zoo, "attribute types (h5py defaults)"),
        ("attributes_latest.h5", {"libver": "latest"}, attribute_zoo, "attribute types (libver latest)"),
        ("datasets.h5", {}, dataset_zoo, "dataset types, shapes, fill values, many chunks, deep groups (h5py defaults)"),
        ("datasets_latest.h5", {"libver": "latest"}, dataset_zoo,
         "dataset types, paged fixed arrays, extensible arrays with super blocks, dense links and attributes (libver latest)"),
    ):
        with h5py.File(out / name, "w", **options) as f:
            fill(f)
        index["files"].append({"file": f"hdf5/{name}", "covers": covers})
    write_json(out / "index.json", index)


# ----------------------------------------------------------------------------------------------
# Index and main

GROUPS = {"float": gen_float, "quant": gen_quant, "checkpoints": gen_checkpoints,
          "hostile": gen_hostile, "hdf5": gen_hdf5}


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


def disk_usage(path: Path) -> tuple[int, int]:
    """(apparent bytes, allocated bytes as du counts them) of everything under `path`."""
    entries = [path, *path.rglob("*")]
    apparent = sum(p.stat().st_size for p in entries if p.is_file())
    allocated = sum(p.stat().st_blocks * 512 for p in entries)
    return apparent, allocated


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
    apparent, allocated = disk_usage(FIXTURES)
    print(f"fixtures/: {apparent} bytes of data, {allocated} bytes on disk (du)")
    assert allocated < SIZE_LIMIT, f"fixtures/ takes {allocated} bytes, over {SIZE_LIMIT}"


if __name__ == "__main__":
    main(sys.argv[1:])
