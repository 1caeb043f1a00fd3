import CRNNKernels
import Foundation

/// Which of PyTorch's CPU kernel builds the element-wise cell math reproduces.
///
/// ATen's vectorised sigmoid covers whole blocks of two vectors of its CPU capability in each
/// row and leaves the rest to scalar code; the two differ in the last bit, and int8 modules turn
/// one-bit differences of h into different activation codes. So the runtime mirrors the
/// capability PyTorch itself would pick on this machine: `ATEN_CPU_CAPABILITY` when set (read
/// once, as PyTorch reads it), else AVX-512 when the CPU has avx512 f/bw/dq/vl and FMA, else
/// AVX2 with FMA, else the default build.
package enum PyTorchCPUCapability: String, Sendable, CaseIterable {
    case `default`
    case avx2
    case avx512

    /// Floats per row that ATen's sigmoid handles as one vector block.
    package var sigmoidBlock: Int {
        switch self {
        case .default: 0
        case .avx2: 16
        case .avx512: 32
        }
    }

    /// What PyTorch picks in this process.
    package static let detected: PyTorchCPUCapability = {
        if let value = ProcessInfo.processInfo.environment["ATEN_CPU_CAPABILITY"]?.lowercased(),
           let chosen = PyTorchCPUCapability(rawValue: value) {
            return chosen
        }
        switch crnn_pytorch_cpu_capability() {
        case 2: return .avx512
        case 1: return .avx2
        default: return .default
        }
    }()

    /// The capability calls in this task reproduce; tests compare against fixtures made with a
    /// given capability by binding it.
    @TaskLocal package static var current: PyTorchCPUCapability = detected
}
