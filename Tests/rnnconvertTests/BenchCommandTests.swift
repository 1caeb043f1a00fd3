import Foundation
import Testing
import RNNFormat

/// `rnnconvert bench` on the fixtures: the JSON a script reads, and one-line refusals.
@Suite("rnnconvert bench")
struct BenchCommandTests {
    static let fixtures = CLI.repositoryRoot + "/fixtures/float/"

    /// Keys the benchmark scripts read, with the configuration echoed back.
    @Test(arguments: [false, true])
    func jsonReportsTimesPerStep(streaming: Bool) throws {
        let result = try CLI.run(["bench", Self.fixtures + "gru/attrs.h5", "--json", "--seq-len", "7", "--batch", "2",
                                  "--min-runs", "2", "--min-time", "0"] + (streaming ? ["--streaming"] : []))
        #expect(result.status == 0, "\(result.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let median = try #require(object["us_per_step"] as? Double)
        let low = try #require(object["us_per_step_min"] as? Double)
        let high = try #require(object["us_per_step_max"] as? Double)
        #expect(low > 0 && low <= median && median <= high)
        #expect(object["seq_len"] as? Int == 7)
        #expect(object["batch"] as? Int == 2)
        #expect(object["streaming"] as? Bool == streaming)
        #expect((object["runs"] as? Int ?? 0) >= 2)
        // GRU 5->7: weight_ih (21, 5) and weight_hh (21, 7), float32, two flops per multiply-add per batch row.
        #expect(object["weight_bytes"] as? Int == (21 * 5 + 21 * 7) * 4)
        #expect(object["flops_per_step"] as? Double == Double(2 * (21 * 5 + 21 * 7) * 2))
    }

    @Test func streamingABidirectionalModuleIsRefused() throws {
        let result = try CLI.run(["bench", Self.fixtures + "gru_bi_2l/attrs.h5", "--streaming", "--min-runs", "1", "--min-time", "0"])
        #expect(result.status != 0)
        #expect(result.stderrLines.count == 1)
        #expect(result.stderr.hasPrefix("error: ") && result.stderr.contains("unidirectional"))
    }

    @Test(arguments: [["--seq-len", "0"], ["--batch", "-1"], ["--threads", "0"], ["--min-time", "nan"]])
    func badNumbersAreOneLineErrors(arguments: [String]) throws {
        let result = try CLI.run(["bench", Self.fixtures + "gru/attrs.h5"] + arguments)
        #expect(result.status != 0)
        #expect(result.stderrLines.count == 1)
        #expect(result.stderr.hasPrefix("error: "))
    }
}
