#include "internal.h"
#include <string.h>

/* SHA-256 block compression (FIPS 180-4), for the per-tensor checksums RNNFormat verifies on
 * every load: the SHA extensions where the CPU has them (x86 SHA-NI, ARMv8 SHA-2), plain C
 * elsewhere. */

static const uint32_t crnn_sha256_k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static inline uint32_t crnn_rotr(uint32_t x, unsigned n) { return (x >> n) | (x << (32 - n)); }

static void sha256_portable(uint32_t state[8], const uint8_t *data, size_t blocks) {
    for (; blocks > 0; --blocks, data += 64) {
        uint32_t w[64];
        for (int i = 0; i < 16; ++i)
            w[i] = (uint32_t)data[4 * i] << 24 | (uint32_t)data[4 * i + 1] << 16 | (uint32_t)data[4 * i + 2] << 8
                 | (uint32_t)data[4 * i + 3];
        for (int i = 16; i < 64; ++i) {
            const uint32_t s0 = crnn_rotr(w[i - 15], 7) ^ crnn_rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
            const uint32_t s1 = crnn_rotr(w[i - 2], 17) ^ crnn_rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16] + s0 + w[i - 7] + s1;
        }
        uint32_t a = state[0], b = state[1], c = state[2], d = state[3];
        uint32_t e = state[4], f = state[5], g = state[6], h = state[7];
        for (int i = 0; i < 64; ++i) {
            const uint32_t t1 = h + (crnn_rotr(e, 6) ^ crnn_rotr(e, 11) ^ crnn_rotr(e, 25)) + ((e & f) ^ (~e & g))
                              + crnn_sha256_k[i] + w[i];
            const uint32_t t2 = (crnn_rotr(a, 2) ^ crnn_rotr(a, 13) ^ crnn_rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
            h = g; g = f; f = e; e = d + t1;
            d = c; c = b; b = a; a = t1 + t2;
        }
        state[0] += a; state[1] += b; state[2] += c; state[3] += d;
        state[4] += e; state[5] += f; state[6] += g; state[7] += h;
    }
}

#if CRNN_X86
#define CRNN_SHANI __attribute__((target("sha,sse4.1,ssse3")))

/* Four rounds: group i of 16 uses message words 4i..4i+3 (w[i % 4]) and schedules ahead:
 * msg1 starts word group i+3 from groups i-1 and i, msg2 finishes group i+1. The state is kept
 * as (ABEF, CDGH), the layout sha256rnds2 wants. */
CRNN_SHANI static void sha256_shani(uint32_t state[8], const uint8_t *data, size_t blocks) {
    const __m128i swap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
    __m128i tmp = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)state), 0xB1);        /* CDAB */
    __m128i state1 = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)(state + 4)), 0x1B); /* EFGH */
    __m128i state0 = _mm_alignr_epi8(tmp, state1, 8);                                      /* ABEF */
    state1 = _mm_blend_epi16(state1, tmp, 0xF0);                                           /* CDGH */

    for (; blocks > 0; --blocks, data += 64) {
        const __m128i abef = state0, cdgh = state1;
        __m128i w[4];
#pragma clang loop unroll(full)
        for (int i = 0; i < 16; ++i) {
            if (i < 4) w[i] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(data + 16 * i)), swap);
            __m128i msg = _mm_add_epi32(w[i % 4], _mm_loadu_si128((const __m128i *)(crnn_sha256_k + 4 * i)));
            state1 = _mm_sha256rnds2_epu32(state1, state0, msg);
            if (i >= 3 && i <= 14) {
                const int next = (i + 1) % 4;
                w[next] = _mm_add_epi32(w[next], _mm_alignr_epi8(w[i % 4], w[(i + 3) % 4], 4));
                w[next] = _mm_sha256msg2_epu32(w[next], w[i % 4]);
            }
            msg = _mm_shuffle_epi32(msg, 0x0E);
            state0 = _mm_sha256rnds2_epu32(state0, state1, msg);
            if (i >= 1 && i <= 12) w[(i + 3) % 4] = _mm_sha256msg1_epu32(w[(i + 3) % 4], w[i % 4]);
        }
        state0 = _mm_add_epi32(state0, abef);
        state1 = _mm_add_epi32(state1, cdgh);
    }

    tmp = _mm_shuffle_epi32(state0, 0x1B);                /* FEBA */
    state1 = _mm_shuffle_epi32(state1, 0xB1);             /* DCHG */
    state0 = _mm_blend_epi16(tmp, state1, 0xF0);          /* DCBA */
    state1 = _mm_alignr_epi8(state1, tmp, 8);             /* ABEF */
    _mm_storeu_si128((__m128i *)state, state0);
    _mm_storeu_si128((__m128i *)(state + 4), state1);
}
#endif

#if CRNN_ARM64
/* Four rounds per step on (ABCD, EFGH), the layout sha256h/sha256h2 use; step i consumes message
 * words 4i..4i+3 (m[i % 4]) and, for i < 12, replaces them with words 4i+16..4i+19 (sha256su0
 * adds sigma0 of the next words, sha256su1 the rest of the schedule). */
CRNN_SHA2 static void sha256_armv8(uint32_t state[8], const uint8_t *data, size_t blocks) {
    uint32x4_t abcd = vld1q_u32(state), efgh = vld1q_u32(state + 4);
    for (; blocks > 0; --blocks, data += 64) {
        const uint32x4_t abcd0 = abcd, efgh0 = efgh;
        uint32x4_t m[4];
        for (int i = 0; i < 4; ++i) m[i] = vreinterpretq_u32_u8(vrev32q_u8(vld1q_u8(data + 16 * i)));
#pragma GCC unroll 16
        for (int i = 0; i < 16; ++i) {
            const uint32x4_t wk = vaddq_u32(m[i % 4], vld1q_u32(crnn_sha256_k + 4 * i));
            const uint32x4_t abcd_in = abcd;
            abcd = vsha256hq_u32(abcd, efgh, wk);
            efgh = vsha256h2q_u32(efgh, abcd_in, wk);
            if (i < 12) m[i % 4] = vsha256su1q_u32(vsha256su0q_u32(m[i % 4], m[(i + 1) % 4]), m[(i + 2) % 4], m[(i + 3) % 4]);
        }
        abcd = vaddq_u32(abcd, abcd0);
        efgh = vaddq_u32(efgh, efgh0);
    }
    vst1q_u32(state, abcd);
    vst1q_u32(state + 4, efgh);
}
#endif

void crnn_sha256_blocks(uint32_t state[8], const uint8_t *data, size_t blocks) {
#if CRNN_X86
    if (crnn_sha256_accelerated()) {
        sha256_shani(state, data, blocks);
        return;
    }
#elif CRNN_ARM64
    if (crnn_sha256_accelerated()) {
        sha256_armv8(state, data, blocks);
        return;
    }
#endif
    sha256_portable(state, data, blocks);
}

void crnn_sha256_blocks_portable(uint32_t state[8], const uint8_t *data, size_t blocks) {
    sha256_portable(state, data, blocks);
}
