#include "internal.h"
#include <math.h>
#include <string.h>

/* What is reproduced of PyTorch and how: see the header. */
#if defined(__GNUC__) && !defined(__clang__)
/* GCC ignores the standard pragma, and by default it also fuses the vector intrinsics' separate
 * multiplies and adds. */
#pragma GCC optimize("fp-contract=off")
#else
#pragma STDC FP_CONTRACT OFF
#endif

/* ATen's scalar sigmoid, used for the tail of each row (and everywhere on the portable path). */
static inline float crnn_sigmoid1(float x) { return 1.0f / (1.0f + expf(-x)); }

/* Correctly rounded tanh but for double-rounding ties (never observed). */
static inline float crnn_tanh1(float x) { return (float)tanh((double)x); }

static void gru_rows_scalar(const float *gi, const float *gh, const float *h_prev, float *h_out,
                            size_t hidden, size_t from, size_t to) {
    for (size_t j = from; j < to; ++j) {
        const float r = crnn_sigmoid1(gh[j] + gi[j]);
        const float z = crnn_sigmoid1(gh[hidden + j] + gi[hidden + j]);
        const float n = crnn_tanh1(gi[2 * hidden + j] + gh[2 * hidden + j] * r);
        h_out[j] = (h_prev[j] - n) * z + n;
    }
}

static void lstm_rows_scalar(const float *gi, const float *gh, float *c, float *h_out, size_t hidden, size_t from,
                             size_t to) {
    for (size_t j = from; j < to; ++j) {
        const float i = crnn_sigmoid1(gh[j] + gi[j]);
        const float f = crnn_sigmoid1(gh[hidden + j] + gi[hidden + j]);
        const float g = crnn_tanh1(gh[2 * hidden + j] + gi[2 * hidden + j]);
        const float o = crnn_sigmoid1(gh[3 * hidden + j] + gi[3 * hidden + j]);
        const float cn = f * c[j] + i * g;
        c[j] = cn;
        h_out[j] = o * crnn_tanh1(cn);
    }
}

/* Elements of a row that ATen's sigmoid computes with vectors: whole blocks. */
static inline size_t crnn_vector_span(size_t n, size_t block) {
    return block ? n / block * block : 0;
}

/* Where the vector part of a cell over elements ..< to of a row of `hidden` ends. */
static inline size_t crnn_cell_vector_end(size_t hidden, size_t block, size_t to) {
    const size_t span = crnn_vector_span(hidden, block);
    return span < to ? span : to;
}

/* Chunk of a row the cells' first pass buffers (cell_template.h). */
#define CRNN_CELL_CHUNK 256

#if CRNN_X86

/* SLEEF's expf_u10 (sleefsimdsp.c, xexpf) with the AVX2 helper's operations: rint by the
 * default rounding mode, vmla as FMA, ldexp in two halves. Bit-identical to SLEEF. */
CRNN_AVX2 CRNN_INLINE __m256 crnn_sleef_expf8(__m256 d) {
    const __m256i q = _mm256_cvtps_epi32(_mm256_mul_ps(d, _mm256_set1_ps(1.442695040888963407359924681001892137426645954152985934135449406931f)));
    const __m256 qf = _mm256_cvtepi32_ps(q);
    __m256 s = _mm256_fmadd_ps(qf, _mm256_set1_ps(-0.693145751953125f), d);
    s = _mm256_fmadd_ps(qf, _mm256_set1_ps(-1.428606765330187045e-06f), s);
    __m256 u = _mm256_set1_ps(0.000198527617612853646278381f);
    u = _mm256_fmadd_ps(u, s, _mm256_set1_ps(0.00139304355252534151077271f));
    u = _mm256_fmadd_ps(u, s, _mm256_set1_ps(0.00833336077630519866943359f));
    u = _mm256_fmadd_ps(u, s, _mm256_set1_ps(0.0416664853692054748535156f));
    u = _mm256_fmadd_ps(u, s, _mm256_set1_ps(0.166666671633720397949219f));
    u = _mm256_fmadd_ps(u, s, _mm256_set1_ps(0.5f));
    u = _mm256_add_ps(_mm256_set1_ps(1.0f), _mm256_fmadd_ps(_mm256_mul_ps(s, s), u, s));
    const __m256i half = _mm256_srai_epi32(q, 1), bias = _mm256_set1_epi32(0x7f);
    const __m256 p1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(half, bias), 23));
    const __m256 p2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(_mm256_sub_epi32(q, half), bias), 23));
    u = _mm256_mul_ps(_mm256_mul_ps(u, p1), p2);
    u = _mm256_andnot_ps(_mm256_cmp_ps(d, _mm256_set1_ps(-104.0f), _CMP_LT_OQ), u);
    return _mm256_blendv_ps(u, _mm256_set1_ps(INFINITY), _mm256_cmp_ps(_mm256_set1_ps(100.0f), d, _CMP_LT_OQ));
}

