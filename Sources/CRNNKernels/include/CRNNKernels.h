/*
 * CRNNKernels: the few hot loops of RNNKit (products, cell updates, SHA-256), in C so that
 * AVX2/AVX-512/SHA code on x86-64 and NEON/dot-product/SHA-2 code on arm64 can be selected at run
 * time without compiler flags on the package (users build RNNKit as a dependency).
 *
 * Every function takes an explicit `isa` (a crnn_isa value). Passing a level the CPU does not
 * support is safe: the call runs the best supported level at or below it. Tests pass
 * CRNN_ISA_PORTABLE to exercise the plain C path on any machine.
 *
 * Not API: RNNRuntime wraps these in safe Swift types (Sources/RNNRuntime/Kernels); RNNFormat's
 * SHA256 calls the block function.
 */
#ifndef CRNN_KERNELS_H
#define CRNN_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Instruction-set levels, from plain to widest: one numbering for both architectures, x86-64's
 * levels 1-3 and arm64's 4-5 above them. A CPU may support a level without the one below it
 * (AVX-512 VNNI without AVX-VNNI; no x86 level on arm64); a call runs the highest supported level
 * that is not above the requested one. So on x86-64 an arm64 level runs the best x86 level, and on
 * arm64 an x86 level runs the portable path (no arm64 level is at or below it). Callers that want
 * the machine's best pass crnn_detect_isa(), or CRNN_ISA_TOP. */
enum {
    CRNN_ISA_PORTABLE = 0,     /* plain C, any CPU */
    CRNN_ISA_AVX2 = 1,         /* x86-64 AVX2 + FMA */
    CRNN_ISA_AVX2_VNNI = 2,    /* AVX2 + FMA + AVX-VNNI (vpdpbusd on YMM) */
    CRNN_ISA_AVX512 = 3,       /* AVX-512 F/BW/VL/VNNI */
    CRNN_ISA_NEON = 4,         /* arm64 Advanced SIMD (every AArch64 CPU) */
    CRNN_ISA_NEON_DOTPROD = 5, /* NEON + the ARMv8.2 dot-product instructions (sdot) */
    CRNN_ISA_TOP = CRNN_ISA_NEON_DOTPROD
};

/* The best level this CPU and OS support (cached after the first call; thread-safe). On arm64 the
 * optional extensions come from the kernel's hwcaps on Linux and Android (getauxval) and from
 * sysctl hw.optional.arm.FEAT_* on Apple systems, or from the compiler when it already targets
 * them. */
int crnn_detect_isa(void);

/* The L2 cache size (bytes) one core can count on: what the OS reports (Linux sysconf; Apple: the
 * performance cores' L2 divided by the cores sharing it, hw.perflevel0.l2cachesize /
 * hw.perflevel0.cpusperl2, else hw.l2cachesize), 1 MiB when it reports none; cached after the
 * first call. */
size_t crnn_l2_cache_bytes(void);

/* The level a call asking for `requested` runs at. */
int crnn_effective_isa(int requested);

/* ---------------------------------------------------------------------------------------------
 * float32 product y = x . W^T + b over a block of rows.
 *
 * Packed layout: output rows in panels of CRNN_F32_PANEL, panels in groups of
 * CRNN_F32_GROUP (the last group may be smaller); within a group, for each k the weights of all
 * its panels are contiguous (group-major, then k, then panel, then output row). The last panel
 * is zero-padded. The one-row product of the time loop reads a group as one sequential stream
 * (its panels are its independent FMA chains), and the many-row input projection reads a pair
 * of panels per pass, streaming every weight once for every block of rows.
 */
#define CRNN_F32_PANEL 16
#define CRNN_F32_GROUP 8
/* Rows at which both packed layouts (float32 and int8) may be split into row ranges. */
#define CRNN_ROW_BLOCK 128

/* The one-row products (a recurrent step at batch 1) can visit their blocks of rows in either
 * order. A caller that reads the same matrix at every step alternates: the blocks it read last
 * are the ones still in the caches, and a backward pass reads them first. */

/* Number of floats of the packed form of an (n, k) matrix. */
size_t crnn_f32_packed_count(size_t n, size_t k);

/* Packs row-major w (n rows, k columns, row stride ldw >= k) into `packed`
 * (crnn_f32_packed_count(n, k) floats). */
void crnn_f32_pack(const float *w, size_t n, size_t k, size_t ldw, float *packed);

/* Where the packed rows row.. of a (n, k) matrix start (floats), for a product over the rows
 * row..<end only (pass packed + offset and n = end - row): row must be a multiple of
 * CRNN_ROW_BLOCK, and end too unless it is n. */
