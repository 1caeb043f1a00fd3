#include "internal.h"
#include <string.h>

#if CRNN_X86
CRNN_AVX2 static float stream_read_avx2(const float *p, size_t n) {
    __m256 a = _mm256_setzero_ps(), b = a, c = a, d = a;
    for (size_t i = 0; i < n; i += 32) {
        a = _mm256_add_ps(a, _mm256_loadu_ps(p + i));
        b = _mm256_add_ps(b, _mm256_loadu_ps(p + i + 8));
        c = _mm256_add_ps(c, _mm256_loadu_ps(p + i + 16));
        d = _mm256_add_ps(d, _mm256_loadu_ps(p + i + 24));
    }
    float t[8];
    _mm256_storeu_ps(t, _mm256_add_ps(_mm256_add_ps(a, b), _mm256_add_ps(c, d)));
    return t[0] + t[1] + t[2] + t[3] + t[4] + t[5] + t[6] + t[7];
}

/* Four chains of 64-byte loads per iteration: two chains (one iteration per add latency) capped
 * the rate below what the L2 delivers on Zen 5 and made this "floor" 15-30% too slow. */
CRNN_AVX512 static float stream_read_avx512(const float *p, size_t n) {
    __m512 a = _mm512_setzero_ps(), b = a, c = a, d = a;
    size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        a = _mm512_add_ps(a, _mm512_loadu_ps(p + i));
        b = _mm512_add_ps(b, _mm512_loadu_ps(p + i + 16));
        c = _mm512_add_ps(c, _mm512_loadu_ps(p + i + 32));
        d = _mm512_add_ps(d, _mm512_loadu_ps(p + i + 48));
    }
    for (; i < n; i += 32) {
        a = _mm512_add_ps(a, _mm512_loadu_ps(p + i));
        b = _mm512_add_ps(b, _mm512_loadu_ps(p + i + 16));
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a, b), _mm512_add_ps(c, d)));
}
#endif

#if CRNN_ARM64
/* 128 bytes per iteration in eight chains (two per FP pipe at four cycles of latency). */
static float stream_read_neon(const float *p, size_t n) {
    float32x4_t a[8];
    for (int j = 0; j < 8; ++j) a[j] = vdupq_n_f32(0.0f);
    for (size_t i = 0; i < n; i += 32)
        for (int j = 0; j < 8; ++j) a[j] = vaddq_f32(a[j], vld1q_f32(p + i + 4 * j));
    const float32x4_t s = vaddq_f32(vaddq_f32(vaddq_f32(a[0], a[1]), vaddq_f32(a[2], a[3])),
                                    vaddq_f32(vaddq_f32(a[4], a[5]), vaddq_f32(a[6], a[7])));
    return vaddvq_f32(s);
}
#endif

float crnn_stream_read(int isa, const void *data, size_t bytes) {
    const float *p = (const float *)data;
    const size_t n = bytes / sizeof(float) / 32 * 32;
#if CRNN_X86
    const int level = crnn_effective_isa(isa);
    if (level >= CRNN_ISA_AVX512) return stream_read_avx512(p, n);
    if (level >= CRNN_ISA_AVX2) return stream_read_avx2(p, n);
#elif CRNN_ARM64
    if (crnn_effective_isa(isa) >= CRNN_ISA_NEON) return stream_read_neon(p, n);
#endif
    (void)isa;
    float acc[8] = {0};
    for (size_t i = 0; i < n; i += 8)
        for (size_t j = 0; j < 8; ++j) acc[j] += p[i + j];
    return acc[0] + acc[1] + acc[2] + acc[3] + acc[4] + acc[5] + acc[6] + acc[7];
}