/* ATen's vector sigmoid: (1 + exp(-x)).reciprocal(). */
CRNN_AVX2 CRNN_INLINE __m256 crnn_sigmoid8(__m256 x) {
    const __m256 one = _mm256_set1_ps(1.0f);
    return _mm256_div_ps(one, _mm256_add_ps(one, crnn_sleef_expf8(_mm256_sub_ps(_mm256_setzero_ps(), x))));
}

/* e^x - 1 for 0 <= x <= 40 in double: x = n ln2 + r (ln2 in two parts, n ln2_hi exact), then
 * 2^n (1 + q) - 1 with q = e^r - 1 a degree-11 Taylor polynomial for |r| <= ln2/2 (truncation
 * below 2^-47) that has no constant term, so that e^x - 1 keeps its relative accuracy as x -> 0
 * (e^x, then - 1, lost up to 11 bits there and misrounded a few tanh results near 2^-11).
 * Estrin's scheme: five FMA latencies instead of Horner's eleven. */
CRNN_AVX2 CRNN_INLINE __m256d crnn_expm1_4d(__m256d x) {
    const __m256d n = _mm256_round_pd(_mm256_mul_pd(x, _mm256_set1_pd(1.4426950408889634)),
                                      _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256d r = _mm256_fnmadd_pd(n, _mm256_set1_pd(6.93147180369123816490e-01), x);
    r = _mm256_fnmadd_pd(n, _mm256_set1_pd(1.90821492927058770002e-10), r);
    const __m256d r2 = _mm256_mul_pd(r, r), r4 = _mm256_mul_pd(r2, r2), r8 = _mm256_mul_pd(r4, r4);
    /* q / r = sum of r^k / (k + 1)! for k = 0..10 */
    const __m256d p01 = _mm256_fmadd_pd(r, _mm256_set1_pd(1.0 / 2.0), _mm256_set1_pd(1.0));
    const __m256d p23 = _mm256_fmadd_pd(r, _mm256_set1_pd(1.0 / 24.0), _mm256_set1_pd(1.0 / 6.0));
    const __m256d p45 = _mm256_fmadd_pd(r, _mm256_set1_pd(1.0 / 720.0), _mm256_set1_pd(1.0 / 120.0));
    const __m256d p67 = _mm256_fmadd_pd(r, _mm256_set1_pd(1.0 / 40320.0), _mm256_set1_pd(1.0 / 5040.0));
    const __m256d p89 = _mm256_fmadd_pd(r, _mm256_set1_pd(1.0 / 3628800.0), _mm256_set1_pd(1.0 / 362880.0));
    const __m256d q0 = _mm256_fmadd_pd(r2, p23, p01), q1 = _mm256_fmadd_pd(r2, p67, p45);
    const __m256d q2 = _mm256_fmadd_pd(r2, _mm256_set1_pd(1.0 / 39916800.0), p89);
    const __m256d q = _mm256_mul_pd(r, _mm256_fmadd_pd(r8, q2, _mm256_fmadd_pd(r4, q1, q0)));
    const __m256d two_n = _mm256_castsi256_pd(_mm256_slli_epi64(
        _mm256_add_epi64(_mm256_cvtepi32_epi64(_mm256_cvtpd_epi32(n)), _mm256_set1_epi64x(1023)), 52));
    return _mm256_fmadd_pd(two_n, q, _mm256_sub_pd(two_n, _mm256_set1_pd(1.0)));
}

/* tanh(|x|) for 4 doubles: m/(m + 2) with m = e^{2|x|} - 1; |x| < 2^-12 gives x itself (the
 * correctly rounded float result there); |x| > 20 saturates at 1. */
CRNN_AVX2 CRNN_INLINE __m256d crnn_tanh4d_abs(__m256d a) {
    const __m256d m = crnn_expm1_4d(_mm256_min_pd(_mm256_add_pd(a, a), _mm256_set1_pd(40.0)));
    const __m256d t = _mm256_div_pd(m, _mm256_add_pd(m, _mm256_set1_pd(2.0)));
    return _mm256_blendv_pd(t, a, _mm256_cmp_pd(a, _mm256_set1_pd(0x1p-12), _CMP_LT_OQ));
}

/* Correctly rounded tanh of 8 floats (double precision, one final rounding): checked against
 * long double tanhl on every float of [0, 20) (beyond, the result is 1). */
CRNN_AVX2 CRNN_INLINE __m256 crnn_tanh8(__m256 x) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    const __m256 ax = _mm256_andnot_ps(sign, x);
    const __m128 lo = _mm256_cvtpd_ps(crnn_tanh4d_abs(_mm256_cvtps_pd(_mm256_castps256_ps128(ax))));
    const __m128 hi = _mm256_cvtpd_ps(crnn_tanh4d_abs(_mm256_cvtps_pd(_mm256_extractf128_ps(ax, 1))));
    const __m256 t = _mm256_insertf128_ps(_mm256_castps128_ps256(lo), hi, 1);
    /* NaN in, NaN out (the max/min of the double path would not keep it). */
    const __m256 signed_t = _mm256_or_ps(t, _mm256_and_ps(sign, x));
    return _mm256_blendv_ps(signed_t, x, _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
}

#define CELL_TARGET CRNN_AVX2
#define CELL_NAME(name) name##_avx2
#define CELL_W 8
#define CELL_V __m256
#define CELL_LOADU _mm256_loadu_ps
#define CELL_LOADA _mm256_load_ps
#define CELL_STOREU _mm256_storeu_ps
#define CELL_STOREA _mm256_store_ps
#define CELL_ADD _mm256_add_ps
#define CELL_SUB _mm256_sub_ps
#define CELL_MUL _mm256_mul_ps
#define CELL_SIGMOID crnn_sigmoid8
#define CELL_TANH crnn_tanh8
#include "cell_template.h"

CRNN_AVX2 static void map_avx2(int which, size_t block, const float *x, float *y, size_t n) {
    const size_t span = which ? n / 8 * 8 : crnn_vector_span(n, block);
    size_t j = 0;
    for (; j < span; j += 8) {
        const __m256 v = _mm256_loadu_ps(x + j);
        _mm256_storeu_ps(y + j, which ? crnn_tanh8(v) : crnn_sigmoid8(v));
    }
    for (; j < n; ++j) y[j] = which ? crnn_tanh1(x[j]) : crnn_sigmoid1(x[j]);
}

/* The same functions on 16 floats (8 doubles per register for tanh): half the instructions.
 * Vector blocks are 16 or 32 floats, so rows never need the AVX2 code here. */

CRNN_AVX512 CRNN_INLINE __m512 crnn_sleef_expf16(__m512 d) {
    const __m512i q = _mm512_cvtps_epi32(_mm512_mul_ps(d, _mm512_set1_ps(1.442695040888963407359924681001892137426645954152985934135449406931f)));
    const __m512 qf = _mm512_cvtepi32_ps(q);
    __m512 s = _mm512_fmadd_ps(qf, _mm512_set1_ps(-0.693145751953125f), d);
    s = _mm512_fmadd_ps(qf, _mm512_set1_ps(-1.428606765330187045e-06f), s);
    __m512 u = _mm512_set1_ps(0.000198527617612853646278381f);
    u = _mm512_fmadd_ps(u, s, _mm512_set1_ps(0.00139304355252534151077271f));
    u = _mm512_fmadd_ps(u, s, _mm512_set1_ps(0.00833336077630519866943359f));
    u = _mm512_fmadd_ps(u, s, _mm512_set1_ps(0.0416664853692054748535156f));
    u = _mm512_fmadd_ps(u, s, _mm512_set1_ps(0.166666671633720397949219f));
    u = _mm512_fmadd_ps(u, s, _mm512_set1_ps(0.5f));
    u = _mm512_add_ps(_mm512_set1_ps(1.0f), _mm512_fmadd_ps(_mm512_mul_ps(s, s), u, s));
    const __m512i half = _mm512_srai_epi32(q, 1), bias = _mm512_set1_epi32(0x7f);
    const __m512 p1 = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(half, bias), 23));
    const __m512 p2 = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(_mm512_sub_epi32(q, half), bias), 23));
    u = _mm512_mul_ps(_mm512_mul_ps(u, p1), p2);
    u = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(d, _mm512_set1_ps(-104.0f), _CMP_NLT_UQ), u);
    return _mm512_mask_mov_ps(u, _mm512_cmp_ps_mask(_mm512_set1_ps(100.0f), d, _CMP_LT_OQ), _mm512_set1_ps(INFINITY));
}

