/* The GRU and LSTM cell updates at one vector width, included by gates.c once per level. The
 * includer defines:
 *   CELL_TARGET       the function attribute of the level (CRNN_AVX2, CRNN_AVX512)
 *   CELL_NAME(name)   the level's name for a function (name##_avx2, ...)
 *   CELL_W            floats per vector; CELL_V the vector type
 *   CELL_LOADU/LOADA, CELL_STOREU/STOREA   unaligned and aligned loads and stores
 *   CELL_ADD/SUB/MUL  the arithmetic; CELL_SIGMOID/TANH the activations of gates.c
 * (it undefines them at its end).
 *
 * The cells run in two passes over chunks of a row: first every gate's activation into a
 * buffer, then the state update. Each pass is a short loop of independent iterations, so the
 * core overlaps many of them; one loop computing r, z, n and h' per vector left the exp and
 * division latencies exposed. With the Estrin form of tanh's polynomial (gates.c): GRU 102 -> 72
 * cycles per 16 elements, LSTM 186 -> 125 (AVX-512, Zen 5; BENCHMARKS.md, "Cell update"). The
 * operations and their order per element are unchanged. */

/* y = sigmoid(gh + gi) and y = tanh(gh + gi) over m elements (a multiple of the vector). */
CELL_TARGET CRNN_INLINE void CELL_NAME(sigmoid_pass)(const float *gi, const float *gh, float *y, size_t m) {
    for (size_t j = 0; j < m; j += CELL_W) CELL_STOREA(y + j, CELL_SIGMOID(CELL_ADD(CELL_LOADU(gh + j), CELL_LOADU(gi + j))));
}

CELL_TARGET CRNN_INLINE void CELL_NAME(tanh_pass)(const float *gi, const float *gh, float *y, size_t m) {
    for (size_t j = 0; j < m; j += CELL_W) CELL_STOREA(y + j, CELL_TANH(CELL_ADD(CELL_LOADU(gh + j), CELL_LOADU(gi + j))));
}

CELL_TARGET static void CELL_NAME(gru_cell)(size_t block, const float *gi, const float *gh, const float *h_prev,
                                            float *h_out, size_t hidden, size_t from, size_t to) {
    const size_t span = crnn_cell_vector_end(hidden, block, to);
    _Alignas(64) float r[CRNN_CELL_CHUNK], z[CRNN_CELL_CHUNK];
    for (size_t j0 = from; j0 < span; j0 += CRNN_CELL_CHUNK) {
        const size_t m = span - j0 < CRNN_CELL_CHUNK ? span - j0 : CRNN_CELL_CHUNK;
        CELL_NAME(sigmoid_pass)(gi + j0, gh + j0, r, m);
        CELL_NAME(sigmoid_pass)(gi + hidden + j0, gh + hidden + j0, z, m);
        for (size_t j = 0; j < m; j += CELL_W) {
            const size_t k = j0 + j;
            const CELL_V n = CELL_TANH(CELL_ADD(CELL_LOADU(gi + 2 * hidden + k),
                                                CELL_MUL(CELL_LOADU(gh + 2 * hidden + k), CELL_LOADA(r + j))));
            CELL_STOREU(h_out + k, CELL_ADD(CELL_MUL(CELL_SUB(CELL_LOADU(h_prev + k), n), CELL_LOADA(z + j)), n));
        }
    }
    gru_rows_scalar(gi, gh, h_prev, h_out, hidden, span > from ? span : from, to);
}

CELL_TARGET static void CELL_NAME(lstm_cell)(size_t block, const float *gi, const float *gh, float *c, float *h_out,
                                             size_t hidden, size_t from, size_t to) {
    const size_t span = crnn_cell_vector_end(hidden, block, to);
    _Alignas(64) float ig[CRNN_CELL_CHUNK], fg[CRNN_CELL_CHUNK], gg[CRNN_CELL_CHUNK], og[CRNN_CELL_CHUNK];
    for (size_t j0 = from; j0 < span; j0 += CRNN_CELL_CHUNK) {
        const size_t m = span - j0 < CRNN_CELL_CHUNK ? span - j0 : CRNN_CELL_CHUNK;
        CELL_NAME(sigmoid_pass)(gi + j0, gh + j0, ig, m);
        CELL_NAME(sigmoid_pass)(gi + hidden + j0, gh + hidden + j0, fg, m);
        CELL_NAME(tanh_pass)(gi + 2 * hidden + j0, gh + 2 * hidden + j0, gg, m);
        CELL_NAME(sigmoid_pass)(gi + 3 * hidden + j0, gh + 3 * hidden + j0, og, m);
        for (size_t j = 0; j < m; j += CELL_W) {
            const size_t k = j0 + j;
            const CELL_V cn = CELL_ADD(CELL_MUL(CELL_LOADA(fg + j), CELL_LOADU(c + k)), CELL_MUL(CELL_LOADA(ig + j), CELL_LOADA(gg + j)));
            CELL_STOREU(c + k, cn);
            CELL_STOREU(h_out + k, CELL_MUL(CELL_LOADA(og + j), CELL_TANH(cn)));
        }
    }
    lstm_rows_scalar(gi, gh, c, h_out, hidden, span > from ? span : from, to);
}

/* The parameters are the includer's for this inclusion only. */
#undef CELL_TARGET
#undef CELL_NAME
#undef CELL_W
#undef CELL_V
#undef CELL_LOADU
#undef CELL_LOADA
#undef CELL_STOREU
#undef CELL_STOREA
#undef CELL_ADD
#undef CELL_SUB
#undef CELL_MUL
#undef CELL_SIGMOID
#undef CELL_TANH
