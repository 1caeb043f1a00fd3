#include "internal.h"
#include <string.h>

#define NR CRNN_F32_PANEL

size_t crnn_f32_packed_count(size_t n, size_t k) { return crnn_round_up(n, NR) * k; }

void crnn_f32_pack(const float *w, size_t n, size_t k, size_t ldw, float *packed) {
    const size_t panels = crnn_round_up(n, NR) / NR;
    for (size_t p = 0; p < panels; ++p) {
        float *dst = packed + p * NR * k;
        for (size_t c = 0; c < k; ++c) {
            for (size_t j = 0; j < NR; ++j) {
                const size_t row = p * NR + j;
                dst[c * NR + j] = row < n ? w[row * ldw + c] : 0.0f;
            }
        }
    }
}

/* The panel's 16 biases, zero-padded; points into `bias` when the panel is full. */
static inline const float *crnn_panel_bias(const float *bias, size_t j0, size_t nj, float *tmp) {
    if (bias && nj == NR) return bias + j0;
    for (size_t j = 0; j < NR; ++j) tmp[j] = (bias && j < nj) ? bias[j0 + j] : 0.0f;
    return tmp;
}

static void f32_gemm_portable(const float *x, size_t rows, size_t ldx, const float *packed,
                              size_t n, size_t k, const float *bias, float *y, size_t ldy) {
    const size_t panels = crnn_round_up(n, NR) / NR;
    float btmp[NR];
    for (size_t p = 0; p < panels; ++p) {
        const size_t j0 = p * NR, nj = n - j0 < NR ? n - j0 : NR;
        const float *pp = packed + p * NR * k;
        const float *b = crnn_panel_bias(bias, j0, nj, btmp);
        for (size_t r = 0; r < rows; ++r) {
            const float *xr = x + r * ldx;
            float acc[NR];
            for (size_t j = 0; j < NR; ++j) acc[j] = b[j];
            for (size_t c = 0; c < k; ++c) {
                const float xv = xr[c];
                const float *w = pp + c * NR;
                for (size_t j = 0; j < NR; ++j) acc[j] += xv * w[j];
            }
            memcpy(y + r * ldy + j0, acc, nj * sizeof(float));
        }
    }
}

#if CRNN_X86

CRNN_AVX2 CRNN_INLINE void f32_store_avx2(float *dst, size_t nj, __m256 a0, __m256 a1) {
    if (nj == NR) {
        _mm256_storeu_ps(dst, a0);
        _mm256_storeu_ps(dst + 8, a1);
    } else {
        float tmp[NR];
        _mm256_storeu_ps(tmp, a0);
        _mm256_storeu_ps(tmp + 8, a1);
        memcpy(dst, tmp, nj * sizeof(float));
    }
}

/* One row against one panel. Four independent accumulator pairs along k hide the FMA latency
 * (this is the time-loop GEMV, where only one row is available). */
CRNN_AVX2 CRNN_INLINE void f32_tile1_avx2(const float *x, const float *pp, size_t k,
                                         const float *b, float *y, size_t nj) {
    __m256 a0 = _mm256_loadu_ps(b), a1 = _mm256_loadu_ps(b + 8);
    __m256 b0 = _mm256_setzero_ps(), b1 = _mm256_setzero_ps();
    __m256 c0 = _mm256_setzero_ps(), c1 = _mm256_setzero_ps();
    __m256 d0 = _mm256_setzero_ps(), d1 = _mm256_setzero_ps();
    size_t c = 0;
    for (; c + 4 <= k; c += 4) {
        const float *w = pp + c * NR;
        const __m256 x0 = _mm256_broadcast_ss(x + c), x1 = _mm256_broadcast_ss(x + c + 1);
        const __m256 x2 = _mm256_broadcast_ss(x + c + 2), x3 = _mm256_broadcast_ss(x + c + 3);
        a0 = _mm256_fmadd_ps(x0, _mm256_loadu_ps(w), a0);
        a1 = _mm256_fmadd_ps(x0, _mm256_loadu_ps(w + 8), a1);
        b0 = _mm256_fmadd_ps(x1, _mm256_loadu_ps(w + 16), b0);
        b1 = _mm256_fmadd_ps(x1, _mm256_loadu_ps(w + 24), b1);
        c0 = _mm256_fmadd_ps(x2, _mm256_loadu_ps(w + 32), c0);
        c1 = _mm256_fmadd_ps(x2, _mm256_loadu_ps(w + 40), c1);
        d0 = _mm256_fmadd_ps(x3, _mm256_loadu_ps(w + 48), d0);
        d1 = _mm256_fmadd_ps(x3, _mm256_loadu_ps(w + 56), d1);
    }
    for (; c < k; ++c) {
        const float *w = pp + c * NR;
        const __m256 xv = _mm256_broadcast_ss(x + c);
        a0 = _mm256_fmadd_ps(xv, _mm256_loadu_ps(w), a0);
        a1 = _mm256_fmadd_ps(xv, _mm256_loadu_ps(w + 8), a1);
    }
    a0 = _mm256_add_ps(_mm256_add_ps(a0, b0), _mm256_add_ps(c0, d0));
    a1 = _mm256_add_ps(_mm256_add_ps(a1, b1), _mm256_add_ps(c1, d1));
    f32_store_avx2(y, nj, a0, a1);
}