CRNN_AVX512 CRNN_INLINE __m512 crnn_sigmoid16(__m512 x) {
    const __m512 one = _mm512_set1_ps(1.0f);
    return _mm512_div_ps(one, _mm512_add_ps(one, crnn_sleef_expf16(_mm512_sub_ps(_mm512_setzero_ps(), x))));
}

CRNN_AVX512 CRNN_INLINE __m512d crnn_expm1_8d(__m512d x) {
    const __m512d n = _mm512_roundscale_pd(_mm512_mul_pd(x, _mm512_set1_pd(1.4426950408889634)),
                                           _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512d r = _mm512_fnmadd_pd(n, _mm512_set1_pd(6.93147180369123816490e-01), x);
    r = _mm512_fnmadd_pd(n, _mm512_set1_pd(1.90821492927058770002e-10), r);
    const __m512d r2 = _mm512_mul_pd(r, r), r4 = _mm512_mul_pd(r2, r2), r8 = _mm512_mul_pd(r4, r4);
    const __m512d p01 = _mm512_fmadd_pd(r, _mm512_set1_pd(1.0 / 2.0), _mm512_set1_pd(1.0));
    const __m512d p23 = _mm512_fmadd_pd(r, _mm512_set1_pd(1.0 / 24.0), _mm512_set1_pd(1.0 / 6.0));
    const __m512d p45 = _mm512_fmadd_pd(r, _mm512_set1_pd(1.0 / 720.0), _mm512_set1_pd(1.0 / 120.0));
    const __m512d p67 = _mm512_fmadd_pd(r, _mm512_set1_pd(1.0 / 40320.0), _mm512_set1_pd(1.0 / 5040.0));
    const __m512d p89 = _mm512_fmadd_pd(r, _mm512_set1_pd(1.0 / 3628800.0), _mm512_set1_pd(1.0 / 362880.0));
    const __m512d q0 = _mm512_fmadd_pd(r2, p23, p01), q1 = _mm512_fmadd_pd(r2, p67, p45);
    const __m512d q2 = _mm512_fmadd_pd(r2, _mm512_set1_pd(1.0 / 39916800.0), p89);
    const __m512d q = _mm512_mul_pd(r, _mm512_fmadd_pd(r8, q2, _mm512_fmadd_pd(r4, q1, q0)));
    const __m512d two_n = _mm512_castsi512_pd(_mm512_slli_epi64(
        _mm512_add_epi64(_mm512_cvtepi32_epi64(_mm512_cvtpd_epi32(n)), _mm512_set1_epi64(1023)), 52));
    return _mm512_fmadd_pd(two_n, q, _mm512_sub_pd(two_n, _mm512_set1_pd(1.0)));
}

CRNN_AVX512 CRNN_INLINE __m512d crnn_tanh8d_abs(__m512d a) {
    const __m512d m = crnn_expm1_8d(_mm512_min_pd(_mm512_add_pd(a, a), _mm512_set1_pd(40.0)));
    const __m512d t = _mm512_div_pd(m, _mm512_add_pd(m, _mm512_set1_pd(2.0)));
    return _mm512_mask_mov_pd(t, _mm512_cmp_pd_mask(a, _mm512_set1_pd(0x1p-12), _CMP_LT_OQ), a);
}

CRNN_AVX512 CRNN_INLINE __m512 crnn_tanh16(__m512 x) {
    const __m512 ax = _mm512_abs_ps(x);
    const __m256 lo = _mm512_cvtpd_ps(crnn_tanh8d_abs(_mm512_cvtps_pd(_mm512_castps512_ps256(ax))));
    const __m256 hi = _mm512_cvtpd_ps(crnn_tanh8d_abs(_mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(ax), 1)))));
    const __m512 t = _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castps_pd(_mm512_castps256_ps512(lo)), _mm256_castps_pd(hi), 1));
    const __m512 signed_t = _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(t),
        _mm512_and_si512(_mm512_castps_si512(x), _mm512_set1_epi32((int)0x80000000u))));
    return _mm512_mask_mov_ps(signed_t, _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q), x);
}

