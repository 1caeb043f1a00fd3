#!/usr/bin/env bash
# The arm64 kernels, tested under emulation: cross-compiles Sources/CRNNKernels and the C harness
# Tests/arm64/kernels_test.c with Debian's aarch64-linux-gnu-gcc (static, -O2, no -march, so the
# dot-product and SHA-2 code is picked at run time as on a real machine), runs the harness under
# qemu-aarch64 on CPU models with and without the dot product, and compares every arm64 run's
# --digest (what the best level computes for fixed inputs) with this machine's own x86-64 kernels.
# When a clang that targets aarch64 is on PATH (the Swift toolchain's: what SwiftPM compiles the
# kernels with), its build runs the same checks.
#
# Installs what is missing (apt-get): gcc-aarch64-linux-gnu, libc6-dev-arm64-cross, qemu-user,
# and a native C compiler for the x86-64 digest. Takes well under a minute once installed.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
out=.build/arm64-test
mkdir -p "$out"

need=()
command -v aarch64-linux-gnu-gcc >/dev/null || need+=(gcc-aarch64-linux-gnu)
[ -e /usr/aarch64-linux-gnu/include/stdio.h ] || need+=(libc6-dev-arm64-cross)
command -v qemu-aarch64 >/dev/null || need+=(qemu-user)
host_arch=$(uname -m)
host_cc=
if [ "$host_arch" = x86_64 ]; then
    host_cc=$(command -v cc || command -v gcc || command -v clang || true)
    [ -n "$host_cc" ] || need+=(gcc)
fi
if ((${#need[@]})); then
    sudo=
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    echo "installing: ${need[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
    [ -n "$host_cc" ] || [ "$host_arch" != x86_64 ] || host_cc=$(command -v cc || command -v gcc)
fi

kernels=(Sources/CRNNKernels/*.c)
include=-ISources/CRNNKernels/include
harness=Tests/arm64/kernels_test.c
# The harness itself without contraction, so that its random inputs are the same floats on both
# architectures (GCC would fuse a * b + c on arm64 only). The kernels get the compiler's defaults.
cflags=(-O2 -std=gnu11 -Wall -Wextra -Werror -Wno-unknown-pragmas)

build() { # build NAME CC [flags for the kernels...]
    local name=$1 cc=$2 objects=()
    shift 2
    mkdir -p "$out/$name"
    for source in "${kernels[@]}"; do
        local object="$out/$name/$(basename "$source" .c).o"
        $cc "${cflags[@]}" "$@" $include -c "$source" -o "$object"
        objects+=("$object")
    done
    $cc "${cflags[@]}" "$@" -ffp-contract=off $include -c "$harness" -o "$out/$name/kernels_test.o"
    aarch64-linux-gnu-gcc -static -pthread "${objects[@]}" "$out/$name/kernels_test.o" -lm -o "$out/$name/kernels_test"
}

# CPU model, the level it must detect, the harness's volume.
runs=(
    "neoverse-n1 NEON_DOTPROD --rounds 3 --map-values 400000"
    "cortex-a53 NEON --rounds 3 --map-values 400000"
    "max NEON_DOTPROD --rounds 1"
)

reference=
if [ -n "$host_cc" ]; then
    mkdir -p "$out/x86"
    $host_cc "${cflags[@]}" -ffp-contract=off $include -c "$harness" -o "$out/x86/kernels_test.o"
    $host_cc "${cflags[@]}" $include "${kernels[@]}" "$out/x86/kernels_test.o" -pthread -lm -o "$out/x86/kernels_test"
    reference=$("$out/x86/kernels_test" --digest)
    echo "x86-64 reference: $(head -1 <<<"$reference")"
fi

check_build() { # check_build NAME
    local name=$1 line model level args digest
    for line in "${runs[@]}"; do
        read -r model level args <<<"$line"
        echo "== $name, qemu -cpu $model"
        # shellcheck disable=SC2086
        qemu-aarch64 -cpu "$model" "$out/$name/kernels_test" --expect "$level" --expect-sha 1 $args
        digest=$(qemu-aarch64 -cpu "$model" "$out/$name/kernels_test" --digest)
        if [ -n "$reference" ]; then
            if ! diff <(grep '^digest' <<<"$reference") <(grep '^digest' <<<"$digest") >/dev/null; then
                echo "FAIL: $name on $model computes other numbers than the x86-64 kernels:"
                diff <(grep '^digest' <<<"$reference") <(grep '^digest' <<<"$digest") || true
                exit 1
            fi
            echo "digest: the same numbers as the x86-64 kernels ($(grep -c '^digest' <<<"$digest") kernels)"
        fi
    done
}

build gcc aarch64-linux-gnu-gcc
check_build gcc

clang=$(command -v clang || true)
if [ -n "$clang" ] && "$clang" --target=aarch64-linux-gnu --sysroot=/usr/aarch64-linux-gnu -c -x c /dev/null -o /dev/null 2>/dev/null; then
    build clang "$clang" --target=aarch64-linux-gnu --sysroot=/usr/aarch64-linux-gnu
    check_build clang
else
    echo "no clang for aarch64 on PATH: the clang build is skipped"
fi
echo "arm64 kernels OK ($((SECONDS - start)) s)"