/* MR rows (2..4) against one panel: the rows give the independent accumulator chains. */
CRNN_AVX2 CRNN_INLINE void f32_tile_avx2(const int mr, const float *x, size_t ldx, const float *pp,
                                        size_t k, const float *b, float *y, size_t ldy, size_t nj) {
    __m256 acc0[4], acc1[4];
    const __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
    for (int r = 0; r < mr; ++r) { acc0[r] = b0; acc1[r] = b1; }
    for (size_t c = 0; c < k; ++c) {
        const __m256 w0 = _mm256_loadu_ps(pp + c * NR), w1 = _mm256_loadu_ps(pp + c * NR + 8);
        for (int r = 0; r < mr; ++r) {
            const __m256 xv = _mm256_broadcast_ss(x + r * ldx + c);
            acc0[r] = _mm256_fmadd_ps(xv, w0, acc0[r]);
            acc1[r] = _mm256_fmadd_ps(xv, w1, acc1[r]);
        }
    }
    for (int r = 0; r < mr; ++r) f32_store_avx2(y + r * ldy, nj, acc0[r], acc1[r]);
}

CRNN_AVX2 static void f32_gemm_avx2(const float *x, size_t rows, size_t ldx, const float *packed,
                                    size_t n, size_t k, const float *bias, float *y, size_t ldy) {
    const size_t panels = crnn_round_up(n, NR) / NR;
    float btmp[NR];
    for (size_t p = 0; p < panels; ++p) {
        const size_t j0 = p * NR, nj = n - j0 < NR ? n - j0 : NR;
        const float *pp = packed + p * NR * k;
        const float *b = crnn_panel_bias(bias, j0, nj, btmp);
        size_t r = 0;
        for (; r + 4 <= rows; r += 4) f32_tile_avx2(4, x + r * ldx, ldx, pp, k, b, y + r * ldy + j0, ldy, nj);
        switch (rows - r) {
        case 3: f32_tile_avx2(3, x + r * ldx, ldx, pp, k, b, y + r * ldy + j0, ldy, nj); break;
        case 2: f32_tile_avx2(2, x + r * ldx, ldx, pp, k, b, y + r * ldy + j0, ldy, nj); break;
        case 1: f32_tile1_avx2(x + r * ldx, pp, k, b, y + r * ldy + j0, nj); break;
        default: break;
        }
    }
}

/* AVX-512: one panel of 16 outputs is one ZMM register per k. */

CRNN_AVX512 CRNN_INLINE void f32_store_avx512(float *dst, size_t nj, __m512 a) {
    if (nj == NR) _mm512_storeu_ps(dst, a);
    else _mm512_mask_storeu_ps(dst, (__mmask16)((1u << nj) - 1), a);
}

