import Foundation
import Testing
@testable import RNNFormat

/// Placeholder until the runtime lands; replaced by the load-run-write stress test.
@Suite("Concurrent load and write")
struct ConcurrencyStressTests {}
