// swift-tools-version:6.0
import PackageDescription

/// The hot loops (convolutions, pooling, Adam) are written with SIMD types; without a concrete
/// target CPU, LLVM lowers their fused multiply-adds to `fmaf` calls (measured: 0.74 GFLOP/s
/// instead of 56–111). `native` selects the build machine's vector width, which is what
/// `scripts/setup.sh` builds for.
let fastMath: [SwiftSetting] = [
    .unsafeFlags(["-target-cpu", "native", "-enforce-exclusivity=unchecked"]),
]

let package = Package(
    name: "mnist-ddp",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "mnist-ddp", targets: ["mnist-ddp"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
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

        // Libraries, each ignorant of the others except where listed.
        .target(name: "SeededRandom"),
        .target(name: "Distributed", dependencies: ["CMPI"]),
        .target(name: "Data", dependencies: ["CZlib", "SeededRandom"]),
        .target(name: "CNN", dependencies: ["SeededRandom"], swiftSettings: fastMath),
        .target(name: "SafeTensors"),
        .target(
            name: "Training",
            dependencies: ["Distributed", "Data", "CNN", "SafeTensors"],
            swiftSettings: fastMath
        ),

        // Executables.
        .executableTarget(
            name: "mnist-ddp",
            dependencies: [
                "Training",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        /// Exercises the MPI collectives and the data-parallel gradient identity under a real
        /// `mpirun`; launched by DistributedTests.
        .executableTarget(name: "mpi-selftest", dependencies: ["Distributed", "CNN", "Data"]),

        // Tests.
        /// Launches built executables (alone or under mpirun) with a time limit, for the tests.
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "SeededRandomTests", dependencies: ["SeededRandom"]),
        .testTarget(name: "DistributedTests", dependencies: ["Distributed", "TestSupport"]),
        .testTarget(name: "DataTests", dependencies: ["Data", "CZlib", "TestSupport"]),
        .testTarget(
            name: "CNNTests",
            dependencies: ["CNN"],
            resources: [.copy("Fixtures")]
        ),
        .testTarget(name: "SafeTensorsTests", dependencies: ["SafeTensors", "TestSupport"]),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "Distributed", "SafeTensors", "CNN", "TestSupport"]),
        .testTarget(name: "CommandLineTests", dependencies: ["TestSupport"]),
    ]
)
