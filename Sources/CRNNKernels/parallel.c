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
#if defined(__APPLE__)
#include <pthread/qos.h>
#endif

/* How long the helper looks for the next job before it sleeps. Spinning costs up to that much of
 * a core's time (and power) per pause between jobs; sleeping costs the next job a wake-up, which
 * it then runs without the helper (callers never wait for it). Spinning as long as one wake-up
 * bounds the waste at twice the better choice; each further wake-up's worth of spin buys pauses
 * that long a ready helper, with energy. Measured here (2-vCPU KVM guest, Linux;
 * Tests/arm64/helper_wake.c): a spinning helper starts a job 0.3-0.4 us after it is published, a
 * sleeping one 17-19 us (median; 90th percentile 17-42 us), and after pauses of milliseconds up to
 * 7 ms (the guest's idle vCPU). So machines on mains power spin 200 us, about 12 wake-ups; Apple's
 * arm64 devices, phones and laptops on battery, 50 us, a few wake-ups if Darwin's are like these
 * (not measured: reasoned): a stream fed a frame every 10 ms then spins 0.5% of a core, not 2%. */
#if defined(__APPLE__) && CRNN_ARM64
#define CRNN_SPIN_NS 50000
#else
#define CRNN_SPIN_NS 200000
#endif
#define CRNN_RECENT_NS 50000 /* pairs closer than this wake a sleeping helper */

static atomic_uint_fast64_t ticket;
static atomic_size_t done;
static atomic_int busy;
static atomic_int sleeping;
static _Atomic uint64_t last_pair_end_ns; /* when the last crnn_parallel_pair job ended */
static crnn_task_fn job_fn;
static void *job_context;
static pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake_helper = PTHREAD_COND_INITIALIZER;
static pthread_once_t started = PTHREAD_ONCE_INIT;
static int helper_ok;

/* One step of a spin-wait: lets the core know, and waits a little (x86 pause: tens of cycles).
 * On arm64, isb rather than yield: yield only hints at another hardware thread, and cores without
 * them (Apple's, most of Arm's) retire it as a nop, so a yield loop polls the line as fast as it
 * can; isb drains the pipeline, a wait of some tens of cycles like pause. */
