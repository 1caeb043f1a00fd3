import Foundation
import Testing
import RNNFormat
import RNNRuntime

/// A tensor's storage always holds the elements its shape declares: every public way of making
/// or changing one checks it, so no module call can read past a tensor.
@Suite("Tensor invariant")
struct TensorSafetyTests {
    @Test("a shape that does not match the storage is refused", arguments: [
        ([100, 1, 64], 3), ([2, 3], 5), ([2, 3], 7), ([], 0), ([0, 4], 1), ([-1, -6], 6), ([Int.max, 2], 0),
    ])
    func mismatchedStorage(shape: [Int], count: Int) {
        let error = #expect(throws: RNNFormatError.self) { _ = try Tensor(shape: shape, scalars: [Float](repeating: 1, count: count)) }
        #expect(error?.code == .shapeMismatch)
        #expect(error?.description.contains("shape \(shape)") == true, "\(String(describing: error))")
    }

    @Test("matching shapes are accepted, scalars included")
    func matchingStorage() throws {
        #expect(try Tensor(shape: [], scalars: [4]).count == 1)
        #expect(try Tensor(shape: [0, 3], scalars: []).count == 0)
        #expect(try Tensor(shape: [2, 3], scalars: Array(repeating: 0, count: 6)).rank == 2)
    }

    @Test("zeros and reshaped check their shapes")
    func zerosAndReshape() throws {
        #expect(throws: RNNFormatError.self) { _ = try Tensor(zeros: [3, -1]) }
        let t = try Tensor(zeros: [2, 3])
        #expect(throws: RNNFormatError.self) { _ = try t.reshaped([7]) }
        #expect(try t.reshaped([3, 2]).shape == [3, 2])
    }

    @Test("elements change one at a time, never the count")
    func elementAccess() throws {
        var t = try Tensor(shape: [2, 2], scalars: [1, 2, 3, 4])
        t[flat: 3] = 9
        #expect(t.scalars == [1, 2, 3, 9])
        #expect(t.withUnsafeBufferPointer { $0.count } == 4)
    }

    @Test("quantized tensors check values, scales and zero points against the shape")
    func quantizedParts() throws {
        #expect(throws: RNNFormatError.self) { _ = try QuantizedTensor(shape: [2, 3], values: [1, 2, 3], scales: [1], zeroPoints: [0]) }
        #expect(throws: RNNFormatError.self) { _ = try QuantizedTensor(shape: [2, 3], values: Array(repeating: 1, count: 6), scales: [1, 1, 1], zeroPoints: [0, 0, 0]) }
        #expect(throws: RNNFormatError.self) { _ = try QuantizedTensor(shape: [6], values: Array(repeating: 1, count: 6), scales: [1], zeroPoints: [0]) }
        #expect(try QuantizedTensor(shape: [2, 3], values: Array(repeating: 1, count: 6), scales: [1, 2], zeroPoints: [0, 0]).scheme == .perChannel)
    }

    @Test("a module given a tensor of the wrong shape says so instead of reading past it")
    func moduleRefusesWrongShape() throws {
        var generator = SplitMix64(seed: 1)
        let gru = try GRU(inputSize: 64, hiddenSize: 8, using: &generator)
        let error = #expect(throws: RNNRuntimeError.self) { _ = try gru(try Tensor(shape: [100, 1, 3], scalars: [Float](repeating: 0, count: 300))) }
        #expect(error?.description.contains("found (100, 1, 3)") == true, "\(String(describing: error))")
    }
}
