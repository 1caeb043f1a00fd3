#include "internal.h"
#include <math.h>
#include <string.h>

/* Largest float below 2^31: FBGEMM clips to it so that the float -> int32 conversion cannot
 * wrap for large positive values. */
#define CRNN_INT32_FLOAT_MAX 2147483520.0f

/* The scalar rule for the columns c..<cols of one row (a vector loop's tail, or all of it). */
static inline void minmax_row_from(const float *xr, size_t c, size_t cols, float *mn, float *mx) {
    for (; c < cols; ++c) {
        const float v = xr[c];
        if (v < *mn) *mn = v;
        if (v > *mx) *mx = v;
    }
}

static void f32_minmax_portable(const float *x, size_t rows, size_t cols, size_t ldx,
                                float *min_out, float *max_out) {
    float mn = INFINITY, mx = -INFINITY;
    for (size_t r = 0; r < rows; ++r) {
        const float *xr = x + r * ldx;
        minmax_row_from(xr, 0, cols, &mn, &mx);
    }
    *min_out = mn;
    *max_out = mx;
}

/* One value as FBGEMM's vector quantizer computes it (min with the clip value maps NaN to it,
 * and the conversion turns anything below -2^31 into INT32_MIN). */
static inline int32_t crnn_quantize_one(float v, float inv_scale, int32_t zp) {
    float t = fminf(v * inv_scale, CRNN_INT32_FLOAT_MAX);
    int64_t q = t >= -2147483648.0f ? (int64_t)nearbyintf(t) : INT32_MIN;
    q += zp;
    return (int32_t)(q < 0 ? 0 : q > 255 ? 255 : q);
}

/* Codes for the columns c..<cols of one row (a vector loop's tail, or all of it), then the
 * row's zero padding up to `padded`; returns the largest code written (0 if none). */
static inline int32_t quantize_row_from(const float *xr, uint8_t *qr, size_t c, size_t cols, size_t padded,
                                        float inv_scale, int32_t zp) {
    int32_t top = 0;
    for (; c < cols; ++c) {
        const int32_t q = crnn_quantize_one(xr[c], inv_scale, zp);
        if (q > top) top = q;
        qr[c] = (uint8_t)q;
    }
    memset(qr + cols, 0, padded - cols);
    return top;
}

static int quantize_u8_portable(const float *x, size_t rows, size_t cols, size_t ldx, float inv_scale,
                                int32_t zp, uint8_t *xq, size_t ldq) {
    const size_t padded = crnn_s8_padded_k(cols);
    int32_t top = 0;
    for (size_t r = 0; r < rows; ++r) {
        const float *xr = x + r * ldx;
        uint8_t *qr = xq + r * ldq;
        const int32_t t = quantize_row_from(xr, qr, 0, cols, padded, inv_scale, zp);
        if (t > top) top = t;
    }
    return top;
}

#if CRNN_X86

CRNN_AVX2 static void f32_minmax_avx2(const float *x, size_t rows, size_t cols, size_t ldx,
                                      float *min_out, float *max_out) {
    /* min_ps/max_ps return the second operand when either is NaN: NaN elements are skipped. */
    __m256 vmn = _mm256_set1_ps(INFINITY), vmx = _mm256_set1_ps(-INFINITY);
    float mn = INFINITY, mx = -INFINITY;
    for (size_t r = 0; r < rows; ++r) {
        const float *xr = x + r * ldx;
        size_t c = 0;
        for (; c + 8 <= cols; c += 8) {
            const __m256 v = _mm256_loadu_ps(xr + c);
            vmn = _mm256_min_ps(v, vmn);
            vmx = _mm256_max_ps(v, vmx);
        }
        minmax_row_from(xr, c, cols, &mn, &mx);
    }
    float lanes_mn[8], lanes_mx[8];
    _mm256_storeu_ps(lanes_mn, vmn);
    _mm256_storeu_ps(lanes_mx, vmx);
    for (int i = 0; i < 8; ++i) {
        if (lanes_mn[i] < mn) mn = lanes_mn[i];
        if (lanes_mx[i] > mx) mx = lanes_mx[i];
    }
    *min_out = mn;
    *max_out = mx;
}

