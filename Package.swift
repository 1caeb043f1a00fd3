// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "RNNKit",
    platforms: [.macOS(.v13), .iOS(.v16)],
    products: [
        // For apps: read every format the toolkit reads, run the modules. Neither links libhdf5
        // (RNNKit reads HDF5 itself); both build for iOS and macOS.
        .library(name: "RNNFormat", targets: ["RNNFormat"]),
        .library(name: "RNNRuntime", targets: ["RNNRuntime"]),
        // Writes canonical .h5 model files through libhdf5 (a system library: Linux and macOS
        // with Homebrew, not iOS).
        .library(name: "RNNFormatWriter", targets: ["RNNFormatWriter"]),
        .executable(name: "rnnconvert", targets: ["rnnconvert"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // libhdf5, for writing only; the header carries the few static inline shims for macros
        // Swift cannot import (H5P_DEFAULT, H5T_NATIVE_*, ...).
        .systemLibrary(
            name: "CHDF5",
            pkgConfig: "hdf5",
            providers: [.apt(["libhdf5-dev"]), .brew(["hdf5"])]
        ),
        // zlib, which every Apple SDK and Linux distribution ships: HDF5's deflate filter and
        // deflated zip members.
        .systemLibrary(
            name: "CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"]), .brew(["zlib"])]
        ),
        // The hot loops in C (products, cell updates, SHA-256), the instruction set chosen at run
        // time. No compiler flags, so the package stays usable as a dependency.
        .target(name: "CRNNKernels"),
        // Model files: the records, their validation, and every reader (HDF5, torch.save,
        // safetensors, .npy), each bounded against hostile input.
        .target(name: "RNNFormat", dependencies: ["CZlib", "CRNNKernels"]),
        .target(name: "RNNFormatWriter", dependencies: ["RNNFormat", "CHDF5"]),
        // Tensors, kernels' Swift wrappers, the recurrence, modules and cells.
        .target(name: "RNNRuntime", dependencies: ["RNNFormat", "CRNNKernels"]),
        // What the command line reports (summaries, benchmarks, differences, quantization
        // errors); not a product.
        .target(name: "RNNKitTools", dependencies: ["RNNFormat", "RNNRuntime"]),
        .executableTarget(
            name: "rnnconvert",
            dependencies: [
                "RNNFormat",
                "RNNFormatWriter",
                "RNNRuntime",
                "RNNKitTools",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // An app that uses only the app-facing products (README "Use it from a Swift app").
        .executableTarget(name: "SwiftAppExample", dependencies: ["RNNFormat", "RNNRuntime"], path: "Examples/SwiftAppExample"),
        // Single-thread product timings against the weight-streaming floor (BENCHMARKS.md);
        // not a product: `swift run -c release kernelbench [H ...]`.
        .executableTarget(name: "kernelbench", dependencies: ["RNNRuntime", "CRNNKernels"]),
        .target(name: "_RNNKitTestSupport", path: "Tests/_RNNKitTestSupport"),
        // Peak memory of hostile reads, each measured alone in a process of its own
        // (HostileMemoryTests); built for the tests, not a product.
        .executableTarget(name: "rnnkit-memprobe", dependencies: ["RNNFormat"], path: "Tests/MemoryProbe"),
        .testTarget(name: "RNNFormatTests", dependencies: ["_RNNKitTestSupport", "RNNFormat", "RNNFormatWriter", "RNNKitTools", "CZlib"]),
        .testTarget(name: "RNNRuntimeTests", dependencies: ["_RNNKitTestSupport", "RNNRuntime", "RNNFormat", "RNNFormatWriter", "RNNKitTools"]),
        .testTarget(name: "rnnconvertTests", dependencies: ["rnnconvert", "_RNNKitTestSupport", "RNNFormat", "RNNFormatWriter", "RNNKitTools"]),
    ],
    swiftLanguageModes: [.v6]
)