size_t crnn_f32_packed_offset(size_t row, size_t k);

/* y[r*ldy + j] = sum_c x[r*ldx + c] * W[j][c] + bias[j], r < rows, j < n.
 * bias may be NULL (zero). x rows need k readable floats; y rows get n floats.
 * backward: nonzero to visit the CRNN_ROW_BLOCK blocks of rows last to first when rows is 1
 * (see CRNN_ROW_BLOCK); the results do not depend on it. */
void crnn_f32_gemm(int isa, const float *x, size_t rows, size_t ldx,
                   const float *packed, size_t n, size_t k, const float *bias,
                   float *y, size_t ldy, int backward);

/* ---------------------------------------------------------------------------------------------
 * int8 product: u8 activations x s8 weights -> exact int32 accumulators.
 *
 * Packed layout: output rows in panels of CRNN_S8_PANEL; k in groups of CRNN_S8_KGROUP; for each
 * group the panel holds, per output row, the group's 4 consecutive weights (so one 32-bit
 * broadcast of 4 activations meets 8 rows x 4 weights in one YMM register, vpmaddubsw +
 * vpmaddwd). k is zero-padded to a multiple of 4, the last panel to a multiple of 16.
 *
 * Activations: xq rows have stride ldx >= crnn_s8_padded_k(k), and the padding bytes of each
 * row must be readable (any value; their weights are zero). The AVX2 path is exact only when
 * every activation is <= 128 (two u8*s8 products then fit vpmaddubsw's saturating int16);
 * PyTorch's reduce_range activations are 0..127. The VNNI levels (vpdpbusd), both arm64 levels
 * and the portable path are exact for all u8; callers with larger codes pass
 * crnn_s8_exact_isa(isa). (arm64 multiplies s8 x s8, smull into int16 or sdot into int32, which
 * is the product itself for codes up to 127; a call whose activations hold a larger code computes
 * sum (x - 128) * w + 128 * sum w instead.)
 */
#define CRNN_S8_PANEL 16
#define CRNN_S8_KGROUP 4

size_t crnn_s8_padded_k(size_t k);
/* Number of bytes of the packed form of an (n, k) matrix. */
size_t crnn_s8_packed_count(size_t n, size_t k);

/* The level to request for activations up to 255: the level `isa` runs when that is a VNNI or
 * arm64 level, otherwise CRNN_ISA_PORTABLE. */
int crnn_s8_exact_isa(int isa);

/* Packs row-major w (n, k, row stride ldw >= k) into `packed` and writes colsum[j] = sum_c w[j][c]
 * (n entries; pass NULL to skip). */
void crnn_s8_pack(const int8_t *w, size_t n, size_t k, size_t ldw, int8_t *packed, int32_t *colsum);

/* Where the packed rows row.. start (bytes), for a product over a row range (as for
 * crnn_f32_packed_offset; colsum, w_scale, bias and y then start at row too). */
size_t crnn_s8_packed_offset(size_t row, size_t k);

/* acc[r*ldacc + j] = sum_c xq[r*ldx + c] * W[j][c], exact int32. */
void crnn_s8_gemm_acc(int isa, const uint8_t *xq, size_t rows, size_t ldx,
                      const int8_t *packed, size_t n, size_t k,
                      int32_t *acc, size_t ldacc);

/* How the AVX-512 level computes a product of one row (the results are the same): eight
 * panels of 16 rows sharing each broadcast of activations (one whole CRNN_ROW_BLOCK block at a
 * time), or one panel at a time. CRNN_S8_ROW_DEFAULT takes crnn_s8_row_blocks_by_default().
 * Other levels go panel by panel whatever it says. */
enum { CRNN_S8_ROW_DEFAULT = 0, CRNN_S8_ROW_PANELS = 1, CRNN_S8_ROW_BLOCKS = 2 };

/* Whether the machine's one-row products go by blocks: on Intel cores, where that measured
 * 1.05-1.10x faster from L2; elsewhere panel by panel, which Zen 5 streams at its read floor
 * (BENCHMARKS.md). */
int crnn_s8_row_blocks_by_default(void);

/* The same product with PyTorch's dynamic-quantization epilogue fused (backward as for
 * crnn_f32_gemm; row_kernel a CRNN_S8_ROW_ value):
 * y[r*ldy + j] = fmaf((float)(acc - x_zero_point * colsum[j]), x_scale * w_scale[j], bias[j])
 * with x_scale * w_scale[j] a float32 product and one rounding in the fma. w_scale has n entries
 * (repeat a per-tensor scale). bias may be NULL (zero). */
