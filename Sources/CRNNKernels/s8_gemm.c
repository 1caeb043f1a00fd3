#include "internal.h"
#include <math.h>
#include <string.h>

#define NR CRNN_S8_PANEL
#define KG CRNN_S8_KGROUP

size_t crnn_s8_padded_k(size_t k) { return crnn_round_up(k, KG); }
size_t crnn_s8_packed_count(size_t n, size_t k) { return crnn_round_up(n, NR) * crnn_round_up(k, KG); }

/* Panels are contiguous blocks of NR * padded k bytes. */
size_t crnn_s8_packed_offset(size_t row, size_t k) { return row * crnn_round_up(k, KG); }

void crnn_s8_pack(const int8_t *w, size_t n, size_t k, size_t ldw, int8_t *packed, int32_t *colsum) {
    const size_t panels = crnn_round_up(n, NR) / NR, groups = crnn_round_up(k, KG) / KG;
    for (size_t p = 0; p < panels; ++p) {
        int8_t *dst = packed + p * NR * groups * KG;
        for (size_t g = 0; g < groups; ++g) {
            for (size_t j = 0; j < NR; ++j) {
                for (size_t t = 0; t < KG; ++t) {
                    const size_t row = p * NR + j, c = g * KG + t;
                    dst[(g * NR + j) * KG + t] = (row < n && c < k) ? w[row * ldw + c] : 0;
                }
            }
        }
    }
    if (colsum) {
        for (size_t j = 0; j < n; ++j) {
            int32_t s = 0;
            for (size_t c = 0; c < k; ++c) s += w[j * ldw + c];
            colsum[j] = s;
        }
    }
}

/* What happens to a finished tile of accumulators: stored as int32, or turned into floats. */
typedef struct {
    int32_t *acc;
    size_t ldacc;
    float *y;
    size_t ldy;
    const int32_t *colsum;
    int32_t x_zero_point;
    float x_scale;
    const float *w_scale;
    const float *bias;
    /* A product of one row at the AVX-512 level goes by blocks (s8_row_avx512). */
    int row_blocks;
} s8_output;

/* The panel's colsum, scales and biases, zero-padded past n (copied only for a partial panel). */
typedef struct {
    const int32_t *colsum;
    const float *w_scale;
    const float *bias;
    int32_t colsum_tmp[NR];
    float w_scale_tmp[NR];
    float bias_tmp[NR];
} s8_panel_epilogue;

static inline void s8_panel_epilogue_init(s8_panel_epilogue *e, const s8_output *o, size_t j0, size_t nj) {
    if (!o->y) return;
    if (nj == NR && o->bias) {
        e->colsum = o->colsum + j0;
        e->w_scale = o->w_scale + j0;
        e->bias = o->bias + j0;
        return;
    }
    for (size_t j = 0; j < NR; ++j) {
        e->colsum_tmp[j] = j < nj ? o->colsum[j0 + j] : 0;
        e->w_scale_tmp[j] = j < nj ? o->w_scale[j0 + j] : 0.0f;
        e->bias_tmp[j] = (j < nj && o->bias) ? o->bias[j0 + j] : 0.0f;
    }
    e->colsum = e->colsum_tmp;
    e->w_scale = e->w_scale_tmp;
    e->bias = e->bias_tmp;
}

/* acc - zp * colsum with int32 wrap-around (what the vector code computes). */
static inline int32_t s8_corrected(int32_t acc, int32_t zp, int32_t colsum) {
    return (int32_t)((uint32_t)acc - (uint32_t)zp * (uint32_t)colsum);
}

static void s8_gemm_portable(const uint8_t *x, size_t rows, size_t ldx, const int8_t *packed,
                             size_t n, size_t k, const s8_output *o) {
    const size_t panels = crnn_round_up(n, NR) / NR, groups = crnn_round_up(k, KG) / KG;
    s8_panel_epilogue e;
    for (size_t p = 0; p < panels; ++p) {
        const size_t j0 = p * NR, nj = n - j0 < NR ? n - j0 : NR;
        const int8_t *pp = packed + p * NR * groups * KG;
        s8_panel_epilogue_init(&e, o, j0, nj);
        for (size_t r = 0; r < rows; ++r) {
            const uint8_t *xr = x + r * ldx;
            int32_t acc[NR] = {0};
            for (size_t g = 0; g < groups; ++g) {
                const uint8_t *xg = xr + g * KG;
                const int8_t *w = pp + g * NR * KG;
                for (size_t j = 0; j < NR; ++j) {
                    acc[j] += (int32_t)xg[0] * w[j * KG] + (int32_t)xg[1] * w[j * KG + 1]
                            + (int32_t)xg[2] * w[j * KG + 2] + (int32_t)xg[3] * w[j * KG + 3];
                }
            }
            if (o->y) {
                float *yr = o->y + r * o->ldy + j0;
                for (size_t j = 0; j < nj; ++j) {
                    const int32_t a = s8_corrected(acc[j], o->x_zero_point, e.colsum[j]);
                    yr[j] = fmaf((float)a, o->x_scale * e.w_scale[j], e.bias[j]);
                }
            } else {
                memcpy(o->acc + r * o->ldacc + j0, acc, nj * sizeof(int32_t));
            }
        }
    }
}

#if CRNN_X86

