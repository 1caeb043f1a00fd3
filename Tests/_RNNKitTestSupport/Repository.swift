import Foundation

/// Where the tests find the repository and the package's built programs.
public enum Repository {
    /// The repository's root folder.
    public static let root: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    /// A binary of this package next to the test bundle (SwiftPM builds every executable for
    /// `swift build --build-tests`), or nil when it is not built.
    public static func builtProgram(_ program: String) -> String? {
        var candidates: [String] = []
        if let executable = Bundle.main.executableURL {
            var directory = executable.deletingLastPathComponent()
            for _ in 0..<4 {
                candidates.append(directory.appendingPathComponent(program).path)
                directory.deleteLastPathComponent()
            }
        }
        candidates.append(root + "/.build/debug/" + program)
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }
}
