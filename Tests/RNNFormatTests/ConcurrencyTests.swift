import Foundation
import Testing
@testable import RNNFormat
import _RNNKitTestSupport
import RNNFormatWriter

@Suite("One lock serialises libhdf5")
struct ConcurrencyTests {
    @Test("reads and writes from many threads at once all succeed with the right contents")
    func parallelReadsAndWrites() throws {
        let directory = try TemporaryDirectory()
        let records = (0..<8).map { ModuleFactory.record(ModuleFactory.configs[$0 % ModuleFactory.configs.count], path: "m", seed: UInt64($0)) }
        let failures = LockedBox<[String]>([])
        DispatchQueue.concurrentPerform(iterations: records.count) { index in
            let path = directory.file("f\(index).h5")
            do {
                try ModelFile(modules: [records[index]]).write(to: path, overwrite: false)
                for _ in 0..<3 {
                    guard try ModelFile.read(path: path).modules == [records[index]] else {
                        failures.withLock { $0.append("file \(index) read back different") }
                        return
                    }
                    _ = try? ModelFile.read(path: HostileFile.directory + "/soft_link.h5")
                }
            } catch {
                failures.withLock { $0.append("file \(index): \(error)") }
            }
        }
        #expect(failures.withLock { $0 }.isEmpty)
        #expect(directory.entries().count == records.count)
    }
}