CRNN_AVX2 CRNN_INLINE void s8_finish_avx2(const s8_output *o, const s8_panel_epilogue *e, size_t r,
                                         size_t j0, size_t nj, __m256i a0, __m256i a1) {
    if (o->y) {
        const __m256i zp = _mm256_set1_epi32(o->x_zero_point);
        const __m256 xs = _mm256_set1_ps(o->x_scale);
        const __m256i t0 = _mm256_sub_epi32(a0, _mm256_mullo_epi32(zp, _mm256_loadu_si256((const __m256i *)e->colsum)));
        const __m256i t1 = _mm256_sub_epi32(a1, _mm256_mullo_epi32(zp, _mm256_loadu_si256((const __m256i *)(e->colsum + 8))));
        const __m256 y0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(t0), _mm256_mul_ps(xs, _mm256_loadu_ps(e->w_scale)),
                                          _mm256_loadu_ps(e->bias));
        const __m256 y1 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(t1), _mm256_mul_ps(xs, _mm256_loadu_ps(e->w_scale + 8)),
                                          _mm256_loadu_ps(e->bias + 8));
        float *dst = o->y + r * o->ldy + j0;
        if (nj == NR) {
            _mm256_storeu_ps(dst, y0);
            _mm256_storeu_ps(dst + 8, y1);
        } else {
            float tmp[NR];
            _mm256_storeu_ps(tmp, y0);
            _mm256_storeu_ps(tmp + 8, y1);
            memcpy(dst, tmp, nj * sizeof(float));
        }
    } else {
        int32_t *dst = o->acc + r * o->ldacc + j0;
        if (nj == NR) {
            _mm256_storeu_si256((__m256i *)dst, a0);
            _mm256_storeu_si256((__m256i *)(dst + 8), a1);
        } else {
            int32_t tmp[NR];
            _mm256_storeu_si256((__m256i *)tmp, a0);
            _mm256_storeu_si256((__m256i *)(tmp + 8), a1);
            memcpy(dst, tmp, nj * sizeof(int32_t));
        }
    }
}

CRNN_AVX2 CRNN_INLINE __m256i s8_broadcast4(const uint8_t *p) {
    int32_t v;
    memcpy(&v, p, sizeof v);
    return _mm256_set1_epi32(v);
}

/* MR rows (1..4) against one panel. vpmaddubsw adds two u8*s8 products into int16 (exact for
 * activations <= 128), vpmaddwd against ones widens and adds the pairs into int32. */
CRNN_AVX2 CRNN_INLINE void s8_tile_avx2(const int mr, const uint8_t *x, size_t ldx, const int8_t *pp,
                                       size_t groups, const s8_output *o, const s8_panel_epilogue *e,
                                       size_t r0, size_t j0, size_t nj) {
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i acc0[4], acc1[4];
    for (int r = 0; r < mr; ++r) { acc0[r] = _mm256_setzero_si256(); acc1[r] = _mm256_setzero_si256(); }
    for (size_t g = 0; g < groups; ++g) {
        const __m256i w0 = _mm256_loadu_si256((const __m256i *)(pp + g * NR * KG));
        const __m256i w1 = _mm256_loadu_si256((const __m256i *)(pp + g * NR * KG + 32));
        for (int r = 0; r < mr; ++r) {
            const __m256i xb = s8_broadcast4(x + r * ldx + g * KG);
            acc0[r] = _mm256_add_epi32(acc0[r], _mm256_madd_epi16(_mm256_maddubs_epi16(xb, w0), ones));
            acc1[r] = _mm256_add_epi32(acc1[r], _mm256_madd_epi16(_mm256_maddubs_epi16(xb, w1), ones));
        }
    }
    for (int r = 0; r < mr; ++r) s8_finish_avx2(o, e, r0 + r, j0, nj, acc0[r], acc1[r]);
}

CRNN_AVX2 static void s8_gemm_avx2(const uint8_t *x, size_t rows, size_t ldx, const int8_t *packed,
                                   size_t n, size_t k, const s8_output *o) {
    const size_t panels = crnn_round_up(n, NR) / NR, groups = crnn_round_up(k, KG) / KG;
    s8_panel_epilogue e;
    for (size_t p = 0; p < panels; ++p) {
        const size_t j0 = p * NR, nj = n - j0 < NR ? n - j0 : NR;
        const int8_t *pp = packed + p * NR * groups * KG;
        s8_panel_epilogue_init(&e, o, j0, nj);
        size_t r = 0;
        for (; r + 4 <= rows; r += 4) s8_tile_avx2(4, x + r * ldx, ldx, pp, groups, o, &e, r, j0, nj);
        switch (rows - r) {
        case 3: s8_tile_avx2(3, x + r * ldx, ldx, pp, groups, o, &e, r, j0, nj); break;
        case 2: s8_tile_avx2(2, x + r * ldx, ldx, pp, groups, o, &e, r, j0, nj); break;
        case 1: s8_tile_avx2(1, x + r * ldx, ldx, pp, groups, o, &e, r, j0, nj); break;
        default: break;
        }
    }
}

/* AVX-VNNI: vpdpbusd adds four u8*s8 products into each int32 lane, exact for every u8. Its
 * accumulator latency needs more independent chains than one row gives, hence two per output
 * register when there is a single row. */
