#include "internal.h"
#include <string.h>

#define NR CRNN_F32_PANEL
#define GP CRNN_F32_GROUP

size_t crnn_f32_packed_count(size_t n, size_t k) { return crnn_round_up(n, NR) * k; }

/* Groups of GP panels are contiguous blocks of GP * NR * k floats. */
_Static_assert(CRNN_ROW_BLOCK % (NR * GP) == 0, "row ranges must start at a group");
size_t crnn_f32_packed_offset(size_t row, size_t k) { return row * k; }

/* Panel p's weights of column 0; column c's are at c * (*ld). Panels of one group share ld. */
static inline size_t f32_panel_offset(size_t p, size_t k, size_t panels, size_t *ld) {
    const size_t g0 = p / GP * GP;
    *ld = (panels - g0 < GP ? panels - g0 : GP) * NR;
    return g0 * NR * k + (p - g0) * NR;
}

void crnn_f32_pack(const float *w, size_t n, size_t k, size_t ldw, float *packed) {
    const size_t panels = crnn_round_up(n, NR) / NR;
    for (size_t p = 0; p < panels; ++p) {
        size_t ld;
        float *dst = packed + f32_panel_offset(p, k, panels, &ld);
        for (size_t c = 0; c < k; ++c) {
            for (size_t j = 0; j < NR; ++j) {
                const size_t row = p * NR + j;
                dst[c * ld + j] = row < n ? w[row * ldw + c] : 0.0f;
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
        size_t ld;
        const float *pp = packed + f32_panel_offset(p, k, panels, &ld);
        const float *b = crnn_panel_bias(bias, j0, nj, btmp);
        for (size_t r = 0; r < rows; ++r) {
            const float *xr = x + r * ldx;
            float acc[NR];
            for (size_t j = 0; j < NR; ++j) acc[j] = b[j];
            for (size_t c = 0; c < k; ++c) {
                const float xv = xr[c];
                const float *w = pp + c * ld;
                for (size_t j = 0; j < NR; ++j) acc[j] += xv * w[j];
            }
            memcpy(y + r * ldy + j0, acc, nj * sizeof(float));
        }
    }
}

#if CRNN_X86

/* Every path computes each output as one fused multiply-add chain over k in order, starting from
 * the bias, so a row's result does not depend on how many rows share the call or where it sits
 * (streaming one step per call equals one call over the sequence, bit for bit). Independent
 * chains for latency hiding come from several rows, or, for a single row, several panels. */

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

/* One row against `np` (1..4) consecutive panels of one group starting at panel p. */
CRNN_AVX2 CRNN_INLINE void f32_row_panels_avx2(const int np, const float *x, const float *packed, size_t p,
                                              size_t panels, size_t n, size_t k, const float *bias, float *y) {
    __m256 a0[4], a1[4];
    float btmp[4][NR];
    for (int q = 0; q < np; ++q) {
        const size_t j0 = (p + q) * NR, nj = n - j0 < NR ? n - j0 : NR;
        const float *b = crnn_panel_bias(bias, j0, nj, btmp[q]);
        a0[q] = _mm256_loadu_ps(b);
        a1[q] = _mm256_loadu_ps(b + 8);
    }
    size_t ld;
    const float *pp = packed + f32_panel_offset(p, k, panels, &ld);
    for (size_t c = 0; c < k; ++c) {
        const __m256 xv = _mm256_broadcast_ss(x + c);
        for (int q = 0; q < np; ++q) {
            const float *w = pp + c * ld + q * NR;
            a0[q] = _mm256_fmadd_ps(xv, _mm256_loadu_ps(w), a0[q]);
            a1[q] = _mm256_fmadd_ps(xv, _mm256_loadu_ps(w + 8), a1[q]);
        }
    }
    for (int q = 0; q < np; ++q) {
        const size_t j0 = (p + q) * NR, nj = n - j0 < NR ? n - j0 : NR;
        f32_store_avx2(y + j0, nj, a0[q], a1[q]);
    }
}

/* MR rows (2..4) against one panel (column c at pp + c * ld). */
CRNN_AVX2 CRNN_INLINE void f32_tile_avx2(const int mr, const float *x, size_t ldx, const float *pp, size_t ld,
                                        size_t k, const float *b, float *y, size_t ldy, size_t nj) {
    __m256 acc0[4], acc1[4];
    const __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
    for (int r = 0; r < mr; ++r) { acc0[r] = b0; acc1[r] = b1; }
    for (size_t c = 0; c < k; ++c) {
        const __m256 w0 = _mm256_loadu_ps(pp + c * ld), w1 = _mm256_loadu_ps(pp + c * ld + 8);
        for (int r = 0; r < mr; ++r) {
            const __m256 xv = _mm256_broadcast_ss(x + r * ldx + c);
            acc0[r] = _mm256_fmadd_ps(xv, w0, acc0[r]);
            acc1[r] = _mm256_fmadd_ps(xv, w1, acc1[r]);
        }
    }
    for (int r = 0; r < mr; ++r) f32_store_avx2(y + r * ldy, nj, acc0[r], acc1[r]);
}

CRNN_AVX2 static void f32_gemv_avx2(const float *x, const float *packed, size_t n, size_t k,
                                    const float *bias, float *y) {
    const size_t panels = crnn_round_up(n, NR) / NR;
    size_t p = 0;
    for (; p + 4 <= panels; p += 4) f32_row_panels_avx2(4, x, packed, p, panels, n, k, bias, y);
    switch (panels - p) {
    case 3: f32_row_panels_avx2(3, x, packed, p, panels, n, k, bias, y); break;
    case 2: f32_row_panels_avx2(2, x, packed, p, panels, n, k, bias, y); break;
    case 1: f32_row_panels_avx2(1, x, packed, p, panels, n, k, bias, y); break;
    default: break;
    }
}

CRNN_AVX2 static void f32_gemm_avx2(const float *x, size_t rows, size_t ldx, const float *packed,
                                    size_t n, size_t k, const float *bias, float *y, size_t ldy) {
    const size_t panels = crnn_round_up(n, NR) / NR;
    const size_t full = rows / 4 * 4;
    if (full > 0) {
        float btmp[NR];
        for (size_t p = 0; p < panels; ++p) {
            const size_t j0 = p * NR, nj = n - j0 < NR ? n - j0 : NR;
            size_t ld;
            const float *pp = packed + f32_panel_offset(p, k, panels, &ld);
            const float *b = crnn_panel_bias(bias, j0, nj, btmp);
            for (size_t r = 0; r < full; r += 4) f32_tile_avx2(4, x + r * ldx, ldx, pp, ld, k, b, y + r * ldy + j0, ldy, nj);
        }
    }
    for (size_t r = full; r < rows; ++r) f32_gemv_avx2(x + r * ldx, packed, n, k, bias, y + r * ldy);
}

/* AVX-512: one panel of 16 outputs is one ZMM register per k. */

CRNN_AVX512 CRNN_INLINE void f32_store_avx512(float *dst, size_t nj, __m512 a) {
    if (nj == NR) _mm512_storeu_ps(dst, a);
    else _mm512_mask_storeu_ps(dst, (__mmask16)((1u << nj) - 1), a);
}

CRNN_AVX512 CRNN_INLINE __m512 f32_bias_avx512(const float *bias, size_t j0, size_t nj) {
    const __mmask16 mask = nj == NR ? (__mmask16)0xFFFF : (__mmask16)((1u << nj) - 1);
    return bias ? _mm512_maskz_loadu_ps(mask, bias + j0) : _mm512_setzero_ps();
}

/* One row against the `np` (1..8) panels of the group starting at panel p: one sequential stream. */
CRNN_AVX512 CRNN_INLINE void f32_row_panels_avx512(const int np, const float *x, const float *packed, size_t p,
                                                  size_t panels, size_t n, size_t k, const float *bias, float *y) {
    __m512 acc[8];
    for (int q = 0; q < np; ++q) {
        const size_t j0 = (p + q) * NR;
        acc[q] = f32_bias_avx512(bias, j0, n - j0 < NR ? n - j0 : NR);
    }
    size_t ld;
    const float *pp = packed + f32_panel_offset(p, k, panels, &ld);
    for (size_t c = 0; c < k; ++c) {
        const __m512 xv = _mm512_set1_ps(x[c]);
        for (int q = 0; q < np; ++q) acc[q] = _mm512_fmadd_ps(xv, _mm512_loadu_ps(pp + c * ld + q * NR), acc[q]);
    }
    for (int q = 0; q < np; ++q) {
        const size_t j0 = (p + q) * NR;
        f32_store_avx512(y + j0, n - j0 < NR ? n - j0 : NR, acc[q]);
    }
}

/* MR rows (2..8) against one panel (column c at pp + c * ld). */
CRNN_AVX512 CRNN_INLINE void f32_tile_avx512(const int mr, const float *x, size_t ldx, const float *pp, size_t ld,
                                            size_t k, __m512 bv, float *y, size_t ldy, size_t nj) {
    __m512 acc[8];
    for (int r = 0; r < mr; ++r) acc[r] = bv;
    for (size_t c = 0; c < k; ++c) {
        const __m512 w = _mm512_loadu_ps(pp + c * ld);
        for (int r = 0; r < mr; ++r) acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(x[r * ldx + c]), w, acc[r]);
    }
    for (int r = 0; r < mr; ++r) f32_store_avx512(y + r * ldy, nj, acc[r]);
}

/* MR rows (1..8) against two consecutive panels of one group (adjacent in each column):
 * one broadcast feeds two FMAs. */
CRNN_AVX512 CRNN_INLINE void f32_tile2_avx512(const int mr, const float *x, size_t ldx, const float *pp, size_t ld,
                                             size_t k, __m512 bv0, __m512 bv1, float *y, size_t ldy, size_t nj1) {
    __m512 acc0[8], acc1[8];
    for (int r = 0; r < mr; ++r) { acc0[r] = bv0; acc1[r] = bv1; }
    for (size_t c = 0; c < k; ++c) {
        const __m512 w0 = _mm512_loadu_ps(pp + c * ld), w1 = _mm512_loadu_ps(pp + c * ld + NR);
        for (int r = 0; r < mr; ++r) {
            const __m512 xv = _mm512_set1_ps(x[r * ldx + c]);
            acc0[r] = _mm512_fmadd_ps(xv, w0, acc0[r]);
            acc1[r] = _mm512_fmadd_ps(xv, w1, acc1[r]);
        }
    }
    for (int r = 0; r < mr; ++r) {
        f32_store_avx512(y + r * ldy, NR, acc0[r]);
        f32_store_avx512(y + r * ldy + NR, nj1, acc1[r]);
    }
}

/* MR rows (1..3) against a full group of 8 panels over columns [c0, c0 + kc), read as one
 * sequential stream: per column, 8 weight loads and MR broadcasts feed 8 x MR FMAs (24
 * accumulators in registers at MR = 3). The first column block starts from the bias, later
 * ones from the partial sums in y, so every output stays one in-order FMA chain over k. */
CRNN_AVX512 CRNN_INLINE void f32_tile_group_avx512(const int mr, const float *x, size_t ldx, const float *pp,
                                                  size_t c0, size_t kc, const float *bias, size_t j0,
                                                  float *y, size_t ldy) {
    __m512 acc[3][GP];
    for (int q = 0; q < GP; ++q) {
        if (c0 == 0) {
            const __m512 bv = f32_bias_avx512(bias, j0 + (size_t)q * NR, NR);
            for (int r = 0; r < mr; ++r) acc[r][q] = bv;
        } else {
            for (int r = 0; r < mr; ++r) acc[r][q] = _mm512_loadu_ps(y + r * ldy + j0 + (size_t)q * NR);
        }
    }
    for (size_t c = c0; c < c0 + kc; ++c) {
        __m512 xv[3];
        for (int r = 0; r < mr; ++r) xv[r] = _mm512_set1_ps(x[r * ldx + c]);
        const float *w = pp + c * GP * NR;
        for (int q = 0; q < GP; ++q) {
            const __m512 wq = _mm512_loadu_ps(w + q * NR);
            for (int r = 0; r < mr; ++r) acc[r][q] = _mm512_fmadd_ps(xv[r], wq, acc[r][q]);
        }
    }
    for (int r = 0; r < mr; ++r)
        for (int q = 0; q < GP; ++q) _mm512_storeu_ps(y + r * ldy + j0 + (size_t)q * NR, acc[r][q]);
}

/* Columns per block of the many-row product: a group's block (KC x 512 bytes) stays in L1 while
 * every row of x passes over it. */
#define KC 64

/* One row: a group (CRNN_ROW_BLOCK rows) at a time, the groups in order or, backward, the
 * last (partial) group first and then the others last to first. */
CRNN_AVX512 static void f32_gemv_avx512(const float *x, const float *packed, size_t n, size_t k,
                                        const float *bias, float *y, int backward) {
    const size_t panels = crnn_round_up(n, NR) / NR, full = panels / GP * GP;
    if (!backward)
        for (size_t p = 0; p < full; p += GP) f32_row_panels_avx512(GP, x, packed, p, panels, n, k, bias, y);
    switch (panels - full) {
    case 7: f32_row_panels_avx512(7, x, packed, full, panels, n, k, bias, y); break;
    case 6: f32_row_panels_avx512(6, x, packed, full, panels, n, k, bias, y); break;
    case 5: f32_row_panels_avx512(5, x, packed, full, panels, n, k, bias, y); break;
    case 4: f32_row_panels_avx512(4, x, packed, full, panels, n, k, bias, y); break;
    case 3: f32_row_panels_avx512(3, x, packed, full, panels, n, k, bias, y); break;
    case 2: f32_row_panels_avx512(2, x, packed, full, panels, n, k, bias, y); break;
    case 1: f32_row_panels_avx512(1, x, packed, full, panels, n, k, bias, y); break;
    default: break;
    }
    if (backward)
        for (size_t p = full; p > 0; p -= GP) f32_row_panels_avx512(GP, x, packed, p - GP, panels, n, k, bias, y);
}

CRNN_AVX512 static void f32_gemm_avx512(const float *x, size_t rows, size_t ldx, const float *packed,
                                        size_t n, size_t k, const float *bias, float *y, size_t ldy) {
    const size_t panels = crnn_round_up(n, NR) / NR;
    size_t r0 = 0;
    if (rows >= 2) {
        size_t p = 0;
        /* Full groups 3 rows at a time, one sequential stream per pass, when there are fewer
         * than 8 rows (a small batch's recurrent product: 1.4-1.65x the pair tiles at 2-3 rows)
         * or the matrix is larger than L2 (the pair tiles' strided reads of L3-resident
         * weights made a whole GRU 1024 call 10-13% slower). Otherwise the pair tiles, which
         * reuse each weight load 8 times, win by 1-6% (H = 256 products of 12-128 rows). */
        const int group_tiles = rows < 8 || n * k * sizeof(float) > crnn_l2_cache_bytes();
        for (; group_tiles && p + GP <= panels && (p + GP) * NR <= n; p += GP) {
            const float *pp = packed + p * NR * k;
            const size_t j0 = p * NR;
            /* At least one block, so that k = 0 still writes the bias. */
            size_t c0 = 0;
            do {
                const size_t kc = k - c0 < KC ? k - c0 : KC;
                size_t r = 0;
                for (; r + 3 <= rows; r += 3) f32_tile_group_avx512(3, x + r * ldx, ldx, pp, c0, kc, bias, j0, y + r * ldy, ldy);
                if (rows - r == 2) f32_tile_group_avx512(2, x + r * ldx, ldx, pp, c0, kc, bias, j0, y + r * ldy, ldy);
                if (rows - r == 1) f32_tile_group_avx512(1, x + r * ldx, ldx, pp, c0, kc, bias, j0, y + r * ldy, ldy);
                c0 += KC;
            } while (c0 < k);
        }
        for (; p + 2 <= panels; p += 2) {
            const size_t j0 = p * NR, nj1 = n - (j0 + NR) < NR ? n - (j0 + NR) : NR;
            size_t ld;
            const float *pp = packed + f32_panel_offset(p, k, panels, &ld);
            const __m512 bv0 = f32_bias_avx512(bias, j0, NR), bv1 = f32_bias_avx512(bias, j0 + NR, nj1);
            size_t r = 0;
            for (; r + 8 <= rows; r += 8) f32_tile2_avx512(8, x + r * ldx, ldx, pp, ld, k, bv0, bv1, y + r * ldy + j0, ldy, nj1);
            const float *xr = x + r * ldx;
            float *yr = y + r * ldy + j0;
            switch (rows - r) {
            case 7: f32_tile2_avx512(7, xr, ldx, pp, ld, k, bv0, bv1, yr, ldy, nj1); break;
            case 6: f32_tile2_avx512(6, xr, ldx, pp, ld, k, bv0, bv1, yr, ldy, nj1); break;
            case 5: f32_tile2_avx512(5, xr, ldx, pp, ld, k, bv0, bv1, yr, ldy, nj1); break;
            case 4: f32_tile2_avx512(4, xr, ldx, pp, ld, k, bv0, bv1, yr, ldy, nj1); break;
            case 3: f32_tile2_avx512(3, xr, ldx, pp, ld, k, bv0, bv1, yr, ldy, nj1); break;
            case 2: f32_tile2_avx512(2, xr, ldx, pp, ld, k, bv0, bv1, yr, ldy, nj1); break;
            case 1: f32_tile2_avx512(1, xr, ldx, pp, ld, k, bv0, bv1, yr, ldy, nj1); break;
            default: break;
            }
        }
        for (; p < panels; ++p) {
            const size_t j0 = p * NR, nj = n - j0 < NR ? n - j0 : NR;
            size_t ld;
            const float *pp = packed + f32_panel_offset(p, k, panels, &ld);
            const __m512 bv = f32_bias_avx512(bias, j0, nj);
            size_t r = 0;
            for (; r + 8 <= rows; r += 8) f32_tile_avx512(8, x + r * ldx, ldx, pp, ld, k, bv, y + r * ldy + j0, ldy, nj);
            const float *xr = x + r * ldx;
            float *yr = y + r * ldy + j0;
            switch (rows - r) {
            case 7: f32_tile_avx512(7, xr, ldx, pp, ld, k, bv, yr, ldy, nj); break;
            case 6: f32_tile_avx512(6, xr, ldx, pp, ld, k, bv, yr, ldy, nj); break;
            case 5: f32_tile_avx512(5, xr, ldx, pp, ld, k, bv, yr, ldy, nj); break;
            case 4: f32_tile_avx512(4, xr, ldx, pp, ld, k, bv, yr, ldy, nj); break;
            case 3: f32_tile_avx512(3, xr, ldx, pp, ld, k, bv, yr, ldy, nj); break;
            case 2: f32_tile_avx512(2, xr, ldx, pp, ld, k, bv, yr, ldy, nj); break;
            case 1: f32_tile_avx512(1, xr, ldx, pp, ld, k, bv, yr, ldy, nj); break;
            default: break;
            }
        }
        r0 = rows;
    }
    for (size_t r = r0; r < rows; ++r) f32_gemv_avx512(x + r * ldx, packed, n, k, bias, y + r * ldy, 0);
}

#endif

#if CRNN_ARM64

/* NEON: a panel of 16 outputs is four registers. The outputs are the same in-order FMA chains
 * as on x86 (fmla rounds once, as vfmadd does), so the results are those of the x86 levels. */

/* One row against `np` (1..4) consecutive panels of one group starting at panel p: 16
 * accumulators, the FMA chains in flight (4 pipes x 4 cycles of latency on the big cores), with
 * the weights and four columns of x in the other registers. A whole group (8 panels) would need
 * all 32 registers for its accumulators, so a group is read in two passes of 256 of every 512
 * bytes. */
CRNN_INLINE void f32_row_panels_neon(const int np, const float *x, const float *packed, size_t p, size_t panels,
                                     size_t n, size_t k, const float *bias, float *y) {
    float32x4_t acc[4][4];
    float btmp[4][NR];
    for (int q = 0; q < np; ++q) {
        const size_t j0 = (p + q) * NR, nj = n - j0 < NR ? n - j0 : NR;
        const float *b = crnn_panel_bias(bias, j0, nj, btmp[q]);
        for (int i = 0; i < 4; ++i) acc[q][i] = vld1q_f32(b + 4 * i);
    }
    size_t ld;
    const float *pp = packed + f32_panel_offset(p, k, panels, &ld);
    size_t c = 0;
/* Column c + lane of the four in xv (lanes must be literals). */
#define F32_COLUMN_NEON(lane)                                                                         \
    do {                                                                                              \
        const float *w = pp + (c + (lane)) * ld;                                                      \
        for (int q = 0; q < np; ++q)                                                                  \
            for (int i = 0; i < 4; ++i)                                                               \
                acc[q][i] = vfmaq_laneq_f32(acc[q][i], vld1q_f32(w + q * NR + 4 * i), xv, (lane));    \
    } while (0)
    for (; c + 4 <= k; c += 4) {
        const float32x4_t xv = vld1q_f32(x + c);
        F32_COLUMN_NEON(0);
        F32_COLUMN_NEON(1);
        F32_COLUMN_NEON(2);
        F32_COLUMN_NEON(3);
    }
#undef F32_COLUMN_NEON
    for (; c < k; ++c) {
        const float32x4_t xv = vdupq_n_f32(x[c]);
        const float *w = pp + c * ld;
        for (int q = 0; q < np; ++q)
            for (int i = 0; i < 4; ++i) acc[q][i] = vfmaq_f32(acc[q][i], xv, vld1q_f32(w + q * NR + 4 * i));
    }
    for (int q = 0; q < np; ++q) {
        const size_t j0 = (p + q) * NR;
        crnn_neon_store16_f32(y + j0, n - j0 < NR ? n - j0 : NR, acc[q]);
    }
}

static void f32_gemv_neon(const float *x, const float *packed, size_t n, size_t k, const float *bias, float *y) {
    const size_t panels = crnn_round_up(n, NR) / NR;
    size_t p = 0;
    /* Groups have 8 panels, so passes of 4 from a multiple of 4 stay inside one. */
    for (; p + 4 <= panels; p += 4) f32_row_panels_neon(4, x, packed, p, panels, n, k, bias, y);
    switch (panels - p) {
    case 3: f32_row_panels_neon(3, x, packed, p, panels, n, k, bias, y); break;
    case 2: f32_row_panels_neon(2, x, packed, p, panels, n, k, bias, y); break;
    case 1: f32_row_panels_neon(1, x, packed, p, panels, n, k, bias, y); break;
    default: break;
    }
}

/* MR rows (2..6) against one panel: 24 accumulators at MR = 6, four weight registers each
 * column shared by the rows, one broadcast of x at a time. */
CRNN_INLINE void f32_tile_neon(const int mr, const float *x, size_t ldx, const float *pp, size_t ld, size_t k,
                               const float *b, float *y, size_t ldy, size_t nj) {
    float32x4_t acc[6][4];
    for (int i = 0; i < 4; ++i) {
        const float32x4_t bv = vld1q_f32(b + 4 * i);
        for (int r = 0; r < mr; ++r) acc[r][i] = bv;
    }
    for (size_t c = 0; c < k; ++c) {
        const float *w = pp + c * ld;
        const float32x4_t w0 = vld1q_f32(w), w1 = vld1q_f32(w + 4), w2 = vld1q_f32(w + 8), w3 = vld1q_f32(w + 12);
        for (int r = 0; r < mr; ++r) {
            const float32x4_t xv = vld1q_dup_f32(x + r * ldx + c);
            acc[r][0] = vfmaq_f32(acc[r][0], xv, w0);
            acc[r][1] = vfmaq_f32(acc[r][1], xv, w1);
            acc[r][2] = vfmaq_f32(acc[r][2], xv, w2);
            acc[r][3] = vfmaq_f32(acc[r][3], xv, w3);
        }
    }
    for (int r = 0; r < mr; ++r) crnn_neon_store16_f32(y + r * ldy, nj, acc[r]);
}

static void f32_gemm_neon(const float *x, size_t rows, size_t ldx, const float *packed, size_t n, size_t k,
                          const float *bias, float *y, size_t ldy) {
    const size_t panels = crnn_round_up(n, NR) / NR;
    const size_t full = rows / 6 * 6, rest = rows - full;
    if (rows >= 2) {
        float btmp[NR];
        for (size_t p = 0; p < panels; ++p) {
            const size_t j0 = p * NR, nj = n - j0 < NR ? n - j0 : NR;
            size_t ld;
            const float *pp = packed + f32_panel_offset(p, k, panels, &ld);
            const float *b = crnn_panel_bias(bias, j0, nj, btmp);
            for (size_t r = 0; r < full; r += 6) f32_tile_neon(6, x + r * ldx, ldx, pp, ld, k, b, y + r * ldy + j0, ldy, nj);
            const float *xr = x + full * ldx;
            float *yr = y + full * ldy + j0;
            switch (rest) {
            case 5: f32_tile_neon(5, xr, ldx, pp, ld, k, b, yr, ldy, nj); break;
            case 4: f32_tile_neon(4, xr, ldx, pp, ld, k, b, yr, ldy, nj); break;
            case 3: f32_tile_neon(3, xr, ldx, pp, ld, k, b, yr, ldy, nj); break;
            case 2: f32_tile_neon(2, xr, ldx, pp, ld, k, b, yr, ldy, nj); break;
            default: break;
            }
        }
    }
    if (rest == 1) f32_gemv_neon(x + full * ldx, packed, n, k, bias, y + full * ldy);
}

#endif

static void f32_gemm_rows(int isa, const float *x, size_t rows, size_t ldx, const float *packed,
                          size_t n, size_t k, const float *bias, float *y, size_t ldy);

/* Rows in chunks whose x takes at most a quarter of the L2 (a multiple of 8 rows, at least 8):
 * the kernels pass over all of x once per panel or pair of panels, so an x larger than the
 * L2 streamed from L3 once per panel. Every row is computed as in one call. */
static void f32_gemm(int isa, const float *x, size_t rows, size_t ldx, const float *packed,
                     size_t n, size_t k, const float *bias, float *y, size_t ldy) {
    const size_t row_bytes = (ldx > k ? ldx : k) * sizeof(float) + 1, quarter = crnn_l2_cache_bytes() / 4;
    if (rows <= 8 || rows * row_bytes <= quarter) {
        /* Every one-row product of a time loop: no division on its way. */
        f32_gemm_rows(isa, x, rows, ldx, packed, n, k, bias, y, ldy);
        return;
    }
    size_t chunk = quarter / row_bytes / 8 * 8;
    if (chunk < 8) chunk = 8;
    for (size_t r = 0; r < rows; r += chunk)
        f32_gemm_rows(isa, x + r * ldx, rows - r < chunk ? rows - r : chunk, ldx, packed, n, k, bias, y + r * ldy, ldy);
}

static void f32_gemm_rows(int isa, const float *x, size_t rows, size_t ldx, const float *packed,
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
#elif CRNN_ARM64
    if (crnn_effective_isa(isa) >= CRNN_ISA_NEON) {
        f32_gemm_neon(x, rows, ldx, packed, n, k, bias, y, ldy);
        return;
    }
#endif
    (void)isa;
    f32_gemm_portable(x, rows, ldx, packed, n, k, bias, y, ldy);
}

void crnn_f32_gemm(int isa, const float *x, size_t rows, size_t ldx, const float *packed,
                   size_t n, size_t k, const float *bias, float *y, size_t ldy, int backward) {
    if (!backward || rows != 1 || n <= CRNN_ROW_BLOCK) {
        f32_gemm(isa, x, rows, ldx, packed, n, k, bias, y, ldy);
        return;
    }
#if CRNN_X86
    if (crnn_effective_isa(isa) >= CRNN_ISA_AVX512) {
        f32_gemv_avx512(x, packed, n, k, bias, y, 1);
        return;
    }
#endif
    /* Elsewhere block by block, each the product over its rows that a split computes. */
    for (size_t b = crnn_row_blocks(n); b-- > 0;) {
        const size_t first = b * CRNN_ROW_BLOCK;
        f32_gemm(isa, x, 1, ldx, packed + crnn_f32_packed_offset(first, k), crnn_row_block_rows(b, n), k,
                 bias ? bias + first : NULL, y + first, ldy);
    }
}