CRNN_AVX512 CRNN_INLINE void f32_tile1_avx512(const float *x, const float *pp, size_t k,
                                             const float *b, float *y, size_t nj) {
    __m512 a0 = _mm512_loadu_ps(b), a1 = _mm512_setzero_ps(), a2 = _mm512_setzero_ps(), a3 = _mm512_setzero_ps();
    size_t c = 0;
    for (; c + 4 <= k; c += 4) {
        const float *w = pp + c * NR;
        a0 = _mm512_fmadd_ps(_mm512_set1_ps(x[c]), _mm512_loadu_ps(w), a0);
        a1 = _mm512_fmadd_ps(_mm512_set1_ps(x[c + 1]), _mm512_loadu_ps(w + 16), a1);
        a2 = _mm512_fmadd_ps(_mm512_set1_ps(x[c + 2]), _mm512_loadu_ps(w + 32), a2);
        a3 = _mm512_fmadd_ps(_mm512_set1_ps(x[c + 3]), _mm512_loadu_ps(w + 48), a3);
    }
    for (; c < k; ++c) a0 = _mm512_fmadd_ps(_mm512_set1_ps(x[c]), _mm512_loadu_ps(pp + c * NR), a0);
    f32_store_avx512(y, nj, _mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
}

CRNN_AVX512 CRNN_INLINE void f32_tile_avx512(const int mr, const float *x, size_t ldx, const float *pp,
                                            size_t k, const float *b, float *y, size_t ldy, size_t nj) {
    __m512 acc[8];
    const __m512 bv = _mm512_loadu_ps(b);
    for (int r = 0; r < mr; ++r) acc[r] = bv;
    for (size_t c = 0; c < k; ++c) {
        const __m512 w = _mm512_loadu_ps(pp + c * NR);
        for (int r = 0; r < mr; ++r) acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(x[r * ldx + c]), w, acc[r]);
    }
    for (int r = 0; r < mr; ++r) f32_store_avx512(y + r * ldy, nj, acc[r]);
}

CRNN_AVX512 static void f32_gemm_avx512(const float *x, size_t rows, size_t ldx, const float *packed,
                                        size_t n, size_t k, const float *bias, float *y, size_t ldy) {
    const size_t panels = crnn_round_up(n, NR) / NR;
    float btmp[NR];
    for (size_t p = 0; p < panels; ++p) {
        const size_t j0 = p * NR, nj = n - j0 < NR ? n - j0 : NR;
        const float *pp = packed + p * NR * k;
        const float *b = crnn_panel_bias(bias, j0, nj, btmp);
        size_t r = 0;
        for (; r + 8 <= rows; r += 8) f32_tile_avx512(8, x + r * ldx, ldx, pp, k, b, y + r * ldy + j0, ldy, nj);
        const float *xr = x + r * ldx;
        float *yr = y + r * ldy + j0;
        switch (rows - r) {
        case 7: f32_tile_avx512(7, xr, ldx, pp, k, b, yr, ldy, nj); break;
        case 6: f32_tile_avx512(6, xr, ldx, pp, k, b, yr, ldy, nj); break;
        case 5: f32_tile_avx512(5, xr, ldx, pp, k, b, yr, ldy, nj); break;
        case 4: f32_tile_avx512(4, xr, ldx, pp, k, b, yr, ldy, nj); break;
        case 3: f32_tile_avx512(3, xr, ldx, pp, k, b, yr, ldy, nj); break;
        case 2: f32_tile_avx512(2, xr, ldx, pp, k, b, yr, ldy, nj); break;
        case 1: f32_tile1_avx512(xr, pp, k, b, yr, nj); break;
        default: break;
        }
    }
}

#endif

void crnn_f32_gemm(int isa, const float *x, size_t rows, size_t ldx, const float *packed,
                   size_t n, size_t k, const float *bias, float *y, size_t ldy) {
#if CRNN_X86
    const int level = crnn_effective_isa(isa);
    if (level >= CRNN_ISA_AVX512) {
        f32_gemm_avx512(x, rows, ldx, packed, n, k, bias, y, ldy);
        return;
    }
    if (level >= CRNN_ISA_AVX2) {
        f32_gemm_avx2(x, rows, ldx, packed, n, k, bias, y, ldy);
        return;
    }
#endif
    (void)isa;
    f32_gemm_portable(x, rows, ldx, packed, n, k, bias, y, ldy);
}