void crnn_s8_gemm_f32(int isa, const uint8_t *xq, size_t rows, size_t ldx,
                      const int8_t *packed, size_t n, size_t k,
                      const int32_t *colsum, int32_t x_zero_point, float x_scale,
                      const float *w_scale, const float *bias,
                      float *y, size_t ldy, int backward, int row_kernel);

/* ---------------------------------------------------------------------------------------------
 * Dynamic activation quantization.
 */

/* Minimum and maximum over rows x cols floats (row stride ldx). rows*cols must be > 0.
 * NaN elements are ignored unless every element is NaN. */
void crnn_f32_minmax(int isa, const float *x, size_t rows, size_t cols, size_t ldx,
                     float *min_out, float *max_out);

/* xq[r*ldq + c] = clamp(round_half_even(x[r*ldx + c] * inv_scale) + zero_point, 0, 255)
 * (FBGEMM's order: the product in float32, rounding under the default rounding mode; values
 * beyond int32 saturate first). Bytes cols..<crnn_s8_padded_k(cols) of each row are zeroed
 * (ldq must be at least that). zero_point must be in 0..127 (reduce_range zero points).
 * Returns the largest code written (0 for an empty block). */
int crnn_quantize_u8(int isa, const float *x, size_t rows, size_t cols, size_t ldx,
                     float inv_scale, int32_t zero_point, uint8_t *xq, size_t ldq);

/* ---------------------------------------------------------------------------------------------
 * Cell updates after both products, operation by operation as PyTorch's CPU cells compute them
 * (aten/src/ATen/native/RNN.cpp), so that outputs match PyTorch bit for bit wherever the
 * element-wise functions agree:
 *  - sigmoid(x) = 1 / (1 + exp(-x)). ATen's vector loop covers whole blocks of two vectors of
 *    its CPU capability per row (`sigmoid_block`: 32 floats for AVX-512, 16 for AVX2, 0 for its
 *    default build) with SLEEF's expf_u10, and the rest of the row with glibc's expf. Both are
 *    reproduced exactly (the vector part on the AVX2 levels and on arm64; the portable path is
 *    all scalar). The arm64 levels compute the rest of the row with vectors too: e^x in double
 *    precision, rounded once to float, with the few lanes whose double result lies within 2^-8
 *    ulp of a rounding boundary (about 0.8%) recomputed by the C library's expf; so they give the
 *    C library's expf bit for bit wherever it errs by less than 0.5 + 2^-8 ulp (glibc's bound is
 *    0.502 ulp; Apple's libm documents none, so there "within one ulp" is what is known).
 *  - tanh is correctly rounded (double precision, one rounding) on every level. PyTorch's tanh is
 *    MKL's high-accuracy vector tanh, which agrees on all but about 0.1% of inputs.
 *  - sums and products round separately (no contraction).
 * PyTorch's own arm64 builds use other vector code (its NEON or SVE capability, by version); what
 * is reproduced on arm64 is the x86 builds' arithmetic above, so one model gives the same numbers
 * on both architectures. */

/* The capability PyTorch picks on this machine when ATEN_CPU_CAPABILITY is not set:
 * 2 (AVX-512: avx512 f/bw/dq/vl and fma), 1 (AVX2: avx2 and fma) or 0 (default; every arm64
 * machine). */
int crnn_pytorch_cpu_capability(void);

/* GRU, gate blocks r, z, n of `hidden` each in gi (b_ih included) and gh (b_hh included):
 * r = sigmoid(gh_r + gi_r), z = sigmoid(gh_z + gi_z), n = tanh(gi_n + gh_n * r),
 * h_out = (h_prev - n) * z + n, for the elements from..<to of the row (0..<hidden for all of it).
 * h_prev may equal h_out. `from` must be a multiple of 32 or at least the row's vector span;
 * then every element gets what the whole-row update gives it, so two threads may split a row
 * at a multiple of 32. */
void crnn_gru_cell(int isa, size_t sigmoid_block, const float *gi, const float *gh, const float *h_prev,
                   float *h_out, size_t hidden, size_t from, size_t to);

/* LSTM, gate blocks i, f, g, o: gates = gh + gi, c = f * c + i * g (in place), h_out = o * tanh(c),
 * for the elements from..<to (as for crnn_gru_cell). */
void crnn_lstm_cell(int isa, size_t sigmoid_block, const float *gi, const float *gh, float *c, float *h_out,
                    size_t hidden, size_t from, size_t to);

