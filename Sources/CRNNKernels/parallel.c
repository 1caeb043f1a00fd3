#include "internal.h"

/* One persistent helper thread for crnn_parallel_run (see CRNNKernels.h).
 *
 * A job is published as a 64-bit ticket: generation (32 bits) | count (16) | next index (16).
 * Whoever runs an index claims it by a compare-and-swap on the ticket, so a thread that wakes
 * late can never claim an index of a job other than the one it read; the job's function and
 * context stay valid until every claimed index has finished (`done`), because the publisher
 * waits for that before it returns and before anyone may publish again (`busy`). */

#if defined(__unix__) || defined(__APPLE__)
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <time.h>

#define CRNN_SPIN_NS 200000 /* how long the helper looks for the next job before it sleeps */

static atomic_uint_fast64_t ticket;
static atomic_size_t done;
static atomic_int busy;
static atomic_int sleeping;
static crnn_task_fn job_fn;
static void *job_context;
static pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static pthread_once_t started = PTHREAD_ONCE_INIT;
static int helper_ok;

static inline void crnn_relax(void) {
#if CRNN_X86
    _mm_pause();
#endif
}

static inline uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static inline int claimable(uint64_t t) { return (t & 0xFFFF) < ((t >> 16) & 0xFFFF); }

/* Claims and runs indices of the job in `t` until none is left; returns how many it ran. */
static size_t run_claims(uint64_t t) {
    size_t ran = 0;
    while (claimable(t)) {
        if (atomic_compare_exchange_weak(&ticket, &t, t + 1)) {
            job_fn(job_context, (size_t)(t & 0xFFFF));
            atomic_fetch_add(&done, 1);
            ++ran;
            t = atomic_load(&ticket);
        }
    }
    return ran;
}

static void *helper_main(void *unused) {
    (void)unused;
    for (;;) {
        uint64_t t = atomic_load(&ticket);
        if (claimable(t)) {
            run_claims(t);
            continue;
        }
        const uint64_t until = now_ns() + CRNN_SPIN_NS;
        while (!claimable(atomic_load(&ticket)) && now_ns() < until) {
            for (int i = 0; i < 64; ++i) crnn_relax();
        }
        if (claimable(atomic_load(&ticket))) continue;
        pthread_mutex_lock(&mutex);
        atomic_store(&sleeping, 1);
        while (!claimable(atomic_load(&ticket))) pthread_cond_wait(&wake, &mutex);
        atomic_store(&sleeping, 0);
        pthread_mutex_unlock(&mutex);
    }
    return NULL;
}

static void start_helper(void) {
    pthread_t thread;
    pthread_attr_t attr;
    if (pthread_attr_init(&attr) != 0) return;
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    helper_ok = pthread_create(&thread, &attr, helper_main, NULL) == 0;
    pthread_attr_destroy(&attr);
}

void crnn_parallel_run(crnn_task_fn fn, void *context, size_t count) {
    pthread_once(&started, start_helper);
    int expected = 0;
    if (count < 2 || count > 0xFFFF || !helper_ok || !atomic_compare_exchange_strong(&busy, &expected, 1)) {
        /* One index, no helper, or the helper serves another caller: run here. */
        for (size_t i = 0; i < count; ++i) fn(context, i);
        return;
    }
    job_fn = fn;
    job_context = context;
    atomic_store(&done, 0);
    const uint64_t generation = ((atomic_load(&ticket) >> 32) + 1) & 0xFFFFFFFFu;
    const uint64_t t = generation << 32 | (uint64_t)count << 16;
    atomic_store(&ticket, t);
    if (atomic_load(&sleeping)) {
        pthread_mutex_lock(&mutex);
        pthread_cond_signal(&wake);
        pthread_mutex_unlock(&mutex);
    }
    run_claims(t);
    while (atomic_load(&done) < count) crnn_relax();
    atomic_store(&busy, 0);
}

int crnn_parallel_pair(crnn_task_fn fn, void *context, uint32_t wait_us) {
    pthread_once(&started, start_helper);
    int expected = 0;
    if (!helper_ok || !atomic_compare_exchange_strong(&busy, &expected, 1)) return 0;
    job_fn = fn;
    job_context = context;
    atomic_store(&done, 0);
    /* Index 0 is the caller's from the start: the helper can only claim index 1. */
    const uint64_t generation = ((atomic_load(&ticket) >> 32) + 1) & 0xFFFFFFFFu;
    const uint64_t t = generation << 32 | (uint64_t)2 << 16 | 1;
    atomic_store(&ticket, t);
    if (atomic_load(&sleeping)) {
        pthread_mutex_lock(&mutex);
        pthread_cond_signal(&wake);
        pthread_mutex_unlock(&mutex);
    }
    const uint64_t deadline = now_ns() + (uint64_t)wait_us * 1000u;
    for (;;) {
        uint64_t current = atomic_load(&ticket);
        if (!claimable(current)) break; /* the helper took index 1 */
        if (now_ns() > deadline) {
            /* Take index 1 back so that the helper can never start it, and report failure. */
            if (atomic_compare_exchange_strong(&ticket, &current, current + 1)) {
                atomic_store(&busy, 0);
                return 0;
            }
            break;
        }
        crnn_relax();
    }
    fn(context, 0);
    atomic_fetch_add(&done, 1);
    while (atomic_load(&done) < 2) crnn_relax();
    atomic_store(&busy, 0);
    return 1;
}

void crnn_barrier_wait(crnn_barrier *barrier) {
    _Atomic uint32_t *arrived = (_Atomic uint32_t *)&barrier->arrived;
    _Atomic uint32_t *generation = (_Atomic uint32_t *)&barrier->generation;
    const uint32_t g = atomic_load_explicit(generation, memory_order_acquire);
    if (atomic_fetch_add_explicit(arrived, 1, memory_order_acq_rel) == 1) {
        atomic_store_explicit(arrived, 0, memory_order_relaxed);
        atomic_store_explicit(generation, g + 1, memory_order_release);
        return;
    }
    /* ~10 us of spinning covers a partner that is merely behind; past that it has probably lost
     * its processor (more runnable threads than cores), so give ours up while waiting. */
    for (unsigned spins = 0; atomic_load_explicit(generation, memory_order_acquire) == g; ++spins) {
        if (spins < 4096) {
            crnn_relax();
        } else {
            sched_yield();
        }
    }
}

#else

void crnn_parallel_run(crnn_task_fn fn, void *context, size_t count) {
    for (size_t i = 0; i < count; ++i) fn(context, i);
}

int crnn_parallel_pair(crnn_task_fn fn, void *context, uint32_t wait_us) {
    (void)fn;
    (void)context;
    (void)wait_us;
    return 0;
}

void crnn_barrier_wait(crnn_barrier *barrier) { (void)barrier; }

#endif