#define CELL_TARGET CRNN_AVX512
#define CELL_NAME(name) name##_avx512
#define CELL_W 16
#define CELL_V __m512
#define CELL_LOADU _mm512_loadu_ps
#define CELL_LOADA _mm512_load_ps
#define CELL_STOREU _mm512_storeu_ps
#define CELL_STOREA _mm512_store_ps
#define CELL_ADD _mm512_add_ps
#define CELL_SUB _mm512_sub_ps
#define CELL_MUL _mm512_mul_ps
#define CELL_SIGMOID crnn_sigmoid16
#define CELL_TANH crnn_tanh16
#include "cell_template.h"

CRNN_AVX512 static void map_avx512(int which, size_t block, const float *x, float *y, size_t n) {
    const size_t span = which ? n / 16 * 16 : crnn_vector_span(n, block) / 16 * 16;
    size_t j = 0;
    for (; j < span; j += 16) {
        const __m512 v = _mm512_loadu_ps(x + j);
        _mm512_storeu_ps(y + j, which ? crnn_tanh16(v) : crnn_sigmoid16(v));
    }
    map_avx2(which, block, x + j, y + j, n - j);
}

#endif

#if CRNN_ARM64

/* The x86 levels' functions with NEON's operations, which round the same way (fmla once, like
 * vfmadd; fcvtns and frintn to nearest even, like cvtps/round under the default mode; IEEE
 * division), so that the vector blocks and tanh give the x86 results bit for bit. */