CRNN_AVX2_VNNI CRNN_INLINE void s8_tile_vnni256(const int mr, const uint8_t *x, size_t ldx, const int8_t *pp,
                                               size_t groups, const s8_output *o, const s8_panel_epilogue *e,
                                               size_t r0, size_t j0, size_t nj) {
    __m256i acc0[4], acc1[4];
    for (int r = 0; r < mr; ++r) { acc0[r] = _mm256_setzero_si256(); acc1[r] = _mm256_setzero_si256(); }
    size_t g = 0;
    if (mr == 1) {
        __m256i b0 = _mm256_setzero_si256(), b1 = _mm256_setzero_si256();
        for (; g + 2 <= groups; g += 2) {
            const int8_t *w = pp + g * NR * KG;
            const __m256i x0 = s8_broadcast4(x + g * KG), x1 = s8_broadcast4(x + g * KG + KG);
            acc0[0] = _mm256_dpbusd_avx_epi32(acc0[0], x0, _mm256_loadu_si256((const __m256i *)w));
            acc1[0] = _mm256_dpbusd_avx_epi32(acc1[0], x0, _mm256_loadu_si256((const __m256i *)(w + 32)));
            b0 = _mm256_dpbusd_avx_epi32(b0, x1, _mm256_loadu_si256((const __m256i *)(w + 64)));
            b1 = _mm256_dpbusd_avx_epi32(b1, x1, _mm256_loadu_si256((const __m256i *)(w + 96)));
        }
        acc0[0] = _mm256_add_epi32(acc0[0], b0);
        acc1[0] = _mm256_add_epi32(acc1[0], b1);
    }
    for (; g < groups; ++g) {
        const __m256i w0 = _mm256_loadu_si256((const __m256i *)(pp + g * NR * KG));
        const __m256i w1 = _mm256_loadu_si256((const __m256i *)(pp + g * NR * KG + 32));
        for (int r = 0; r < mr; ++r) {
            const __m256i xb = s8_broadcast4(x + r * ldx + g * KG);
            acc0[r] = _mm256_dpbusd_avx_epi32(acc0[r], xb, w0);
            acc1[r] = _mm256_dpbusd_avx_epi32(acc1[r], xb, w1);
        }
    }
    for (int r = 0; r < mr; ++r) s8_finish_avx2(o, e, r0 + r, j0, nj, acc0[r], acc1[r]);
}

CRNN_AVX2_VNNI static void s8_gemm_vnni256(const uint8_t *x, size_t rows, size_t ldx, const int8_t *packed,
                                           size_t n, size_t k, const s8_output *o) {
    const size_t panels = crnn_round_up(n, NR) / NR, groups = crnn_round_up(k, KG) / KG;
    s8_panel_epilogue e;
    for (size_t p = 0; p < panels; ++p) {
        const size_t j0 = p * NR, nj = n - j0 < NR ? n - j0 : NR;
        const int8_t *pp = packed + p * NR * groups * KG;
        s8_panel_epilogue_init(&e, o, j0, nj);
        size_t r = 0;
        for (; r + 4 <= rows; r += 4) s8_tile_vnni256(4, x + r * ldx, ldx, pp, groups, o, &e, r, j0, nj);
        switch (rows - r) {
        case 3: s8_tile_vnni256(3, x + r * ldx, ldx, pp, groups, o, &e, r, j0, nj); break;
        case 2: s8_tile_vnni256(2, x + r * ldx, ldx, pp, groups, o, &e, r, j0, nj); break;
        case 1: s8_tile_vnni256(1, x + r * ldx, ldx, pp, groups, o, &e, r, j0, nj); break;
        default: break;
        }
    }
}

/* AVX-512 VNNI: a group of a panel (16 outputs x 4 columns) is one ZMM register. */
CRNN_AVX512 CRNN_INLINE void s8_finish_avx512(const s8_output *o, const s8_panel_epilogue *e, size_t r,
                                             size_t j0, size_t nj, __m512i a) {
    const __mmask16 mask = nj == NR ? (__mmask16)0xFFFF : (__mmask16)((1u << nj) - 1);
    if (o->y) {
        const __m512i t = _mm512_sub_epi32(a, _mm512_mullo_epi32(_mm512_set1_epi32(o->x_zero_point),
                                                                 _mm512_loadu_si512(e->colsum)));
        const __m512 m = _mm512_mul_ps(_mm512_set1_ps(o->x_scale), _mm512_loadu_ps(e->w_scale));
        _mm512_mask_storeu_ps(o->y + r * o->ldy + j0, mask,
                              _mm512_fmadd_ps(_mm512_cvtepi32_ps(t), m, _mm512_loadu_ps(e->bias)));
    } else {
        _mm512_mask_storeu_epi32(o->acc + r * o->ldacc + j0, mask, a);
    }
}

CRNN_AVX512 CRNN_INLINE void s8_tile_avx512(const int mr, const uint8_t *x, size_t ldx, const int8_t *pp,
                                           size_t groups, const s8_output *o, const s8_panel_epilogue *e,
                                           size_t r0, size_t j0, size_t nj) {
    __m512i acc[8];
    for (int r = 0; r < mr; ++r) acc[r] = _mm512_setzero_si512();
    for (size_t g = 0; g < groups; ++g) {
        const __m512i w = _mm512_loadu_si512(pp + g * NR * KG);
        for (int r = 0; r < mr; ++r) {
            int32_t xv;
            memcpy(&xv, x + r * ldx + g * KG, sizeof xv);
            acc[r] = _mm512_dpbusd_epi32(acc[r], _mm512_set1_epi32(xv), w);
        }
    }
    for (int r = 0; r < mr; ++r) s8_finish_avx512(o, e, r0 + r, j0, nj, acc[r]);
}

