/* Checks every arm64 level of CRNNKernels against the library's own portable path
 * (CRNN_ISA_PORTABLE), on random shapes that include the awkward ones. Built and run under
 * qemu-aarch64 by tools/test-arm64.sh (Swift cannot be cross-compiled here; the kernels are the
 * only architecture-specific code).
 *
 *   kernels_test [--expect LEVEL] [--expect-sha 0|1] [--seed N] [--rounds N] [--map-values N]
 *
 *   kernels_test --digest
 *
 * --expect fails the run unless crnn_detect_isa() is LEVEL (NEON or NEON_DOTPROD), so that a CPU
 * model with or without the dot product really runs that path. --digest prints a hash of what
 * the machine's best level computes for fixed inputs, kernel by kernel; the script compares the
 * lines of the x86-64 build (AVX2/AVX-512, run natively) with those of every arm64 run: the same
 * numbers on both architectures, including the SLEEF vector blocks the portable path does not
 * have. What must hold against the portable path:
 *  - int8 accumulators and the fused epilogue's floats, quantized codes, SHA-256 states: equal;
 *  - float32 products: equal bit for bit (every output is the same in-order FMA chain; the
 *    portable loop's a * b + c is contracted to an FMA as clang does by default on arm64), and a
 *    row computed alone equals the same row computed among others;
 *  - cells, sigmoid, tanh: equal bit for bit (NaN matches NaN), see CRNNKernels.h;
 *  - min/max: equal as floats (zeros of either sign count as equal, as on x86).
 */
#include "CRNNKernels.h"

#include <math.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ------------------------------------------------------------------------------------------ */

static uint64_t rng = 0x9E3779B97F4A7C15ull;

