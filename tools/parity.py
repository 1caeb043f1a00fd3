#!/usr/bin/env python3
"""Runs the built rnnconvert on every PyTorch fixture call and reports how far its outputs are
from PyTorch's (max and mean absolute difference), per source file kind.

    swift build -c release --product rnnconvert
    python3 tools/parity.py [--bin .build/release/rnnconvert]

Float cases run from their h5py dump (`dump.h5`, converted to a canonical file with `import`),
their attribute file, their torch.save checkpoint and their safetensors file; quantized cases
are quantized from their float dump by `rnnconvert quantize` and also imported from PyTorch's
own quantized checkpoint (`qmodel.pt`). Needs numpy only. Exits non-zero when a float result
is more than 1e-5 or an int8 result more than 1e-4 from PyTorch.
"""
import argparse, json, os, subprocess, sys, tempfile
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIX = os.path.join(ROOT, "fixtures")


def rnn(binary, *args):
    r = subprocess.run([binary, *args], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"rnnconvert {' '.join(args)}: {r.stderr.strip()}")


def modules_of(case):
    if "modules" in case:
        return case["modules"]
    return [{"prefix": case["prefix"], "module": case["module"], "config": case["config"], "calls": case["calls"]}]


def flags_for(config):
    flags = []
    if config.get("batch_first"):
        flags.append("--batch-first")
    if config.get("nonlinearity") == "relu":
        flags += ["--nonlinearity", "relu"]
    return flags


def run_calls(binary, model, directory, module, tmp, stats, key):
    for call in module["calls"]:
        out = tempfile.mkdtemp(dir=tmp)
        args = ["run", model, "--input", os.path.join(directory, call["input"]), "--out", out,
                "--module", module["prefix"]]
        for opt in ("h0", "c0", "lengths"):
            if call.get(opt):
                args += [f"--{opt}", os.path.join(directory, call[opt])]
        rnn(binary, *args)
        for field in ("output", "h_n", "c_n"):
            if call.get(field):
                ours = np.load(os.path.join(out, f"{field}.npy"))
                theirs = np.load(os.path.join(directory, call[field]))
                assert ours.shape == theirs.shape, (model, call["name"], field, ours.shape, theirs.shape)
                d = np.abs(ours.astype(np.float64) - theirs.astype(np.float64))
                s = stats.setdefault(key, {"calls": 0, "elements": 0, "max": 0.0, "sum": 0.0, "equal": 0})
                s["elements"] += d.size
                s["max"] = max(s["max"], float(d.max()) if d.size else 0.0)
                s["sum"] += float(d.sum())
                s["equal"] += int((d == 0).sum())
        stats[key]["calls"] += 1


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", default=os.path.join(ROOT, ".build", "release", "rnnconvert"))
    binary = parser.parse_args().bin
    index = json.load(open(os.path.join(FIX, "index.json")))
    stats = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in index["float"]:
            directory = os.path.join(FIX, name)
            case = json.load(open(os.path.join(directory, "case.json")))
            for module in modules_of(case):
                flags = flags_for(module["config"])
                canonical = os.path.join(tmp, f"{os.path.basename(name)}.h5")
                if not os.path.exists(canonical):
                    rnn(binary, "import", os.path.join(directory, case["files"]["dump"]), "-o", canonical, *flags)
                sources = {"float: import of h5py dump": canonical}
                for kind, label in (("attrs", "float: h5py file with attributes"),
                                    ("pt", "float: torch.save state_dict"), ("train_pt", "float: torch.save training dict"),
                                    ("safetensors", "float: safetensors")):
                    if kind in case["files"]:
                        source = os.path.join(directory, case["files"][kind])
                        if kind != "attrs" and flags:
                            converted = os.path.join(tmp, f"{os.path.basename(name)}.{kind}.h5")
                            if not os.path.exists(converted):
                                rnn(binary, "import", source, "-o", converted, *flags)
                            source = converted
                        sources[label] = source
                for label, model in sources.items():
                    run_calls(binary, model, directory, module, tmp, stats, label)
        for name in index["quant"]:
            directory = os.path.join(FIX, name)
            case = json.load(open(os.path.join(directory, "case.json")))
            quantized = os.path.join(tmp, f"q_{os.path.basename(name)}.h5")
            flags = flags_for(case["config"])
            rnn(binary, "quantize", os.path.join(directory, case["files"]["dump"]), "-o", quantized, *flags)
            imported = os.path.join(directory, case["quant"]["qmodel_pt"])
            if flags:
                converted = os.path.join(tmp, f"q_{os.path.basename(name)}.pt.h5")
                rnn(binary, "import", imported, "-o", converted, *flags)
                imported = converted
            for module in modules_of(case):
                run_calls(binary, quantized, directory, module, tmp, stats, "int8: rnnconvert quantize of the float dump")
                run_calls(binary, imported, directory, module, tmp, stats,
                          "int8: PyTorch's quantized checkpoint (qmodel.pt)")
    failed = False
    print("| source | calls | elements | bit-identical | max abs | mean abs |")
    print("|---|---:|---:|---:|---:|---:|")
    for key, s in stats.items():
        bound = 1e-4 if key.startswith("int8") else 1e-5
        failed |= s["max"] > bound
        print(f"| {key} | {s['calls']} | {s['elements']} | {100.0 * s['equal'] / s['elements']:.2f}% | "
              f"{s['max']:.2e} | {s['sum'] / s['elements']:.2e} |")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
