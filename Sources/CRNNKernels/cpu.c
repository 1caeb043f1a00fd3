#include "internal.h"
#include <stdatomic.h>
#include <string.h>
#if defined(__unix__) || defined(__APPLE__)
#include <unistd.h>
#endif
#if defined(__APPLE__)
#include <sys/sysctl.h>

/* An integer sysctl (the kernel answers with 4 or 8 bytes, by name), or -1 when there is none.
 * Reviewed, not compiled: this machine builds no Darwin target. */
static int64_t crnn_sysctl_int(const char *name) {
    unsigned char bytes[8] = {0};
    size_t length = sizeof bytes;
    if (sysctlbyname(name, bytes, &length, NULL, 0) != 0) return -1;
    if (length == sizeof(int32_t)) {
        int32_t v;
        memcpy(&v, bytes, sizeof v);
        return v;
    }
    if (length == sizeof(int64_t)) {
        int64_t v;
        memcpy(&v, bytes, sizeof v);
        return v;
    }
    return -1;
}
#endif
#if CRNN_ARM64
#if defined(__linux__)
#include <sys/auxv.h>
#endif
/* The Linux kernel's hwcap bits (asm/hwcap.h), for C libraries whose headers lack them; unused
 * elsewhere. */
#ifndef HWCAP_SHA2
#define HWCAP_SHA2 (1UL << 6)
#endif
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1UL << 20)
#endif
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

static int crnn_probe_sha256(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !((c >> 9) & 1) || !((c >> 19) & 1) || __get_cpuid_max(0, 0) < 7)
        return 0; /* SSSE3 and SSE4.1 carry the SHA-NI code's shuffles and blends */
    __cpuid_count(7, 0, a, b, c, d);
    return (b >> 29) & 1;
}
#elif CRNN_ARM64

/* Whether the CPU has an optional AArch64 extension: certain when the compiler already targets it
 * (the whole binary then needs it), else as the OS says (Linux and Android: the kernel's hwcaps,
 * which on a mix of cores are what every core has; Apple: sysctl, whose hw.optional.arm.FEAT_*
 * names exist from macOS 12 and iOS 15), else taken to be absent. */
static int crnn_arm64_feature(int compiled, unsigned long hwcap, const char *apple_name) {
    if (compiled) return 1;
#if defined(__linux__)
    (void)apple_name;
    return (getauxval(AT_HWCAP) & hwcap) != 0;
#elif defined(__APPLE__)
    (void)hwcap;
    return crnn_sysctl_int(apple_name) > 0;
#else
    (void)hwcap;
    (void)apple_name;
    return 0;
#endif
}

#if defined(__ARM_FEATURE_DOTPROD)
#define CRNN_COMPILED_DOTPROD 1
#else
#define CRNN_COMPILED_DOTPROD 0
#endif
#if defined(__ARM_FEATURE_SHA2)
#define CRNN_COMPILED_SHA2 1
#else
#define CRNN_COMPILED_SHA2 0
#endif

static unsigned crnn_probe_levels(void) {
    unsigned levels = 1u << CRNN_ISA_PORTABLE | 1u << CRNN_ISA_NEON;
    if (crnn_arm64_feature(CRNN_COMPILED_DOTPROD, HWCAP_ASIMDDP, "hw.optional.arm.FEAT_DotProd"))
        levels |= 1u << CRNN_ISA_NEON_DOTPROD;
    return levels;
}

static int crnn_probe_sha256(void) {
    return crnn_arm64_feature(CRNN_COMPILED_SHA2, HWCAP_SHA2, "hw.optional.arm.FEAT_SHA256");
}
static int crnn_probe_intel(void) { return 0; }
static int crnn_probe_pytorch(void) { return 0; }
#else
static int crnn_probe_intel(void) { return 0; }
static unsigned crnn_probe_levels(void) { return 1u << CRNN_ISA_PORTABLE; }
static int crnn_probe_pytorch(void) { return 0; }
static int crnn_probe_sha256(void) { return 0; }
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
    for (int l = requested > CRNN_ISA_TOP ? CRNN_ISA_TOP : requested; l > 0; --l)
        if (levels & (1u << l)) return l;
    return CRNN_ISA_PORTABLE;
}

int crnn_detect_isa(void) { return crnn_effective_isa(CRNN_ISA_TOP); }

int crnn_sha256_accelerated(void) {
    static _Atomic int cached = -1;
    return crnn_cached_probe(&cached, crnn_probe_sha256);
}

size_t crnn_l2_cache_bytes(void) {
    static _Atomic size_t cached = 0; /* 0: not asked yet */
    size_t bytes = atomic_load_explicit(&cached, memory_order_relaxed);
    if (bytes == 0) {
        long reported = -1;
#if defined(_SC_LEVEL2_CACHE_SIZE)
        reported = sysconf(_SC_LEVEL2_CACHE_SIZE);
#elif defined(__APPLE__)
        /* Apple silicon reports the L2 of a cluster, several MiB shared by four or more cores: a
         * product blocked for all of it would spill once other threads or apps share the
         * cluster. A performance core's share is what one thread can count on. Intel Macs have no
         * perflevels and a private hw.l2cachesize. Reviewed, not compiled here. */
        const int64_t cluster = crnn_sysctl_int("hw.perflevel0.l2cachesize");
        const int64_t sharing = crnn_sysctl_int("hw.perflevel0.cpusperl2");
        reported = cluster > 0 && sharing > 0 ? (long)(cluster / sharing) : (long)crnn_sysctl_int("hw.l2cachesize");
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
