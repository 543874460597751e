// swift-tools-version:6.0
import PackageDescription

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `MNIST_DDP_TARGET_CPU=native swift build …` compiles the code outside the dispatched kernels
/// (Adam, the training loop) for the build machine's CPU, as `-target-cpu` names it; the binary
/// then runs only on CPUs with that machine's instruction set. Unset (the default), the build
/// runs on any x86-64 (or aarch64) CPU.
let buildTargetCPU = getenv("MNIST_DDP_TARGET_CPU").map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 }

/// Exclusivity checks cost the hot loops; the code that runs in them holds no overlapping accesses.
let hotLoopFlags = ["-enforce-exclusivity=unchecked"]

/// The code outside the dispatched kernels: the portable baseline unless the build asks for more.
let portable: [SwiftSetting] = [.unsafeFlags(hotLoopFlags + (buildTargetCPU.map { ["-target-cpu", $0] } ?? []))]

/// The dispatched paths: each family's sources (Sources/<family>Sources, linked into each target's
/// directory) compiled once per instruction set, with lanes as wide as its vector registers.
/// `KernelPath` picks the best path the CPU runs at start-up, for the network's kernels (`CNN`)
/// and the augmentation's sampler (`Data`) alike. The baseline path is also the portable build's
/// only path on other architectures (NEON on aarch64, which has FMA).
struct InstructionSetPath {
    /// The suffix of each family's target for this path.
    let suffix: String
    let targetCPU: String?
    let defines: [String]
}

#if arch(x86_64)
let instructionSetPaths = [
    /// SSE2, which every x86-64 has: 4 lanes and no FMA, so multiply and add apart (a fused
    /// multiply-add would become a call to `fmaf` per lane).
    InstructionSetPath(suffix: "Baseline", targetCPU: buildTargetCPU, defines: ["LANES4", "UNFUSED_MULTIPLY_ADD"]),
    /// Haswell and Zen 1–3: AVX2 + FMA, 16 ymm registers of 8 lanes.
    InstructionSetPath(suffix: "AVX2", targetCPU: "haswell", defines: ["LANES8"]),
    /// Skylake-SP and later, Zen 4 and later: 32 zmm registers of 16 lanes.
    InstructionSetPath(suffix: "AVX512", targetCPU: "skylake-avx512", defines: ["LANES16"]),
]
#else
let instructionSetPaths = [InstructionSetPath(suffix: "Baseline", targetCPU: buildTargetCPU, defines: ["LANES4"])]
#endif

/// A family of sources compiled once per path: targets `<prefix>Baseline`, `<prefix>AVX2`, ….
struct DispatchedFamily {
    let prefix: String
    let dependencies: [Target.Dependency]
    /// The family's own compiler flags, on every path.
    var flags: [String] = []

    var targetNames: [String] { instructionSetPaths.map { prefix + $0.suffix } }
    var asDependencies: [Target.Dependency] { targetNames.map { .target(name: $0) } }

    var targets: [Target] {
        instructionSetPaths.map { path in
            .target(
                name: prefix + path.suffix, dependencies: dependencies,
                swiftSettings: path.defines.map { .define($0) }
                    + [.unsafeFlags(hotLoopFlags + flags + (path.targetCPU.map { ["-target-cpu", $0] } ?? []))])
        }
    }
}

/// The network's kernels (Sources/KernelSources).
/// Glibc's sqrtf may set errno, so by default clang keeps `Float.squareRoot` a call behind a
/// branch, lane by lane; without errno it is one vector instruction (Adam's update), as exact.
let networkKernels = DispatchedFamily(
    prefix: "Kernels", dependencies: ["CNNKernelInterface"], flags: ["-Xcc", "-fno-math-errno"])
/// The augmentation's bilinear sampler (Sources/AffineSamplerSources).
let affineSamplers = DispatchedFamily(prefix: "AffineSampler", dependencies: [])

