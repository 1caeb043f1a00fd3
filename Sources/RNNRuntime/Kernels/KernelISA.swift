import CRNNKernels

/// The instruction-set level a kernel call runs at.
///
/// Kernels default to ``best``; tests pass ``portable`` to exercise the plain C path on any
/// machine. Asking for a level the CPU lacks runs the best supported level below it.
package enum KernelISA: Int32, Sendable, CaseIterable, Comparable {
    /// Plain C, any CPU.
    case portable = 0
    /// x86-64 AVX2 + FMA.
    case avx2 = 1

    /// The best level this CPU and OS support.
    package static let best: KernelISA = KernelISA(rawValue: crnn_detect_isa()) ?? .portable

    package static func < (lhs: KernelISA, rhs: KernelISA) -> Bool { lhs.rawValue < rhs.rawValue }
}