static uint64_t next_u64(void) { /* splitmix64 */
    uint64_t z = (rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static size_t below(size_t n) { return (size_t)(next_u64() % n); }
static float uniform(float lo, float hi) { return lo + (hi - lo) * (float)((next_u64() >> 40) * 0x1p-24); }
static size_t pick(const size_t *list, size_t count) { return list[below(count)]; }
#define PICK(list) pick(list, sizeof list / sizeof list[0])

static void *xmalloc(size_t bytes) {
    void *p = malloc(bytes ? bytes : 1);
    if (!p) {
        fprintf(stderr, "out of memory (%zu bytes)\n", bytes);
        exit(2);
    }
    return p;
}

static uint32_t bits(float v) {
    uint32_t u;
    memcpy(&u, &v, sizeof u);
    return u;
}
static float from_bits(uint32_t u) {
    float v;
    memcpy(&v, &u, sizeof v);
    return v;
}
static int same_float(float a, float b) { return bits(a) == bits(b) || (isnan(a) && isnan(b)); }

/* ------------------------------------------------------------------------------------------ */

/* What was compared, per kernel (summed over levels). */
typedef struct {
    const char *name;
    long cases, values, failed;
} tally;

enum { T_F32, T_S8_ACC, T_S8_F32, T_QUANT, T_MINMAX, T_GRU, T_LSTM, T_SIGMOID, T_TANH, T_SHA, T_STREAM, T_PARALLEL, T_COUNT };
static tally tallies[T_COUNT] = {
    {"float32 products", 0, 0, 0},        {"int8 accumulators", 0, 0, 0}, {"int8 fused epilogue", 0, 0, 0},
    {"quantize_u8 codes", 0, 0, 0},       {"minmax", 0, 0, 0},            {"GRU cell", 0, 0, 0},
    {"LSTM cell", 0, 0, 0},               {"sigmoid", 0, 0, 0},           {"tanh", 0, 0, 0},
    {"SHA-256 states", 0, 0, 0},          {"stream_read sums", 0, 0, 0},  {"parallel_run indices", 0, 0, 0},
};
static long total_failures;

/* Records one compared value; prints the first few failures with their context. */
static void check(int kind, int ok, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void check(int kind, int ok, const char *fmt, ...) {
    tallies[kind].values++;
    if (ok) return;
    tallies[kind].failed++;
    if (total_failures++ < 25) {
        va_list args;
        va_start(args, fmt);
        fprintf(stderr, "FAIL %s: ", tallies[kind].name);
        vfprintf(stderr, fmt, args);
        fputc('\n', stderr);
        va_end(args);
    }
}

static const char *level_name(int level) {
    switch (level) {
    case CRNN_ISA_PORTABLE: return "PORTABLE";
    case CRNN_ISA_AVX2: return "AVX2";
    case CRNN_ISA_AVX2_VNNI: return "AVX2_VNNI";
    case CRNN_ISA_AVX512: return "AVX512";
    case CRNN_ISA_NEON: return "NEON";
    case CRNN_ISA_NEON_DOTPROD: return "NEON_DOTPROD";
    default: return "?";
    }
}

/* ------------------------------------------------------------------------------------------ */
/* float32 products */

static const size_t shape_n[] = {1, 5, 15, 16, 17, 33, 64, 100, 127, 128, 129, 255, 300, 384, 513};
static const size_t shape_k[] = {1, 2, 3, 4, 5, 7, 8, 13, 31, 64, 100, 257};
static const size_t shape_rows[] = {1, 1, 1, 2, 3, 4, 5, 6, 7, 13};

/* A packed (n, k) matrix, rows of x with stride ldx, a bias. */
typedef struct {
    size_t ldx;
    float *packed, *x, *bias;
} f32_case;

static f32_case f32_make(size_t rows, size_t n, size_t k, size_t ldx) {
    f32_case c = {ldx, xmalloc(crnn_f32_packed_count(n, k) * sizeof(float)), xmalloc(rows * ldx * sizeof(float)),
                  xmalloc(n * sizeof(float))};
    float *w = xmalloc(n * k * sizeof(float));
    for (size_t i = 0; i < n * k; ++i) w[i] = uniform(-1, 1);
    for (size_t i = 0; i < rows * ldx; ++i) c.x[i] = uniform(-2, 2);
    for (size_t i = 0; i < n; ++i) c.bias[i] = uniform(-1, 1);
    crnn_f32_pack(w, n, k, k, c.packed);
    free(w);
    return c;
}

static void f32_free(f32_case *c) { free(c->packed); free(c->x); free(c->bias); }

static void test_f32(int level, size_t rows, size_t n, size_t k, int with_bias, int backward) {
    const size_t ldy = n + below(3);
    f32_case in = f32_make(rows, n, k, k + below(3));
    const size_t ldx = in.ldx;
    const float *packed = in.packed, *x = in.x;
    float *ref = xmalloc(rows * ldy * sizeof(float)), *got = xmalloc(rows * ldy * sizeof(float));
    const float sentinel = from_bits(0x7fc0beefu);
    for (size_t i = 0; i < rows * ldy; ++i) ref[i] = got[i] = sentinel;
    const float *b = with_bias ? in.bias : NULL;
    crnn_f32_gemm(CRNN_ISA_PORTABLE, x, rows, ldx, packed, n, k, b, ref, ldy, backward);
    crnn_f32_gemm(level, x, rows, ldx, packed, n, k, b, got, ldy, backward);
    tallies[T_F32].cases++;
    for (size_t r = 0; r < rows; ++r)
        for (size_t j = 0; j < ldy; ++j) {
            const size_t i = r * ldy + j;
            check(T_F32, bits(got[i]) == bits(ref[i]), "%s rows %zu n %zu k %zu bias %d backward %d: y[%zu][%zu] %a, portable %a",
                  level_name(level), rows, n, k, with_bias, backward, r, j, got[i], ref[i]);
        }
    if (rows > 1) { /* one row alone, the way a streaming step computes it */
        const size_t r = below(rows);
        float *one = xmalloc(n * sizeof(float));
        crnn_f32_gemm(level, x + r * ldx, 1, ldx, packed, n, k, b, one, n, backward);
        for (size_t j = 0; j < n; ++j)
            check(T_F32, bits(one[j]) == bits(got[r * ldy + j]), "%s n %zu k %zu: row %zu alone differs at %zu",
                  level_name(level), n, k, r, j);
        free(one);
    }
    free(ref); free(got);
    f32_free(&in);
}

static void test_f32_all(int level) {
    for (size_t a = 0; a < sizeof shape_n / sizeof shape_n[0]; ++a)
        for (size_t c = 0; c < sizeof shape_k / sizeof shape_k[0]; ++c)
            test_f32(level, PICK(shape_rows), shape_n[a], shape_k[c], (int)below(2), (int)below(2));
    /* Both orders of a one-row product over several blocks of rows, with and without bias. */
    const size_t long_n[] = {129, 300, 384, 513, 768};
    for (size_t a = 0; a < sizeof long_n / sizeof long_n[0]; ++a)
        for (int backward = 0; backward < 2; ++backward)
            for (int with_bias = 0; with_bias < 2; ++with_bias) test_f32(level, 1, long_n[a], PICK(shape_k), with_bias, backward);
    /* Many rows (the input projection of a sequence). */
    test_f32(level, 40, 96, 70, 1, 0);
    test_f32(level, 17, 257, 33, 0, 0);
}

/* ------------------------------------------------------------------------------------------ */
/* int8 products */

typedef struct {
    size_t n, k, padded, ldx;
    int8_t *w, *packed;
    int32_t *colsum;
    uint8_t *x;
} s8_case;

static s8_case s8_make(size_t rows, size_t n, size_t k, int max_code) {
    s8_case c = {.n = n, .k = k, .padded = crnn_s8_padded_k(k)};
    c.ldx = c.padded + 4 * below(3);
    c.w = xmalloc(n * k);
    c.packed = xmalloc(crnn_s8_packed_count(n, k));
    c.colsum = xmalloc(n * sizeof(int32_t));
    c.x = xmalloc(rows * c.ldx);
    for (size_t i = 0; i < n * k; ++i) c.w[i] = (int8_t)((int)below(256) - 128); /* all of -128..127 */
    for (size_t r = 0; r < rows; ++r)
        for (size_t j = 0; j < c.ldx; ++j)
            /* padding and the gap up to ldx hold anything, extremes included */
            c.x[r * c.ldx + j] = j < k ? (uint8_t)below((size_t)max_code + 1) : (uint8_t)below(256);
    if (rows > 0 && k > 0) c.x[below(rows) * c.ldx + below(k)] = (uint8_t)max_code; /* the extreme occurs */
    crnn_s8_pack(c.w, n, k, k, c.packed, c.colsum);
    return c;
}

static void s8_free(s8_case *c) { free(c->w); free(c->packed); free(c->colsum); free(c->x); }

static void test_s8_acc(int level, size_t rows, size_t n, size_t k, int max_code) {
    s8_case c = s8_make(rows, n, k, max_code);
    const size_t ld = n + below(2);
    int32_t *ref = xmalloc(rows * ld * sizeof(int32_t)), *got = xmalloc(rows * ld * sizeof(int32_t));
    for (size_t i = 0; i < rows * ld; ++i) ref[i] = got[i] = 0x5eadbeef;
    crnn_s8_gemm_acc(CRNN_ISA_PORTABLE, c.x, rows, c.ldx, c.packed, n, k, ref, ld);
    crnn_s8_gemm_acc(level, c.x, rows, c.ldx, c.packed, n, k, got, ld);
    tallies[T_S8_ACC].cases++;
    for (size_t i = 0; i < rows * ld; ++i)
        check(T_S8_ACC, got[i] == ref[i], "%s rows %zu n %zu k %zu codes <= %d: acc[%zu] %d, portable %d", level_name(level),
              rows, n, k, max_code, i, got[i], ref[i]);
    free(ref); free(got);
    s8_free(&c);
}

static void test_s8_f32(int level, size_t rows, size_t n, size_t k, int max_code, int with_bias, int backward,
                        int row_kernel, int any_colsum) {
    s8_case c = s8_make(rows, n, k, max_code);
    const size_t ld = n + below(2);
    float *w_scale = xmalloc(n * sizeof(float)), *bias = xmalloc(n * sizeof(float));
    for (size_t j = 0; j < n; ++j) {
        w_scale[j] = uniform(1e-4f, 2e-2f);
        bias[j] = uniform(-1, 1);
        if (any_colsum) c.colsum[j] = (int32_t)(next_u64() >> 40) - (1 << 23); /* the formula holds for any */
    }
    const int32_t zp = (int32_t)below(128);
    const float x_scale = uniform(1e-3f, 5e-2f);
    float *ref = xmalloc(rows * ld * sizeof(float)), *got = xmalloc(rows * ld * sizeof(float));
    const float sentinel = from_bits(0x7fc0beefu);
    for (size_t i = 0; i < rows * ld; ++i) ref[i] = got[i] = sentinel;
    const float *b = with_bias ? bias : NULL;
    crnn_s8_gemm_f32(CRNN_ISA_PORTABLE, c.x, rows, c.ldx, c.packed, n, k, c.colsum, zp, x_scale, w_scale, b, ref, ld,
                     backward, row_kernel);
    crnn_s8_gemm_f32(level, c.x, rows, c.ldx, c.packed, n, k, c.colsum, zp, x_scale, w_scale, b, got, ld, backward,
                     row_kernel);
    tallies[T_S8_F32].cases++;
    for (size_t i = 0; i < rows * ld; ++i)
        check(T_S8_F32, bits(got[i]) == bits(ref[i]),
              "%s rows %zu n %zu k %zu codes <= %d bias %d backward %d row_kernel %d: y[%zu] %a, portable %a",
              level_name(level), rows, n, k, max_code, with_bias, backward, row_kernel, i, got[i], ref[i]);
    free(w_scale); free(bias); free(ref); free(got);
    s8_free(&c);
}

static void test_s8_all(int level) {
    /* Both arm64 levels are exact for every code, so the exact-level rule keeps them. */
    check(T_S8_ACC, crnn_s8_exact_isa(level) == level, "crnn_s8_exact_isa(%s) = %s", level_name(level),
          level_name(crnn_s8_exact_isa(level)));
    const int codes[] = {127, 128, 255};
    for (size_t a = 0; a < sizeof shape_n / sizeof shape_n[0]; ++a)
        for (size_t c = 0; c < sizeof shape_k / sizeof shape_k[0]; ++c) {
            const int max_code = codes[below(3)];
            test_s8_acc(level, PICK(shape_rows), shape_n[a], shape_k[c], max_code);
            test_s8_f32(level, PICK(shape_rows), shape_n[a], shape_k[c], max_code, (int)below(2), (int)below(2),
                        (int)below(3), (int)below(2));
        }
    const size_t long_n[] = {129, 300, 384, 513, 768};
    for (size_t a = 0; a < sizeof long_n / sizeof long_n[0]; ++a)
        for (int backward = 0; backward < 2; ++backward)
            for (int row_kernel = CRNN_S8_ROW_DEFAULT; row_kernel <= CRNN_S8_ROW_BLOCKS; ++row_kernel)
                test_s8_f32(level, 1, long_n[a], PICK(shape_k), codes[below(3)], (int)below(2), backward, row_kernel, 0);
    test_s8_acc(level, 40, 96, 70, 127);
    test_s8_acc(level, 17, 257, 33, 255);
    test_s8_f32(level, 21, 200, 256, 255, 1, 0, CRNN_S8_ROW_DEFAULT, 0);
}

/* ------------------------------------------------------------------------------------------ */
/* activation quantization */

/* Values that test the rules: NaN, infinities, beyond int32, ties (a multiple of 0.5 times 1/s). */
static float quant_value(float inv_scale) {
    switch (below(16)) {
    case 0: return NAN;
    case 1: return below(2) ? INFINITY : -INFINITY;
    case 2: return below(2) ? 3e38f : -3e38f;
    case 3: return ((float)(int)below(600) - 300.0f + 0.5f) / inv_scale;
    case 4: return below(2) ? 0.0f : -0.0f;
    default: return uniform(-3, 3);
    }
}

static void test_quantize(int level, size_t rows, size_t cols) {
    const size_t padded = crnn_s8_padded_k(cols), ldx = cols + below(3), ldq = padded + below(5);
    float *x = xmalloc(rows * ldx * sizeof(float));
    uint8_t *ref = xmalloc(rows * ldq), *got = xmalloc(rows * ldq);
    const float inv_scale = below(2) ? 1.0f : uniform(10, 60);
    const int32_t zp = (int32_t)below(128);
    for (size_t i = 0; i < rows * ldx; ++i) x[i] = quant_value(inv_scale);
    memset(ref, 0xA5, rows * ldq);
    memset(got, 0xA5, rows * ldq);
    const int top_ref = crnn_quantize_u8(CRNN_ISA_PORTABLE, x, rows, cols, ldx, inv_scale, zp, ref, ldq);
    const int top = crnn_quantize_u8(level, x, rows, cols, ldx, inv_scale, zp, got, ldq);
    tallies[T_QUANT].cases++;
    check(T_QUANT, top == top_ref, "%s %zu x %zu: largest code %d, portable %d", level_name(level), rows, cols, top, top_ref);
    for (size_t i = 0; i < rows * ldq; ++i)
        check(T_QUANT, got[i] == ref[i], "%s %zu x %zu: byte %zu is %d, portable %d", level_name(level), rows, cols, i,
              got[i], ref[i]);

    float mn_ref, mx_ref, mn, mx;
    crnn_f32_minmax(CRNN_ISA_PORTABLE, x, rows, cols, ldx, &mn_ref, &mx_ref);
    crnn_f32_minmax(level, x, rows, cols, ldx, &mn, &mx);
    tallies[T_MINMAX].cases++;
    check(T_MINMAX, mn == mn_ref || (isnan(mn) && isnan(mn_ref)), "%s %zu x %zu: min %a, portable %a", level_name(level), rows,
          cols, mn, mn_ref);
    check(T_MINMAX, mx == mx_ref || (isnan(mx) && isnan(mx_ref)), "%s %zu x %zu: max %a, portable %a", level_name(level), rows,
          cols, mx, mx_ref);
    free(x); free(ref); free(got);
}

static void test_quantize_all(int level) {
    const size_t cols[] = {1, 2, 3, 4, 5, 7, 15, 16, 17, 31, 33, 64, 100, 255, 256, 257};
    const size_t rows[] = {1, 1, 2, 3, 8};
    for (size_t c = 0; c < sizeof cols / sizeof cols[0]; ++c)
        for (int rep = 0; rep < 4; ++rep) test_quantize(level, PICK(rows), cols[c]);
}

/* ------------------------------------------------------------------------------------------ */
/* cells, sigmoid, tanh */

/* Gate inputs: mostly moderate, some saturating or special. */
static float gate_value(void) {
    switch (below(64)) {
    case 0: return NAN;
    case 1: return below(2) ? INFINITY : -INFINITY;
    case 2: return uniform(-120, 120);
    case 3: return below(2) ? 0.0f : -0.0f;
    case 4: return uniform(-1e-6f, 1e-6f);
    default: return uniform(-9, 9);
    }
}

/* Elements past ATen's vector blocks of a row must equal the portable (all scalar) path bit for
 * bit; those inside them use SLEEF's expf, as the x86 levels do (the --digest comparison checks
 * that), and must be within 1e-6 of it (relative above 1). */
static void compare_floats(int kind, const char *what, int level, size_t hidden, size_t block, const float *got,
                           const float *ref, size_t count) {
    const size_t span = block ? count / block * block : 0;
    for (size_t i = 0; i < count; ++i) {
        const int ok = i >= span ? same_float(got[i], ref[i])
                                 : same_float(got[i], ref[i]) || fabsf(got[i] - ref[i]) <= 1e-6f * fmaxf(1.0f, fabsf(ref[i]));
        check(kind, ok, "%s %s hidden %zu block %zu: [%zu] %a, portable %a", level_name(level), what, hidden, block, i,
              got[i], ref[i]);
    }
}

/* A cell's inputs: gates of 4 blocks (GRU uses 3) in gi and gh, a state h and c. */
typedef struct {
    float *gi, *gh, *h, *c;
} cell_case;

static cell_case cell_make(size_t hidden) {
    cell_case c = {xmalloc(4 * hidden * sizeof(float)), xmalloc(4 * hidden * sizeof(float)),
                   xmalloc(hidden * sizeof(float)), xmalloc(hidden * sizeof(float))};
    for (size_t i = 0; i < 4 * hidden; ++i) {
        c.gi[i] = gate_value();
        c.gh[i] = gate_value();
    }
    for (size_t i = 0; i < hidden; ++i) {
        c.h[i] = uniform(-1, 1);
        c.c[i] = uniform(-4, 4);
    }
    return c;
}

static void cell_free(cell_case *c) { free(c->gi); free(c->gh); free(c->h); free(c->c); }

static void test_cells(int level, size_t hidden, size_t block) {
    cell_case in = cell_make(hidden);
    const float *gi = in.gi, *gh = in.gh, *h0 = in.h, *c0 = in.c;
    float *h_ref = xmalloc(hidden * sizeof(float)), *h_got = xmalloc(hidden * sizeof(float));
    float *c_ref = xmalloc(hidden * sizeof(float)), *c_got = xmalloc(hidden * sizeof(float));
    /* A split at a multiple of 32 (two threads share a row so), or none. */
    const size_t split = hidden > 32 && below(2) ? 32 * (1 + below((hidden - 1) / 32)) : 0;

    /* GRU in place (h_prev == h_out), the whole row against the level in one or two calls. */
    memcpy(h_ref, h0, hidden * sizeof(float));
    memcpy(h_got, h0, hidden * sizeof(float));
    crnn_gru_cell(CRNN_ISA_PORTABLE, block, gi, gh, h_ref, h_ref, hidden, 0, hidden);
    if (split) {
        crnn_gru_cell(level, block, gi, gh, h_got, h_got, hidden, split, hidden);
        crnn_gru_cell(level, block, gi, gh, h_got, h_got, hidden, 0, split);
    } else {
        crnn_gru_cell(level, block, gi, gh, h_got, h_got, hidden, 0, hidden);
    }
    tallies[T_GRU].cases++;
    compare_floats(T_GRU, "GRU h", level, hidden, block, h_got, h_ref, hidden);

    memcpy(c_ref, c0, hidden * sizeof(float));
    memcpy(c_got, c0, hidden * sizeof(float));
    crnn_lstm_cell(CRNN_ISA_PORTABLE, block, gi, gh, c_ref, h_ref, hidden, 0, hidden);
    if (split) {
        crnn_lstm_cell(level, block, gi, gh, c_got, h_got, hidden, 0, split);
        crnn_lstm_cell(level, block, gi, gh, c_got, h_got, hidden, split, hidden);
    } else {
        crnn_lstm_cell(level, block, gi, gh, c_got, h_got, hidden, 0, hidden);
    }
    tallies[T_LSTM].cases++;
    compare_floats(T_LSTM, "LSTM c", level, hidden, block, c_got, c_ref, hidden);
    compare_floats(T_LSTM, "LSTM h", level, hidden, block, h_got, h_ref, hidden);
    free(h_ref); free(h_got); free(c_ref); free(c_got);
    cell_free(&in);
}

/* sigmoid and tanh over `n` values from `fill`, in place for one of the two. */
static void test_maps(int level, size_t n, size_t block, int kind_of_values) {
    float *x = xmalloc(n * sizeof(float)), *ref = xmalloc(n * sizeof(float)), *got = xmalloc(n * sizeof(float));
    const uint32_t start = (uint32_t)next_u64();
    for (size_t i = 0; i < n; ++i) {
        switch (kind_of_values) {
        case 0: x[i] = from_bits((uint32_t)next_u64()); break; /* every class of float */
        case 1: x[i] = uniform(-30, 30); break;
        case 2: x[i] = from_bits((start & 0x807fffffu) + (uint32_t)i); break; /* consecutive floats near 1 */
        default: x[i] = from_bits((start | 0x3c000000u) + (uint32_t)i * 97u); break;
        }
    }
    crnn_sigmoid(CRNN_ISA_PORTABLE, block, x, ref, n);
    memcpy(got, x, n * sizeof(float));
    crnn_sigmoid(level, block, got, got, n);
    tallies[T_SIGMOID].cases++;
    compare_floats(T_SIGMOID, "sigmoid", level, n, block, got, ref, n);
    crnn_tanh(CRNN_ISA_PORTABLE, x, ref, n);
    crnn_tanh(level, x, got, n);
    tallies[T_TANH].cases++;
    compare_floats(T_TANH, "tanh", level, n, 0, got, ref, n);
    free(x); free(ref); free(got);
}

static void test_cells_all(int level, size_t map_values) {
    const size_t hidden[] = {1, 3, 4, 5, 7, 13, 16, 31, 32, 33, 64, 77, 100, 129, 256, 300};
    const size_t blocks[] = {0, 16, 32};
    for (size_t h = 0; h < sizeof hidden / sizeof hidden[0]; ++h)
        for (size_t b = 0; b < 3; ++b)
            for (int rep = 0; rep < 3; ++rep) test_cells(level, hidden[h], blocks[b]);
    for (int kind = 0; kind < 4; ++kind)
        for (size_t b = 0; b < 3; ++b) test_maps(level, map_values + below(4), blocks[b], kind);
}

/* ------------------------------------------------------------------------------------------ */
/* SHA-256, stream_read, the helper thread */

static void test_sha256(void) {
    /* FIPS 180-4's "abc", so that the two paths cannot agree on a wrong answer. */
    uint8_t block[64] = {'a', 'b', 'c', 0x80};
    block[63] = 24;
    const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    const uint32_t abc[8] = {0xba7816bf, 0x8f01cfea, 0x414140de, 0x5dae2223, 0xb00361a3, 0x96177a9c, 0xb410ff61, 0xf20015ad};
    uint32_t state[8];
    memcpy(state, iv, sizeof state);
    crnn_sha256_blocks(state, block, 1);
    tallies[T_SHA].cases++;
    check(T_SHA, memcmp(state, abc, sizeof abc) == 0, "SHA-256(\"abc\") is wrong");
    const size_t counts[] = {1, 2, 3, 17, 64};
    for (size_t c = 0; c < sizeof counts / sizeof counts[0]; ++c) {
        const size_t blocks = counts[c];
        uint8_t *data = xmalloc(64 * blocks);
        for (size_t i = 0; i < 64 * blocks; ++i) data[i] = (uint8_t)next_u64();
        uint32_t ref[8];
        for (int i = 0; i < 8; ++i) ref[i] = state[i] = (uint32_t)next_u64();
        crnn_sha256_blocks_portable(ref, data, blocks);
        crnn_sha256_blocks(state, data, blocks);
        tallies[T_SHA].cases++;
        for (int i = 0; i < 8; ++i) check(T_SHA, state[i] == ref[i], "%zu blocks: word %d %08x, portable %08x", blocks, i, state[i], ref[i]);
        free(data);
    }
}

static void test_stream_read(int level) {
    /* Small integers, so that any order of additions gives the same sum. */
    const size_t bytes = 128 * (1 + below(40));
    float *data = xmalloc(bytes);
    for (size_t i = 0; i < bytes / sizeof(float); ++i) data[i] = (float)((int)below(17) - 8);
    tallies[T_STREAM].cases++;
    const float ref = crnn_stream_read(CRNN_ISA_PORTABLE, data, bytes), got = crnn_stream_read(level, data, bytes);
    check(T_STREAM, ref == got, "%s %zu bytes: %g, portable %g", level_name(level), bytes, got, ref);
    free(data);
}

typedef struct {
    _Atomic int runs[64];
} parallel_counts;

static void count_run(void *context, size_t index) { atomic_fetch_add(&((parallel_counts *)context)->runs[index], 1); }

/* Every index of every job runs exactly once, jobs back to back (the helper spinning between
 * them) and after pauses (the helper asleep). */
static void test_parallel(void) {
    static parallel_counts counts;
    const size_t sizes[] = {2, 3, 64};
    const int repeats = 300;
    for (size_t s = 0; s < 3; ++s) {
        for (size_t i = 0; i < 64; ++i) atomic_store(&counts.runs[i], 0);
        for (int rep = 0; rep < repeats; ++rep) {
            if (rep % 100 == 99) {
                const struct timespec pause = {0, 2000000};
                nanosleep(&pause, NULL);
            }
            crnn_parallel_run(count_run, &counts, sizes[s]);
        }
        tallies[T_PARALLEL].cases++;
        for (size_t i = 0; i < sizes[s]; ++i)
            check(T_PARALLEL, atomic_load(&counts.runs[i]) == repeats, "count %zu: index %zu ran %d times of %d", sizes[s], i,
                  atomic_load(&counts.runs[i]), repeats);
    }
}


/* ------------------------------------------------------------------------------------------ */
/* --digest: what the best level computes for fixed inputs */

static uint64_t fnv(uint64_t h, const void *data, size_t bytes) {
    const unsigned char *p = data;
    for (size_t i = 0; i < bytes; ++i) h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

/* Float bit patterns, every NaN as one. */
static uint64_t fnv_floats(uint64_t h, const float *v, size_t count) {
    for (size_t i = 0; i < count; ++i) {
        const uint32_t u = isnan(v[i]) ? 0x7fc00000u : bits(v[i]);
        h = fnv(h, &u, sizeof u);
    }
    return h;
}

static void digest_line(const char *what, uint64_t h) { printf("digest %-16s %016llx\n", what, (unsigned long long)h); }

static void digest(int level) {
    const uint64_t basis = 0xcbf29ce484222325ull;
    const size_t products[][3] = {{1, 768, 256}, {1, 1536, 512}, {1, 300, 77}, {5, 384, 130}, {16, 256, 64}};
    uint64_t hf = basis, hs = basis;
    for (size_t i = 0; i < sizeof products / sizeof products[0]; ++i) {
        const size_t rows = products[i][0], n = products[i][1], k = products[i][2];
        rng = 1000 + i;
        f32_case f = f32_make(rows, n, k, k);
        float *y = xmalloc(rows * n * sizeof(float)), *w_scale = xmalloc(n * sizeof(float));
        for (int backward = 0; backward < 2; ++backward) {
            crnn_f32_gemm(level, f.x, rows, k, f.packed, n, k, f.bias, y, n, backward);
            hf = fnv_floats(hf, y, rows * n);
        }
        s8_case c = s8_make(rows, n, k, i % 2 ? 255 : 127);
        int32_t *acc = xmalloc(rows * n * sizeof(int32_t));
        crnn_s8_gemm_acc(crnn_s8_exact_isa(level), c.x, rows, c.ldx, c.packed, n, k, acc, n);
        hs = fnv(hs, acc, rows * n * sizeof(int32_t));
        for (size_t j = 0; j < n; ++j) w_scale[j] = uniform(1e-4f, 2e-2f);
        crnn_s8_gemm_f32(crnn_s8_exact_isa(level), c.x, rows, c.ldx, c.packed, n, k, c.colsum, 3, 0.0123f, w_scale,
                         f.bias, y, n, 0, CRNN_S8_ROW_DEFAULT);
        hs = fnv_floats(hs, y, rows * n);
        free(acc); free(y); free(w_scale);
        s8_free(&c);
        f32_free(&f);
    }
    digest_line("f32-products", hf);
    digest_line("s8-products", hs);

    rng = 2000;
    uint64_t hq = basis;
    for (int i = 0; i < 8; ++i) {
        const size_t rows = 3, cols = 250 + (size_t)i, padded = crnn_s8_padded_k(cols);
        float *x = xmalloc(rows * cols * sizeof(float));
        uint8_t *q = xmalloc(rows * padded);
        const float inv = i % 2 ? 1.0f : 37.5f;
        for (size_t j = 0; j < rows * cols; ++j) x[j] = quant_value(inv);
        const int top = crnn_quantize_u8(level, x, rows, cols, cols, inv, 5 * i, q, padded);
        float mm[2];
        crnn_f32_minmax(level, x, rows, cols, cols, &mm[0], &mm[1]);
        hq = fnv(fnv(hq, q, rows * padded), &top, sizeof top);
        hq = fnv_floats(hq, mm, 2);
        free(x); free(q);
    }
    digest_line("quantize", hq);

    const size_t blocks[] = {0, 16, 32};
    for (int b = 0; b < 3; ++b) {
        rng = 3000 + (uint64_t)b;
        uint64_t hg = basis, hl = basis, hm = basis;
        const size_t hiddens[] = {77, 256, 300, 1024};
        for (size_t i = 0; i < 4; ++i) {
            const size_t hidden = hiddens[i];
            cell_case in = cell_make(hidden);
            crnn_gru_cell(level, blocks[b], in.gi, in.gh, in.h, in.h, hidden, 0, hidden);
            hg = fnv_floats(hg, in.h, hidden);
            crnn_lstm_cell(level, blocks[b], in.gi, in.gh, in.c, in.h, hidden, 0, hidden);
            hl = fnv_floats(fnv_floats(hl, in.c, hidden), in.h, hidden);
            crnn_sigmoid(level, blocks[b], in.gi, in.h, hidden);
            hm = fnv_floats(hm, in.h, hidden);
            cell_free(&in);
        }
        char name[32];
        snprintf(name, sizeof name, "gru-block%zu", blocks[b]);
        digest_line(name, hg);
        snprintf(name, sizeof name, "lstm-block%zu", blocks[b]);
        digest_line(name, hl);
        snprintf(name, sizeof name, "sigmoid-block%zu", blocks[b]);
        digest_line(name, hm);
    }
    /* Enough values for the last-bit rarities: x86's glibc expf against the arm64 vectors. */
    rng = 4000;
    enum { M = 1 << 20 };
    float *x = xmalloc(M * sizeof(float)), *y = xmalloc(M * sizeof(float));
    for (size_t j = 0; j < M; ++j) x[j] = j % 2 ? uniform(-12, 12) : from_bits((uint32_t)next_u64());
    crnn_tanh(level, x, y, M);
    digest_line("tanh", fnv_floats(basis, y, M));
    for (int b = 0; b < 3; b += 2) {
        crnn_sigmoid(level, blocks[b], x, y, M);
        char name[32];
        snprintf(name, sizeof name, "sigmoid-1M-b%zu", blocks[b]);
        digest_line(name, fnv_floats(basis, y, M));
    }
    free(x); free(y);
}
/* ------------------------------------------------------------------------------------------ */

static int parse_level(const char *name) {
    for (int l = CRNN_ISA_PORTABLE; l <= CRNN_ISA_TOP; ++l)
        if (strcmp(name, level_name(l)) == 0) return l;
    fprintf(stderr, "unknown level %s\n", name);
    exit(2);
}

int main(int argc, char **argv) {
    int expect = -1, expect_sha = -1, digest_only = 0, rounds = 1;
    size_t map_values = 1 << 15;
    for (int i = 1; i < argc; ++i) {
        if (strcmp(argv[i], "--expect") == 0 && i + 1 < argc) expect = parse_level(argv[++i]);
        else if (strcmp(argv[i], "--expect-sha") == 0 && i + 1 < argc) expect_sha = atoi(argv[++i]);
        else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) rng = strtoull(argv[++i], NULL, 0);
        else if (strcmp(argv[i], "--map-values") == 0 && i + 1 < argc) map_values = strtoull(argv[++i], NULL, 0);
        else if (strcmp(argv[i], "--digest") == 0) digest_only = 1;
        else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc) rounds = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: %s [--expect LEVEL] [--expect-sha 0|1] [--seed N] [--rounds N] [--map-values N] | --digest\n", argv[0]);
            return 2;
        }
    }
    const int detected = crnn_detect_isa();
    if (digest_only) {
        printf("level %s\n", level_name(detected));
        digest(detected);
        return 0;
    }
    printf("detected level: %s; SHA-256 instructions: %s\n", level_name(detected), crnn_sha256_accelerated() ? "yes" : "no");
    if (expect >= 0 && detected != expect) {
        fprintf(stderr, "FAIL: expected level %s on this CPU, detected %s\n", level_name(expect), level_name(detected));
        return 1;
    }
    if (expect_sha >= 0 && crnn_sha256_accelerated() != expect_sha) {
        fprintf(stderr, "FAIL: expected SHA-256 instructions %s\n", expect_sha ? "present" : "absent");
        return 1;
    }
    /* An x86 level asks for no arm64 code: it runs the portable path (CRNNKernels.h). */
    if (crnn_effective_isa(CRNN_ISA_AVX512) != CRNN_ISA_PORTABLE) {
        fprintf(stderr, "FAIL: CRNN_ISA_AVX512 runs %s here\n", level_name(crnn_effective_isa(CRNN_ISA_AVX512)));
        return 1;
    }

    /* Each distinct level the arm64 requests run on this CPU. */
    int levels[2], count = 0;
    const int requests[2] = {CRNN_ISA_NEON, CRNN_ISA_NEON_DOTPROD};
    for (int i = 0; i < 2; ++i) {
        const int effective = crnn_effective_isa(requests[i]);
        printf("requested %s runs %s\n", level_name(requests[i]), level_name(effective));
        if (count == 0 || levels[count - 1] != effective) levels[count++] = effective;
    }
    for (int i = 0; i < count; ++i) {
        const int level = levels[i];
        if (level == CRNN_ISA_PORTABLE) {
            fprintf(stderr, "FAIL: no arm64 level runs on this CPU (not an arm64 build?)\n");
            return 1;
        }
        printf("checking level %s against PORTABLE\n", level_name(level));
        fflush(stdout);
        for (int round = 0; round < rounds; ++round) { /* each round draws new shapes and values */
            test_f32_all(level);
            test_s8_all(level);
            test_quantize_all(level);
            test_cells_all(level, map_values);
            test_stream_read(level);
        }
    }
    test_sha256();
    test_parallel();

    printf("%-22s %8s %10s %8s\n", "kernel", "cases", "values", "failed");
    for (int t = 0; t < T_COUNT; ++t)
        printf("%-22s %8ld %10ld %8ld\n", tallies[t].name, tallies[t].cases, tallies[t].values, tallies[t].failed);
    if (total_failures) {
        printf("FAILED: %ld values differ from the portable path\n", total_failures);
        return 1;
    }
    printf("OK: levels");
    for (int i = 0; i < count; ++i) printf(" %s", level_name(levels[i]));
    printf(" equal the portable path\n");
    return 0;
}
