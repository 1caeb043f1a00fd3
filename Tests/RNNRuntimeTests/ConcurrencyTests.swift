import RNNRuntime
import Testing
import RNNFormat

/// One loaded model shared by many tasks at once gives every task the serial result.
@Suite("Concurrency")
struct ConcurrencyTests {
    @Test(arguments: ["float/lstm_proj_bi_2l", "float/gru_bi_2l", "float/lstm_cell"])
    func manyTasksShareOneModel(caseDirectory: String) async throws {
        let fixture = try Fixtures.loadCase(caseDirectory)
        let module = fixture.allModules[0]
        let model = try AnyModule(Fixtures.record(caseDirectory, module))
        let calls = try module.calls.map { try Fixtures.arrays(caseDirectory, $0) }
        let serial = try calls.map { try model($0.input, h0: $0.h0, c0: $0.c0, lengths: $0.lengths) }

        let results = try await withThrowingTaskGroup(of: (Int, ModuleOutput).self) { group in
            for task in 0..<48 {
                let index = task % calls.count
                let a = calls[index]
                group.addTask { (index, try model(a.input, h0: a.h0, c0: a.c0, lengths: a.lengths)) }
            }
            var all: [(Int, ModuleOutput)] = []
            for try await result in group { all.append(result) }
            return all
        }
        #expect(results.count == 48)
        for (index, result) in results {
            #expect(result == serial[index])
        }
    }
}