CRNN_INLINE float32x4_t crnn_sleef_expf4(float32x4_t d) {
    const int32x4_t q = vcvtnq_s32_f32(vmulq_f32(d, vdupq_n_f32(1.442695040888963407359924681001892137426645954152985934135449406931f)));
    const float32x4_t qf = vcvtq_f32_s32(q);
    float32x4_t s = vfmaq_f32(d, qf, vdupq_n_f32(-0.693145751953125f));
    s = vfmaq_f32(s, qf, vdupq_n_f32(-1.428606765330187045e-06f));
    float32x4_t u = vdupq_n_f32(0.000198527617612853646278381f);
    u = vfmaq_f32(vdupq_n_f32(0.00139304355252534151077271f), u, s);
    u = vfmaq_f32(vdupq_n_f32(0.00833336077630519866943359f), u, s);
    u = vfmaq_f32(vdupq_n_f32(0.0416664853692054748535156f), u, s);
    u = vfmaq_f32(vdupq_n_f32(0.166666671633720397949219f), u, s);
    u = vfmaq_f32(vdupq_n_f32(0.5f), u, s);
    u = vaddq_f32(vdupq_n_f32(1.0f), vfmaq_f32(s, vmulq_f32(s, s), u));
    const int32x4_t half = vshrq_n_s32(q, 1), bias = vdupq_n_s32(0x7f);
    const float32x4_t p1 = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(half, bias), 23));
    const float32x4_t p2 = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(vsubq_s32(q, half), bias), 23));
    u = vmulq_f32(vmulq_f32(u, p1), p2);
    u = vreinterpretq_f32_u32(vbicq_u32(vreinterpretq_u32_f32(u), vcltq_f32(d, vdupq_n_f32(-104.0f))));
    return vbslq_f32(vcgtq_f32(d, vdupq_n_f32(100.0f)), vdupq_n_f32(INFINITY), u);
}

CRNN_INLINE float32x4_t crnn_sigmoid4(float32x4_t x) {
    const float32x4_t one = vdupq_n_f32(1.0f);
    return vdivq_f32(one, vaddq_f32(one, crnn_sleef_expf4(vsubq_f32(vdupq_n_f32(0.0f), x))));
}

