#!/usr/bin/env bash
# Sets up what is missing, builds rnnconvert, and converts, inspects, runs and checks bundled
# PyTorch models (fixtures/, made by tools/make_fixtures.py) against PyTorch's own outputs.
set -euo pipefail
cd "$(dirname "$0")/.."
RNNKIT_SKIP_PYTHON=1 tools/ensure-deps.sh
swift build -c release --product rnnconvert
bin="$(swift build -c release --show-bin-path)/rnnconvert"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
step() { printf '\n== %s\n' "$*"; }

case=fixtures/float/gru_bi_2l   # a 2-layer bidirectional GRU at state_dict prefix model.encoder

step "import a bare h5py dump of a PyTorch state_dict into a canonical RNNKit file"
"$bin" import "$case/dump.h5" -o "$out/gru.h5"

step "inspect it"
"$bin" inspect "$out/gru.h5"

step "verify its checksums"
"$bin" verify "$out/gru.h5"

step "run it on PyTorch's test input, and compare with PyTorch's outputs"
"$bin" run "$out/gru.h5" --input "$case/batched.input.npy" --out "$out/run"
"$bin" compare "$case/batched.output.npy" "$out/run/output.npy" --max-abs 1e-5
"$bin" compare "$case/batched.h_n.npy" "$out/run/h_n.npy" --max-abs 1e-5

step "variable-length batch (packed-sequence semantics, unsorted lengths)"
"$bin" run "$out/gru.h5" --input "$case/packed.input.npy" --lengths "$case/packed.lengths.npy" --out "$out/packed"
"$bin" compare "$case/packed.output.npy" "$out/packed/output.npy" --max-abs 1e-5

step "the same model straight from the torch.save training checkpoint (no Python, nothing executed)"
"$bin" inspect "$case/train.pt"
"$bin" run "$case/train.pt" --module model.encoder --input "$case/batched.input.npy" --out "$out/pt"
"$bin" compare "$case/batched.output.npy" "$out/pt/output.npy" --max-abs 1e-5

qcase=fixtures/quant/qgru_bi_2l   # the float GRU PyTorch's quantize_dynamic turned into int8

step "quantize a float GRU to dynamic int8 with PyTorch's rules, run it, compare with PyTorch's quantized GRU"
"$bin" quantize "$qcase/dump.h5" -o "$out/qgru.h5"
"$bin" inspect "$out/qgru.h5"
"$bin" run "$out/qgru.h5" --input "$qcase/packed.input.npy" --lengths "$qcase/packed.lengths.npy" --out "$out/q"
"$bin" compare "$qcase/packed.output.npy" "$out/q/output.npy" --max-abs 1e-4

printf '\nall outputs match PyTorch (float within 1e-5, int8 within 1e-4)\n'
