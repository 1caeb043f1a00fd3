// kernelbench: single-thread times of one recurrent product (3H x H, one row) for float32 and
// int8: the C kernels, the pure-Swift SIMD products (the float one RNNRuntime had before the C
// kernels, the int8 one it keeps for affine weights), and the time to stream the same weight
// bytes once (the machine's floor for a memory-bound product). Not a product of the package:
// `swift run -c release kernelbench [H ...]`; `kernelbench floor BYTES...` times the read floor
// of given working-set sizes; `kernelbench cells [H ...]` times the GRU and LSTM cell updates.
import CRNNKernels
import Foundation
import RNNRuntime

let arguments = Array(CommandLine.arguments.dropFirst())
let clock = ContinuousClock()

/// Median and minimum microseconds per call over 21 samples of about 2 ms each.
func time(_ body: () -> Void) -> (median: Double, min: Double) {
    for _ in 0..<50 { body() }
    var calls = 1
    while true {
        let t = clock.measure { for _ in 0..<calls { body() } }
        if t > .milliseconds(2) { break }
        calls *= 2
    }
    var samples: [Double] = []
    for _ in 0..<21 {
        let t = clock.measure { for _ in 0..<calls { body() } }
        let (s, a) = t.components
        samples.append((Double(s) * 1e6 + Double(a) / 1e12) / Double(calls))
    }
    samples.sort()
    return (samples[10], samples[0])
}

// `kernelbench floor BYTES...`: the read floor of working sets of those sizes, as JSON lines
// ({"bytes", "us_median", "us_min"}): bench/compare_torch.py's lower bound per time step.
if arguments.first == "floor" {
    for bytes in arguments.dropFirst().compactMap({ Int($0) }) where bytes > 0 {
        let floats = (bytes + 127) / 128 * 32
        let buffer = KernelBuffer<Float>(count: floats) { $0.initialize(repeating: 1) }
        var sink: Float = 0
        let t = buffer.withUnsafePointer { base in
            time { sink += crnn_stream_read(KernelISA.best.rawValue, base, floats * 4) }
        }
        print("{\"bytes\": \(bytes), \"us_median\": \(t.median), \"us_min\": \(t.min)}" + (sink == 42 ? " " : ""))
    }
    exit(0)
}

// `kernelbench cells [H...]`: nanoseconds per element of the GRU and LSTM cell updates (the
// element-wise part of a step, after both products), on inputs spread over [-4, 4].
if arguments.first == "cells" {
    let sizes = arguments.dropFirst().compactMap { Int($0) }
    print("cells: \(KernelISA.best), one thread; nanoseconds per element, median / min (PyTorch's AVX-512 sigmoid blocks)")
    print("| H | GRU | LSTM |")
    print("|---|---|---|")
    var generator = SplitMix64(seed: 2)
    for h in sizes.isEmpty ? [128, 256, 512, 1024] : sizes {
        let gi = (0..<4 * h).map { _ in Float.random(in: -4...4, using: &generator) }
        let gh = (0..<4 * h).map { _ in Float.random(in: -4...4, using: &generator) }
        var state = (0..<h).map { _ in Float.random(in: -1...1, using: &generator) }
        var out = [Float](repeating: 0, count: h)
        let (gru, lstm) = gi.withUnsafeBufferPointer { gi in
            gh.withUnsafeBufferPointer { gh in
                state.withUnsafeMutableBufferPointer { s in
                    out.withUnsafeMutableBufferPointer { o in
                        // Each update reads the previous one's state, as in a recurrence.
                        (time { CellKernel.gru(gi: gi.baseAddress!, gh: gh.baseAddress!, hPrev: s.baseAddress!,
                                               hOut: s.baseAddress!, hidden: h, sigmoidBlock: 32) },
                         time { CellKernel.lstm(gi: gi.baseAddress!, gh: gh.baseAddress!, c: s.baseAddress!,
                                                hOut: o.baseAddress!, hidden: h, sigmoidBlock: 32) })
                    }
                }
            }
        }
        func perElement(_ t: (median: Double, min: Double)) -> String {
            "\((t.median * 1e5 / Double(h)).rounded() / 100) / \((t.min * 1e5 / Double(h)).rounded() / 100)"
        }
        print("| \(h) | \(perElement(gru)) | \(perElement(lstm)) |")
    }
    exit(0)
}

