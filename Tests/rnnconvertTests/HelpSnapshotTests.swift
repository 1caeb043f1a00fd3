import Foundation
import Testing

/// `rnnconvert --help` and every subcommand's `--help`, as a user reads them, against the
/// snapshots in Tests/Snapshots/rnnconvert-help/ (one `<subcommand>.txt` each, `rnnconvert.txt`
/// for the top level). A change to an option, its help text or a subcommand shows up here and in
/// review. After a deliberate change, rewrite the snapshots with
/// `RNNKIT_UPDATE_SNAPSHOTS=1 swift test --filter "help snapshot"` and read the diff.
@Suite("rnnconvert --help snapshot")
struct HelpSnapshotTests {
    static let subcommands = ["inspect", "import", "export", "quantize", "compare", "run", "verify", "bench"]
    static let directory = CLI.repositoryRoot + "/Tests/Snapshots/rnnconvert-help"
    static let updating = ProcessInfo.processInfo.environment["RNNKIT_UPDATE_SNAPSHOTS"] == "1"

    @Test("help text equals its snapshot", arguments: [nil] + subcommands.map(Optional.some))
    func helpMatchesSnapshot(subcommand: String?) throws {
        // No terminal: ArgumentParser wraps at 80 columns, whatever COLUMNS the caller's shell has.
        let run = try CLI.run((subcommand.map { [$0] } ?? []) + ["--help"], environment: ["COLUMNS": "80"])
        #expect(run.status == 0, "\(run.stderr)")
        let snapshot = Self.directory + "/" + (subcommand ?? "rnnconvert") + ".txt"
        if Self.updating {
            try FileManager.default.createDirectory(atPath: Self.directory, withIntermediateDirectories: true)
            try run.stdout.write(toFile: snapshot, atomically: true, encoding: .utf8)
            return
        }
        let expected = try String(contentsOfFile: snapshot, encoding: .utf8)
        #expect(run.stdout == expected, "rnnconvert \(subcommand ?? "") --help differs from \(snapshot)")
    }

    /// Every subcommand the tool lists has a snapshot, so a new one cannot go unreviewed.
    @Test func everySubcommandHasASnapshot() throws {
        let run = try CLI.run(["--help"], environment: ["COLUMNS": "80"])
        // The block after "SUBCOMMANDS:" up to its blank line: a name indented by two spaces
        // per subcommand, wrapped help text indented further.
        let block = run.stdout.components(separatedBy: "SUBCOMMANDS:\n").last?.components(separatedBy: "\n\n").first ?? ""
        let listed = block.split(separator: "\n").compactMap { line -> String? in
            guard line.hasPrefix("  "), !line.hasPrefix("   ") else { return nil }
            return line.split(separator: " ").first.map(String.init)
        }
        #expect(listed == Self.subcommands, "rnnconvert lists \(listed)")
    }
}