/* MR rows (1..8) against two consecutive panels: each broadcast of 4 activations feeds two
 * vpdpbusd, halving the broadcasts of the one-panel tile for batched rows. */
CRNN_AVX512 CRNN_INLINE void s8_tile2_avx512(const int mr, const uint8_t *x, size_t ldx, const int8_t *pp,
                                            size_t groups, const s8_output *o, const s8_panel_epilogue *e0,
                                            const s8_panel_epilogue *e1, size_t r0, size_t j0, size_t nj1) {
    const int8_t *pp1 = pp + NR * groups * KG;
    __m512i acc0[8], acc1[8];
    for (int r = 0; r < mr; ++r) { acc0[r] = _mm512_setzero_si512(); acc1[r] = _mm512_setzero_si512(); }
    for (size_t g = 0; g < groups; ++g) {
        const __m512i w0 = _mm512_loadu_si512(pp + g * NR * KG), w1 = _mm512_loadu_si512(pp1 + g * NR * KG);
        for (int r = 0; r < mr; ++r) {
            int32_t xv;
            memcpy(&xv, x + r * ldx + g * KG, sizeof xv);
            const __m512i xb = _mm512_set1_epi32(xv);
            acc0[r] = _mm512_dpbusd_epi32(acc0[r], xb, w0);
            acc1[r] = _mm512_dpbusd_epi32(acc1[r], xb, w1);
        }
    }
    for (int r = 0; r < mr; ++r) {
        s8_finish_avx512(o, e0, r0 + r, j0, NR, acc0[r]);
        s8_finish_avx512(o, e1, r0 + r, j0 + NR, nj1, acc1[r]);
    }
}

/* One row (batch 1), one panel at a time: a panel is a run of vpdpbusd that depend only on
 * their accumulator, in eight chains. Four chains left the L2 idle between panels: ~42 bytes a
 * cycle on Zen 5; eight reach 1.03-1.10x the read floor there (4H x 256 twice, as an LSTM 256
 * stream step: 2.93 -> 2.31 us). Two panels sharing each broadcast were faster from L1 but 1.5x
 * slower from L2 on Zen 5 (two streams 4 KiB apart). */
CRNN_AVX512 static void s8_row_panel_avx512(const uint8_t *x, const int8_t *packed, size_t p, size_t n,
                                            size_t groups, const s8_output *o) {
    const size_t j0 = p * NR, nj = n - j0 < NR ? n - j0 : NR;
    const int8_t *pp = packed + p * NR * groups * KG;
    __m512i a[8];
    for (int i = 0; i < 8; ++i) a[i] = _mm512_setzero_si512();
    size_t g = 0;
    for (; g + 8 <= groups; g += 8) {
        for (int i = 0; i < 8; ++i) {
            int32_t xv;
            memcpy(&xv, x + (g + i) * KG, sizeof xv);
            a[i] = _mm512_dpbusd_epi32(a[i], _mm512_set1_epi32(xv), _mm512_loadu_si512(pp + (g + i) * NR * KG));
        }
    }
    for (; g < groups; ++g) {
        int32_t xv;
        memcpy(&xv, x + g * KG, sizeof xv);
        a[0] = _mm512_dpbusd_epi32(a[0], _mm512_set1_epi32(xv), _mm512_loadu_si512(pp + g * NR * KG));
    }
    const __m512i sum = _mm512_add_epi32(_mm512_add_epi32(_mm512_add_epi32(a[0], a[1]), _mm512_add_epi32(a[2], a[3])),
                                         _mm512_add_epi32(_mm512_add_epi32(a[4], a[5]), _mm512_add_epi32(a[6], a[7])));
    s8_panel_epilogue e;
    s8_panel_epilogue_init(&e, o, j0, nj);
    s8_finish_avx512(o, &e, 0, j0, nj, sum);
}

/* One row, the eight panels of a whole block of CRNN_ROW_BLOCK rows at once: 16 broadcasts of
 * activations held in registers feed all eight panels' chains, one broadcast load per eight
 * vpdpbusd instead of one per vpdpbusd. */
CRNN_AVX512 static void s8_row_block_avx512(const uint8_t *x, const int8_t *packed, size_t p0, size_t groups,
                                            const s8_output *o) {
    enum { P = CRNN_ROW_BLOCK / NR, G = 16 };
    const size_t ps = NR * groups * KG;
    const int8_t *pp = packed + p0 * ps;
    __m512i a[P];
    for (int i = 0; i < P; ++i) a[i] = _mm512_setzero_si512();
    size_t g = 0;
    for (; g + G <= groups; g += G) {
        __m512i b[G];
        for (int j = 0; j < G; ++j) {
            int32_t xv;
            memcpy(&xv, x + (g + j) * KG, sizeof xv);
            b[j] = _mm512_set1_epi32(xv);
        }
        for (int j = 0; j < G; ++j)
            for (int i = 0; i < P; ++i)
                a[i] = _mm512_dpbusd_epi32(a[i], b[j], _mm512_loadu_si512(pp + i * ps + (g + j) * NR * KG));
    }
    for (; g < groups; ++g) {
        int32_t xv;
        memcpy(&xv, x + g * KG, sizeof xv);
        const __m512i b = _mm512_set1_epi32(xv);
        for (int i = 0; i < P; ++i) a[i] = _mm512_dpbusd_epi32(a[i], b, _mm512_loadu_si512(pp + i * ps + g * NR * KG));
    }
    s8_panel_epilogue e;
    for (int i = 0; i < P; ++i) {
        s8_panel_epilogue_init(&e, o, (p0 + i) * NR, NR);
        s8_finish_avx512(o, &e, 0, (p0 + i) * NR, NR, a[i]);
    }
}

