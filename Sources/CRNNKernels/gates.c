#include "internal.h"
#include <math.h>
#include <string.h>

/* The cell updates keep PyTorch's operation order (separate multiply and add, no contraction),
 * so the remaining difference from PyTorch is the last bit or so of sigmoid and tanh. */
#pragma STDC FP_CONTRACT OFF

static inline float crnn_sigmoid1(float x) { return 1.0f / (1.0f + expf(-x)); }

static void gru_cell_portable(const float *gi, const float *gh, const float *h_prev, float *h_out, size_t hidden) {
    for (size_t j = 0; j < hidden; ++j) {
        const float r = crnn_sigmoid1(gi[j] + gh[j]);
        const float z = crnn_sigmoid1(gi[hidden + j] + gh[hidden + j]);
        const float n = tanhf(gi[2 * hidden + j] + gh[2 * hidden + j] * r);
        h_out[j] = (h_prev[j] - n) * z + n;
    }
}

static void lstm_cell_portable(const float *gi, const float *gh, float *c, float *h_out, size_t hidden) {
    for (size_t j = 0; j < hidden; ++j) {
        const float i = crnn_sigmoid1(gi[j] + gh[j]);
        const float f = crnn_sigmoid1(gi[hidden + j] + gh[hidden + j]);
        const float g = tanhf(gi[2 * hidden + j] + gh[2 * hidden + j]);
        const float o = crnn_sigmoid1(gi[3 * hidden + j] + gh[3 * hidden + j]);
        const float cn = f * c[j] + i * g;
        c[j] = cn;
        h_out[j] = o * tanhf(cn);
    }
}

#if CRNN_X86

/* expf after Cephes: x = n·ln2 + r (ln2 split in two for an exact reduction), a degree-5
 * polynomial for e^r, then the exponent. Relative error about 1 ulp on [-87, 88]; overflow
 * gives +inf and underflow 0, which sigmoid and tanh below absorb. */
CRNN_AVX2 CRNN_INLINE __m256 crnn_exp8(__m256 x) {
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-88.3762626647949f)), _mm256_set1_ps(88.3762626647949f));
    const __m256 n = _mm256_floor_ps(_mm256_fmadd_ps(x, _mm256_set1_ps(1.44269504088896341f), _mm256_set1_ps(0.5f)));
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvttps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

CRNN_AVX2 CRNN_INLINE __m256 crnn_sigmoid8(__m256 x) {
    const __m256 one = _mm256_set1_ps(1.0f);
    return _mm256_div_ps(one, _mm256_add_ps(one, crnn_exp8(_mm256_sub_ps(_mm256_setzero_ps(), x))));
}

/* tanhf after Cephes: an odd polynomial below |x| = 0.625, 1 - 2/(e^{2|x|} + 1) above. */
CRNN_AVX2 CRNN_INLINE __m256 crnn_tanh8(__m256 x) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    const __m256 ax = _mm256_andnot_ps(sign, x);
    const __m256 z = _mm256_mul_ps(x, x);
    __m256 p = _mm256_set1_ps(-5.70498872745e-3f);
    p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(2.06390887954e-2f));
    p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(-5.37397155531e-2f));
    p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(1.33314422036e-1f));
    p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(-3.33332819422e-1f));
    const __m256 small = _mm256_fmadd_ps(_mm256_mul_ps(p, z), x, x);
    const __m256 one = _mm256_set1_ps(1.0f), two = _mm256_set1_ps(2.0f);
    const __m256 e = crnn_exp8(_mm256_add_ps(ax, ax));
    const __m256 large = _mm256_sub_ps(one, _mm256_div_ps(two, _mm256_add_ps(e, one)));
    const __m256 signed_large = _mm256_or_ps(large, _mm256_and_ps(sign, x));
    return _mm256_blendv_ps(small, signed_large, _mm256_cmp_ps(ax, _mm256_set1_ps(0.625f), _CMP_GE_OQ));
}

/* Runs `body(j)` over blocks of 8; the tail goes through the same vector code on copies padded
 * with zeros, so element j's result never depends on where the block boundary falls. */
#define CRNN_LANES 8

CRNN_AVX2 CRNN_INLINE void gru_block8(const float *gi, const float *gh, const float *h_prev, float *h_out,
                                     size_t hidden, size_t j) {
    const __m256 r = crnn_sigmoid8(_mm256_add_ps(_mm256_loadu_ps(gi + j), _mm256_loadu_ps(gh + j)));
    const __m256 z = crnn_sigmoid8(_mm256_add_ps(_mm256_loadu_ps(gi + hidden + j), _mm256_loadu_ps(gh + hidden + j)));
    const __m256 n = crnn_tanh8(_mm256_add_ps(_mm256_loadu_ps(gi + 2 * hidden + j),
                                              _mm256_mul_ps(_mm256_loadu_ps(gh + 2 * hidden + j), r)));
    _mm256_storeu_ps(h_out + j, _mm256_add_ps(_mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(h_prev + j), n), z), n));
}

