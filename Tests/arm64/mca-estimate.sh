#!/usr/bin/env bash
# Static throughput estimates of the arm64 one-row products' inner loops (BENCHMARKS.md, "arm64
# (estimated, not measured)"): compiles the kernels for aarch64 with clang -O2, takes from the
# assembly the self-looping block with the most fmla (float32), sdot (int8 dot product) and
# sadalp (int8 widening), and runs llvm-mca on it.
#
#   Tests/arm64/mca-estimate.sh [CPU ...]      (default apple-m1)
#
# Needs clang with the aarch64 target and a sysroot for its headers (tools/test-arm64.sh installs
# Debian's), and llvm-mca (Debian: apt-get install llvm).
set -euo pipefail
cd "$(dirname "$0")/../.."
cpus=("$@")
[ ${#cpus[@]} -gt 0 ] || cpus=(apple-m1)
clang=${CLANG:-clang}
mca=${MCA:-llvm-mca}
out=.build/arm64-mca
mkdir -p "$out"
for source in f32_gemm s8_gemm; do
    "$clang" --target=aarch64-linux-gnu --sysroot=/usr/aarch64-linux-gnu -O2 -std=gnu11 \
        -ISources/CRNNKernels/include -S "Sources/CRNNKernels/$source.c" -o "$out/$source.s"
done

# The body of the first self-looping block (its last instruction branches to its own label) with
# exactly $3 instructions matching $2, from assembly file $1: the one-row loops are the only ones
# with 64 fmla (4 panels x 4 columns x 4 registers), 16 sdot (4 groups x 4 registers) and 8 sadalp
# (1 group, 8 accumulators).
loop_with() {
    awk -v pattern="$2" -v want="$3" '
        function finish() {
            if (text == "" && label != "" && n > 0 && body[n] ~ ("[ \t,]" label "$")) {
                hits = 0
                for (i = 1; i <= n; ++i) if (body[i] ~ pattern) ++hits
                if (hits == want) for (i = 1; i <= n; ++i) text = text body[i] "\n"
            }
            n = 0
        }
        /^[.A-Za-z_][A-Za-z0-9_.]*:/ { finish(); label = substr($1, 1, length($1) - 1); next }
        /^\/\/ %bb\.[0-9]+:/ { finish(); label = ""; next } # a block nothing branches to
        { sub(/\/\/.*/, ""); gsub(/^[ \t]+|[ \t]+$/, ""); if ($0 != "" && $0 !~ /^\./) body[++n] = $0 }
        END { finish(); printf "%s", text }
    ' "$1"
}

loop_with "$out/f32_gemm.s" '^fmla.*s[[]' 64 >"$out/f32_row.s"
loop_with "$out/s8_gemm.s" '^sdot.*4b[[]' 16 >"$out/s8_dot_row.s"
loop_with "$out/s8_gemm.s" '^sadalp' 8 >"$out/s8_neon_row.s"
for loop in f32_row s8_dot_row s8_neon_row; do
    [ -s "$out/$loop.s" ] || { echo "no $loop loop found in the assembly" >&2; exit 1; }
done

# loop, what one iteration reads, what it computes
loops=(
    "f32_row 1024 4 columns x 64 outputs (fmla by element)"
    "s8_dot_row 256 4 groups x 16 outputs (sdot by element)"
    "s8_neon_row 64 1 group x 16 outputs (smull, sadalp)"
)
for cpu in "${cpus[@]}"; do
    echo "llvm-mca -mcpu=$cpu ($("$mca" --version | awk '/LLVM version/ {print $NF}'))"
    printf "%-12s %6s %8s %7s  %s\n" loop instrs cycles "B/cyc" "one iteration"
    for line in "${loops[@]}"; do
        read -r name bytes what <<<"$line"
        cycles=$("$mca" -mtriple=aarch64-linux-gnu -mcpu="$cpu" -mattr=+dotprod -iterations=200 "$out/$name.s" | awk '/Total Cycles/ {print $3 / 200}')
        printf "%-12s %6d %8.2f %7.1f  %s bytes: %s\n" "$name" "$(wc -l <"$out/$name.s")" "$cycles" \
            "$(awk -v b="$bytes" -v c="$cycles" 'BEGIN {print b / c}')" "$bytes" "$what"
    done
done
