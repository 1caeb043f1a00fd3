/* Shared by the CRNNKernels sources; not part of the public header. */
#ifndef CRNN_INTERNAL_H
#define CRNN_INTERNAL_H

#include "CRNNKernels.h"
#include <string.h>

#if defined(__x86_64__) || defined(_M_X64)
#define CRNN_X86 1
#include <immintrin.h>
#define CRNN_AVX2 __attribute__((target("avx2,fma")))
#define CRNN_AVX2_VNNI __attribute__((target("avx2,fma,avxvnni")))
#define CRNN_AVX512 __attribute__((target("avx2,fma,avx512f,avx512bw,avx512vl,avx512vnni")))
#else
#define CRNN_X86 0
#endif

/* AArch64 little-endian (every Apple and Linux arm64 target): Advanced SIMD is part of the base
 * architecture, so NEON code needs no attribute; the optional extensions get one per function,
 * spelled as each compiler's arm_neon.h wants it (GCC's dot-product intrinsics are declared for
 * armv8.2-a, its SHA-2 ones under "crypto"). The lane layouts the NEON code relies on are those
 * of little-endian loads. */
#if defined(__aarch64__) && defined(__ORDER_LITTLE_ENDIAN__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define CRNN_ARM64 1
#include <arm_neon.h>
#if defined(__clang__)
#define CRNN_DOTPROD __attribute__((target("dotprod")))
#define CRNN_SHA2 __attribute__((target("sha2")))
#else
#define CRNN_DOTPROD __attribute__((target("arch=armv8.2-a+dotprod")))
#define CRNN_SHA2 __attribute__((target("+crypto")))
#endif
#else
#define CRNN_ARM64 0
#endif

#define CRNN_INLINE static inline __attribute__((always_inline))

#if CRNN_ARM64
/* The first n (<= 16) of the 16 values in a[0..3] to dst (a panel's outputs). */
CRNN_INLINE void crnn_neon_store16_f32(float *dst, size_t n, const float32x4_t a[4]) {
    float tmp[16];
    float *to = n == 16 ? dst : tmp;
    for (int i = 0; i < 4; ++i) vst1q_f32(to + 4 * i, a[i]);
    if (to == tmp) memcpy(dst, tmp, n * sizeof(float));
}
CRNN_INLINE void crnn_neon_store16_s32(int32_t *dst, size_t n, const int32x4_t a[4]) {
    int32_t tmp[16];
    int32_t *to = n == 16 ? dst : tmp;
    for (int i = 0; i < 4; ++i) vst1q_s32(to + 4 * i, a[i]);
    if (to == tmp) memcpy(dst, tmp, n * sizeof(int32_t));
}
#endif

static inline size_t crnn_round_up(size_t n, size_t m) { return (n + m - 1) / m * m; }

/* Block b of the CRNN_ROW_BLOCK-row blocks of an n-row product: its row count (the last block may
 * be partial). A backward one-row product visits b = crnn_row_blocks(n) - 1 down to 0. */
static inline size_t crnn_row_blocks(size_t n) { return (n + CRNN_ROW_BLOCK - 1) / CRNN_ROW_BLOCK; }
static inline size_t crnn_row_block_rows(size_t b, size_t n) {
    const size_t first = b * CRNN_ROW_BLOCK;
    return n - first < CRNN_ROW_BLOCK ? n - first : CRNN_ROW_BLOCK;
}

#endif