CRNN_AVX2 static int quantize_u8_avx2(const float *x, size_t rows, size_t cols, size_t ldx, float inv_scale,
                                      int32_t zp, uint8_t *xq, size_t ldq) {
    const size_t padded = crnn_s8_padded_k(cols);
    const __m256 inv = _mm256_set1_ps(inv_scale), clip = _mm256_set1_ps(CRNN_INT32_FLOAT_MAX);
    const __m256i vzp = _mm256_set1_epi32(zp), lo = _mm256_setzero_si256(), hi = _mm256_set1_epi32(255);
    /* Low byte of each int32 to the front of its 128-bit lane, then the two lanes' dwords together. */
    const __m256i bytes = _mm256_setr_epi8(0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
                                           0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
    const __m256i lanes = _mm256_setr_epi32(0, 4, 1, 1, 1, 1, 1, 1);
    __m256i vtop = _mm256_setzero_si256();
    int32_t top = 0;
    for (size_t r = 0; r < rows; ++r) {
        const float *xr = x + r * ldx;
        uint8_t *qr = xq + r * ldq;
        size_t c = 0;
        for (; c + 8 <= cols; c += 8) {
            const __m256 t = _mm256_min_ps(_mm256_mul_ps(_mm256_loadu_ps(xr + c), inv), clip);
            __m256i q = _mm256_add_epi32(_mm256_cvtps_epi32(t), vzp);
            q = _mm256_min_epi32(_mm256_max_epi32(q, lo), hi);
            vtop = _mm256_max_epi32(vtop, q);
            const __m256i packed = _mm256_permutevar8x32_epi32(_mm256_shuffle_epi8(q, bytes), lanes);
            _mm_storel_epi64((__m128i *)(qr + c), _mm256_castsi256_si128(packed));
        }
        const int32_t t = quantize_row_from(xr, qr, c, cols, padded, inv_scale, zp);
        if (t > top) top = t;
    }
    int32_t lanes_top[8];
    _mm256_storeu_si256((__m256i *)lanes_top, vtop);
    for (int i = 0; i < 8; ++i) if (lanes_top[i] > top) top = lanes_top[i];
    return top;
}


/* AVX-512: four chains of 16 lanes (one chain of 8 waited on the min/max latency: about 25 ns
 * for 256 floats, called twice per int8 step), then the AVX2 tail's scalar rule. */
CRNN_AVX512 static void f32_minmax_avx512(const float *x, size_t rows, size_t cols, size_t ldx,
                                          float *min_out, float *max_out) {
    __m512 mn0 = _mm512_set1_ps(INFINITY), mn1 = mn0, mn2 = mn0, mn3 = mn0;
    __m512 mx0 = _mm512_set1_ps(-INFINITY), mx1 = mx0, mx2 = mx0, mx3 = mx0;
    float mn = INFINITY, mx = -INFINITY;
    for (size_t r = 0; r < rows; ++r) {
        const float *xr = x + r * ldx;
        size_t c = 0;
        for (; c + 64 <= cols; c += 64) {
            const __m512 a = _mm512_loadu_ps(xr + c), b = _mm512_loadu_ps(xr + c + 16);
            const __m512 d = _mm512_loadu_ps(xr + c + 32), e = _mm512_loadu_ps(xr + c + 48);
            mn0 = _mm512_min_ps(a, mn0); mx0 = _mm512_max_ps(a, mx0);
            mn1 = _mm512_min_ps(b, mn1); mx1 = _mm512_max_ps(b, mx1);
            mn2 = _mm512_min_ps(d, mn2); mx2 = _mm512_max_ps(d, mx2);
            mn3 = _mm512_min_ps(e, mn3); mx3 = _mm512_max_ps(e, mx3);
        }
        for (; c + 16 <= cols; c += 16) {
            const __m512 a = _mm512_loadu_ps(xr + c);
            mn0 = _mm512_min_ps(a, mn0);
            mx0 = _mm512_max_ps(a, mx0);
        }
        minmax_row_from(xr, c, cols, &mn, &mx);
    }
    /* No NaN reaches the accumulators, so the order of these reductions does not matter. */
    const float vmn = _mm512_reduce_min_ps(_mm512_min_ps(_mm512_min_ps(mn0, mn1), _mm512_min_ps(mn2, mn3)));
    const float vmx = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_max_ps(mx0, mx1), _mm512_max_ps(mx2, mx3)));
    *min_out = vmn < mn ? vmn : mn;
    *max_out = vmx > mx ? vmx : mx;
}