/* One row. With `by_blocks` whole blocks of CRNN_ROW_BLOCK rows go through
 * s8_row_block_avx512, the rest (and everything otherwise) panel by panel. `backward` visits the
 * blocks last (the partial one) to first, each block's panels in order (panel by panel backward
 * was up to 1.5x slower from L2 on Zen 5). */
CRNN_AVX512 static void s8_row_avx512(const uint8_t *x, const int8_t *packed, size_t n, size_t k,
                                      const s8_output *o, int backward, int by_blocks) {
    const size_t panels = crnn_round_up(n, NR) / NR, groups = crnn_round_up(k, KG) / KG;
    const size_t per_block = CRNN_ROW_BLOCK / NR, blocks = crnn_row_blocks(n);
    for (size_t i = 0; i < blocks; ++i) {
        const size_t b = backward ? blocks - 1 - i : i, p0 = b * per_block;
        const size_t end = p0 + per_block < panels ? p0 + per_block : panels;
        if (by_blocks && end - p0 == per_block && (b + 1) * CRNN_ROW_BLOCK <= n) {
            s8_row_block_avx512(x, packed, p0, groups, o);
        } else {
            for (size_t p = p0; p < end; ++p) s8_row_panel_avx512(x, packed, p, n, groups, o);
        }
    }
}

CRNN_AVX512 static void s8_gemm_avx512(const uint8_t *x, size_t rows, size_t ldx, const int8_t *packed,
                                       size_t n, size_t k, const s8_output *o) {
    const size_t panels = crnn_round_up(n, NR) / NR, groups = crnn_round_up(k, KG) / KG;
    if (rows == 1) {
        s8_row_avx512(x, packed, n, k, o, 0, o->row_blocks);
        return;
    }
    s8_panel_epilogue e, e1;
    size_t p = 0;
    for (; p + 2 <= panels; p += 2) {
        const size_t j0 = p * NR, nj1 = n - (j0 + NR) < NR ? n - (j0 + NR) : NR;
        const int8_t *pp = packed + p * NR * groups * KG;
        s8_panel_epilogue_init(&e, o, j0, NR);
        s8_panel_epilogue_init(&e1, o, j0 + NR, nj1);
        size_t r = 0;
        for (; r + 8 <= rows; r += 8) s8_tile2_avx512(8, x + r * ldx, ldx, pp, groups, o, &e, &e1, r, j0, nj1);
        const uint8_t *xr = x + r * ldx;
        switch (rows - r) {
        case 7: s8_tile2_avx512(7, xr, ldx, pp, groups, o, &e, &e1, r, j0, nj1); break;
        case 6: s8_tile2_avx512(6, xr, ldx, pp, groups, o, &e, &e1, r, j0, nj1); break;
        case 5: s8_tile2_avx512(5, xr, ldx, pp, groups, o, &e, &e1, r, j0, nj1); break;
        case 4: s8_tile2_avx512(4, xr, ldx, pp, groups, o, &e, &e1, r, j0, nj1); break;
        case 3: s8_tile2_avx512(3, xr, ldx, pp, groups, o, &e, &e1, r, j0, nj1); break;
        case 2: s8_tile2_avx512(2, xr, ldx, pp, groups, o, &e, &e1, r, j0, nj1); break;
        case 1: s8_tile2_avx512(1, xr, ldx, pp, groups, o, &e, &e1, r, j0, nj1); break;
        default: break;
        }
    }
    for (; p < panels; ++p) {
        const size_t j0 = p * NR, nj = n - j0 < NR ? n - j0 : NR;
        const int8_t *pp = packed + p * NR * groups * KG;
        s8_panel_epilogue_init(&e, o, j0, nj);
        size_t r = 0;
        for (; r + 8 <= rows; r += 8) s8_tile_avx512(8, x + r * ldx, ldx, pp, groups, o, &e, r, j0, nj);
        const uint8_t *xr = x + r * ldx;
        switch (rows - r) {
        case 7: s8_tile_avx512(7, xr, ldx, pp, groups, o, &e, r, j0, nj); break;
        case 6: s8_tile_avx512(6, xr, ldx, pp, groups, o, &e, r, j0, nj); break;
        case 5: s8_tile_avx512(5, xr, ldx, pp, groups, o, &e, r, j0, nj); break;
        case 4: s8_tile_avx512(4, xr, ldx, pp, groups, o, &e, r, j0, nj); break;
        case 3: s8_tile_avx512(3, xr, ldx, pp, groups, o, &e, r, j0, nj); break;
        case 2: s8_tile_avx512(2, xr, ldx, pp, groups, o, &e, r, j0, nj); break;
        case 1: s8_tile_avx512(1, xr, ldx, pp, groups, o, &e, r, j0, nj); break;
        default: break;
        }
    }
}

