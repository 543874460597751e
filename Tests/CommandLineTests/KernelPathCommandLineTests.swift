import Foundation
import Testing
import TestSupport
import Training

/// The kernel path a CPU gets, on this machine and on older x86-64 CPUs emulated by `qemu-x86_64`
/// (which raises SIGILL on any instruction the emulated CPU lacks): the portable binary must run
/// on each, with its best path.
@Suite("kernel paths from the command line", .serialized, .startsProcesses, .tags(.processes))
struct KernelPathCommandLineTests {
    static let qemu = ["/usr/bin/qemu-x86_64", "/usr/local/bin/qemu-x86_64"].first {
        FileManager.default.isExecutableFile(atPath: $0)
    }
    static let canEmulate: Bool = {
        #if arch(x86_64)
        qemu != nil
        #else
        false
        #endif
    }()
    /// Why the emulated-CPU tests are skipped when they are.
    static let needsQemu: Comment = "skipped: needs qemu-x86_64 on an x86-64 machine (Debian's qemu-user, which scripts/setup.sh installs)"

    /// `mnist-ddp arguments` on this CPU, or on the CPU model `emulating` names under qemu.
    func mnistDDP(_ arguments: [String], emulating cpu: String? = nil, kernels: String? = nil) throws -> ProcessResult {
        let binary = try ProcessRunner.product("mnist-ddp")
        let environment = kernels.map { ["MNIST_DDP_KERNELS": $0] } ?? [:]
        guard let cpu else { return try ProcessRunner.run(binary, arguments, environment: environment, timeout: 120) }
        return try ProcessRunner.run(
            try #require(Self.qemu), ["-cpu", cpu, binary] + arguments, environment: environment, timeout: 300)
    }

    /// The result's standard error without qemu's warnings about host features it does not emulate.
    func errorLines(_ result: ProcessResult) -> [Substring] {
        result.standardError.split(separator: "\n").filter { !$0.hasPrefix("qemu-x86_64: warning") }
    }

    @Test("bench --list-kernels lists the supported paths, fastest first, ending with the baseline")
    func listKernels() throws {
        let result = try mnistDDP(["bench", "--list-kernels"])
        #expect(result.status == 0, "\(result.output)")
        let paths = result.standardOutput.split(separator: "\n")
        #expect(paths.last == "baseline", "\(result.output)")
        #expect(Set(paths).isSubset(of: ["avx512", "avx2", "baseline"]), "\(result.output)")
    }

    @Test("bench names the path in use, forced or not")
    func benchNamesThePath() throws {
        let best = try #require(try mnistDDP(["bench", "--list-kernels"]).standardOutput.split(separator: "\n").first)
        let result = try mnistDDP(["bench", "--iterations", "1", "--repeats", "1"])
        #expect(result.status == 0 && result.standardOutput.contains("on the \(best) path"), "\(result.output)")
        #expect(result.standardOutput.contains("default bounds, \(best) sampler"), "\(result.output)")
        let forced = try mnistDDP(["bench", "--iterations", "1", "--repeats", "1", "--json", "-"], kernels: "baseline")
        #expect(forced.status == 0 && forced.standardOutput.contains(#""kernel_path" : "baseline""#), "\(forced.output)")
    }

    @Test("an unknown forced path is one line naming the known ones, and the usage status")
    func unknownPath() throws {
        let result = try mnistDDP(["bench", "--iterations", "1"], kernels: "avx1024")
        #expect(result.status == Training.ExitStatus.usage.rawValue)
        #expect(result.standardOutput.isEmpty)
        #expect(
            errorLines(result) == [
                "mnist-ddp: error: MNIST_DDP_KERNELS=avx1024 names no kernel path (known: baseline, avx2, avx512; "
                    + "this CPU runs: \(try mnistDDP(["bench", "--list-kernels"]).standardOutput.split(separator: "\n").joined(separator: ", ")))"
            ], "\(result.output)")
    }

    @Test("a CPU without AVX (Westmere) runs the whole binary on the baseline path", .enabled(if: canEmulate, needsQemu))
    func baselineOnlyCPU() throws {
        let list = try mnistDDP(["bench", "--list-kernels"], emulating: "Westmere")
        #expect(list.status == 0 && list.standardOutput == "baseline\n", "\(list.output)")
        // A training step, Adam, augmented batches and the report: any AVX instruction outside
        // the dispatched kernels and samplers would stop this with SIGILL.
        let bench = try mnistDDP(["bench", "--iterations", "1", "--repeats", "1"], emulating: "Westmere")
        #expect(bench.status == 0 && bench.standardOutput.contains("on the baseline path"), "\(bench.output)")
        #expect(bench.standardOutput.contains("default bounds, baseline sampler"), "\(bench.output)")
    }

    @Test("an AVX2 CPU without AVX-512 (Haswell) runs the AVX2 path by default", .enabled(if: canEmulate, needsQemu))
    func avx2OnlyCPU() throws {
        let list = try mnistDDP(["bench", "--list-kernels"], emulating: "Haswell")
        #expect(list.status == 0 && list.standardOutput == "avx2\nbaseline\n", "\(list.output)")
        let bench = try mnistDDP(["bench", "--iterations", "1", "--repeats", "1"], emulating: "Haswell")
        #expect(bench.status == 0 && bench.standardOutput.contains("on the avx2 path"), "\(bench.output)")
        #expect(bench.standardOutput.contains("default bounds, avx2 sampler"), "\(bench.output)")
    }

    @Test("forcing a path the CPU lacks is one line naming the supported ones, and the usage status", .enabled(if: canEmulate, needsQemu))
    func unsupportedPath() throws {
        let result = try mnistDDP(["bench", "--iterations", "1"], emulating: "Haswell", kernels: "avx512")
        #expect(result.status == Training.ExitStatus.usage.rawValue)
        #expect(
            errorLines(result) == [
                "mnist-ddp: error: MNIST_DDP_KERNELS=avx512 is not supported by this CPU (it runs: avx2, baseline)"
            ], "\(result.output)")
    }
}
