/* How long crnn_parallel_run's helper thread takes to start a job, by the pause since its last
 * job: while it still spins (CRNN_SPIN_NS) it starts within a microsecond or two; asleep, the job
 * waits for a wake-up. That wake-up is what a spin of a given length saves, and the spin is what
 * it costs (CPU time while idle), so the two numbers set the spin (parallel.c). A measurement, not
 * a test: run it natively on the machine in question,
 *
 *   cc -O2 -ISources/CRNNKernels/include Sources/CRNNKernels/*.c Tests/arm64/helper_wake.c \
 *      -pthread -lm -o helper_wake && ./helper_wake
 *
 * (under emulation its numbers mean nothing). */
#include "CRNNKernels.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

typedef struct {
    uint64_t published;
    _Atomic uint64_t started; /* when index 1 began, 0 until then */
} job;

/* Index 0 (the caller) waits for index 1, which only the helper can take while index 0 runs. */
static void run(void *context, size_t index) {
    job *j = context;
    if (index == 1) {
        atomic_store(&j->started, now_ns());
        return;
    }
    while (atomic_load(&j->started) == 0 && now_ns() - j->published < 20000000u) {
    }
}

static int compare(const void *a, const void *b) {
    const uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int main(void) {
    const unsigned gaps_us[] = {5, 20, 50, 100, 150, 190, 210, 300, 1000, 5000};
    enum { REPEATS = 41 };
    job warm = {now_ns(), 0};
    crnn_parallel_run(run, &warm, 2); /* starts the helper */
    printf("pause before the job (us)   helper start: median / 90th percentile (us)\n");
    for (size_t g = 0; g < sizeof gaps_us / sizeof gaps_us[0]; ++g) {
        uint64_t latency[REPEATS];
        for (int r = 0; r < REPEATS; ++r) {
            const uint64_t until = now_ns() + gaps_us[g] * 1000u;
            while (now_ns() < until) {
            }
            job j = {now_ns(), 0};
            crnn_parallel_run(run, &j, 2);
            const uint64_t started = atomic_load(&j.started);
            latency[r] = started ? started - j.published : 20000000u;
        }
        qsort(latency, REPEATS, sizeof latency[0], compare);
        printf("%26u   %8.2f / %8.2f\n", gaps_us[g], latency[REPEATS / 2] / 1000.0, latency[REPEATS * 9 / 10] / 1000.0);
    }
    return 0;
}
