import Foundation
import RNNFormat
import Testing
import _RNNKitTestSupport
import RNNFormatWriter

/// `rnnconvert run` on inputs a user gets wrong: one `error:` line and exit status 1, never a
/// trap; NaN is passed through as PyTorch does (README.md, "Security").
@Suite("rnnconvert run: bad inputs")
struct BadInputCLITests {
    static let fixtures = CLI.repositoryRoot + "/fixtures/float"
    static let gru = fixtures + "/gru/attrs.h5"    // GRU, input 5, hidden 7
    static let lstm = fixtures + "/lstm/attrs.h5"  // LSTM, input 5, hidden 7

    /// A (T, B, I) float32 input with distinct finite values.
    static func input(_ shape: [Int]) throws -> Tensor {
        let count = shape.reduce(1, *)
        return try Tensor(shape: shape, scalars: (0..<count).map { Float(($0 * 37) % 23) / 23 - 0.5 })
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var model: String
        var input: [Int] = [6, 3, 5]
        var h0: [Int]? = nil
        var c0: [Int]? = nil
        var lengths: (values: [Int64], shape: [Int])? = nil
        var mentions: String
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "input width", model: gru, input: [6, 3, 4],
             mentions: "input: expected shape (T, 5), (T, B, 5) or (V, T, B, 5) with sizes >= 1, found (6, 3, 4)"),
        Case(name: "input rank 1", model: gru, input: [5], mentions: "found (5,)"),
        Case(name: "input rank 5", model: gru, input: [1, 1, 6, 3, 5], mentions: "found (1, 1, 6, 3, 5)"),
        Case(name: "batch of zero", model: gru, input: [6, 0, 5], mentions: "with sizes >= 1, found (6, 0, 5)"),
        Case(name: "h0 batch differs from input", model: gru, h0: [1, 2, 7], mentions: "h0: expected shape (1, 3, 7), found (1, 2, 7)"),
        Case(name: "h0 rank", model: gru, h0: [3, 7], mentions: "h0: expected shape (1, 3, 7), found (3, 7)"),
        Case(name: "c0 batch differs from input", model: lstm, h0: [1, 3, 7], c0: [1, 4, 7], mentions: "c0: expected shape (1, 3, 7), found (1, 4, 7)"),
        Case(name: "c0 for a GRU", model: gru, c0: [1, 3, 7], mentions: "c0 given, but a GRU has no cell state"),
        Case(name: "negative length", model: gru, lengths: ([6, -1, 2], [3]),
             mentions: "lengths: expected every length in 1...6 (the sequence length), found -1 at index 1"),
        Case(name: "zero length", model: gru, lengths: ([0, 6, 2], [3]), mentions: "found 0 at index 0"),
        Case(name: "length beyond T", model: lstm, lengths: ([6, 6, 7], [3]), mentions: "found 7 at index 2"),
        Case(name: "length of 2^40", model: gru, lengths: ([6, 1 << 40, 2], [3]), mentions: "found 1099511627776 at index 1"),
        Case(name: "lengths count differs from batch", model: gru, lengths: ([6, 6], [2]), mentions: "lengths: expected shape (3,), found (2,)"),
        Case(name: "lengths of rank 3", model: gru, lengths: ([6, 6, 6], [1, 1, 3]), mentions: "expected lengths of shape (B,) or (V, B), found [1, 1, 3]"),
    ]

    @Test("each bad input gives one error line and exit status 1", arguments: cases)
    func badInput(bad: Case) throws {
        let directory = try TemporaryDirectory()
        var arguments = ["run", bad.model, "--out", directory.file("out")]
        try NpyArray(try Self.input(bad.input)).write(path: directory.file("input.npy"))
        arguments += ["--input", directory.file("input.npy")]
        if let h0 = bad.h0 {
            try NpyArray(try Tensor(zeros: h0)).write(path: directory.file("h0.npy"))
            arguments += ["--h0", directory.file("h0.npy")]
        }
        if let c0 = bad.c0 {
            try NpyArray(try Tensor(zeros: c0)).write(path: directory.file("c0.npy"))
            arguments += ["--c0", directory.file("c0.npy")]
        }
        if let lengths = bad.lengths {
            try NpyArray(int64: lengths.values, shape: lengths.shape).write(path: directory.file("lengths.npy"))
            arguments += ["--lengths", directory.file("lengths.npy")]
        }
        let result = try CLI.run(arguments)
        #expect(result.status == 1, "\(result.stderr)")
        #expect(result.stderrLines.count == 1 && result.stderr.hasPrefix("error: "), "\(result.stderr)")
        #expect(result.stderr.contains(bad.mentions), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: directory.file("out/output.npy")))
    }

    /// .npy inputs whose header lies: a shape far larger than the data, a cut-off file, a
    /// negative dimension. Clear errors, no allocation sized from the header.
    @Test("lying or cut-off .npy inputs give one error line", arguments: [
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (100000000, 3, 5), }", 240, "input.npy"),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (6, 3, 5), }", 100, "input.npy"),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (6, -3, 5), }", 360, "input.npy"),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (9223372036854775807, 2), }", 16, "input.npy"),
    ])
    func lyingNpy(header: String, dataBytes: Int, name: String) throws {
        let directory = try TemporaryDirectory()
        var text = Array(header.utf8)
        while (10 + text.count + 1) % 64 != 0 { text.append(0x20) }
        text.append(0x0A)
        var bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(text.count & 0xFF), UInt8(text.count >> 8)] + text
        bytes += [UInt8](repeating: 0, count: dataBytes)
        try Data(bytes).write(to: URL(fileURLWithPath: directory.file(name)))
        let start = ContinuousClock.now
        let result = try CLI.run(["run", Self.gru, "--input", directory.file(name), "--out", directory.file("out")])
        #expect(ContinuousClock.now - start < .seconds(10))
        #expect(result.status == 1, "\(result.stderr)")
        #expect(result.stderrLines.count == 1 && result.stderr.hasPrefix("error: \(directory.file(name)): "), "\(result.stderr)")
    }

    /// Documented behaviour: NaN is data, not an error. It propagates through its batch
    /// element's recurrence from its step on; the other elements are unaffected.
    @Test("a NaN in the input runs, and propagates only through its batch element")
    func nanInput() throws {
        let directory = try TemporaryDirectory()
        var input = try Self.input([6, 3, 5])
        input[flat: (2 * 3 + 1) * 5] = .nan  // step 2, element 1
        try NpyArray(input).write(path: directory.file("input.npy"))
        let result = try CLI.run(["run", Self.gru, "--input", directory.file("input.npy"), "--out", directory.file("out")])
        #expect(result.status == 0, "\(result.stderr)")
        let output = try NpyArray.readFloatTensor(path: directory.file("out/output.npy"))
        #expect(output.shape == [6, 3, 7])
        for t in 0..<6 {
            for b in 0..<3 {
                let row = output.scalars[((t * 3 + b) * 7)..<((t * 3 + b + 1) * 7)]
                if b == 1 && t >= 2 {
                    #expect(row.allSatisfy { $0.isNaN }, "step \(t), element \(b)")
                } else {
                    #expect(row.allSatisfy { $0.isFinite }, "step \(t), element \(b)")
                }
            }
        }
    }
}
