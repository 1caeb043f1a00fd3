import CRNNKernels

/// The instruction-set level a kernel call runs at.
///
/// Kernels default to ``best``; tests pass ``portable`` to exercise the plain C path on any
/// machine. Asking for a level the CPU lacks runs the best supported level below it. Both
/// architectures' levels are in one order (`CRNNKernels.h`), arm64's above x86-64's: on x86-64
/// an arm64 level runs the best x86 level, and on arm64 an x86 level runs ``portable``.
package enum KernelISA: Int32, Sendable, CaseIterable, Comparable {
    /// Plain C, any CPU.
    case portable = 0
    /// x86-64 AVX2 + FMA.
    case avx2 = 1
    /// AVX2 + FMA + AVX-VNNI (int8 products with vpdpbusd on 256-bit registers).
    case avx2VNNI = 2
    /// AVX-512 F/BW/VL/VNNI.
    case avx512 = 3
    /// arm64 Advanced SIMD, which every arm64 CPU has.
    case neon = 4
    /// NEON + the ARMv8.2 dot-product instructions (int8 products with sdot).
    case neonDotProd = 5

    /// The best level this CPU and OS support.
    package static let best: KernelISA = KernelISA(rawValue: crnn_detect_isa()) ?? .portable

    /// The level a call asking for `self` actually runs at on this machine.
    package var effective: KernelISA { KernelISA(rawValue: crnn_effective_isa(rawValue)) ?? .portable }

    package static func < (lhs: KernelISA, rhs: KernelISA) -> Bool { lhs.rawValue < rhs.rawValue }
}