CRNN_AVX2 static void gru_cell_avx2(const float *gi, const float *gh, const float *h_prev, float *h_out, size_t hidden) {
    size_t j = 0;
    for (; j + CRNN_LANES <= hidden; j += CRNN_LANES) gru_block8(gi, gh, h_prev, h_out, hidden, j);
    const size_t rest = hidden - j;
    if (rest) {
        float tgi[3 * CRNN_LANES] = {0}, tgh[3 * CRNN_LANES] = {0}, th[CRNN_LANES] = {0}, to[CRNN_LANES];
        for (int g = 0; g < 3; ++g) {
            memcpy(tgi + g * CRNN_LANES, gi + g * hidden + j, rest * sizeof(float));
            memcpy(tgh + g * CRNN_LANES, gh + g * hidden + j, rest * sizeof(float));
        }
        memcpy(th, h_prev + j, rest * sizeof(float));
        gru_block8(tgi, tgh, th, to, CRNN_LANES, 0);
        memcpy(h_out + j, to, rest * sizeof(float));
    }
}

CRNN_AVX2 CRNN_INLINE void lstm_block8(const float *gi, const float *gh, float *c, float *h_out, size_t hidden, size_t j) {
    const __m256 i = crnn_sigmoid8(_mm256_add_ps(_mm256_loadu_ps(gi + j), _mm256_loadu_ps(gh + j)));
    const __m256 f = crnn_sigmoid8(_mm256_add_ps(_mm256_loadu_ps(gi + hidden + j), _mm256_loadu_ps(gh + hidden + j)));
    const __m256 g = crnn_tanh8(_mm256_add_ps(_mm256_loadu_ps(gi + 2 * hidden + j), _mm256_loadu_ps(gh + 2 * hidden + j)));
    const __m256 o = crnn_sigmoid8(_mm256_add_ps(_mm256_loadu_ps(gi + 3 * hidden + j), _mm256_loadu_ps(gh + 3 * hidden + j)));
    const __m256 cn = _mm256_add_ps(_mm256_mul_ps(f, _mm256_loadu_ps(c + j)), _mm256_mul_ps(i, g));
    _mm256_storeu_ps(c + j, cn);
    _mm256_storeu_ps(h_out + j, _mm256_mul_ps(o, crnn_tanh8(cn)));
}

CRNN_AVX2 static void lstm_cell_avx2(const float *gi, const float *gh, float *c, float *h_out, size_t hidden) {
    size_t j = 0;
    for (; j + CRNN_LANES <= hidden; j += CRNN_LANES) lstm_block8(gi, gh, c, h_out, hidden, j);
    const size_t rest = hidden - j;
    if (rest) {
        float tgi[4 * CRNN_LANES] = {0}, tgh[4 * CRNN_LANES] = {0}, tc[CRNN_LANES] = {0}, to[CRNN_LANES];
        for (int g = 0; g < 4; ++g) {
            memcpy(tgi + g * CRNN_LANES, gi + g * hidden + j, rest * sizeof(float));
            memcpy(tgh + g * CRNN_LANES, gh + g * hidden + j, rest * sizeof(float));
        }
        memcpy(tc, c + j, rest * sizeof(float));
        lstm_block8(tgi, tgh, tc, to, CRNN_LANES, 0);
        memcpy(c + j, tc, rest * sizeof(float));
        memcpy(h_out + j, to, rest * sizeof(float));
    }
}

CRNN_AVX2 static void map_avx2(int which, const float *x, float *y, size_t n) {
    size_t j = 0;
    for (; j + CRNN_LANES <= n; j += CRNN_LANES) {
        const __m256 v = _mm256_loadu_ps(x + j);
        _mm256_storeu_ps(y + j, which ? crnn_tanh8(v) : crnn_sigmoid8(v));
    }
    if (j < n) {
        float t[CRNN_LANES] = {0};
        memcpy(t, x + j, (n - j) * sizeof(float));
        const __m256 v = _mm256_loadu_ps(t);
        _mm256_storeu_ps(t, which ? crnn_tanh8(v) : crnn_sigmoid8(v));
        memcpy(y + j, t, (n - j) * sizeof(float));
    }
}

#endif

void crnn_gru_cell(int isa, const float *gi, const float *gh, const float *h_prev, float *h_out, size_t hidden) {
#if CRNN_X86
    if (crnn_effective_isa(isa) >= CRNN_ISA_AVX2) {
        gru_cell_avx2(gi, gh, h_prev, h_out, hidden);
        return;
    }
#endif
    (void)isa;
    gru_cell_portable(gi, gh, h_prev, h_out, hidden);
}

void crnn_lstm_cell(int isa, const float *gi, const float *gh, float *c, float *h_out, size_t hidden) {
#if CRNN_X86
    if (crnn_effective_isa(isa) >= CRNN_ISA_AVX2) {
        lstm_cell_avx2(gi, gh, c, h_out, hidden);
        return;
    }
#endif
    (void)isa;
    lstm_cell_portable(gi, gh, c, h_out, hidden);
}

void crnn_sigmoid(int isa, const float *x, float *y, size_t n) {
#if CRNN_X86
    if (crnn_effective_isa(isa) >= CRNN_ISA_AVX2) {
        map_avx2(0, x, y, n);
        return;
    }
#endif
    (void)isa;
    for (size_t j = 0; j < n; ++j) y[j] = crnn_sigmoid1(x[j]);
}

void crnn_tanh(int isa, const float *x, float *y, size_t n) {
#if CRNN_X86
    if (crnn_effective_isa(isa) >= CRNN_ISA_AVX2) {
        map_avx2(1, x, y, n);
        return;
    }
#endif
    (void)isa;
    for (size_t j = 0; j < n; ++j) y[j] = tanhf(x[j]);
}
