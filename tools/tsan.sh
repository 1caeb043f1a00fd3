#!/usr/bin/env bash
# Builds the tests with ThreadSanitizer (own scratch path, .build-tsan) and runs the
# concurrency suites under it: the HDF5 lock, the runtime's shared modules, and many tasks
# loading, running and writing at once. Extra arguments go to `swift test` (e.g. --filter).
#
#   tools/tsan.sh                # the concurrency suites
#   tools/tsan.sh --filter Npy   # another selection
set -euo pipefail
cd "$(dirname "$0")/.."
tools/ensure-deps.sh
scratch=.build-tsan
swift build --build-tests --sanitize=thread --scratch-path "$scratch"
# halt_on_error: the first race fails the run; libhdf5 is not instrumented, so only races in
# Swift code (and around the lock that serialises libhdf5) are seen.
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}
if [ $# -eq 0 ]; then
  set -- --filter 'Concurrency|ConcurrencyStress|Concurrent'
fi
swift test --skip-build --sanitize=thread --scratch-path "$scratch" "$@"