/* e^x = 2^n (1 + q), x = n ln2 + r: crnn_expm1_4d's reduction and polynomial, two lanes at a
 * time; returns q and sets *two_n. */
CRNN_INLINE float64x2_t crnn_exp_parts_2d(float64x2_t x, float64x2_t *two_n) {
    const float64x2_t n = vrndnq_f64(vmulq_f64(x, vdupq_n_f64(1.4426950408889634)));
    float64x2_t r = vfmsq_f64(x, n, vdupq_n_f64(6.93147180369123816490e-01));
    r = vfmsq_f64(r, n, vdupq_n_f64(1.90821492927058770002e-10));
    const float64x2_t r2 = vmulq_f64(r, r), r4 = vmulq_f64(r2, r2), r8 = vmulq_f64(r4, r4);
    const float64x2_t p01 = vfmaq_f64(vdupq_n_f64(1.0), r, vdupq_n_f64(1.0 / 2.0));
    const float64x2_t p23 = vfmaq_f64(vdupq_n_f64(1.0 / 6.0), r, vdupq_n_f64(1.0 / 24.0));
    const float64x2_t p45 = vfmaq_f64(vdupq_n_f64(1.0 / 120.0), r, vdupq_n_f64(1.0 / 720.0));
    const float64x2_t p67 = vfmaq_f64(vdupq_n_f64(1.0 / 5040.0), r, vdupq_n_f64(1.0 / 40320.0));
    const float64x2_t p89 = vfmaq_f64(vdupq_n_f64(1.0 / 362880.0), r, vdupq_n_f64(1.0 / 3628800.0));
    const float64x2_t q0 = vfmaq_f64(p01, r2, p23), q1 = vfmaq_f64(p45, r2, p67);
    const float64x2_t q2 = vfmaq_f64(p89, r2, vdupq_n_f64(1.0 / 39916800.0));
    *two_n = vreinterpretq_f64_s64(vshlq_n_s64(vaddq_s64(vcvtq_s64_f64(n), vdupq_n_s64(1023)), 52));
    return vmulq_f64(r, vfmaq_f64(vfmaq_f64(q0, r4, q1), r8, q2));
}

/* tanh(|x|) for 2 doubles, as crnn_tanh4d_abs. */
CRNN_INLINE float64x2_t crnn_tanh2d_abs(float64x2_t a) {
    float64x2_t two_n;
    /* fminnm keeps 40 for a NaN, as min_pd does; NaN lanes are replaced by crnn_tanh4 anyway */
    const float64x2_t q = crnn_exp_parts_2d(vminnmq_f64(vaddq_f64(a, a), vdupq_n_f64(40.0)), &two_n);
    const float64x2_t m = vfmaq_f64(vsubq_f64(two_n, vdupq_n_f64(1.0)), two_n, q);
    const float64x2_t t = vdivq_f64(m, vaddq_f64(m, vdupq_n_f64(2.0)));
    return vbslq_f64(vcltq_f64(a, vdupq_n_f64(0x1p-12)), a, t);
}

/* Correctly rounded tanh of 4 floats, as crnn_tanh8. */
CRNN_INLINE float32x4_t crnn_tanh4(float32x4_t x) {
    const float32x4_t ax = vabsq_f32(x);
    const float32x2_t lo = vcvt_f32_f64(crnn_tanh2d_abs(vcvt_f64_f32(vget_low_f32(ax))));
    const float32x4_t t = vcvt_high_f32_f64(lo, crnn_tanh2d_abs(vcvt_high_f64_f32(ax)));
    const uint32x4_t sign = vandq_u32(vreinterpretq_u32_f32(x), vdupq_n_u32(0x80000000u));
    const float32x4_t signed_t = vreinterpretq_f32_u32(vorrq_u32(vreinterpretq_u32_f32(t), sign));
    return vbslq_f32(vceqq_f32(x, x), signed_t, x);
}

/* Whether a double's rounding to float is within 2^-8 ulp of a tie: its low 29 bits are the
 * position inside the float's ulp, and a tie is 2^28. */
