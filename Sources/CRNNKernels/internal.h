/* Shared by the CRNNKernels sources; not part of the public header. */
#ifndef CRNN_INTERNAL_H
#define CRNN_INTERNAL_H

#include "CRNNKernels.h"

#if defined(__x86_64__) || defined(_M_X64)
#define CRNN_X86 1
#include <immintrin.h>
#define CRNN_AVX2 __attribute__((target("avx2,fma")))
#else
#define CRNN_X86 0
#endif

#define CRNN_INLINE static inline __attribute__((always_inline))

/* The level to run: the requested one, capped at what the CPU supports. */
static inline int crnn_effective_isa(int requested) {
    int best = crnn_detect_isa();
    return requested < best ? requested : best;
}

static inline size_t crnn_round_up(size_t n, size_t m) { return (n + m - 1) / m * m; }

#endif
