#include "internal.h"
#include <stdatomic.h>
#if defined(__unix__) || defined(__APPLE__)
#include <unistd.h>
#endif
#if defined(__APPLE__)
#include <sys/sysctl.h>
#endif

#if CRNN_X86
#include <cpuid.h>

/* Bit l set when level l is usable: the CPU has the instructions and the OS saves the state. */
static unsigned crnn_probe_levels(void) {
    unsigned levels = 1u << CRNN_ISA_PORTABLE;
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return levels;
    const int fma = (c >> 12) & 1, osxsave = (c >> 27) & 1, avx = (c >> 28) & 1;
    if (!(fma && osxsave && avx) || __get_cpuid_max(0, 0) < 7) return levels;
    unsigned xcr0_lo, xcr0_hi;
    __asm__ volatile("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
    if ((xcr0_lo & 0x6u) != 0x6u) return levels; /* XMM and YMM state */
    __cpuid_count(7, 0, a, b, c, d);
    const unsigned ebx7 = b, ecx7 = c;
    if (!((ebx7 >> 5) & 1)) return levels; /* AVX2 */
    levels |= 1u << CRNN_ISA_AVX2;
    __cpuid_count(7, 1, a, b, c, d);
    if ((a >> 4) & 1) levels |= 1u << CRNN_ISA_AVX2_VNNI;
    const int avx512 = ((ebx7 >> 16) & 1) && ((ebx7 >> 30) & 1) && ((ebx7 >> 31) & 1) && ((ecx7 >> 11) & 1);
    if (avx512 && (xcr0_lo & 0xE0u) == 0xE0u) levels |= 1u << CRNN_ISA_AVX512; /* opmask, ZMM */
    return levels;
}

/* PyTorch's own rule (aten/src/ATen/native/DispatchStub.cpp, compute_cpu_capability). */
static int crnn_probe_pytorch(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    const int fma = (c >> 12) & 1, osxsave = (c >> 27) & 1, avx = (c >> 28) & 1;
    if (!(fma && osxsave && avx) || __get_cpuid_max(0, 0) < 7) return 0;
    unsigned xcr0_lo, xcr0_hi;
    __asm__ volatile("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
    if ((xcr0_lo & 0x6u) != 0x6u) return 0;
    __cpuid_count(7, 0, a, b, c, d);
    const int avx512 = ((b >> 16) & 1) && ((b >> 17) & 1) && ((b >> 30) & 1) && ((b >> 31) & 1);
    if (avx512 && (xcr0_lo & 0xE0u) == 0xE0u) return 2;
    return ((b >> 5) & 1) ? 1 : 0;
}

static int crnn_probe_intel(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(0, &a, &b, &c, &d)) return 0;
    return b == 0x756e6547u && d == 0x49656e69u && c == 0x6c65746eu; /* "GenuineIntel" */
}
#else
static int crnn_probe_intel(void) { return 0; }
static unsigned crnn_probe_levels(void) { return 1u << CRNN_ISA_PORTABLE; }
static int crnn_probe_pytorch(void) { return 0; }
#endif

/* probe()'s answer (never negative), asked once: -1 in *cached means not asked yet. Threads that
 * race ask twice and store the same answer. */
static int crnn_cached_probe(_Atomic int *cached, int (*probe)(void)) {
    int answer = atomic_load_explicit(cached, memory_order_relaxed);
    if (answer < 0) {
        answer = probe();
        atomic_store_explicit(cached, answer, memory_order_relaxed);
    }
    return answer;
}

int crnn_pytorch_cpu_capability(void) {
    static _Atomic int cached = -1;
    return crnn_cached_probe(&cached, crnn_probe_pytorch);
}

static unsigned crnn_levels(void) {
    static _Atomic unsigned cached = 0; /* 0: not probed yet (PORTABLE is always set) */
    unsigned levels = atomic_load_explicit(&cached, memory_order_relaxed);
    if (levels == 0) {
        levels = crnn_probe_levels();
        atomic_store_explicit(&cached, levels, memory_order_relaxed);
    }
    return levels;
}

int crnn_effective_isa(int requested) {
    const unsigned levels = crnn_levels();
    for (int l = requested > CRNN_ISA_AVX512 ? CRNN_ISA_AVX512 : requested; l > 0; --l)
        if (levels & (1u << l)) return l;
    return CRNN_ISA_PORTABLE;
}

int crnn_detect_isa(void) { return crnn_effective_isa(CRNN_ISA_AVX512); }

size_t crnn_l2_cache_bytes(void) {
    static _Atomic size_t cached = 0; /* 0: not asked yet */
    size_t bytes = atomic_load_explicit(&cached, memory_order_relaxed);
    if (bytes == 0) {
        long reported = -1;
#if defined(_SC_LEVEL2_CACHE_SIZE)
        reported = sysconf(_SC_LEVEL2_CACHE_SIZE);
#elif defined(__APPLE__)
        int64_t value = 0;
        size_t length = sizeof value;
        if (sysctlbyname("hw.l2cachesize", &value, &length, NULL, 0) == 0) reported = (long)value;
#endif
        bytes = reported > 0 ? (size_t)reported : (size_t)1 << 20;
        atomic_store_explicit(&cached, bytes, memory_order_relaxed);
    }
    return bytes;
}

int crnn_s8_row_blocks_by_default(void) {
    static _Atomic int cached = -1;
    return crnn_cached_probe(&cached, crnn_probe_intel);
}