#endif

#if CRNN_ARM64

/* arm64: the products are s8 x s8 (smull, sdot), which is exact for activations up to 127: those
 * are the same bytes as s8. A call whose rows hold a larger code flips every activation's top
 * bit, x - 128 in s8, and adds 128 * (sum of the row's weights), taken from the packed panel (the
 * caller's colsum is not trusted for that): exact for every code, and the reduce_range codes of
 * PyTorch's modules never pay for it. */

/* A panel's 16 accumulators in four registers, turned into the output (as s8_gemm_portable). */
CRNN_INLINE void s8_finish_neon(const s8_output *o, const s8_panel_epilogue *e, size_t r, size_t j0, size_t nj,
                                const int32x4_t a[4]) {
    if (o->y) {
        const int32x4_t zp = vdupq_n_s32(o->x_zero_point);
        const float32x4_t xs = vdupq_n_f32(o->x_scale);
        float32x4_t v[4];
        for (int i = 0; i < 4; ++i) {
            /* mls wraps like s8_corrected; scvtf rounds to nearest like the (float) cast; fmla
             * rounds once like fmaf. */
            const int32x4_t t = vmlsq_s32(a[i], zp, vld1q_s32(e->colsum + 4 * i));
            const float32x4_t m = vmulq_f32(xs, vld1q_f32(e->w_scale + 4 * i));
            v[i] = vfmaq_f32(vld1q_f32(e->bias + 4 * i), vcvtq_f32_s32(t), m);
        }
        crnn_neon_store16_f32(o->y + r * o->ldy + j0, nj, v);
    } else {
        crnn_neon_store16_s32(o->acc + r * o->ldacc + j0, nj, a);
    }
}

/* The largest of the first k codes of each row (padding bytes do not count: their weights are 0,
 * so they add nothing, flipped or not). */
static unsigned s8_max_code_neon(const uint8_t *x, size_t rows, size_t ldx, size_t k) {
    uint8x16_t m = vdupq_n_u8(0);
    unsigned top = 0;
    for (size_t r = 0; r < rows; ++r) {
        const uint8_t *xr = x + r * ldx;
        size_t c = 0;
        for (; c + 16 <= k; c += 16) m = vmaxq_u8(m, vld1q_u8(xr + c));
        for (; c < k; ++c) top = xr[c] > top ? xr[c] : top;
    }
    const unsigned v = vmaxvq_u8(m);
    return v > top ? v : top;
}

/* 128 * the sum of each of a panel's rows of weights: pairs (saddlp), then the pairs of pairs
 * (sadalp) of every group. */
static void s8_flip_correction_neon(const int8_t *pp, size_t groups, int32x4_t corr[4]) {
    int32x4_t s[4] = {vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0)};
    for (size_t g = 0; g < groups; ++g)
        for (int i = 0; i < 4; ++i) s[i] = vpadalq_s16(s[i], vpaddlq_s8(vld1q_s8(pp + g * NR * KG + 16 * i)));
    for (int i = 0; i < 4; ++i) corr[i] = vshlq_n_s32(s[i], 7);
}

/* A group's 4 activations in every 32-bit lane, top bits flipped by `flip` (0 or 0x80 bytes). */
CRNN_INLINE int8x16_t s8_codes4_neon(const uint8_t *p, uint8x16_t flip) {
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return vreinterpretq_s8_u8(veorq_u8(vreinterpretq_u8_u32(vdupq_n_u32(v)), flip));
}

/* The accumulators of MR (1..S8_ARM64_ROWS) rows against one panel, with the activations as
 * flipped by `flip`, without the flip's correction. */
#define S8_ARM64_ROWS 4
typedef void (*s8_tile_arm64)(size_t mr, const uint8_t *x, size_t ldx, const int8_t *pp, size_t groups,
                              uint8x16_t flip, int32x4_t a[S8_ARM64_ROWS][4]);

/* NEON: smull multiplies 8 weight bytes by 8 activations into int16 (an s8 * s8 product fits),
 * sadalp adds the products in pairs into int32. Each of a row's outputs is two int32 lanes
 * (columns 0-1 and 2-3 of every group), added at the end. 8 accumulators per row, up to 3 rows
 * (with their 3 activation registers and the weights, 31 registers). */
CRNN_INLINE void s8_tile_smull(const int mr, const uint8_t *x, size_t ldx, const int8_t *pp, size_t groups,
                               uint8x16_t flip, int32x4_t (*out)[4]) {
    int32x4_t a[3][8];
    for (int r = 0; r < mr; ++r)
        for (int i = 0; i < 8; ++i) a[r][i] = vdupq_n_s32(0);
    for (size_t g = 0; g < groups; ++g) {
        int8x16_t xv[3];
        for (int r = 0; r < mr; ++r) xv[r] = s8_codes4_neon(x + r * ldx + g * KG, flip);
        const int8_t *w = pp + g * NR * KG;
        for (int i = 0; i < 4; ++i) {
            const int8x16_t wv = vld1q_s8(w + 16 * i); /* rows 4i..4i+3, 4 weights each */
            for (int r = 0; r < mr; ++r) {
                a[r][2 * i] = vpadalq_s16(a[r][2 * i], vmull_s8(vget_low_s8(wv), vget_low_s8(xv[r])));
                a[r][2 * i + 1] = vpadalq_s16(a[r][2 * i + 1], vmull_high_s8(wv, xv[r]));
            }
        }
    }
    for (int r = 0; r < mr; ++r)
        for (int i = 0; i < 4; ++i) out[r][i] = vpaddq_s32(a[r][2 * i], a[r][2 * i + 1]);
}

