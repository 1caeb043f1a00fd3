/// The uint8 quantization PyTorch's dynamic int8 matmul applies to its input at every call.
///
/// One scale and zero point per call, from the minimum and maximum over the whole input block
/// (spec/FORMAT.md, "Quantized tensors", runtime numerics). This is ATen's
/// `ChooseQuantizationParams(min, max, qmin: 0, qmax: 255, reduce_range: true)`: the range is
/// 0...127 so that AVX2's saturating u8×s8 pair sums stay exact, and the intermediate steps run
/// in double exactly as ATen writes them.
package struct ActivationQuantization: Sendable, Hashable {
    package var scale: Float
    package var zeroPoint: Int32

    /// Range of quantized activations under `reduce_range`.
    package static let qmin: Int32 = 0
    package static let qmax: Int32 = 127
    /// ATen's `SMALL_SCALE_THRESHOLD`: smaller scales are raised to it.
    package static let smallScaleThreshold: Float = 6.1e-5

    package init(scale: Float, zeroPoint: Int32) {
        self.scale = scale
        self.zeroPoint = zeroPoint
    }

    /// Parameters for values spanning `min...max`.
    package init(min xmin: Float, max xmax: Float) {
        let qmin = Self.qmin
        let qmax = Self.qmax
        let threshold = Self.smallScaleThreshold
        // std::min(min, 0.f) and std::max(max, 0.f), spelled as the C++ library does.
        var min: Float = 0 < xmin ? 0 : xmin
        var max: Float = xmax < 0 ? 0 : xmax
        var scale = (Double(max) - Double(min)) / Double(qmax - qmin)
        if Float(scale) == 0 || (1 / Float(scale)).isInfinite {
            scale = 0.1
        }
        if scale < Double(threshold) {
            let originalScale = Float(scale)
            scale = Double(threshold)
            if min == 0 {
                max = threshold * Float(qmax - qmin)
            } else if max == 0 {
                min = -threshold * Float(qmax - qmin)
            } else {
                let amplifier = threshold / originalScale
                min *= amplifier
                max *= amplifier
            }
        }
        let fromMin = Double(qmin) - Double(min) / scale
        let fromMax = Double(qmax) - Double(max) / scale
        let errorMin = Double(qmin.magnitude) - (Double(min) / scale).magnitude
        let errorMax = Double(qmax.magnitude) - (Double(max) / scale).magnitude
        let initial = errorMin < errorMax ? fromMin : fromMax
        let zeroPoint: Int32
        if initial < Double(qmin) {
            zeroPoint = qmin
        } else if initial > Double(qmax) {
            zeroPoint = qmax
        } else if initial.isNaN {
            zeroPoint = qmin  // only for non-finite input; any value avoids a trap
        } else {
            zeroPoint = Int32(initial.rounded(.toNearestOrEven))
        }
        self.init(scale: Float(scale), zeroPoint: zeroPoint)
    }

    /// Parameters for the values of `x` (NaNs are skipped by the min/max scan).
    package init(of x: UnsafeBufferPointer<Float>) {
        var lo = Float.infinity
        var hi = -Float.infinity
        for v in x {
            if v < lo { lo = v }
            if v > hi { hi = v }
        }
        if x.isEmpty || lo > hi { (lo, hi) = (0, 0) }
        self.init(min: lo, max: hi)
    }

    /// Writes `clamp(roundHalfEven(x * (1 / scale)) + zeroPoint, 0, 255)` for every element.
    ///
    /// For finite input `|x * (1 / scale)|` is at most about 128 (the scale spans the whole
    /// block), so rounding by adding 1.5·2²³ is exact round-half-even and the integer can be read
    /// from the sum's bits: no libm call and no trapping conversion, so the loop vectorizes.
    /// Non-finite input gives some value in 0...255.
    ///
    /// - Parameters:
    ///   - x: the float values.
    ///   - q: at least `x.count` elements; the first `x.count` are overwritten.
    package func quantize(_ x: UnsafeBufferPointer<Float>, into q: UnsafeMutableBufferPointer<UInt8>) {
        precondition(q.count >= x.count)
        guard let src = x.baseAddress, let dst = q.baseAddress else { return }
        let inverse = 1 / scale
        let magic: Float = 12_582_912  // 1.5·2²³: sums in [2²³, 2²⁴) have a spacing of exactly 1
        let magicBits = Int32(bitPattern: magic.bitPattern)
        let zero = zeroPoint
        for i in 0..<x.count {
            // Round first, then add the zero point: adding an odd integer before rounding would
            // move ties to the other even neighbour.
            let rounded = Int32(bitPattern: (src[i] * inverse + magic).bitPattern) &- magicBits
            let v = rounded &+ zero
            dst[i] = UInt8(truncatingIfNeeded: v < 0 ? 0 : (v > 255 ? 255 : v))
        }
    }
}
