import Foundation
import Testing
import RNNFormat

@Suite("rnnconvert compare")
struct CompareCommandTests {
    let fixtures = CLI.repositoryRoot + "/fixtures/float/gru"

    @Test("an array equals itself; different arrays report their max abs difference and fail beyond the tolerance")
    func tolerance() throws {
        let same = try CLI.run(["compare", fixtures + "/batched.output.npy", fixtures + "/batched.output.npy", "--max-abs", "0"])
        #expect(same.status == 0)
        #expect(same.stdout.contains("max abs 0.0"))

        // Same shape, different initial state: PyTorch's own outputs differ.
        let differ = try CLI.run(["compare", fixtures + "/batched.output.npy", fixtures + "/h0.output.npy", "--max-abs", "1e-5"])
        #expect(differ.status != 0)
        #expect(differ.stderrLines.count == 1)
        #expect(differ.stderr.hasPrefix("error: ") && differ.stderr.contains("above the tolerance 1e-05"))
    }

    @Test("different shapes are one error line naming both shapes")
    func shapes() throws {
        let result = try CLI.run(["compare", fixtures + "/batched.output.npy", fixtures + "/batched.h_n.npy"])
        #expect(result.status != 0)
        #expect(result.stderrLines == ["error: \(fixtures)/batched.h_n.npy: expected shape [6, 3, 7] (the shape of \(fixtures)/batched.output.npy), found [1, 3, 7]"])
    }
}