static void s8_tile_neon(size_t mr, const uint8_t *x, size_t ldx, const int8_t *pp, size_t groups, uint8x16_t flip,
                         int32x4_t a[S8_ARM64_ROWS][4]) {
    switch (mr) {
    case 1: s8_tile_smull(1, x, ldx, pp, groups, flip, a); break;
    case 2: s8_tile_smull(2, x, ldx, pp, groups, flip, a); break;
    default: /* 3 or 4: the registers hold 3 rows */
        s8_tile_smull(3, x, ldx, pp, groups, flip, a);
        if (mr == 4) s8_tile_smull(1, x + 3 * ldx, ldx, pp, groups, flip, a + 3);
        break;
    }
}

/* The dot-product level: sdot adds four s8 * s8 products into each int32 lane, and a group of a
 * panel (16 rows x 4 columns) is four registers, so one sdot by element takes one quarter of the
 * rows against the group's 4 activations (one 32-bit lane of a register holding 4 groups'
 * worth). */

CRNN_INLINE int8x16_t s8_codes16_neon(const uint8_t *p, uint8x16_t flip) {
    return vreinterpretq_s8_u8(veorq_u8(vld1q_u8(p), flip));
}

/* MR rows (1..4) against one panel, each row's accumulators in SETS (1 or 4) sets: one row keeps
 * groups g, g+1, g+2, g+3 of each step of 4 in four sets, 16 independent sdot chains; four rows
 * fill the 16 with one set each, sharing each group's four weight registers. One 16-byte load of
 * activations per row and 4 groups. */
CRNN_DOTPROD CRNN_INLINE void s8_rows_dot(const int mr, const int sets, const uint8_t *x, size_t ldx, const int8_t *pp,
                                          size_t groups, uint8x16_t flip, int32x4_t out[S8_ARM64_ROWS][4]) {
    int32x4_t a[4][4]; /* row r, set s at r * sets + s */
    for (int t = 0; t < mr * sets; ++t)
        for (int i = 0; i < 4; ++i) a[t][i] = vdupq_n_s32(0);
    size_t g = 0;
    for (; g + 4 <= groups; g += 4) {
        int8x16_t xv[4];
        for (int r = 0; r < mr; ++r) xv[r] = s8_codes16_neon(x + r * ldx + g * KG, flip);
        const int8_t *w = pp + g * NR * KG;
#define S8_GROUP_DOT(lane)                                                                                \
    do {                                                                                                  \
        int8x16_t wv[4];                                                                                  \
        for (int i = 0; i < 4; ++i) wv[i] = vld1q_s8(w + (lane) * NR * KG + 16 * i);                      \
        for (int r = 0; r < mr; ++r) {                                                                    \
            int32x4_t *acc = a[r * sets + (sets > 1 ? (lane) : 0)];                                       \
            for (int i = 0; i < 4; ++i) acc[i] = vdotq_laneq_s32(acc[i], wv[i], xv[r], (lane));           \
        }                                                                                                 \
    } while (0)
        S8_GROUP_DOT(0);
        S8_GROUP_DOT(1);
        S8_GROUP_DOT(2);
        S8_GROUP_DOT(3);
#undef S8_GROUP_DOT
    }
    for (; g < groups; ++g) {
        int8x16_t wv[4];
        for (int i = 0; i < 4; ++i) wv[i] = vld1q_s8(pp + g * NR * KG + 16 * i);
        for (int r = 0; r < mr; ++r) {
            const int8x16_t xv = s8_codes4_neon(x + r * ldx + g * KG, flip);
            for (int i = 0; i < 4; ++i) a[r * sets][i] = vdotq_s32(a[r * sets][i], wv[i], xv);
        }
    }
    for (int r = 0; r < mr; ++r)
        for (int i = 0; i < 4; ++i) {
            out[r][i] = a[r * sets][i];
            for (int t = 1; t < sets; ++t) out[r][i] = vaddq_s32(out[r][i], a[r * sets + t][i]);
        }
}

CRNN_DOTPROD static void s8_tile_dot(size_t mr, const uint8_t *x, size_t ldx, const int8_t *pp, size_t groups,
                                     uint8x16_t flip, int32x4_t a[S8_ARM64_ROWS][4]) {
    switch (mr) {
    case 4: s8_rows_dot(4, 1, x, ldx, pp, groups, flip, a); break;
    case 3: s8_rows_dot(3, 1, x, ldx, pp, groups, flip, a); break;
    case 2: s8_rows_dot(2, 1, x, ldx, pp, groups, flip, a); break;
    default: s8_rows_dot(1, 4, x, ldx, pp, groups, flip, a); break;
    }
}

