#!/usr/bin/env bash
# Builds the libFuzzer harnesses in Fuzz/ (address sanitizer on) and runs one or all of them.
#
#   tools/fuzz.sh TARGET SECONDS      TARGET: hdf5, npy, checkpoint, safetensors, or all
#   tools/fuzz.sh TARGET SECONDS -- [libFuzzer flags]
#   tools/fuzz.sh TARGET replay FILE...   run the harness once on each FILE (reproduce a crash)
#
# Seeds come from fixtures/ (copied to fuzz-corpus/seeds/TARGET); what the fuzzer finds grows
# fuzz-corpus/TARGET across runs; crashing inputs land in fuzz-corpus/artifacts/TARGET. The
# harnesses live in their own package (Fuzz/Package.swift) so the root package stays free of
# sanitizer flags; the build uses its own scratch path, .build-fuzz (or $FUZZ_SCRATCH). Exit status is non-zero
# when any run found a crash, a leak, a timeout or an out-of-memory input.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { echo "usage: tools/fuzz.sh hdf5|npy|checkpoint|pickle|safetensors|all SECONDS [-- libFuzzer flags]" >&2; exit 2; }
[ $# -ge 2 ] || usage
target=$1; seconds=$2; shift 2
[ "${1:-}" = "--" ] && shift
all_targets=(hdf5 npy checkpoint pickle safetensors)

product() {
  case $1 in
    hdf5) echo FuzzHDF5 ;; npy) echo FuzzNpy ;; checkpoint) echo FuzzCheckpoint ;; pickle) echo FuzzPickle ;;
    safetensors) echo FuzzSafetensors ;;
    *) usage ;;
  esac
}

# Which fixture files seed each target (all of them where the reader sniffs the format).
seed_files() {
  case $1 in
    hdf5) find fixtures -name '*.h5' ;;
    npy) find fixtures -name '*.npy' ;;
    checkpoint) find fixtures -name '*.pt' ;;
    # The pickles inside the checkpoints (data.pkl), and the hostile raw pickles.
    # A deliberately broken archive among the fixtures seeds as it is.
    pickle) python3 -c 'import sys, zipfile, pathlib
for p in sorted(pathlib.Path("fixtures").rglob("*.pt")):
    try:
        with zipfile.ZipFile(p) as z:
            for n in z.namelist():
                if n.endswith("/data.pkl"):
                    out = pathlib.Path(sys.argv[1]) / (str(p).replace("/", "_") + ".pkl")
                    out.write_bytes(z.read(n)); print(out)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError):
        print(p)' fuzz-corpus/seeds/pickle ;;
    safetensors) find fixtures -name '*.safetensors' ;;
  esac
}

build() {
  # -enable-testing lets the pickle harness reach the unpickler (internal API).
  swift build -c release --package-path Fuzz --scratch-path "$scratch" --product "$(product "$1")" \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -use-ld=lld -Xswiftc -enable-testing >&2
}

scratch=${FUZZ_SCRATCH:-.build-fuzz}
binary() { echo "$scratch/release/$(product "$1")"; }

export SWIFT_BACKTRACE=enable=no   # let ASan and libFuzzer report, not Swift's interactive backtracer
# Leak detection is off unless asked for: the HDF5 harness writes every input that loads back
# through libhdf5, whose library-lifetime allocations LeakSanitizer would report at exit.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:allocator_may_return_null=1}

if [ "$seconds" = replay ]; then
  build "$target"
  export RNNKIT_FUZZ_VERBOSE=1
  exec "$(binary "$target")" -runs=1 "$@"
fi
[[ "$seconds" =~ ^[0-9]+$ ]] || usage

run() {
  local t=$1 seeds=fuzz-corpus/seeds/$1 corpus=fuzz-corpus/$1 artifacts=fuzz-corpus/artifacts/$1
  shift
  build "$t"
  rm -rf "$seeds"; mkdir -p "$seeds" "$corpus" "$artifacts"
  seed_files "$t" | while read -r f; do
    [ "$(dirname "$f")" = "$seeds" ] || cp "$f" "$seeds/$(echo "${f#fixtures/}" | tr / _)"
  done
  local before log start status
  before=$(ls "$artifacts" | wc -l)
  log=fuzz-corpus/$t.log
  start=$(date +%s)
  status=0
  "$(binary "$t")" "$corpus" "$seeds" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$artifacts/" "$@" >"$log" 2>&1 || status=$?
  # Scratch inputs of harness processes that have ended (fork mode leaves one pair per job).
  for f in /dev/shm/rnnkit-fuzz-* "${TMPDIR:-/tmp}"/rnnkit-fuzz-*; do
    [ -e "$f" ] || continue
    pid=${f##*/rnnkit-fuzz-}; pid=${pid%%-*}
    kill -0 "$pid" 2>/dev/null || rm -f "$f"
  done
  local runs found
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1 || true)
  # -fork=N prints no final stats; its status lines start with "#<executions>".
  [ -n "$runs" ] || runs=$(grep -o '^#[0-9]*' "$log" | tail -1 | tr -d '#' || true)
  found=$(( $(ls "$artifacts" | wc -l) - before ))
  echo "fuzz $t: ${runs:-0} executions in $(( $(date +%s) - start )) s, corpus $(ls "$corpus" | wc -l) inputs, $found new crash(es), exit $status (log $log)"
  if [ "$found" -gt 0 ] || [ "$status" -ne 0 ]; then
    grep -m3 -E 'ERROR|Fatal error|SUMMARY' "$log" >&2 || true
    return 1
  fi
}

failed=0
if [ "$target" = all ]; then
  for t in "${all_targets[@]}"; do run "$t" "$@" || failed=1; done
else
  product "$target" >/dev/null
  run "$target" "$@" || failed=1
fi
exit $failed