/* AVX-512: 16 codes per step, packed by vpmovdb after the clamp. */
CRNN_AVX512 static int quantize_u8_avx512(const float *x, size_t rows, size_t cols, size_t ldx, float inv_scale,
                                          int32_t zp, uint8_t *xq, size_t ldq) {
    const size_t padded = crnn_s8_padded_k(cols);
    const __m512 inv = _mm512_set1_ps(inv_scale), clip = _mm512_set1_ps(CRNN_INT32_FLOAT_MAX);
    const __m512i vzp = _mm512_set1_epi32(zp), lo = _mm512_setzero_si512(), hi = _mm512_set1_epi32(255);
    __m512i vtop = _mm512_setzero_si512();
    int32_t top = 0;
    for (size_t r = 0; r < rows; ++r) {
        const float *xr = x + r * ldx;
        uint8_t *qr = xq + r * ldq;
        size_t c = 0;
        for (; c + 16 <= cols; c += 16) {
            const __m512 t = _mm512_min_ps(_mm512_mul_ps(_mm512_loadu_ps(xr + c), inv), clip);
            __m512i q = _mm512_add_epi32(_mm512_cvtps_epi32(t), vzp);
            q = _mm512_min_epi32(_mm512_max_epi32(q, lo), hi);
            vtop = _mm512_max_epi32(vtop, q);
            _mm_storeu_si128((__m128i *)(qr + c), _mm512_cvtepi32_epi8(q));
        }
        const int32_t t = quantize_row_from(xr, qr, c, cols, padded, inv_scale, zp);
        if (t > top) top = t;
    }
    const int32_t vt = _mm512_reduce_max_epi32(vtop);
    return vt > top ? vt : top;
}

#endif

#if CRNN_ARM64

/* Four chains of min and max (as on AVX-512). fminnm/fmaxnm return the number when one operand
 * is NaN, so NaN elements are skipped as by the scalar rule. */
static void f32_minmax_neon(const float *x, size_t rows, size_t cols, size_t ldx, float *min_out, float *max_out) {
    float32x4_t mn[4], mx[4];
    for (int i = 0; i < 4; ++i) {
        mn[i] = vdupq_n_f32(INFINITY);
        mx[i] = vdupq_n_f32(-INFINITY);
    }
    float smn = INFINITY, smx = -INFINITY;
    for (size_t r = 0; r < rows; ++r) {
        const float *xr = x + r * ldx;
        size_t c = 0;
        for (; c + 16 <= cols; c += 16) {
            for (int i = 0; i < 4; ++i) {
                const float32x4_t v = vld1q_f32(xr + c + 4 * i);
                mn[i] = vminnmq_f32(v, mn[i]);
                mx[i] = vmaxnmq_f32(v, mx[i]);
            }
        }
        for (; c + 4 <= cols; c += 4) {
            const float32x4_t v = vld1q_f32(xr + c);
            mn[0] = vminnmq_f32(v, mn[0]);
            mx[0] = vmaxnmq_f32(v, mx[0]);
        }
        minmax_row_from(xr, c, cols, &smn, &smx);
    }
    const float vmn = vminnmvq_f32(vminnmq_f32(vminnmq_f32(mn[0], mn[1]), vminnmq_f32(mn[2], mn[3])));
    const float vmx = vmaxnmvq_f32(vmaxnmq_f32(vmaxnmq_f32(mx[0], mx[1]), vmaxnmq_f32(mx[2], mx[3])));
    *min_out = vmn < smn ? vmn : smn;
    *max_out = vmx > smx ? vmx : smx;
}

