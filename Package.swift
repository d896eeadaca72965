// swift-tools-version: 6.1
// iloc: a static-graph compiler and runtime that inverts deep generative models by
// Intermediate Layer Optimization. See README.md and DEVELOPERS.md.
import PackageDescription

let package = Package(
  name: "iloc",
  platforms: [.macOS(.v14)],
  products: [
    .executable(name: "iloc", targets: ["iloc"]),
    .library(name: "GraphIR", targets: ["GraphIR"]),
    .library(name: "Codegen", targets: ["Codegen"]),
    .library(name: "Runtime", targets: ["Runtime"]),
    .library(name: "Models", targets: ["Models"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    .package(url: "https://github.com/apple/swift-numerics", from: "1.0.0"),
    .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.19"),
    .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
    .package(url: "https://github.com/apple/swift-atomics", from: "1.2.0"),
  ],
  targets: [
    // LLVM-C (LLVM 19). include/ holds the umbrella header, the modulemap and symlinks to the
    // system headers under /usr/lib/llvm-19/include (see shared notes); no unsafe flags.
    .target(name: "CLLVM", linkerSettings: [.linkedLibrary("LLVM-19")]),
    .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
    .systemLibrary(name: "CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),

    /// Tensor IR, builder DSL, shape rules, VJP rules, passes, reference interpreter.
    .target(name: "GraphIR", dependencies: [.product(name: "RealModule", package: "swift-numerics")]),
    /// Fusion planning, lowering to LLVM IR, JIT and AOT objects.
    .target(name: "Codegen", dependencies: ["GraphIR", "CLLVM", .product(name: "Crypto", package: "swift-crypto")]),
    /// Buffers, executor, OpenBLAS, stage programs, profiler, PNG, weight files, output
    /// directories, SHA-256 and Ed25519 signatures (swift-crypto).
    .target(
      name: "Runtime",
      dependencies: [
        "GraphIR", "Codegen", "COpenBLAS", "CPNG",
        .product(name: "ZIPFoundation", package: "ZIPFoundation"),
        .product(name: "Crypto", package: "swift-crypto"),
        .product(name: "Atomics", package: "swift-atomics"),
      ]),
    /// Model-independent pieces of ILO inversion: forward operators, loss builder, optimizer
    /// steps and projections, switching, image metrics.
    .target(name: "Inversion", dependencies: ["GraphIR"]),
    /// StyleGAN2, DCGAN and LPIPS written in GraphIR, and their checkpoint loaders.
    .target(
      name: "Models",
      dependencies: ["GraphIR", "Runtime", .product(name: "RealModule", package: "swift-numerics")]),
    /// The ILO algorithm and its baselines: per-round stage programs, the optimizer loop,
    /// reports and saved states.
    .target(name: "ILO", dependencies: ["GraphIR", "Runtime", "Models", "Inversion"]),
    /// Fuzzing of every reader a user's file reaches: seeds, mutations, an in-process driver.
    .target(
      name: "ReaderFuzz",
      dependencies: [
        "GraphIR", "Runtime", "Models", "Inversion", "ILO", "Artifact",
        .product(name: "ZIPFoundation", package: "ZIPFoundation"),
      ]),
    /// libFuzzer's driver entry point, declared for `iloc-fuzz`'s libFuzzer build.
    .target(name: "CLibFuzzer"),
    /// `iloc-fuzz`: the in-process fuzz driver, or a libFuzzer target (see scripts/fuzz.sh).
    .executableTarget(name: "iloc-fuzz", dependencies: ["ReaderFuzz", "CLibFuzzer"]),
    /// Ahead-of-time artifacts (`iloc compile`, `iloc run`, `iloc batch --artifact`): building,
    /// the manifest, verification (checksums, CPU features, signatures) and loading.
    .target(name: "Artifact", dependencies: ["Codegen", "Runtime", "Models", "Inversion", "ILO", "GraphIR"]),
    /// `iloc batch`: manifests (CSV, JSON Lines), sharding by row id, the output layout with
    /// per-row completion markers, and the merged report.
    .target(name: "Batch", dependencies: ["Runtime", .product(name: "Crypto", package: "swift-crypto")]),
    .executableTarget(
      name: "iloc",
      dependencies: [
        "GraphIR", "Codegen", "Runtime", "Models", "Inversion", "ILO", "Artifact", "Batch",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]),

    .testTarget(
      name: "GraphIRTests",
      dependencies: ["GraphIR", .product(name: "Numerics", package: "swift-numerics")],
      resources: [.copy("Fixtures")]),
    .testTarget(
      name: "InversionTests",
      dependencies: ["Inversion", "GraphIR"],
      resources: [.copy("Fixtures")]),
    .testTarget(
      name: "CodegenTests",
      dependencies: ["Codegen", "GraphIR", .product(name: "Numerics", package: "swift-numerics")]),
    .testTarget(
      name: "RuntimeTests",
      dependencies: [
        "Runtime", "GraphIR", "ReaderFuzz", .product(name: "Numerics", package: "swift-numerics"),
        .product(name: "ZIPFoundation", package: "ZIPFoundation"), .product(name: "Atomics", package: "swift-atomics"),
      ],
      resources: [.copy("Fixtures")]),
    .testTarget(
      name: "ILOTests",
      dependencies: ["ILO", "Models", "Inversion", "Runtime", "GraphIR", "Artifact", "Batch"]),
    .testTarget(name: "ReaderFuzzTests", dependencies: ["ReaderFuzz", "Runtime"]),
    .testTarget(name: "BatchTests", dependencies: ["Batch", "Runtime"]),
    .testTarget(
      name: "ModelsTests",
      dependencies: ["Models", "Runtime", "GraphIR", .product(name: "Numerics", package: "swift-numerics")],
      resources: [.copy("Fixtures")]),
  ],
  swiftLanguageModes: [.v5]
)