/* Both levels: panel by panel, up to S8_ARM64_ROWS rows at a time. */
static void s8_gemm_arm64(s8_tile_arm64 tile, const uint8_t *x, size_t rows, size_t ldx, const int8_t *packed,
                          size_t n, size_t k, const s8_output *o) {
    const size_t panels = crnn_round_up(n, NR) / NR, groups = crnn_round_up(k, KG) / KG;
    const int flipped = s8_max_code_neon(x, rows, ldx, k) > 127;
    const uint8x16_t flip = vdupq_n_u8(flipped ? 0x80 : 0);
    s8_panel_epilogue e;
    for (size_t p = 0; p < panels; ++p) {
        const size_t j0 = p * NR, nj = n - j0 < NR ? n - j0 : NR;
        const int8_t *pp = packed + p * NR * groups * KG;
        s8_panel_epilogue_init(&e, o, j0, nj);
        int32x4_t corr[4] = {vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0)};
        if (flipped) s8_flip_correction_neon(pp, groups, corr);
        for (size_t r = 0; r < rows; r += S8_ARM64_ROWS) {
            const size_t mr = rows - r < S8_ARM64_ROWS ? rows - r : S8_ARM64_ROWS;
            int32x4_t a[S8_ARM64_ROWS][4];
            tile(mr, x + r * ldx, ldx, pp, groups, flip, a);
            for (size_t t = 0; t < mr; ++t) {
                for (int i = 0; i < 4; ++i) a[t][i] = vaddq_s32(a[t][i], corr[i]);
                s8_finish_neon(o, &e, r + t, j0, nj, a[t]);
            }
        }
    }
}

#endif

static void s8_gemm(int isa, const uint8_t *x, size_t rows, size_t ldx, const int8_t *packed,
                    size_t n, size_t k, const s8_output *o) {
#if CRNN_X86
    switch (crnn_effective_isa(isa)) {
    case CRNN_ISA_AVX512: s8_gemm_avx512(x, rows, ldx, packed, n, k, o); return;
    case CRNN_ISA_AVX2_VNNI: s8_gemm_vnni256(x, rows, ldx, packed, n, k, o); return;
    case CRNN_ISA_AVX2: s8_gemm_avx2(x, rows, ldx, packed, n, k, o); return;
    default: break;
    }
#elif CRNN_ARM64
    switch (crnn_effective_isa(isa)) {
    case CRNN_ISA_NEON_DOTPROD: s8_gemm_arm64(s8_tile_dot, x, rows, ldx, packed, n, k, o); return;
    case CRNN_ISA_NEON: s8_gemm_arm64(s8_tile_neon, x, rows, ldx, packed, n, k, o); return;
    default: break;
    }
#endif
    (void)isa;
    s8_gemm_portable(x, rows, ldx, packed, n, k, o);
}

int crnn_s8_exact_isa(int isa) {
    const int level = crnn_effective_isa(isa);
    const int exact = level == CRNN_ISA_AVX2_VNNI || level == CRNN_ISA_AVX512 || level == CRNN_ISA_NEON
                   || level == CRNN_ISA_NEON_DOTPROD;
    return exact ? level : CRNN_ISA_PORTABLE;
}

void crnn_s8_gemm_acc(int isa, const uint8_t *xq, size_t rows, size_t ldx, const int8_t *packed,
                      size_t n, size_t k, int32_t *acc, size_t ldacc) {
    const s8_output o = {.acc = acc, .ldacc = ldacc, .row_blocks = crnn_s8_row_blocks_by_default()};
    s8_gemm(isa, xq, rows, ldx, packed, n, k, &o);
}

void crnn_s8_gemm_f32(int isa, const uint8_t *xq, size_t rows, size_t ldx, const int8_t *packed,
                      size_t n, size_t k, const int32_t *colsum, int32_t x_zero_point, float x_scale,
                      const float *w_scale, const float *bias, float *y, size_t ldy, int backward, int row_kernel) {
    const int row_blocks = row_kernel == CRNN_S8_ROW_DEFAULT ? crnn_s8_row_blocks_by_default() : row_kernel == CRNN_S8_ROW_BLOCKS;
    const s8_output o = {.y = y, .ldy = ldy, .colsum = colsum, .x_zero_point = x_zero_point,
                         .x_scale = x_scale, .w_scale = w_scale, .bias = bias, .row_blocks = row_blocks};
    if (!backward || rows != 1 || n <= CRNN_ROW_BLOCK) {
        s8_gemm(isa, xq, rows, ldx, packed, n, k, &o);
        return;
    }
#if CRNN_X86
    if (crnn_effective_isa(isa) == CRNN_ISA_AVX512) {
        s8_row_avx512(xq, packed, n, k, &o, 1, o.row_blocks);
        return;
    }
#endif
    /* Elsewhere as crnn_f32_gemm: block by block, last to first. */
    for (size_t b = crnn_row_blocks(n); b-- > 0;) {
        const size_t first = b * CRNN_ROW_BLOCK;
        const s8_output ob = {.y = y + first, .ldy = ldy, .colsum = colsum + first, .x_zero_point = x_zero_point,
                              .x_scale = x_scale, .w_scale = w_scale + first, .bias = bias ? bias + first : NULL,
                              .row_blocks = row_blocks};
        s8_gemm(isa, xq, 1, ldx, packed + crnn_s8_packed_offset(first, k), crnn_row_block_rows(b, n), k, &ob);
    }
}