static inline void crnn_relax(void) {
#if CRNN_X86
    _mm_pause();
#elif CRNN_ARM64
    __asm__ __volatile__("isb" ::: "memory");
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
#if defined(__APPLE__)
    /* The helper shares work a caller waits for, so it runs at that class whatever thread first
     * started it (a background one would keep it on the efficiency cores). Reviewed, not compiled
     * here. */
    pthread_set_qos_class_self_np(QOS_CLASS_USER_INITIATED, 0);
#endif
    for (;;) {
        uint64_t t = atomic_load(&ticket);
        if (claimable(t)) {
            run_claims(t);
            continue;
        }
        const uint64_t until = now_ns() + CRNN_SPIN_NS;
        while (!claimable(atomic_load(&ticket)) && now_ns() < until) {
            for (int i = 0; i < 8; ++i) crnn_relax();
        }
        if (claimable(atomic_load(&ticket))) continue;
        pthread_mutex_lock(&mutex);
        atomic_store(&sleeping, 1);
        while (!claimable(atomic_load(&ticket))) pthread_cond_wait(&wake_helper, &mutex);
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

/* Takes the helper for one job: 0 when there is none or it serves another caller. */
static int take_helper(void) {
    pthread_once(&started, start_helper);
    int expected = 0;
    return helper_ok && atomic_compare_exchange_strong(&busy, &expected, 1);
}

/* Publishes a job of `count` indices whose first `first` are the caller's from the start, and
 * returns its ticket; the job's function and context are set before the ticket. */
static uint64_t publish(crnn_task_fn fn, void *context, size_t count, size_t first) {
    job_fn = fn;
    job_context = context;
    atomic_store(&done, 0);
    const uint64_t generation = ((atomic_load(&ticket) >> 32) + 1) & 0xFFFFFFFFu;
    const uint64_t t = generation << 32 | (uint64_t)count << 16 | first;
    atomic_store(&ticket, t);
    return t;
}

static void wake_sleeping_helper(void) {
    pthread_mutex_lock(&mutex);
    pthread_cond_signal(&wake_helper);
    pthread_mutex_unlock(&mutex);
}

void crnn_parallel_run(crnn_task_fn fn, void *context, size_t count) {
    if (count < 2 || count > 0xFFFF || !take_helper()) {
        /* One index, no helper, or the helper serves another caller: run here. */
        for (size_t i = 0; i < count; ++i) fn(context, i);
        return;
    }
    const uint64_t t = publish(fn, context, count, 0);
    if (atomic_load(&sleeping)) wake_sleeping_helper();
    run_claims(t);
    while (atomic_load(&done) < count) crnn_relax();
    atomic_store(&busy, 0);
}

int crnn_parallel_pair(crnn_task_fn fn, void *context, int wake, crnn_phases *phases) {
    if (!take_helper()) {
        fn(context, 0);
        return 0;
    }
    /* Index 0 is the caller's from the start: the helper can only claim index 1. */
    const uint64_t t = publish(fn, context, 2, 1);
    /* A sleeping helper is woken for long jobs, and for short ones that follow each other
     * closely (the last pair ended less than 50 us ago: calls resumed after a pause longer than
     * the helper's spin). Short jobs with gaps between them (a stream fed in real time) do not
     * pay the wake-up, which costs the caller a system call and would rarely bring the helper
     * in time; with gaps under the helper's spin (CRNN_SPIN_NS) it is awake anyway. */
    const int recent = now_ns() - atomic_load(&last_pair_end_ns) < CRNN_RECENT_NS;
    const int asleep = atomic_load(&sleeping);
    if ((wake || recent) && asleep) wake_sleeping_helper();
    /* A helper that is looking for work starts within a microsecond or two: thread 0 gives it
     * that long before taking its halves (crnn_phase_wait). */
    atomic_store((_Atomic uint32_t *)&phases->coming, !asleep);
    fn(context, 0);
    /* Done alone: take index 1 back unless the helper has started it, then it must finish
     * before the job's context may go. */
    uint64_t current = t;
    const int helped = !atomic_compare_exchange_strong(&ticket, &current, t + 1);
    if (helped) {
        while (atomic_load(&done) < 1) crnn_relax();
    }
    atomic_store(&last_pair_end_ns, now_ns());
    atomic_store(&busy, 0);
    return helped;
}

/* A phase slot: phase number << 4 | claimed halves (bits 2-3) | finished halves (bits 0-1).
 * Phase q uses slot q % 2; the first thread to reach q resets it from q - 2, which is over by
 * then (both halves of q - 1 finished, and q - 1 started only after q - 2 finished). */
static inline _Atomic uint64_t *phase_slot(crnn_phases *phases, uint64_t phase) {
    return (_Atomic uint64_t *)&phases->slot[phase & 1];
}

#define CRNN_STEAL_NS 4000  /* a half left unclaimed this long is taken over */
#define CRNN_JOIN_NS 3000   /* how long thread 0 waits for a helper on its way to join */
#define CRNN_YIELD_NS 20000 /* waiting longer than this gives the processor up */

/* Claims the halves in `mask` (bit 0: half 0, bit 1: half 1) of `phase` in its slot, all or
 * none; first resets the slot if it still holds an older phase. */
static int phase_take(_Atomic uint64_t *slot, uint64_t phase, uint64_t mask) {
    uint64_t v = atomic_load(slot);
    for (;;) {
        const uint64_t id = v >> 4;
        if (id > phase) return 0;
        if (id < phase) {
            if (atomic_compare_exchange_weak(slot, &v, phase << 4)) v = phase << 4;
            continue;
        }
        if (v & mask << 2) return 0;
        if (atomic_compare_exchange_weak(slot, &v, v | mask << 2)) return 1;
    }
}

int crnn_phase_claim(crnn_phases *phases, uint64_t phase, int self) {
    _Atomic uint64_t *slot = phase_slot(phases, phase);
    /* Thread 0 without a partner on its way takes the whole phase in one piece. */
    if (self == 0 && !atomic_load((_Atomic uint32_t *)&phases->joined)
        && !atomic_load((_Atomic uint32_t *)&phases->coming) && phase_take(slot, phase, 3))
        return 2;
    return phase_take(slot, phase, 1u << self);
}

void crnn_phase_done(crnn_phases *phases, uint64_t phase, int halves) {
    atomic_fetch_add(phase_slot(phases, phase), (uint64_t)halves);
}

void crnn_phase_join(crnn_phases *phases) { atomic_store((_Atomic uint32_t *)&phases->joined, 1); }

int crnn_phase_wait(crnn_phases *phases, uint64_t phase, int self) {
    _Atomic uint64_t *slot = phase_slot(phases, phase);
    const int other = 1 - self;
    uint64_t start = 0;
    for (unsigned spins = 0;; ++spins) {
        const uint64_t v = atomic_load(slot);
        if ((v >> 4) != phase || (v & 3) == 2) return -1;
        const int free = !(v & (uint64_t)1 << (2 + other));
        /* Thread 0 runs from the start; thread 1 may come late or never (the helper was busy or
         * asleep), and until it has joined its halves are thread 0's, after a short grace when
         * it is on its way. */
        if (free && self == 0 && !atomic_load((_Atomic uint32_t *)&phases->joined)
            && (!atomic_load((_Atomic uint32_t *)&phases->coming) || (start && now_ns() - start > CRNN_JOIN_NS))
            && phase_take(slot, phase, 1u << other))
            return other;
        if ((spins & 63) != 63 && start) {
            crnn_relax();
            continue;
        }
        const uint64_t now = now_ns();
        if (start == 0) start = now;
        if (free && now - start > CRNN_STEAL_NS && phase_take(slot, phase, 1u << other)) return other;
        if (now - start > CRNN_YIELD_NS) sched_yield();
    }
}

#else

void crnn_parallel_run(crnn_task_fn fn, void *context, size_t count) {
    for (size_t i = 0; i < count; ++i) fn(context, i);
}

int crnn_parallel_pair(crnn_task_fn fn, void *context, int wake, crnn_phases *phases) {
    (void)wake;
    phases->coming = 0;
    fn(context, 0);
    return 0;
}

void crnn_phase_join(crnn_phases *phases) { phases->joined = 1; }

int crnn_phase_claim(crnn_phases *phases, uint64_t phase, int self) {
    /* Without threads the one caller takes each phase whole. */
    (void)self;
    phases->slot[phase & 1] = phase << 4 | 3 << 2;
    return 2;
}

void crnn_phase_done(crnn_phases *phases, uint64_t phase, int halves) { phases->slot[phase & 1] += (uint64_t)halves; }

int crnn_phase_wait(crnn_phases *phases, uint64_t phase, int self) {
    uint64_t *slot = &phases->slot[phase & 1];
    const int other = 1 - self;
    if (*slot >> 4 != phase || (*slot & 3) == 2 || (*slot & (uint64_t)1 << (2 + other))) return -1;
    *slot |= (uint64_t)1 << (2 + other);
    return other;
}

#endif
