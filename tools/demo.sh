#!/usr/bin/env bash
# Sets up what is missing, builds rnnconvert and runs it on a bundled fixture.
set -euo pipefail
cd "$(dirname "$0")/.."
RNNKIT_SKIP_PYTHON=1 tools/ensure-deps.sh
swift build -c release --product rnnconvert
bin="$(swift build -c release --show-bin-path)/rnnconvert"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
echo "== rnnconvert --help"; "$bin" --help
