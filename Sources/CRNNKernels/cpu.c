#include "internal.h"
#include <stdatomic.h>

#if CRNN_X86
#include <cpuid.h>

static int crnn_probe_isa(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return CRNN_ISA_PORTABLE;
    const int fma = (c >> 12) & 1, osxsave = (c >> 27) & 1, avx = (c >> 28) & 1;
    if (!(fma && osxsave && avx)) return CRNN_ISA_PORTABLE;
    /* The OS must save YMM state (XCR0 bits 1 and 2). */
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if ((lo & 6u) != 6u) return CRNN_ISA_PORTABLE;
    if (__get_cpuid_max(0, 0) < 7) return CRNN_ISA_PORTABLE;
    __cpuid_count(7, 0, a, b, c, d);
    return ((b >> 5) & 1) ? CRNN_ISA_AVX2 : CRNN_ISA_PORTABLE;
}
#else
static int crnn_probe_isa(void) { return CRNN_ISA_PORTABLE; }
#endif

int crnn_detect_isa(void) {
    static _Atomic int cached = -1;
    int isa = atomic_load_explicit(&cached, memory_order_relaxed);
    if (isa < 0) {
        isa = crnn_probe_isa();
        atomic_store_explicit(&cached, isa, memory_order_relaxed);
    }
    return isa;
}
