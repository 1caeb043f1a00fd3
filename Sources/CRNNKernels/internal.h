/* Shared by the CRNNKernels sources; not part of the public header. */
#ifndef CRNN_INTERNAL_H
#define CRNN_INTERNAL_H

#include "CRNNKernels.h"

#if defined(__x86_64__) || defined(_M_X64)
#define CRNN_X86 1
#include <immintrin.h>
#define CRNN_AVX2 __attribute__((target("avx2,fma")))
#define CRNN_AVX2_VNNI __attribute__((target("avx2,fma,avxvnni")))
#define CRNN_AVX512 __attribute__((target("avx2,fma,avx512f,avx512bw,avx512vl,avx512vnni")))
#else
#define CRNN_X86 0
#endif

#define CRNN_INLINE static inline __attribute__((always_inline))

static inline size_t crnn_round_up(size_t n, size_t m) { return (n + m - 1) / m * m; }

/* Block b of the CRNN_ROW_BLOCK-row blocks of an n-row product: its row count (the last block may
 * be partial). A backward one-row product visits b = crnn_row_blocks(n) - 1 down to 0. */
static inline size_t crnn_row_blocks(size_t n) { return (n + CRNN_ROW_BLOCK - 1) / CRNN_ROW_BLOCK; }
static inline size_t crnn_row_block_rows(size_t b, size_t n) {
    const size_t first = b * CRNN_ROW_BLOCK;
    return n - first < CRNN_ROW_BLOCK ? n - first : CRNN_ROW_BLOCK;
}

#endif
