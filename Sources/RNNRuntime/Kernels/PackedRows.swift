import CRNNKernels

/// Where both packed layouts (`PackedFloatMatrix`, `PackedInt8Matrix`) can be cut into row
/// ranges, so that two threads compute halves of one product from the same packed weights.
package enum PackedRows {
    /// Output features at multiples of which the layouts split (`CRNN_ROW_BLOCK`).
    package static let block = Int(CRNN_ROW_BLOCK)

    /// Whether a product may cover only `range` of the output features: it starts at a multiple
    /// of `block` and ends at one or at the last feature.
    package static func isSplittable(_ range: Range<Int>, outFeatures: Int) -> Bool {
        range.lowerBound >= 0 && range.upperBound <= outFeatures && range.lowerBound % block == 0
            && (range.upperBound % block == 0 || range.upperBound == outFeatures)
    }
}