/* Element-wise y = sigmoid(x) (blocks as above) and y = tanh(x); y may equal x. */
void crnn_sigmoid(int isa, size_t sigmoid_block, const float *x, float *y, size_t n);
void crnn_tanh(int isa, const float *x, float *y, size_t n);

/* ---------------------------------------------------------------------------------------------
 * SHA-256 (FIPS 180-4) compression of `blocks` whole 64-byte blocks into `state` (A..H), for
 * RNNFormat's checksums: the x86 SHA extensions or the ARMv8 SHA-2 instructions when present,
 * plain C otherwise. The portable entry point lets tests compare the two. */
void crnn_sha256_blocks(uint32_t state[8], const uint8_t *data, size_t blocks);
void crnn_sha256_blocks_portable(uint32_t state[8], const uint8_t *data, size_t blocks);
/* 1 when crnn_sha256_blocks uses the CPU's SHA instructions on this machine (cached). */
int crnn_sha256_accelerated(void);

/* ---------------------------------------------------------------------------------------------
 * Benchmark support: reads `bytes` bytes (a multiple of 128) once with the widest loads of
 * `isa` and returns a checksum, so the time it takes is the machine's floor for streaming
 * those bytes, which is what a memory-bound product cannot beat. */
float crnn_stream_read(int isa, const void *data, size_t bytes);

/* ---------------------------------------------------------------------------------------------
 * Runs fn(context, i) for i in 0..<count on the calling thread and one persistent helper thread
 * (created on first use), and returns when all have finished. Indices are claimed atomically, so
 * a helper that wakes late, or is busy with another caller's job, costs nothing: the caller runs
 * what is left. The helper looks for the next job for 200 us (50 us on Apple's arm64 devices,
 * where the spin costs battery) before it sleeps (a condition variable), so back-to-back calls do
 * not pay a thread wake-up each. On Darwin it runs at QOS_CLASS_USER_INITIATED. count <= 65535.
 */
typedef void (*crnn_task_fn)(void *context, size_t index);
void crnn_parallel_run(crnn_task_fn fn, void *context, size_t count);

/* How the two threads of crnn_parallel_pair share a sequence of phases, each made of two
 * halves that may run at the same time, where a phase needs the previous one finished. Both
 * threads go through the phases in order (numbered 1, 2, ...): each claims its own half
 * (crnn_phase_claim: half `self`), runs it if it got it and marks it (crnn_phase_done), then
 * waits (crnn_phase_wait). A half the other thread has not claimed after ~4 us is taken over by
 * the waiting thread; before thread 1 has joined, thread 0 takes its halves at once, or after
 * 3 us when the helper is on its way (`coming`, set by crnn_parallel_pair). So a thread that
 * falls behind (descheduled, or started late) finds its halves done and catches up without
 * work, and the pair waits for a late thread only while it holds a half. Zero the struct before
 * the pair starts. */
typedef struct crnn_phases {
    uint64_t slot[2];
    uint32_t joined;
    uint32_t coming;
} crnn_phases;

/* Thread 1 calls this when it starts. */
void crnn_phase_join(crnn_phases *phases);

/* Runs fn(context, 0) on the calling thread and, if the helper thread is free and starts before
 * the caller is done, fn(context, 1) on the helper at the same time; returns once both have
 * finished, 1 if the helper ran index 1 and 0 if it did not (it never starts afterwards). The
 * work must be shared through crnn_phases so that index 0 alone completes it. `wake`: wake a
 * sleeping helper (worth its ~20-50 us start only for long jobs; short jobs wake it only when
 * they follow each other closely, and a helper still looking for work after its last job joins
 * within a microsecond either way). `phases`: the job's, told whether the helper is on its way
 * (zeroed by the caller before). */
int crnn_parallel_pair(crnn_task_fn fn, void *context, int wake, struct crnn_phases *phases);

/* 1 when this thread (`self`, 0 or 1) got its own half of `phase`, 0 when the other took it,
 * 2 when thread 0 took both halves at once (thread 1 has not joined and is not on its way: the
 * caller then runs the phase as one piece of work). */
int crnn_phase_claim(crnn_phases *phases, uint64_t phase, int self);
/* Marks `halves` (1 or 2) claimed halves of `phase` finished. */
void crnn_phase_done(crnn_phases *phases, uint64_t phase, int halves);
/* Returns -1 once both halves of `phase` are finished, or the other thread's half (1 - self)
 * when this thread took it over: run it, mark it done, and wait again. Spins, then yields. */
int crnn_phase_wait(crnn_phases *phases, uint64_t phase, int self);

#ifdef __cplusplus
}
#endif

#endif