let package = Package(
    name: "mnist-ddp",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "mnist-ddp", targets: ["mnist-ddp"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
    ],
    targets: [
        // C libraries.
        .systemLibrary(
            name: "CMPI",
            pkgConfig: "ompi-c",
            providers: [.apt(["libopenmpi-dev"])]
        ),
        .systemLibrary(
            name: "CZlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        .systemLibrary(
            name: "CLibPNG",
            pkgConfig: "libpng",
            providers: [.apt(["libpng-dev"])]
        ),
        /// libpng's calls wrapped in C so that its longjmp error handling never crosses Swift frames.
        .target(name: "PNGCodec", dependencies: ["CLibPNG"]),

        /// Stop-signal handlers and the progress stamp of the stall watchdog, in C: a signal
        /// handler may only set a flag, and Swift cannot promise what a handler of its own does.
        .target(name: "CRunControl"),

        // Libraries, each ignorant of the others except where listed.
        /// Opens only regular files for reading, so no FIFO or device can block a reader.
        .target(name: "RegularFile"),
        .target(name: "SeededRandom"),
        .target(name: "Distributed", dependencies: ["CMPI", "CRunControl"]),
        .target(name: "CPUFeatures"),
        /// The instruction-set path (`KernelPath`) the dispatched code runs, picked at start-up.
        .target(name: "KernelPaths", dependencies: ["CPUFeatures"]),
        .target(
            name: "Data",
            dependencies: ["CZlib", "SeededRandom", "RegularFile", "KernelPaths", "Imaging"] + affineSamplers.asDependencies),
        .target(name: "CNNKernelInterface"),
        .target(
            name: "CNN",
            dependencies: ["SeededRandom", "CNNKernelInterface", "KernelPaths"] + networkKernels.asDependencies,
            swiftSettings: portable
        ),
        .target(name: "SafeTensors", dependencies: ["RegularFile"]),
        /// PNG files, MNIST-style preprocessing, drawing: knows nothing of the model or of MPI.
        .target(name: "Imaging", dependencies: ["PNGCodec", "RegularFile"]),
        /// TensorBoard's event files: TFRecord framing, and the summaries as swift-protobuf messages
        /// generated from TensorBoard's definitions (Generated/, by scripts/generate-tensorboard-protos.sh).
        .target(
            name: "TensorBoard",
            dependencies: [.product(name: "SwiftProtobuf", package: "swift-protobuf")],
            exclude: ["Generated/README.md"]
        ),
        .target(
            name: "Training",
            dependencies: ["Distributed", "Data", "CNN", "SafeTensors", "CRunControl", "Imaging", "TensorBoard"],
            swiftSettings: portable
        ),

        // Executables.
        .executableTarget(
            name: "mnist-ddp",
            dependencies: [
                "Training",
                "KernelPaths",
                "Imaging",
                "CRunControl",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            plugins: ["BuildInfo"]
        ),
        /// Records the git commit and the compiler for `mnist-ddp --version`, at each build.
        .plugin(name: "BuildInfo", capability: .buildTool()),
        /// Exercises the MPI collectives and the data-parallel gradient identity under a real
        /// `mpirun`; launched by DistributedTests.
        .executableTarget(name: "mpi-selftest", dependencies: ["Distributed", "CNN", "Data"]),

        // Tests.
        /// Launches built executables (alone or under mpirun) with a time limit, for the tests.
        .target(name: "TestSupport", dependencies: ["CZlib", "Data", "Imaging"], path: "Tests/TestSupport"),
        .testTarget(name: "SeededRandomTests", dependencies: ["SeededRandom"]),
        .testTarget(name: "DistributedTests", dependencies: ["Distributed", "TestSupport"]),
        .testTarget(name: "DataTests", dependencies: ["Data", "Imaging", "KernelPaths", "SeededRandom", "CZlib", "TestSupport"]),
        .testTarget(
            name: "CNNTests",
            dependencies: ["CNN", "KernelPaths"],
            resources: [.copy("Fixtures")]
        ),
        .testTarget(name: "SafeTensorsTests", dependencies: ["SafeTensors", "TestSupport"]),
        .testTarget(
            name: "TrainingTests", dependencies: ["Training", "Data", "Distributed", "SafeTensors", "CNN", "TestSupport"],
            exclude: ["tensorboard_events.py"]),
        .testTarget(name: "ImagingTests", dependencies: ["Imaging", "TestSupport"]),
        .testTarget(name: "TensorBoardTests", dependencies: ["TensorBoard"]),
        .testTarget(name: "CommandLineTests", dependencies: ["Imaging", "Data", "Training", "TestSupport"]),
    ] + networkKernels.targets + affineSamplers.targets
)
