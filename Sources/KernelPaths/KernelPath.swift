import CPUFeatures

#if canImport(Darwin)
import Darwin
#else
import Glibc
#endif

/// One compilation of the dispatched code for an instruction set: the network's kernels (`CNN`)
/// and the augmentation's sampler (`Data`). The build holds every path of its architecture; a
/// `SeedCNN` and `RandomAffine` run the best one this CPU supports, unless `MNIST_DDP_KERNELS`
/// names another (for tests and comparisons).
public enum KernelPath: String, CaseIterable, Sendable, CustomStringConvertible {
    /// The architecture's baseline: SSE2 on x86-64 (4 lanes, multiply and add apart), NEON on
    /// aarch64 (4 lanes, fused). Runs on every CPU of the architecture.
    case baseline
    #if arch(x86_64)
    /// AVX2 and FMA (Haswell, Zen 1–3 and later): 8 lanes, 16 registers.
    case avx2
    /// AVX-512 F/BW/DQ/VL (Skylake-SP, Zen 4 and later): 16 lanes, 32 registers.
    case avx512
    #endif

    /// The environment variable that forces a path, for the network's kernels and the
    /// augmentation's sampler alike.
    public static let environmentVariable = "MNIST_DDP_KERNELS"

    public var description: String { rawValue }

    /// Whether this CPU (and its operating system, which must save the wider registers) runs it.
    public var isSupported: Bool {
        switch self {
        case .baseline: true
        #if arch(x86_64)
        case .avx2: cpu_features_has_avx2_fma()
        case .avx512: cpu_features_has_avx512()
        #endif
        }
    }

    /// The paths this CPU runs, fastest first.
    public static var supported: [KernelPath] { allCases.reversed().filter(\.isSupported) }

    /// The path a `SeedCNN` and `RandomAffine` run: the one `MNIST_DDP_KERNELS` names, else the
    /// fastest supported. Fixed for the life of the process; `selected(forced:)` reports a bad
    /// name as an error.
    public static let active: KernelPath = {
        do throws(KernelSelectionError) {
            return try selected(forced: getenv(environmentVariable).map { String(cString: $0) })
        } catch {
            fatalError(error.description)
        }
    }()

    /// The path named by `forced` (the value of `MNIST_DDP_KERNELS`; nil or empty: none forced),
    /// else the fastest this CPU supports.
    public static func selected(forced: String?) throws(KernelSelectionError) -> KernelPath {
        guard let forced, !forced.isEmpty else { return supported[0] }
        guard let path = KernelPath(rawValue: forced) else { throw .unknown(forced) }
        guard path.isSupported else { throw .unsupported(path) }
        return path
    }
}

/// A kernel path that cannot be used, as `MNIST_DDP_KERNELS` asked for it.
public enum KernelSelectionError: Error, Equatable, CustomStringConvertible {
    case unknown(String)
    case unsupported(KernelPath)

    public var description: String {
        let supported = KernelPath.supported.map(\.rawValue).joined(separator: ", ")
        switch self {
        case .unknown(let name):
            let known = KernelPath.allCases.map(\.rawValue).joined(separator: ", ")
            return "\(KernelPath.environmentVariable)=\(name) names no kernel path (known: \(known); this CPU runs: \(supported))"
        case .unsupported(let path):
            return "\(KernelPath.environmentVariable)=\(path) is not supported by this CPU (it runs: \(supported))"
        }
    }
}
