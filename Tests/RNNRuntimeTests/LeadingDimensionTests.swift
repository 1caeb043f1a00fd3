import RNNRuntime
import Testing
import RNNFormat

/// A leading V runs V independent calls: the result is the stack of the separate calls
/// (the PyTorch fixtures cover V without lengths; these cover lengths per slice and cells
/// with several leading dimensions).
@Suite("Leading dimensions")
struct LeadingDimensionTests {
    static func ramp(_ shape: [Int], _ seed: UInt64) throws -> Tensor {
        var generator = SplitMix64(seed: seed)
        return try Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in Float.random(in: -1...1, using: &generator) })
    }

    @Test(arguments: [false, true])
    func sequenceSlicesWithTheirOwnLengths(batchFirst: Bool) throws {
        var generator = SplitMix64(seed: 8)
        let lstm = try LSTM(inputSize: 3, hiddenSize: 5, numLayers: 2, batchFirst: batchFirst, bidirectional: true, projSize: 2,
                            using: &generator)
        let (steps, batch) = (5, 3)
        let sliceShape = batchFirst ? [batch, steps, 3] : [steps, batch, 3]
        let input = try Self.ramp([2] + sliceShape, 1)
        let h0 = try Self.ramp([2, 4, batch, 2], 2), c0 = try Self.ramp([2, 4, batch, 5], 3)
        let lengths = [5, 2, 4, 1, 5, 3]  // (V, B) = (2, 3)
        let (output, hN, cN) = try lstm(input, (h0, c0), lengths: lengths)
        for v in 0..<2 {
            func slice(_ t: Tensor) throws -> Tensor { try t.slice(along: 0, v..<v + 1).reshaped(Array(t.shape.dropFirst())) }
            let (o, h, c) = try lstm(slice(input), (slice(h0), slice(c0)), lengths: Array(lengths[v * batch..<(v + 1) * batch]))
            #expect(try slice(output) == o)
            #expect(try slice(hN) == h)
            #expect(try slice(cN) == c)
        }
        // One row of B lengths applies to every slice.
        let shared = try lstm(input, (h0, c0), lengths: [5, 2, 4])
        func second(_ t: Tensor) throws -> Tensor { try t.slice(along: 0, 1..<2).reshaped(Array(t.shape.dropFirst())) }
        let alone = try lstm(second(input), (second(h0), second(c0)), lengths: [5, 2, 4])
        #expect(try second(shared.output) == alone.output)
        #expect(try second(shared.hN) == alone.hN)
        #expect(try second(shared.output) != second(output))
    }

    @Test func cellsTakeAnyNumberOfLeadingDimensions() throws {
        var generator = SplitMix64(seed: 9)
        let cell = try GRUCell(inputSize: 4, hiddenSize: 6, using: &generator)
        let input = try Self.ramp([2, 3, 2, 4], 5), h = try Self.ramp([2, 3, 2, 6], 6)
        let all = try cell(input, h)
        #expect(all.shape == [2, 3, 2, 6])
        let rows = try cell(input.reshaped([12, 4]), h.reshaped([12, 6]))
        #expect(all.scalars == rows.scalars)
        let one = try cell(input.slice(along: 0, 1..<2).reshaped([3, 2, 4]).slice(along: 0, 2..<3).reshaped([2, 4]),
                           h.slice(along: 0, 1..<2).reshaped([3, 2, 6]).slice(along: 0, 2..<3).reshaped([2, 6]))
        #expect(all.slice(along: 0, 1..<2).slice(along: 1, 2..<3).scalars == one.scalars)
    }
}
