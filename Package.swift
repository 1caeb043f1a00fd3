// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "RNNKit",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "RNNFormat", targets: ["RNNFormat"]),
        .library(name: "RNNRuntime", targets: ["RNNRuntime"]),
        .executable(name: "rnnconvert", targets: ["rnnconvert"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // libhdf5 and zlib as system libraries; the headers carry the few static inline shims
        // for macros Swift cannot import (H5P_DEFAULT, H5T_NATIVE_*, ...).
        .systemLibrary(
            name: "CHDF5",
            pkgConfig: "hdf5",
            providers: [.apt(["libhdf5-dev"]), .brew(["hdf5"])]
        ),
        .systemLibrary(
            name: "CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"]), .brew(["zlib"])]
        ),
        // The hot loops in C (products, cell updates, SHA-256): AVX2/AVX-512/SHA chosen at run
        // time, portable C elsewhere. No compiler flags, so the package stays usable as a dependency.
        .target(name: "CRNNKernels"),
        .target(
            name: "RNNFormat",
            dependencies: ["CHDF5", "CZlib", "CRNNKernels"]
        ),
        .target(
            name: "RNNRuntime",
            dependencies: ["RNNFormat", "CRNNKernels"]
        ),
        .executableTarget(
            name: "rnnconvert",
            dependencies: [
                "RNNFormat",
                "RNNRuntime",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(name: "SwiftAppExample", dependencies: ["RNNRuntime"], path: "Examples/SwiftAppExample"),
        // Single-thread product timings against the weight-streaming floor (BENCHMARKS.md);
        // not a product: `swift run -c release kernelbench [H ...]`.
        .executableTarget(name: "kernelbench", dependencies: ["RNNRuntime", "CRNNKernels"]),
        .target(name: "_RNNKitTestSupport", path: "Tests/_RNNKitTestSupport"),
        .testTarget(name: "RNNFormatTests", dependencies: ["_RNNKitTestSupport", "RNNFormat", "CZlib"]),
        .testTarget(name: "RNNRuntimeTests", dependencies: ["RNNRuntime", "RNNFormat"]),
        .testTarget(name: "rnnconvertTests", dependencies: ["rnnconvert", "_RNNKitTestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