CRNN_INLINE uint64x2_t crnn_near_tie_2d(float64x2_t v) {
    const uint64x2_t bits = vreinterpretq_u64_f64(v);
    const uint64x2_t shifted = vaddq_u64(bits, vdupq_n_u64((UINT64_C(1) << 28) + (UINT64_C(1) << 21)));
    return vcltq_u64(vandq_u64(shifted, vdupq_n_u64((UINT64_C(1) << 29) - 1)), vdupq_n_u64(UINT64_C(1) << 22));
}

/* expf of 4 floats, the C library's value (see the header): e^x in double (relative error below
 * 2^-45, 2^-22 of a float ulp), rounded once, and expf itself for the lanes where that rounding
 * could go either way for a result within 0.0039 ulp, and for |x| > 87 (overflow, subnormal
 * results) and NaN. */
CRNN_INLINE float32x4_t crnn_libm_expf4(float32x4_t x) {
    float64x2_t tn_lo, tn_hi;
    const float64x2_t q_lo = crnn_exp_parts_2d(vcvt_f64_f32(vget_low_f32(x)), &tn_lo);
    const float64x2_t q_hi = crnn_exp_parts_2d(vcvt_high_f64_f32(x), &tn_hi);
    const float64x2_t e_lo = vfmaq_f64(tn_lo, tn_lo, q_lo), e_hi = vfmaq_f64(tn_hi, tn_hi, q_hi);
    const float32x4_t e = vcvt_high_f32_f64(vcvt_f32_f64(e_lo), e_hi);
    const uint32x4_t near_tie = vcombine_u32(vmovn_u64(crnn_near_tie_2d(e_lo)), vmovn_u64(crnn_near_tie_2d(e_hi)));
    const uint32x4_t redo = vorrq_u32(near_tie, vmvnq_u32(vcaleq_f32(x, vdupq_n_f32(87.0f))));
    if (vmaxvq_u32(redo) == 0) return e;
    float xs[4], es[4];
    uint32_t rs[4];
    vst1q_f32(xs, x);
    vst1q_f32(es, e);
    vst1q_u32(rs, redo);
    for (int i = 0; i < 4; ++i)
        if (rs[i]) es[i] = expf(xs[i]);
    return vld1q_f32(es);
}

/* crnn_sigmoid1 of 4 floats, bit for bit. */
CRNN_INLINE float32x4_t crnn_libm_sigmoid4(float32x4_t x) {
    const float32x4_t one = vdupq_n_f32(1.0f);
    return vdivq_f32(one, vaddq_f32(one, crnn_libm_expf4(vnegq_f32(x))));
}

/* The elements after ATen's vector blocks (cell_template.h): vectors of the scalar rows'
 * functions, then the last few elements scalar. */
static void gru_rest_neon(const float *gi, const float *gh, const float *h_prev, float *h_out, size_t hidden,
                          size_t from, size_t to);
static void lstm_rest_neon(const float *gi, const float *gh, float *c, float *h_out, size_t hidden, size_t from,
                           size_t to);

#define CELL_TARGET
#define CELL_NAME(name) name##_neon
#define CELL_W 4
#define CELL_V float32x4_t
#define CELL_LOADU vld1q_f32
#define CELL_LOADA vld1q_f32
#define CELL_STOREU vst1q_f32
#define CELL_STOREA vst1q_f32
#define CELL_ADD vaddq_f32
#define CELL_SUB vsubq_f32
#define CELL_MUL vmulq_f32
#define CELL_SIGMOID crnn_sigmoid4
#define CELL_SIGMOID_REST crnn_libm_sigmoid4
#define CELL_TANH crnn_tanh4
#define CELL_GRU_REST gru_rest_neon
#define CELL_LSTM_REST lstm_rest_neon
#include "cell_template.h"

static void gru_rest_neon(const float *gi, const float *gh, const float *h_prev, float *h_out, size_t hidden,
                          size_t from, size_t to) {
    const size_t end = from + (to - from) / 4 * 4;
    gru_range_neon(gi, gh, h_prev, h_out, hidden, from, end, 1);
    gru_rows_scalar(gi, gh, h_prev, h_out, hidden, end, to);
}

static void lstm_rest_neon(const float *gi, const float *gh, float *c, float *h_out, size_t hidden, size_t from,
                           size_t to) {
    const size_t end = from + (to - from) / 4 * 4;
    lstm_range_neon(gi, gh, c, h_out, hidden, from, end, 1);
    lstm_rows_scalar(gi, gh, c, h_out, hidden, end, to);
}

