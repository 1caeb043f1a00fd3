#!/usr/bin/env bash
# Sets up what is missing, then runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/ensure-deps.sh
swift build --build-tests
swift test --skip-build "$@"
