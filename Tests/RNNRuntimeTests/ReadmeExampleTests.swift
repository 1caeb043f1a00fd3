import Foundation
import Testing

/// The README's "Use it from a Swift app" code is the example target's source, which the build
/// compiles, so the README cannot show code that no longer builds.
@Suite("README example")
struct ReadmeExampleTests {
    static let repository = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The first ```swift block after `heading` that starts with an import.
    static func exampleBlock(in markdown: String, after heading: String) -> String? {
        guard let section = markdown.range(of: heading) else { return nil }
        var rest = markdown[section.upperBound...]
        while let open = rest.range(of: "```swift\n") {
            let body = rest[open.upperBound...]
            guard let close = body.range(of: "\n```") else { return nil }
            let code = String(body[..<close.lowerBound]) + "\n"
            if code.hasPrefix("import ") { return code }
            rest = body[close.upperBound...]
        }
        return nil
    }

    @Test func readmeShowsTheCompiledExample() throws {
        let example = try String(contentsOf: Self.repository.appendingPathComponent("Examples/SwiftAppExample/main.swift"), encoding: .utf8)
        var checked = 0
        for name in ["README.md", "README.swiftapp.md"] {
            guard let markdown = try? String(contentsOf: Self.repository.appendingPathComponent(name), encoding: .utf8),
                  markdown.contains("## Use it from a Swift app") else { continue }
            let block = try #require(Self.exampleBlock(in: markdown, after: "## Use it from a Swift app"), "\(name) has no example block")
            #expect(block == example, "\(name)'s example differs from Examples/SwiftAppExample/main.swift")
            checked += 1
        }
        #expect(checked >= 1, "no README holds the section \"Use it from a Swift app\"")
    }
}