static void map_neon(int which, size_t block, const float *x, float *y, size_t n) {
    const size_t span = which ? 0 : crnn_vector_span(n, block);
    size_t j = 0;
    for (; j < span; j += 4) vst1q_f32(y + j, crnn_sigmoid4(vld1q_f32(x + j)));
    for (; j + 4 <= n; j += 4) {
        const float32x4_t v = vld1q_f32(x + j);
        vst1q_f32(y + j, which ? crnn_tanh4(v) : crnn_libm_sigmoid4(v));
    }
    for (; j < n; ++j) y[j] = which ? crnn_tanh1(x[j]) : crnn_sigmoid1(x[j]);
}

#endif

void crnn_gru_cell(int isa, size_t sigmoid_block, const float *gi, const float *gh, const float *h_prev,
                   float *h_out, size_t hidden, size_t from, size_t to) {
#if CRNN_X86
    const int level = crnn_effective_isa(isa);
    if (level >= CRNN_ISA_AVX512) {
        gru_cell_avx512(sigmoid_block, gi, gh, h_prev, h_out, hidden, from, to);
        return;
    }
    if (level >= CRNN_ISA_AVX2) {
        gru_cell_avx2(sigmoid_block, gi, gh, h_prev, h_out, hidden, from, to);
        return;
    }
#elif CRNN_ARM64
    if (crnn_effective_isa(isa) >= CRNN_ISA_NEON) {
        gru_cell_neon(sigmoid_block, gi, gh, h_prev, h_out, hidden, from, to);
        return;
    }
#endif
    (void)isa;
    gru_rows_scalar(gi, gh, h_prev, h_out, hidden, from, to);
}

void crnn_lstm_cell(int isa, size_t sigmoid_block, const float *gi, const float *gh, float *c, float *h_out,
                    size_t hidden, size_t from, size_t to) {
#if CRNN_X86
    const int level = crnn_effective_isa(isa);
    if (level >= CRNN_ISA_AVX512) {
        lstm_cell_avx512(sigmoid_block, gi, gh, c, h_out, hidden, from, to);
        return;
    }
    if (level >= CRNN_ISA_AVX2) {
        lstm_cell_avx2(sigmoid_block, gi, gh, c, h_out, hidden, from, to);
        return;
    }
#elif CRNN_ARM64
    if (crnn_effective_isa(isa) >= CRNN_ISA_NEON) {
        lstm_cell_neon(sigmoid_block, gi, gh, c, h_out, hidden, from, to);
        return;
    }
#endif
    (void)isa;
    lstm_rows_scalar(gi, gh, c, h_out, hidden, from, to);
}

void crnn_sigmoid(int isa, size_t sigmoid_block, const float *x, float *y, size_t n) {
#if CRNN_X86
    const int level = crnn_effective_isa(isa);
    if (level >= CRNN_ISA_AVX512) {
        map_avx512(0, sigmoid_block, x, y, n);
        return;
    }
    if (level >= CRNN_ISA_AVX2) {
        map_avx2(0, sigmoid_block, x, y, n);
        return;
    }
#elif CRNN_ARM64
    if (crnn_effective_isa(isa) >= CRNN_ISA_NEON) {
        map_neon(0, sigmoid_block, x, y, n);
        return;
    }
#endif
    (void)isa;
    for (size_t j = 0; j < n; ++j) y[j] = crnn_sigmoid1(x[j]);
}

void crnn_tanh(int isa, const float *x, float *y, size_t n) {
#if CRNN_X86
    const int level = crnn_effective_isa(isa);
    if (level >= CRNN_ISA_AVX512) {
        map_avx512(1, 0, x, y, n);
        return;
    }
    if (level >= CRNN_ISA_AVX2) {
        map_avx2(1, 0, x, y, n);
        return;
    }
#elif CRNN_ARM64
    if (crnn_effective_isa(isa) >= CRNN_ISA_NEON) {
        map_neon(1, 0, x, y, n);
        return;
    }
#endif
    (void)isa;
    for (size_t j = 0; j < n; ++j) y[j] = crnn_tanh1(x[j]);
}