let requestedSizes = arguments.compactMap { Int($0) }
let hiddenSizes = requestedSizes.isEmpty ? [128, 256, 512, 1024] : requestedSizes
print("kernels: \(KernelISA.best), one thread; microseconds per 3H x H product of one row (median / min)")
print("| H | fp32 C kernel | fp32 alternating | fp32 Swift SIMD | fp32 read floor | int8 C kernel | int8 alternating | int8 Swift SIMD | int8 quantize + C kernel | int8 read floor |")
print("|---|---|---|---|---|---|---|---|---|---|")
var generator = SplitMix64(seed: 1)
for h in hiddenSizes {
    let n = 3 * h, k = h
    let w = (0..<n * k).map { _ in Float.random(in: -0.1...0.1, using: &generator) }
    let b = (0..<n).map { _ in Float.random(in: -0.1...0.1, using: &generator) }
    let float = PackedFloatMatrix(weights: w, outFeatures: n, inFeatures: k, bias: b)
    let q = (0..<n * k).map { _ in Int8.random(in: -128...127, using: &generator) }
    let int8 = PackedInt8Matrix(values: q, outFeatures: n, inFeatures: k, scales: [0.01], bias: b)
    var x = (0..<k).map { _ in Float.random(in: -1...1, using: &generator) }
    var y = [Float](repeating: 0, count: n)
    var xq = [UInt8](repeating: 0, count: int8.paddedInFeatures)
    // 64-byte aligned like the packed weights: a Swift array's elements are only 16-byte
    // aligned, and unaligned 64-byte loads (each touching two lines) made the floor too slow.
    let floatBytes = KernelBuffer<Float>(count: n * k) { $0.initialize(repeating: 1) }
    let int8Bytes = KernelBuffer<Float>(count: (n * k + 3) / 4) { $0.initialize(repeating: 1) }
    var sink: Float = 0

    // Each product's output feeds the next input, as in a recurrence.
    let fp32 = x.withUnsafeMutableBufferPointer { xp in
        y.withUnsafeMutableBufferPointer { yp in
            time {
                float.apply(UnsafeBufferPointer(xp), rows: 1, into: yp)
                xp[0] = yp[n - 1] * 1e-3
            }
        }
    }
    // As a recurrence runs it when the weights exceed half the L2 (`Linear.alternatesOrder`):
    // every other call visits the row blocks backward, first reading what the last call read last.
    var backward = false
    let fp32Alternating = x.withUnsafeMutableBufferPointer { xp in
        y.withUnsafeMutableBufferPointer { yp in
            time {
                float.apply(UnsafeBufferPointer(xp), rows: 1, into: yp, backward: backward)
                backward.toggle()
                xp[0] = yp[n - 1] * 1e-3
            }
        }
    }
    let swiftFloat = w.withUnsafeBufferPointer { wp in
        b.withUnsafeBufferPointer { bp in
            x.withUnsafeMutableBufferPointer { xp in
                y.withUnsafeMutableBufferPointer { yp in
                    time {
                        SwiftSIMDFloatProduct.product(x: xp.baseAddress!, rows: 1, w: wp.baseAddress!, bias: bp.baseAddress,
                                                      outFeatures: n, inFeatures: k, y: yp.baseAddress!)
                        xp[0] = yp[n - 1] * 1e-3
                    }
                }
            }
        }
    }
    var acc = [Int32](repeating: 0, count: n)
    let swiftInt8 = q.withUnsafeBufferPointer { wp in
        xq.withUnsafeMutableBufferPointer { qp in
            acc.withUnsafeMutableBufferPointer { ap in
                time {
                    Int8Kernel.multiply(qp.baseAddress!, rows: 1, wp.baseAddress!, outFeatures: n, inFeatures: k, into: ap.baseAddress!)
                    qp[0] = UInt8(truncatingIfNeeded: ap[n - 1] & 127)
                }
            }
        }
    }
    let fp32Floor = floatBytes.withUnsafePointer { base in
        time { sink += crnn_stream_read(KernelISA.best.rawValue, base, floatBytes.count * 4 / 128 * 128) }
    }
    let (i8, i8Alternating, i8q) = x.withUnsafeMutableBufferPointer { xp in
        y.withUnsafeMutableBufferPointer { yp in
            xq.withUnsafeMutableBufferPointer { qp in
                let (lo, hi) = QuantizeKernel.minMax(UnsafeBufferPointer(xp), rows: 1, cols: k)
                let scale = (max(hi, 0) - min(lo, 0)) / 127
                let zp = Int32((-min(lo, 0) / scale).rounded())
                QuantizeKernel.quantize(UnsafeBufferPointer(xp), rows: 1, cols: k, inverseScale: 1 / scale, zeroPoint: zp, into: qp)
                let product = time {
                    int8.apply(UnsafeBufferPointer(qp), rows: 1, scale: scale, zeroPoint: zp, maxCode: 127, into: yp)
                    qp[0] = UInt8(truncatingIfNeeded: Int(yp[n - 1]) & 127)
                }
                let alternating = time {
                    int8.apply(UnsafeBufferPointer(qp), rows: 1, scale: scale, zeroPoint: zp, maxCode: 127, into: yp,
                               backward: backward)
                    backward.toggle()
                    qp[0] = UInt8(truncatingIfNeeded: Int(yp[n - 1]) & 127)
                }
                let full = time {
                    let (lo, hi) = QuantizeKernel.minMax(UnsafeBufferPointer(xp), rows: 1, cols: k)
                    let scale = (max(hi, 0) - min(lo, 0)) / 127
                    let zp = Int32((-min(lo, 0) / scale).rounded())
                    let top = QuantizeKernel.quantize(UnsafeBufferPointer(xp), rows: 1, cols: k, inverseScale: 1 / scale,
                                                      zeroPoint: zp, into: qp)
                    int8.apply(UnsafeBufferPointer(qp), rows: 1, scale: scale, zeroPoint: zp, maxCode: top, into: yp)
                    xp[0] = yp[n - 1] * 1e-3
                }
                return (product, alternating, full)
            }
        }
    }
    let i8Floor = int8Bytes.withUnsafePointer { base in
        time { sink += crnn_stream_read(KernelISA.best.rawValue, base, int8Bytes.count * 4 / 128 * 128) }
    }
    func cell(_ t: (median: Double, min: Double)) -> String {
        "\((t.median * 100).rounded() / 100) / \((t.min * 100).rounded() / 100)"
    }
    print("| \(h) | \(cell(fp32)) | \(cell(fp32Alternating)) | \(cell(swiftFloat)) | \(cell(fp32Floor)) | \(cell(i8)) | \(cell(i8Alternating)) | \(cell(swiftInt8)) | \(cell(i8q)) | \(cell(i8Floor)) |"
          + (sink == 42 ? " " : ""))
}
