// swift-tools-version:6.0
// libFuzzer harnesses for RNNKit's readers. Kept outside the root package graph: the harnesses
// have no `main` (libFuzzer supplies it), so they only link with `-sanitize=fuzzer`. Build and
// run them with tools/fuzz.sh, never with a plain `swift build`.
import PackageDescription

// A path dependency's identity is its directory name (the checkout or worktree name).
let root = Context.packageDirectory.split(separator: "/").dropLast().last.map(String.init) ?? "RNNKit"
let format = Target.Dependency.product(name: "RNNFormat", package: root)
let writer = Target.Dependency.product(name: "RNNFormatWriter", package: root)

let package = Package(
    name: "RNNKitFuzz",
    dependencies: [.package(path: "..")],
    targets: [
        .systemLibrary(name: "CLibFuzzer", path: "CLibFuzzer"),
        .target(name: "FuzzSupport", dependencies: ["CLibFuzzer", format, writer], path: "FuzzSupport"),
        .executableTarget(name: "FuzzHDF5", dependencies: ["FuzzSupport", format], path: "FuzzHDF5"),
        .executableTarget(name: "FuzzNpy", dependencies: ["FuzzSupport", format], path: "FuzzNpy"),
        .executableTarget(name: "FuzzCheckpoint", dependencies: ["FuzzSupport", format], path: "FuzzCheckpoint"),
        .executableTarget(name: "FuzzPickle", dependencies: ["FuzzSupport", format], path: "FuzzPickle"),
        .executableTarget(name: "FuzzSafetensors", dependencies: ["FuzzSupport", format], path: "FuzzSafetensors"),
    ],
    swiftLanguageModes: [.v6]
)
