/* The GRU and LSTM cell updates at one vector width, included by gates.c once per level. The
 * includer defines:
 *   CELL_TARGET       the function attribute of the level (CRNN_AVX2, CRNN_AVX512)
 *   CELL_NAME(name)   the level's name for a function (name##_avx2, ...)
 *   CELL_W            floats per vector; CELL_V the vector type
 *   CELL_LOADU/LOADA, CELL_STOREU/STOREA   unaligned and aligned loads and stores
 *   CELL_ADD/SUB/MUL  the arithmetic; CELL_SIGMOID/TANH the activations of gates.c
 * and optionally
 *   CELL_GRU_REST/CELL_LSTM_REST  what updates the elements after ATen's vector blocks (default:
 *                     the scalar rows of gates.c)
 *   CELL_SIGMOID_REST the sigmoid of those elements for a level whose CELL_GRU_REST computes them
 *                     with vectors too, through the range functions with `rest` set
 * (it undefines them at its end).
 *
 * The cells run in two passes over chunks of a row: first every gate's activation into a
 * buffer, then the state update. Each pass is a short loop of independent iterations, so the
 * core overlaps many of them; one loop computing r, z, n and h' per vector left the exp and
 * division latencies exposed. With the Estrin form of tanh's polynomial (gates.c): GRU 102 -> 72
 * cycles per 16 elements, LSTM 186 -> 125 (AVX-512, Zen 5; BENCHMARKS.md, "Cell update"). The
 * operations and their order per element are unchanged. */

#ifndef CELL_SIGMOID_REST
#define CELL_SIGMOID_REST CELL_SIGMOID
#endif

/* y = sigmoid(gh + gi) and y = tanh(gh + gi) over m elements (a multiple of the vector); `rest`
 * (a constant at every call) picks CELL_SIGMOID_REST. */
CELL_TARGET CRNN_INLINE void CELL_NAME(sigmoid_pass)(const float *gi, const float *gh, float *y, size_t m, const int rest) {
    for (size_t j = 0; j < m; j += CELL_W) {
        const CELL_V v = CELL_ADD(CELL_LOADU(gh + j), CELL_LOADU(gi + j));
        CELL_STOREA(y + j, rest ? CELL_SIGMOID_REST(v) : CELL_SIGMOID(v));
    }
}

CELL_TARGET CRNN_INLINE void CELL_NAME(tanh_pass)(const float *gi, const float *gh, float *y, size_t m) {
    for (size_t j = 0; j < m; j += CELL_W) CELL_STOREA(y + j, CELL_TANH(CELL_ADD(CELL_LOADU(gh + j), CELL_LOADU(gi + j))));
}

/* The update of elements begin..<end of a row (end - begin a multiple of CELL_W), chunk by chunk;
 * `rest` as for sigmoid_pass. */
CELL_TARGET CRNN_INLINE void CELL_NAME(gru_range)(const float *gi, const float *gh, const float *h_prev, float *h_out,
                                                  size_t hidden, size_t begin, size_t end, const int rest) {
    _Alignas(64) float r[CRNN_CELL_CHUNK], z[CRNN_CELL_CHUNK];
    for (size_t j0 = begin; j0 < end; j0 += CRNN_CELL_CHUNK) {
        const size_t m = end - j0 < CRNN_CELL_CHUNK ? end - j0 : CRNN_CELL_CHUNK;
        CELL_NAME(sigmoid_pass)(gi + j0, gh + j0, r, m, rest);
        CELL_NAME(sigmoid_pass)(gi + hidden + j0, gh + hidden + j0, z, m, rest);
        for (size_t j = 0; j < m; j += CELL_W) {
            const size_t k = j0 + j;
            const CELL_V n = CELL_TANH(CELL_ADD(CELL_LOADU(gi + 2 * hidden + k),
                                                CELL_MUL(CELL_LOADU(gh + 2 * hidden + k), CELL_LOADA(r + j))));
            CELL_STOREU(h_out + k, CELL_ADD(CELL_MUL(CELL_SUB(CELL_LOADU(h_prev + k), n), CELL_LOADA(z + j)), n));
        }
    }
}

CELL_TARGET CRNN_INLINE void CELL_NAME(lstm_range)(const float *gi, const float *gh, float *c, float *h_out,
                                                   size_t hidden, size_t begin, size_t end, const int rest) {
    _Alignas(64) float ig[CRNN_CELL_CHUNK], fg[CRNN_CELL_CHUNK], gg[CRNN_CELL_CHUNK], og[CRNN_CELL_CHUNK];
    for (size_t j0 = begin; j0 < end; j0 += CRNN_CELL_CHUNK) {
        const size_t m = end - j0 < CRNN_CELL_CHUNK ? end - j0 : CRNN_CELL_CHUNK;
        CELL_NAME(sigmoid_pass)(gi + j0, gh + j0, ig, m, rest);
        CELL_NAME(sigmoid_pass)(gi + hidden + j0, gh + hidden + j0, fg, m, rest);
        CELL_NAME(tanh_pass)(gi + 2 * hidden + j0, gh + 2 * hidden + j0, gg, m);
        CELL_NAME(sigmoid_pass)(gi + 3 * hidden + j0, gh + 3 * hidden + j0, og, m, rest);
        for (size_t j = 0; j < m; j += CELL_W) {
            const size_t k = j0 + j;
            const CELL_V cn = CELL_ADD(CELL_MUL(CELL_LOADA(fg + j), CELL_LOADU(c + k)), CELL_MUL(CELL_LOADA(ig + j), CELL_LOADA(gg + j)));
            CELL_STOREU(c + k, cn);
            CELL_STOREU(h_out + k, CELL_MUL(CELL_LOADA(og + j), CELL_TANH(cn)));
        }
    }
}

#ifndef CELL_GRU_REST
#define CELL_GRU_REST gru_rows_scalar
#define CELL_LSTM_REST lstm_rows_scalar
#endif

/* ATen's vector blocks with CELL_SIGMOID, the rest of the row as CELL_GRU_REST computes it. */
CELL_TARGET static void CELL_NAME(gru_cell)(size_t block, const float *gi, const float *gh, const float *h_prev,
                                            float *h_out, size_t hidden, size_t from, size_t to) {
    const size_t span = crnn_cell_vector_end(hidden, block, to);
    if (from < span) CELL_NAME(gru_range)(gi, gh, h_prev, h_out, hidden, from, span, 0);
    CELL_GRU_REST(gi, gh, h_prev, h_out, hidden, span > from ? span : from, to);
}

CELL_TARGET static void CELL_NAME(lstm_cell)(size_t block, const float *gi, const float *gh, float *c, float *h_out,
                                             size_t hidden, size_t from, size_t to) {
    const size_t span = crnn_cell_vector_end(hidden, block, to);
    if (from < span) CELL_NAME(lstm_range)(gi, gh, c, h_out, hidden, from, span, 0);
    CELL_LSTM_REST(gi, gh, c, h_out, hidden, span > from ? span : from, to);
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
#undef CELL_GRU_REST
#undef CELL_LSTM_REST
#undef CELL_SIGMOID_REST