/* 16 codes per step. fminnm maps NaN to the clip value like FBGEMM's min; fcvtns rounds half to
 * even and saturates (anything below -2^31 becomes INT32_MIN, as the scalar rule says); then the
 * zero point, and the narrowing with unsigned saturation clamps to 0..255. */
static int quantize_u8_neon(const float *x, size_t rows, size_t cols, size_t ldx, float inv_scale, int32_t zp,
                            uint8_t *xq, size_t ldq) {
    const size_t padded = crnn_s8_padded_k(cols);
    const float32x4_t inv = vdupq_n_f32(inv_scale), clip = vdupq_n_f32(CRNN_INT32_FLOAT_MAX);
    const int32x4_t vzp = vdupq_n_s32(zp);
    uint8x16_t vtop = vdupq_n_u8(0);
    int32_t top = 0;
    for (size_t r = 0; r < rows; ++r) {
        const float *xr = x + r * ldx;
        uint8_t *qr = xq + r * ldq;
        size_t c = 0;
        for (; c + 16 <= cols; c += 16) {
            uint16x4_t q16[4];
            for (int i = 0; i < 4; ++i) {
                const float32x4_t t = vminnmq_f32(vmulq_f32(vld1q_f32(xr + c + 4 * i), inv), clip);
                q16[i] = vqmovun_s32(vaddq_s32(vcvtnq_s32_f32(t), vzp));
            }
            const uint8x16_t codes = vcombine_u8(vqmovn_u16(vcombine_u16(q16[0], q16[1])),
                                                 vqmovn_u16(vcombine_u16(q16[2], q16[3])));
            vtop = vmaxq_u8(vtop, codes);
            vst1q_u8(qr + c, codes);
        }
        const int32_t t = quantize_row_from(xr, qr, c, cols, padded, inv_scale, zp);
        if (t > top) top = t;
    }
    const int32_t vt = vmaxvq_u8(vtop);
    return vt > top ? vt : top;
}

#endif

void crnn_f32_minmax(int isa, const float *x, size_t rows, size_t cols, size_t ldx,
                     float *min_out, float *max_out) {
#if CRNN_X86
    const int level = crnn_effective_isa(isa);
    if (level >= CRNN_ISA_AVX512) {
        f32_minmax_avx512(x, rows, cols, ldx, min_out, max_out);
        return;
    }
    if (level >= CRNN_ISA_AVX2) {
        f32_minmax_avx2(x, rows, cols, ldx, min_out, max_out);
        return;
    }
#elif CRNN_ARM64
    if (crnn_effective_isa(isa) >= CRNN_ISA_NEON) {
        f32_minmax_neon(x, rows, cols, ldx, min_out, max_out);
        return;
    }
#endif
    (void)isa;
    f32_minmax_portable(x, rows, cols, ldx, min_out, max_out);
}

int crnn_quantize_u8(int isa, const float *x, size_t rows, size_t cols, size_t ldx, float inv_scale,
                     int32_t zero_point, uint8_t *xq, size_t ldq) {
#if CRNN_X86
    const int level = crnn_effective_isa(isa);
    if (level >= CRNN_ISA_AVX512) return quantize_u8_avx512(x, rows, cols, ldx, inv_scale, zero_point, xq, ldq);
    if (level >= CRNN_ISA_AVX2) return quantize_u8_avx2(x, rows, cols, ldx, inv_scale, zero_point, xq, ldq);
#elif CRNN_ARM64
    if (crnn_effective_isa(isa) >= CRNN_ISA_NEON)
        return quantize_u8_neon(x, rows, cols, ldx, inv_scale, zero_point, xq, ldq);
#endif
    (void)isa;
    return quantize_u8_portable(x, rows, cols, ldx, inv_scale, zero_point, xq, ldq);
}
